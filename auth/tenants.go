package auth

import (
	"context"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/database"
)

var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$`)

// maxNameLength bounds names of tenants, organizations and users.
const maxNameLength = 200

func checkName(field, v string, fields []apperr.FieldError) []apperr.FieldError {
	if strings.TrimSpace(v) == "" || utf8.RuneCountInString(v) > maxNameLength {
		fields = append(fields, apperr.FieldError{Field: field, Message: "required, at most 200 characters"})
	}
	return fields
}

func errForbiddenPlatform() error {
	return &apperr.Error{Kind: apperr.KindForbidden, Code: apperr.CodeForbidden, Message: "only a platform superadmin may do this"}
}

// CreateTenant creates a tenant. Only a superadmin may.
func (s *Service) CreateTenant(ctx context.Context, p *Principal, slug, name string) (*Tenant, error) {
	if !p.User.IsSuperadmin {
		return nil, errForbiddenPlatform()
	}
	name = strings.TrimSpace(name)
	var fields []apperr.FieldError
	if !slugPattern.MatchString(slug) {
		fields = append(fields, apperr.FieldError{Field: "slug", Message: "2-63 lower-case letters, digits and hyphens, not starting or ending with a hyphen"})
	}
	fields = checkName("name", name, fields)
	if len(fields) > 0 {
		return nil, apperr.Invalid("the tenant is invalid", fields...)
	}
	now := s.now()
	t := Tenant{ID: newID(), Slug: slug, Name: name, CreatedAt: now, UpdatedAt: now}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.Conn(ctx).Create(&t).Error; err != nil {
			return duplicate(err, "slug", "a tenant with this slug exists")
		}
		return s.recordEvent(ctx, t.ID, p.Actor(), "tenant.created", "tenant", t.ID, map[string]any{"slug": slug})
	})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// ListTenants lists the tenants the principal belongs to (every tenant for a
// superadmin), by slug.
func (s *Service) ListTenants(ctx context.Context, p *Principal, page database.Page) ([]Tenant, string, error) {
	q := s.db.Conn(ctx).Model(&Tenant{})
	if !p.User.IsSuperadmin {
		q = q.Where("id IN (?)", s.db.Conn(ctx).Model(&Membership{}).Select("tenant_id").Where("user_id = ? AND active", p.User.ID))
	}
	if len(page.After) == 1 {
		q = q.Where("slug > ?", page.After[0])
	}
	var rows []Tenant
	if err := q.Order("slug").Limit(page.Limit + 1).Find(&rows).Error; err != nil {
		return nil, "", err
	}
	items, next := database.Trim(rows, page, func(t Tenant) []string { return []string{t.Slug} })
	return items, next, nil
}

// OrganizationInput is what creates an organization.
type OrganizationInput struct {
	Name    string `json:"name"`
	Country string `json:"country"`
	Kind    string `json:"kind" enum:"organization_kind"`
}

// ValidCountry reports whether code is an ISO 3166-1 alpha-2 country code.
func ValidCountry(code string) bool {
	if len(code) != 2 || strings.ToUpper(code) != code {
		return false
	}
	r, err := language.ParseRegion(code)
	return err == nil && r.IsCountry() && r.String() == code
}

// CreateOrganization adds an affiliate or the secretariat to the tenant.
func (s *Service) CreateOrganization(ctx context.Context, a *TenantAccess, in OrganizationInput) (*Organization, error) {
	if err := a.Require(PermOrganizationManage); err != nil {
		return nil, err
	}
	in.Name = strings.TrimSpace(in.Name)
	fields := checkName("name", in.Name, nil)
	if !ValidCountry(in.Country) {
		fields = append(fields, apperr.FieldError{Field: "country", Message: "expected an ISO 3166-1 alpha-2 country code in capitals, such as KG"})
	}
	if in.Kind != KindAffiliate && in.Kind != KindSecretariat {
		fields = append(fields, apperr.FieldError{Field: "kind", Message: "expected affiliate or secretariat"})
	}
	if len(fields) > 0 {
		return nil, apperr.Invalid("the organization is invalid", fields...)
	}
	now := s.now()
	o := Organization{ID: newID(), TenantID: a.Tenant.ID, Name: in.Name, Country: in.Country, Kind: in.Kind, CreatedAt: now, UpdatedAt: now}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.Conn(ctx).Create(&o).Error; err != nil {
			return duplicate(err, "name", "an organization with this name exists in the tenant")
		}
		return s.recordEvent(ctx, a.Tenant.ID, a.Actor(), "organization.created", "organization", o.ID, map[string]any{"name": o.Name})
	})
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// ListOrganizations lists the tenant's organizations by name.
func (s *Service) ListOrganizations(ctx context.Context, a *TenantAccess, page database.Page) ([]Organization, string, error) {
	if err := a.Require(PermOrganizationRead); err != nil {
		return nil, "", err
	}
	q := a.TenantScope().Apply(s.db.Conn(ctx).Model(&Organization{}), "organizations", false)
	if len(page.After) == 2 {
		q = q.Where("(name > ? OR (name = ? AND id > ?))", page.After[0], page.After[0], page.After[1])
	}
	var rows []Organization
	if err := q.Order("name, id").Limit(page.Limit + 1).Find(&rows).Error; err != nil {
		return nil, "", err
	}
	items, next := database.Trim(rows, page, func(o Organization) []string { return []string{o.Name, o.ID} })
	return items, next, nil
}

// organization loads one organization of the scope's tenant; another tenant's answers 404.
func (s *Service) organization(ctx context.Context, scope Scope, id string) (*Organization, error) {
	if !database.ValidID(id) {
		return nil, apperr.NotFound("organization")
	}
	var o Organization
	err := scope.Apply(s.db.Conn(ctx), "organizations", false).Where("id = ?", id).First(&o).Error
	if err != nil {
		return nil, notFound(err, "organization")
	}
	return &o, nil
}

// Organization returns one organization of the tenant.
func (s *Service) Organization(ctx context.Context, a *TenantAccess, id string) (*Organization, error) {
	if err := a.Require(PermOrganizationRead); err != nil {
		return nil, err
	}
	return s.organization(ctx, a.TenantScope(), id)
}
