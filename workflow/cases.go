package workflow

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
)

var caseNumber = regexp.MustCompile(`^[0-9]{1,6}$`)

// CaseInput creates or (with nil fields left alone) changes a case.
type CaseInput struct {
	Number       *string   `json:"number"`
	Country      *string   `json:"country"`
	Title        *string   `json:"title"`
	Complainants *[]string `json:"complainants"`
	Status       *string   `json:"status" enum:"case_status"`
	NormlexURL   *string   `json:"normlex_url"`
}

func (in CaseInput) apply(c *Case) error {
	var f []apperr.FieldError
	if in.Number != nil {
		c.Number = strings.TrimSpace(*in.Number)
	}
	if in.Country != nil {
		c.Country = *in.Country
	}
	if in.Title != nil {
		c.Title = strings.TrimSpace(*in.Title)
	}
	if in.Complainants != nil {
		c.Complainants = make([]string, 0, len(*in.Complainants))
		for _, n := range *in.Complainants {
			c.Complainants = append(c.Complainants, strings.TrimSpace(n))
		}
	}
	if in.Status != nil {
		c.Status = *in.Status
	}
	if in.NormlexURL != nil {
		c.NormlexURL = strings.TrimSpace(*in.NormlexURL)
	}
	if c.Number != "" && !caseNumber.MatchString(c.Number) {
		f = append(f, apperr.FieldError{Field: "number", Message: "the ILO case number, digits only (such as 3386), or empty for a new complaint"})
	}
	if !auth.ValidCountry(c.Country) {
		f = append(f, apperr.FieldError{Field: "country", Message: "expected an ISO 3166-1 alpha-2 country code in capitals, such as KG"})
	}
	if c.Title == "" || utf8.RuneCountInString(c.Title) > 500 {
		f = append(f, apperr.FieldError{Field: "title", Message: "required, at most 500 characters"})
	}
	if len(c.Complainants) > 50 {
		f = append(f, apperr.FieldError{Field: "complainants", Message: "at most 50 complainants"})
	}
	for _, n := range c.Complainants {
		if n == "" || utf8.RuneCountInString(n) > 300 {
			f = append(f, apperr.FieldError{Field: "complainants", Message: "each complainant is a non-empty name of at most 300 characters"})
			break
		}
	}
	if c.Status != "open" && c.Status != "closed" {
		f = append(f, apperr.FieldError{Field: "status", Message: "expected open or closed"})
	}
	if c.NormlexURL != "" {
		u, err := url.Parse(c.NormlexURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || len(c.NormlexURL) > 500 {
			f = append(f, apperr.FieldError{Field: "normlex_url", Message: "expected an https URL"})
		}
	}
	if len(f) > 0 {
		return apperr.Invalid("the case is invalid", f...)
	}
	return nil
}

func duplicateNumber(err error) error {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return &apperr.Error{Kind: apperr.KindConflict, Code: apperr.CodeDuplicate, Message: "a case with this number exists",
			Fields: []apperr.FieldError{{Field: "number", Message: "a case with this number exists"}}}
	}
	return err
}

// CreateCase records a case.
func (s *Service) CreateCase(ctx context.Context, a *auth.TenantAccess, in CaseInput) (*Case, error) {
	if err := a.Require(auth.PermCaseCreate); err != nil {
		return nil, err
	}
	now := s.now()
	c := Case{ID: database.NewID(), TenantID: a.Tenant.ID, Status: "open", Complainants: []string{}, CreatedBy: a.Principal.User.ID, CreatedAt: now, UpdatedAt: now}
	if err := in.apply(&c); err != nil {
		return nil, err
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.Conn(ctx).Create(&c).Error; err != nil {
			return duplicateNumber(err)
		}
		return s.event(ctx, a, "case.created", "case", c.ID, map[string]any{"number": c.Number, "country": c.Country})
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// UpdateCase changes a case.
func (s *Service) UpdateCase(ctx context.Context, a *auth.TenantAccess, id string, in CaseInput) (*Case, error) {
	if err := a.Require(auth.PermCaseUpdate); err != nil {
		return nil, err
	}
	var c *Case
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if c, err = s.caseByID(ctx, a, id, true); err != nil {
			return err
		}
		if err := in.apply(c); err != nil {
			return err
		}
		c.UpdatedAt = s.now()
		if err := s.db.Conn(ctx).Save(c).Error; err != nil {
			return duplicateNumber(err)
		}
		return s.event(ctx, a, "case.updated", "case", c.ID, map[string]any{"number": c.Number, "status": c.Status})
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Case returns one case of the tenant.
func (s *Service) Case(ctx context.Context, a *auth.TenantAccess, id string) (*Case, error) {
	c, err := s.caseByID(ctx, a, id, false)
	if err != nil {
		return nil, err
	}
	cs := []Case{*c}
	if err := s.withNextDeadline(ctx, a.Tenant.ID, cs); err != nil {
		return nil, err
	}
	return &cs[0], nil
}

func (s *Service) caseByID(ctx context.Context, a *auth.TenantAccess, id string, lock bool) (*Case, error) {
	if err := a.Require(auth.PermCaseRead); err != nil {
		return nil, err
	}
	if !database.ValidID(id) {
		return nil, apperr.NotFound("case")
	}
	q := a.TenantScope().Apply(s.db.Conn(ctx), "cases", false).Where("id = ?", id)
	if lock {
		q = s.forUpdate(q)
	}
	var c Case
	if err := q.First(&c).Error; err != nil {
		return nil, notFound(err, "case")
	}
	return &c, nil
}

// ListCases lists the tenant's cases, newest first.
func (s *Service) ListCases(ctx context.Context, a *auth.TenantAccess, page database.Page) ([]Case, string, error) {
	if err := a.Require(auth.PermCaseRead); err != nil {
		return nil, "", err
	}
	q := a.TenantScope().Apply(s.db.Conn(ctx), "cases", false)
	q, err := afterTimeID(q, "cases", page)
	if err != nil {
		return nil, "", err
	}
	var rows []Case
	if err := q.Order("created_at DESC, id DESC").Limit(page.Limit + 1).Find(&rows).Error; err != nil {
		return nil, "", err
	}
	items, next := database.Trim(rows, page, func(c Case) []string { return timeIDKey(c.CreatedAt, c.ID) })
	if err := s.withNextDeadline(ctx, a.Tenant.ID, items); err != nil {
		return nil, "", err
	}
	return items, next, nil
}

func timeIDKey(t time.Time, id string) []string {
	return []string{t.UTC().Format(time.RFC3339Nano), id}
}

// afterTimeID continues a newest-first list after the (created_at, id) of a cursor.
func afterTimeID(q *gorm.DB, table string, page database.Page) (*gorm.DB, error) {
	return afterTimeIDOn(q, table, "created_at", page)
}

// afterTimeIDOn continues a newest-first list after the (column, id) of a cursor.
func afterTimeIDOn(q *gorm.DB, table, column string, page database.Page) (*gorm.DB, error) {
	if len(page.After) != 2 {
		return q, nil
	}
	t, err := time.Parse(time.RFC3339Nano, page.After[0])
	if err != nil || !database.ValidID(page.After[1]) {
		return nil, apperr.Malformed("invalid cursor", apperr.FieldError{Field: "cursor", Message: "not a cursor this list returned; start again without it"})
	}
	// A row-value comparison, so that the (tenant, created_at DESC, id DESC) index
	// serves page 2,000 as directly as page 1.
	return q.Where("("+table+"."+column+", "+table+".id) < (?, ?)", t, page.After[1]), nil
}
