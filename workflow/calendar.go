package workflow

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm/clause"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
)

// The CFA calendar (ADR 0035): the Committee on Freedom of Association's sessions, as
// each tenant enters them, with the date by which information must reach the Office for
// each. The workflow owns cfa_sessions and cfa_reminders: deadlines are about its cases
// and submissions. Dates are calendar days (YYYY-MM-DD) compared in UTC.

// dateLayout is how the calendar's dates are written, in the API and in the database.
const dateLayout = time.DateOnly

// ReminderThresholds are the days before an information deadline on which the editors
// of open drafts and the tenant's reviewers are reminded, largest first.
var ReminderThresholds = []int{14, 3}

// CFASession is one session of the Committee as a tenant keeps it.
type CFASession struct {
	ID       string `json:"id"`
	TenantID string `json:"-"`
	Name     string `json:"name" doc:"The session's name, such as 410th Session"`
	StartsOn string `json:"starts_on" format:"date" doc:"The first day of the session (YYYY-MM-DD)"`
	Deadline string `json:"deadline" format:"date" doc:"The date by which information must reach the Office for this session (YYYY-MM-DD), on or before starts_on"`
	// CreatedAt and UpdatedAt are the row's times.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// TableName names the table.
func (CFASession) TableName() string { return "cfa_sessions" }

// CFASessionInput creates or replaces a session.
type CFASessionInput struct {
	Name     string `json:"name" doc:"The session's name, such as 410th Session (1-100 characters)"`
	StartsOn string `json:"starts_on" format:"date" doc:"The first day of the session (YYYY-MM-DD)"`
	Deadline string `json:"deadline" format:"date" doc:"The information deadline (YYYY-MM-DD), on or before starts_on"`
}

func (in CFASessionInput) apply(c *CFASession) error {
	var f []apperr.FieldError
	c.Name = strings.TrimSpace(in.Name)
	c.StartsOn, c.Deadline = strings.TrimSpace(in.StartsOn), strings.TrimSpace(in.Deadline)
	if c.Name == "" || utf8.RuneCountInString(c.Name) > 100 {
		f = append(f, apperr.FieldError{Field: "name", Message: "required, at most 100 characters, such as 410th Session"})
	}
	start, serr := time.Parse(dateLayout, c.StartsOn)
	if serr != nil {
		f = append(f, apperr.FieldError{Field: "starts_on", Message: "expected a date as YYYY-MM-DD"})
	}
	deadline, derr := time.Parse(dateLayout, c.Deadline)
	if derr != nil {
		f = append(f, apperr.FieldError{Field: "deadline", Message: "expected a date as YYYY-MM-DD"})
	}
	if serr == nil && derr == nil && deadline.After(start) {
		f = append(f, apperr.FieldError{Field: "deadline", Message: "the information deadline cannot be after the session starts"})
	}
	if len(f) > 0 {
		return apperr.Invalid("the CFA session is invalid", f...)
	}
	return nil
}

// NextDeadline is the earliest information deadline on or after today.
type NextDeadline struct {
	SessionID   string `json:"session_id"`
	SessionName string `json:"session_name"`
	Deadline    string `json:"deadline" format:"date" doc:"YYYY-MM-DD"`
	DaysLeft    int    `json:"days_left" doc:"Days from today (UTC) to the deadline; 0 on the day"`
}

// today is the service clock's calendar day, in UTC.
func (s *Service) today() time.Time {
	n := s.now()
	return time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
}

// daysUntil counts the days from today to the date d (YYYY-MM-DD).
func daysUntil(today time.Time, d string) int {
	t, err := time.Parse(dateLayout, d)
	if err != nil {
		return 0
	}
	return int(t.Sub(today).Hours() / 24)
}

// ListCFASessions lists the tenant's sessions by deadline.
func (s *Service) ListCFASessions(ctx context.Context, a *auth.TenantAccess) ([]CFASession, error) {
	if err := a.Require(auth.PermCaseRead); err != nil {
		return nil, err
	}
	out := []CFASession{}
	err := s.db.Conn(ctx).Where("tenant_id = ?", a.Tenant.ID).Order("deadline, starts_on, id").Limit(500).Find(&out).Error
	return out, err
}

// CreateCFASession records a session (tenant admins).
func (s *Service) CreateCFASession(ctx context.Context, a *auth.TenantAccess, in CFASessionInput) (*CFASession, error) {
	if err := a.Require(auth.PermSettingsWrite); err != nil {
		return nil, err
	}
	now := s.now()
	c := CFASession{ID: database.NewID(), TenantID: a.Tenant.ID, CreatedAt: now, UpdatedAt: now}
	if err := in.apply(&c); err != nil {
		return nil, err
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.Conn(ctx).Create(&c).Error; err != nil {
			return err
		}
		return s.event(ctx, a, "cfa_session.created", "cfa_session", c.ID, map[string]any{"starts_on": c.StartsOn, "deadline": c.Deadline})
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// UpdateCFASession replaces a session's name and dates (tenant admins). A changed
// deadline is a new deadline: its reminders are sent again.
func (s *Service) UpdateCFASession(ctx context.Context, a *auth.TenantAccess, id string, in CFASessionInput) (*CFASession, error) {
	if err := a.Require(auth.PermSettingsWrite); err != nil {
		return nil, err
	}
	var c CFASession
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		if !database.ValidID(id) {
			return apperr.NotFound("CFA session")
		}
		if err := s.forUpdate(s.db.Conn(ctx).Where("tenant_id = ? AND id = ?", a.Tenant.ID, id)).First(&c).Error; err != nil {
			return notFound(err, "CFA session")
		}
		if err := in.apply(&c); err != nil {
			return err
		}
		c.UpdatedAt = s.now()
		if err := s.db.Conn(ctx).Save(&c).Error; err != nil {
			return err
		}
		return s.event(ctx, a, "cfa_session.updated", "cfa_session", c.ID, map[string]any{"starts_on": c.StartsOn, "deadline": c.Deadline})
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// DeleteCFASession removes a session and its record of reminders (tenant admins).
func (s *Service) DeleteCFASession(ctx context.Context, a *auth.TenantAccess, id string) error {
	if err := a.Require(auth.PermSettingsWrite); err != nil {
		return err
	}
	if !database.ValidID(id) {
		return apperr.NotFound("CFA session")
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.Conn(ctx).Exec("DELETE FROM cfa_reminders WHERE tenant_id = ? AND session_id = ?", a.Tenant.ID, id).Error; err != nil {
			return err
		}
		res := s.db.Conn(ctx).Where("tenant_id = ? AND id = ?", a.Tenant.ID, id).Delete(&CFASession{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return apperr.NotFound("CFA session")
		}
		return s.event(ctx, a, "cfa_session.deleted", "cfa_session", id, nil)
	})
}

// nextDeadline is the tenant's earliest information deadline on or after today, or nil:
// one query, whatever the number of cases it is shown on.
func (s *Service) nextDeadline(ctx context.Context, tenantID string) (*NextDeadline, error) {
	today := s.today()
	var c []CFASession
	if err := s.db.Conn(ctx).Where("tenant_id = ? AND deadline >= ?", tenantID, today.Format(dateLayout)).
		Order("deadline, starts_on, id").Limit(1).Find(&c).Error; err != nil {
		return nil, err
	}
	if len(c) == 0 {
		return nil, nil
	}
	return &NextDeadline{SessionID: c[0].ID, SessionName: c[0].Name, Deadline: c[0].Deadline, DaysLeft: daysUntil(today, c[0].Deadline)}, nil
}

// withNextDeadline sets every case's next deadline. The calendar is the tenant's, so
// every case has the same one; a closed case has none.
func (s *Service) withNextDeadline(ctx context.Context, tenantID string, cases []Case) error {
	if len(cases) == 0 {
		return nil
	}
	nd, err := s.nextDeadline(ctx, tenantID)
	if err != nil {
		return err
	}
	for i := range cases {
		if cases[i].Status == "open" {
			cases[i].NextDeadline = nd
		}
	}
	return nil
}

// DueItem is an open draft the caller edits or reviews, due before the next deadline.
type DueItem struct {
	SubmissionID string `json:"submission_id"`
	CaseID       string `json:"case_id"`
	CaseNumber   string `json:"case_number" doc:"The ILO case number, empty for a new complaint"`
	Kind         string `json:"kind" enum:"submission_kind"`
	Title        string `json:"title"`
	State        State  `json:"state"`
}

// DueRequest is a request for further information from the ILO not answered yet.
type DueRequest struct {
	ItemID     string    `json:"item_id"`
	CaseID     string    `json:"case_id"`
	CaseNumber string    `json:"case_number"`
	Subject    string    `json:"subject"`
	ReceivedAt time.Time `json:"received_at"`
	AnsweredBy *string   `json:"answered_by" doc:"The draft started to answer it, if any (the request stays open until that draft is dispatched)"`
}

// Due is what the caller has due before the next information deadline.
type Due struct {
	NextDeadline *NextDeadline `json:"next_deadline" doc:"The tenant's next information deadline; null when none is entered"`
	Items        []DueItem     `json:"items" doc:"Open drafts (draft, changes requested) the caller contributed to or, for reviewers, of the tenant; at most 100"`
	Requests     []DueRequest  `json:"requests" doc:"The ILO's requests for further information still open, of the cases the caller may see the correspondence of; at most 100, oldest first"`
}

// Due lists, for the caller, what is due before the tenant's next deadline: the open
// drafts they contributed to (for reviewers, every one they may see), and the open
// requests for information of the cases whose correspondence they see.
func (s *Service) Due(ctx context.Context, a *auth.TenantAccess) (*Due, error) {
	if err := a.Require(auth.PermCaseRead); err != nil {
		return nil, err
	}
	nd, err := s.nextDeadline(ctx, a.Tenant.ID)
	if err != nil {
		return nil, err
	}
	out := &Due{NextDeadline: nd, Items: []DueItem{}, Requests: []DueRequest{}}
	if nd == nil {
		return out, nil
	}
	if out.Requests, err = s.openRequestsFor(ctx, a); err != nil {
		return nil, err
	}
	sc, err := submissionScope(a)
	if err != nil {
		return out, nil // sees no submission: nothing due
	}
	q := sc.Apply(s.db.Conn(ctx).Table("submissions"), "submissions", true).
		Joins("JOIN cases ON cases.id = submissions.case_id").
		Where("submissions.state IN ?", []State{Draft, ChangesRequested})
	if !a.Can(auth.PermSubmissionReview) {
		q = q.Where("EXISTS (SELECT 1 FROM submission_contributors sc WHERE sc.submission_id = submissions.id AND sc.user_id = ?)", a.Principal.User.ID)
	}
	err = q.Select("submissions.id AS submission_id, submissions.case_id, cases.number AS case_number, submissions.kind, submissions.title, submissions.state").
		Order("submissions.updated_at, submissions.id").Limit(100).Find(&out.Items).Error
	return out, err
}

// DeadlineHooks send what the calendar decides: the dispatch package implements them.
type DeadlineHooks interface {
	// RemindDeadline enqueues, in the transaction ctx carries, one reminder to userID
	// that the session's information deadline is daysLeft days away; without content.
	RemindDeadline(ctx context.Context, tenantID, userID string, session CFASession, daysLeft int) error
}

// UseDeadlineHooks gives the calendar the dispatch package's hooks (wiring).
func (s *Service) UseDeadlineHooks(h DeadlineHooks) { s.deadlineHooks = h }

// RemindReport counts the reminders one run enqueued.
type RemindReport struct {
	Tenants, Reminders int
}

// threshold is the reminder due daysLeft days before a deadline: 14 from 14 to 4 days
// before, 3 from 3 days before to the day, so a day the job missed is caught up the
// next; 0 when none is.
func threshold(daysLeft int) int {
	t := 0
	for _, th := range ReminderThresholds {
		if daysLeft >= 0 && daysLeft <= th {
			t = th
		}
	}
	return t
}

// RemindAll sends the deadline reminders due today, for every tenant (the daily job).
// For each session whose information deadline is 14 or 3 days away (or fewer, up to the
// next threshold), each editor of an open draft (its contributors who may still see
// it), each editor of a case with an open request for information from the ILO (the
// contributors of the case's submissions who may still see them) and each reviewer of
// the tenant is reminded once per deadline and threshold: who was reminded is recorded
// in cfa_reminders in the transaction that enqueues the reminder, so a rerun sends
// nothing twice. No reminder goes when the tenant has nothing open.
func (s *Service) RemindAll(ctx context.Context) (RemindReport, error) {
	var r RemindReport
	if s.deadlineHooks == nil {
		return r, errors.New("workflow: the calendar has no hooks to the dispatch package (UseDeadlineHooks)")
	}
	today := s.today()
	last := today.AddDate(0, 0, ReminderThresholds[0]).Format(dateLayout)
	var sessions []CFASession
	if err := s.db.Conn(ctx).Where("deadline >= ? AND deadline <= ?", today.Format(dateLayout), last).
		Order("tenant_id, deadline, id").Find(&sessions).Error; err != nil {
		return r, err
	}
	people := map[string][]string{} // by tenant, computed once per run
	for _, c := range sessions {
		days := daysUntil(today, c.Deadline)
		th := threshold(days)
		if th == 0 {
			continue
		}
		to, ok := people[c.TenantID]
		if !ok {
			var err error
			if to, err = s.toRemind(ctx, c.TenantID); err != nil {
				return r, err
			}
			people[c.TenantID] = to
			if len(to) > 0 {
				r.Tenants++
			}
		}
		for _, uid := range to {
			sent := false
			err := s.db.WithTx(ctx, func(ctx context.Context) error {
				res := s.db.Conn(ctx).Clauses(clause.OnConflict{DoNothing: true}).Table("cfa_reminders").Create(map[string]any{
					"tenant_id": c.TenantID, "session_id": c.ID, "deadline": c.Deadline, "days_before": th, "user_id": uid, "sent_at": s.now()})
				if res.Error != nil || res.RowsAffected == 0 {
					return res.Error
				}
				sent = true
				return s.deadlineHooks.RemindDeadline(ctx, c.TenantID, uid, c, days)
			})
			if err != nil {
				return r, err
			}
			if sent {
				r.Reminders++
			}
		}
	}
	return r, nil
}

// toRemind is who is reminded of the tenant's deadlines: the contributors of its open
// drafts and of the submissions of cases with an open request for information, who may
// still see them, and its reviewers; nobody when nothing is open.
func (s *Service) toRemind(ctx context.Context, tenantID string) ([]string, error) {
	var drafts []Submission
	// Editors hear of the requests they can read: those shared with the organizations.
	open := s.db.Conn(ctx).Model(&CorrespondenceItem{}).Select("case_id").Where("tenant_id = ? AND kind = ? AND status = ? AND shared",
		tenantID, KindRequestForInformation, CorrespondenceOpen)
	if err := s.db.Conn(ctx).Select("id, organization_id").Where("tenant_id = ?", tenantID).
		Where(s.db.Conn(ctx).Where("state IN ?", []State{Draft, ChangesRequested}).Or("case_id IN (?)", open)).
		Order("id").Find(&drafts).Error; err != nil {
		return nil, err
	}
	requests, err := s.openRequests(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if len(drafts) == 0 && requests == 0 {
		return nil, nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(ids []string) {
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	for _, d := range drafts {
		authors, err := s.Contributors(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		if authors == nil {
			authors = []string{}
		}
		ids, err := auth.EntitledUsers(ctx, s.db, auth.Entitlement{TenantID: tenantID, Perm: auth.PermSubmissionReadAll,
			OrgPerm: auth.PermSubmissionReadOwn, Organization: d.OrganizationID, Users: authors})
		if err != nil {
			return nil, err
		}
		add(ids)
	}
	ids, err := auth.EntitledUsers(ctx, s.db, auth.Entitlement{TenantID: tenantID, Perm: auth.PermSubmissionReview})
	if err != nil {
		return nil, err
	}
	add(ids)
	return out, nil
}
