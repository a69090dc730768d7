package workflow

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/keys"
)

// MaxBodyBytes bounds a submission's Markdown body.
const MaxBodyBytes = 1 << 20

// SubmissionInput creates a submission, or changes one (nil fields are left alone).
type SubmissionInput struct {
	CaseID   *string `json:"case_id"`
	Kind     *string `json:"kind" enum:"submission_kind"`
	Title    *string `json:"title"`
	Body     *string `json:"body"`
	Language *string `json:"language"`
	// InReplyTo, on creation only, is the correspondence item the draft answers: its
	// dispatch replies in the item's e-mail thread.
	InReplyTo *string `json:"in_reply_to,omitempty" doc:"On creation: the id of a correspondence item of the same case that this draft answers (its dispatch then carries In-Reply-To and References)"`
}

// SubmissionView is a submission as its reader sees it: with what they may do next.
type SubmissionView struct {
	Submission
	AllowedActions    []Action     `json:"allowed_actions"`
	Capabilities      Capabilities `json:"capabilities"`
	Approvals         int          `json:"approvals"`
	RequiredApprovals int          `json:"required_approvals"`
}

// SubmissionSummary is a list item: a submission without its body.
type SubmissionSummary struct {
	ID             string    `json:"id"`
	CaseID         string    `json:"case_id"`
	OrganizationID string    `json:"organization_id"`
	AuthorID       string    `json:"author_id"`
	Kind           string    `json:"kind" enum:"submission_kind"`
	Title          string    `json:"title"`
	Language       string    `json:"language"`
	State          State     `json:"state"`
	Version        int64     `json:"version"`
	Revision       int       `json:"revision"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	// ShreddedAt: see Submission.
	ShreddedAt     *time.Time   `json:"shredded_at"`
	AllowedActions []Action     `json:"allowed_actions" gorm:"-"`
	Capabilities   Capabilities `json:"capabilities" gorm:"-"`
	// Whether the caller contributed to it, or approved its current revision: read with
	// the page, for allowed_actions.
	Contributed  bool `json:"-"`
	ApprovedByMe bool `json:"-"`
}

// apply copies the given fields onto sub and validates the result.
func (in SubmissionInput) apply(sub *Submission) []apperr.FieldError {
	var f []apperr.FieldError
	if in.Kind != nil {
		sub.Kind = *in.Kind
	}
	if in.Title != nil {
		sub.Title = strings.TrimSpace(*in.Title)
	}
	if in.Body != nil {
		sub.Body = *in.Body
	}
	if in.Language != nil {
		sub.Language = *in.Language
	}
	if !slices.Contains(Kinds(), sub.Kind) {
		f = append(f, apperr.FieldError{Field: "kind", Message: "expected complaint, additional_information, association or follow_up"})
	}
	if sub.Title == "" || utf8.RuneCountInString(sub.Title) > 500 {
		f = append(f, apperr.FieldError{Field: "title", Message: "required, at most 500 characters"})
	}
	if len(sub.Body) > MaxBodyBytes {
		f = append(f, apperr.FieldError{Field: "body", Message: "at most 1 MiB"})
	}
	if tag, err := language.Parse(sub.Language); err != nil || sub.Language == "" || tag == language.Und {
		f = append(f, apperr.FieldError{Field: "language", Message: "expected a BCP 47 language tag such as en, fr, es or ky"})
	} else {
		sub.Language = tag.String()
	}
	return f
}

// CreateSubmission starts a draft for the caller's organization.
func (s *Service) CreateSubmission(ctx context.Context, a *auth.TenantAccess, in SubmissionInput) (*SubmissionView, error) {
	if err := a.Require(auth.PermSubmissionWriteOwn); err != nil {
		return nil, err
	}
	if a.Membership == nil {
		return nil, &apperr.Error{Kind: apperr.KindForbidden, Code: apperr.CodeForbidden, Message: "only a member of an organization can draft a submission"}
	}
	now := s.now()
	sub := Submission{ID: database.NewID(), TenantID: a.Tenant.ID, OrganizationID: a.Membership.OrganizationID,
		AuthorID: a.Principal.User.ID, State: Draft, Version: 1, CreatedAt: now, UpdatedAt: now}
	f := in.apply(&sub)
	if in.CaseID == nil || !database.ValidID(*in.CaseID) {
		f = append(f, apperr.FieldError{Field: "case_id", Message: "expected the id of a case of this tenant"})
	} else {
		sub.CaseID = *in.CaseID
	}
	if len(f) > 0 {
		return nil, apperr.Invalid("the submission is invalid", f...)
	}
	if _, err := s.caseByID(ctx, a, sub.CaseID, false); err != nil {
		return nil, apperr.Invalid("the submission is invalid", apperr.FieldError{Field: "case_id", Message: "no such case in this tenant"})
	}
	var answers *CorrespondenceItem
	if in.InReplyTo != nil {
		var err error
		if answers, err = s.replyTarget(ctx, a, *in.InReplyTo, sub.CaseID); err != nil {
			return nil, err
		}
		sub.ReplyToItemID = &answers.ID
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if answers != nil {
			if err := s.linkReply(ctx, answers, sub.ID); err != nil {
				return err
			}
		}
		if sub.SealedBody, err = s.sealer(sub.TenantID, sub.ID).seal(ctx, "submissions", "body", sub.ID, sub.Body); err != nil {
			return err
		}
		sub.bodyOpen = true
		if err := s.db.Conn(ctx).Create(&sub).Error; err != nil {
			return err
		}
		if err := s.db.Conn(ctx).Create(&contributor{SubmissionID: sub.ID, UserID: a.Principal.User.ID}).Error; err != nil {
			return err
		}
		if err := s.event(ctx, a, "submission.created", "submission", sub.ID, map[string]any{"case_id": sub.CaseID, "kind": sub.Kind}); err != nil {
			return err
		}
		return s.publish(ctx, EventSubmissionCreated, &sub, "", nil)
	})
	if err != nil {
		return nil, err
	}
	return s.view(ctx, a, &sub)
}

// Visible answers whether the caller may see a submission (not_found otherwise),
// without opening its text: for what follows a submission's visibility (its
// dispatches).
func (s *Service) Visible(ctx context.Context, a *auth.TenantAccess, id string) error {
	_, err := s.load(ctx, a, id, false)
	return err
}

// Submission returns one submission the caller may see: one statement reads it with
// what its view needs (whether the caller contributed to it or approved its revision,
// and how many approvals it has), and the tenant's settings come from the request's
// tenant lookup.
func (s *Service) Submission(ctx context.Context, a *auth.TenantAccess, id string) (*SubmissionView, error) {
	sc, err := submissionScope(a)
	if err != nil {
		return nil, err
	}
	if !database.ValidID(id) {
		return nil, apperr.NotFound("submission")
	}
	var uid any // NULL for a caller without a user (none reaches here today)
	if database.ValidID(a.Principal.User.ID) {
		uid = a.Principal.User.ID
	}
	var rows []struct {
		Submission   Submission `gorm:"embedded"`
		Contributed  int64
		ApprovedByMe int64
		Approvals    int64
		// The data key that opens its body, read here rather than by a statement of
		// its own.
		WrappedSubmissionKey *string
	}
	err = sc.Apply(s.db.Conn(ctx).Table("submissions"), "submissions", true).
		Select("submissions.*, "+keys.WrappedSubmissionKeyColumn+", "+
			"(SELECT COUNT(*) FROM submission_contributors sc WHERE sc.submission_id = submissions.id AND sc.user_id = ?) AS contributed, "+
			"(SELECT COUNT(*) FROM approvals ap WHERE ap.submission_id = submissions.id AND ap.revision = submissions.revision AND ap.reviewer_id = ?) AS approved_by_me, "+
			"(SELECT COUNT(*) FROM approvals ap WHERE ap.submission_id = submissions.id AND ap.revision = submissions.revision) AS approvals", uid, uid).
		Where("submissions.id = ?", id).Limit(1).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, apperr.NotFound("submission")
	}
	r := rows[0]
	r.Submission.wrappedKey, r.Submission.keyRead = r.WrappedSubmissionKey, true
	who := newActor(a)
	who.contributor, who.approved = r.Contributed > 0, r.ApprovedByMe > 0
	return s.viewOf(ctx, a, &r.Submission, who, r.Approvals)
}

// view builds the caller's view of a submission loaded without its view's facts.
func (s *Service) view(ctx context.Context, a *auth.TenantAccess, sub *Submission) (*SubmissionView, error) {
	who, err := s.actorFor(ctx, a, sub)
	if err != nil {
		return nil, err
	}
	var n int64
	if err := s.db.Conn(ctx).Model(&Approval{}).Where("submission_id = ? AND revision = ?", sub.ID, sub.Revision).Count(&n).Error; err != nil {
		return nil, err
	}
	return s.viewOf(ctx, a, sub, who, n)
}

// viewSettings are the tenant's settings for a view: as the request's tenant lookup
// read them when it did, else read now.
func (s *Service) viewSettings(ctx context.Context, a *auth.TenantAccess) (*Settings, error) {
	if raw, ok := a.TenantSettings(); ok {
		return ParseSettings(raw)
	}
	return s.Settings(ctx, a)
}

func (s *Service) viewOf(ctx context.Context, a *auth.TenantAccess, sub *Submission, who actor, n int64) (*SubmissionView, error) {
	if err := s.openBody(ctx, sub); err != nil {
		return nil, err
	}
	st, err := s.viewSettings(ctx, a)
	if err != nil {
		return nil, err
	}
	caps := capabilities(sub.State, sub.OrganizationID, who)
	caps.Comment = caps.Comment && sub.ShreddedAt == nil // its content is gone (ADR 0030)
	return &SubmissionView{Submission: *sub, AllowedActions: allowedActions(sub.State, sub.OrganizationID, who),
		Capabilities: caps, Approvals: int(n), RequiredApprovals: st.Workflow.RequiredApprovals}, nil
}

// editable loads a submission, locked, for a change its caller may make in its state,
// as the state table's capability want says (Edit, Upload or Delete): a 403 for anyone
// but editors of its organization, a 409 in a state that does not allow it.
func (s *Service) editable(ctx context.Context, a *auth.TenantAccess, id string, want func(Capabilities) bool) (*Submission, error) {
	sub, err := s.load(ctx, a, id, true)
	if err != nil {
		return nil, err
	}
	who := newActor(a)
	if want(capabilities(sub.State, sub.OrganizationID, who)) {
		return sub, nil
	}
	// Who may, in a state where it is possible?
	for _, r := range states {
		if want(capabilities(r.State, sub.OrganizationID, who)) {
			return nil, notInState(want, sub)
		}
	}
	return nil, apperr.Forbidden("only editors of the submission's organization may change it")
}

// canEdit, canUpload and canDelete pick a capability for editable.
func canEdit(c Capabilities) bool   { return c.Edit }
func canUpload(c Capabilities) bool { return c.Upload }
func canDelete(c Capabilities) bool { return c.Delete }

// notInState is the 409 for a change its state does not allow.
func notInState(want func(Capabilities) bool, sub *Submission) *apperr.Error {
	var in []State
	for _, r := range states {
		if want(Capabilities{Edit: r.Edit, Upload: r.Upload, Delete: r.Delete, Comment: r.Comment}) {
			in = append(in, r.State)
		}
	}
	code, what := apperr.CodeNotEditable, "changed"
	if want(Capabilities{Delete: true}) && !want(Capabilities{Edit: true, Upload: true}) {
		code, what = apperr.CodeNotDeletable, "deleted; withdraw it instead"
	}
	names := make([]string, len(in))
	for i, st := range in {
		names[i] = string(st)
	}
	return apperr.New(apperr.KindConflict, code, "a submission in state "+string(sub.State)+" cannot be "+what+
		" (possible in: "+strings.Join(names, ", ")+")").With("state", sub.State)
}

// UpdateSubmission changes a draft. ifMatch is the version the caller last saw (0: not
// given, answered 428): a change to any other version is refused with 412, so two
// editors never overwrite each other.
func (s *Service) UpdateSubmission(ctx context.Context, a *auth.TenantAccess, id string, ifMatch int64, in SubmissionInput) (*SubmissionView, error) {
	var sub *Submission
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if sub, err = s.editable(ctx, a, id, canEdit); err != nil {
			return err
		}
		if ifMatch == 0 {
			return (&apperr.Error{Kind: apperr.KindPreconditionRequired, Code: apperr.CodeIfMatchRequired,
				Message: "send If-Match with the ETag of the submission you edited"}).With("current_version", sub.Version)
		}
		if sub.Version != ifMatch {
			return staleVersion(sub.Version)
		}
		if f := in.apply(sub); len(f) > 0 {
			return apperr.Invalid("the submission is invalid", f...)
		}
		if in.CaseID != nil {
			if !database.ValidID(*in.CaseID) {
				return apperr.Invalid("the submission is invalid", apperr.FieldError{Field: "case_id", Message: "expected the id of a case of this tenant"})
			}
			if _, err := s.caseByID(ctx, a, *in.CaseID, false); err != nil {
				return apperr.Invalid("the submission is invalid", apperr.FieldError{Field: "case_id", Message: "no such case in this tenant"})
			}
			sub.CaseID = *in.CaseID
		}
		sub.UpdatedAt = s.now()
		updates := map[string]any{"case_id": sub.CaseID, "kind": sub.Kind, "title": sub.Title, "language": sub.Language,
			"version": ifMatch + 1, "updated_at": sub.UpdatedAt}
		if in.Body != nil {
			if sub.SealedBody, err = s.sealer(sub.TenantID, sub.ID).seal(ctx, "submissions", "body", sub.ID, sub.Body); err != nil {
				return err
			}
			sub.bodyOpen = true
			updates["body"] = sub.SealedBody
		}
		res := s.db.Conn(ctx).Model(&Submission{}).Where("id = ? AND version = ?", sub.ID, ifMatch).Updates(updates)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return staleVersion(sub.Version)
		}
		sub.Version = ifMatch + 1
		if err := s.addContributor(ctx, sub.ID, a.Principal.User.ID); err != nil {
			return err
		}
		return s.event(ctx, a, "submission.edited", "submission", sub.ID, map[string]any{"version": sub.Version})
	})
	if err != nil {
		return nil, err
	}
	return s.view(ctx, a, sub)
}

func staleVersion(current int64) error {
	return (&apperr.Error{Kind: apperr.KindPreconditionFailed, Code: apperr.CodeVersionMismatch,
		Message: "the submission changed since you loaded it; reload, reapply your change and save again"}).With("current_version", current)
}

// Contributors lists the ids of a submission's authors: everyone who created, edited
// or submitted it, or added or removed its evidence.
func (s *Service) Contributors(ctx context.Context, submissionID string) ([]string, error) {
	var ids []string
	err := s.db.Conn(ctx).Model(&contributor{}).Where("submission_id = ?", submissionID).Order("user_id").Pluck("user_id", &ids).Error
	return ids, err
}

func (s *Service) addContributor(ctx context.Context, submissionID, userID string) error {
	var n int64
	if err := s.db.Conn(ctx).Model(&contributor{}).Where("submission_id = ? AND user_id = ?", submissionID, userID).Count(&n).Error; err != nil || n > 0 {
		return err
	}
	return s.db.Conn(ctx).Create(&contributor{SubmissionID: submissionID, UserID: userID}).Error
}

// DeleteSubmission deletes a draft that was never submitted.
func (s *Service) DeleteSubmission(ctx context.Context, a *auth.TenantAccess, id string) error {
	var keys []string
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		sub, err := s.editable(ctx, a, id, canDelete)
		if err != nil {
			return err
		}
		if err := s.db.Conn(ctx).Model(&Attachment{}).Where("submission_id = ?", sub.ID).Pluck("object_key", &keys).Error; err != nil {
			return err
		}
		if err := s.db.Conn(ctx).Delete(&Attachment{}, "submission_id = ?", sub.ID).Error; err != nil {
			return err
		}
		if err := s.db.Conn(ctx).Delete(&Submission{}, "id = ?", sub.ID).Error; err != nil {
			return err
		}
		return s.event(ctx, a, "submission.deleted", "submission", sub.ID, map[string]any{"case_id": sub.CaseID})
	})
	if err != nil {
		return err
	}
	s.deleteObjects(ctx, keys...)
	return nil
}

// ListFilter narrows a submission list.
type ListFilter struct {
	State          string
	CaseID         string
	OrganizationID string
	Q              string
	// UpdatedSince keeps submissions changed at or after it (zero: all).
	UpdatedSince time.Time
}

func (f ListFilter) validate() error {
	var fe []apperr.FieldError
	if f.State != "" && !slices.Contains(States(), State(f.State)) {
		fe = append(fe, apperr.FieldError{Field: "state", Message: "unknown state; expected one of draft, submitted, in_review, changes_requested, approved, dispatching, dispatched, dispatch_failed, rejected, withdrawn"})
	}
	if f.CaseID != "" && !database.ValidID(f.CaseID) {
		fe = append(fe, apperr.FieldError{Field: "case_id", Message: "expected a case id"})
	}
	if f.OrganizationID != "" && !database.ValidID(f.OrganizationID) {
		fe = append(fe, apperr.FieldError{Field: "organization_id", Message: "expected an organization id"})
	}
	if utf8.RuneCountInString(f.Q) > 200 {
		fe = append(fe, apperr.FieldError{Field: "q", Message: "at most 200 characters"})
	}
	if len(fe) > 0 {
		return apperr.Malformed("invalid filter", fe...)
	}
	return nil
}

// ListSubmissions lists what the caller may see, newest first. It costs a constant
// number of queries whatever the page size.
func (s *Service) ListSubmissions(ctx context.Context, a *auth.TenantAccess, f ListFilter, page database.Page) ([]SubmissionSummary, string, error) {
	if err := f.validate(); err != nil {
		return nil, "", err
	}
	sc, err := submissionScope(a)
	if err != nil {
		return nil, "", err
	}
	q := sc.Apply(s.db.Conn(ctx).Model(&Submission{}), "submissions", true)
	if f.State != "" {
		q = q.Where("submissions.state = ?", f.State)
	}
	if f.CaseID != "" {
		q = q.Where("submissions.case_id = ?", f.CaseID)
	}
	if f.OrganizationID != "" {
		q = q.Where("submissions.organization_id = ?", f.OrganizationID)
	}
	if !f.UpdatedSince.IsZero() {
		q = q.Where("submissions.updated_at >= ?", f.UpdatedSince.UTC())
	}
	if f.Q != "" {
		// Titles only: bodies are encrypted at rest (ADR 0029).
		like := "%" + escapeLike(strings.ToLower(f.Q)) + "%"
		q = q.Where("LOWER(submissions.title) LIKE ? ESCAPE '\\'", like)
	}
	if q, err = afterTimeID(q, "submissions", page); err != nil {
		return nil, "", err
	}
	// Scanned by hand: this is the portal's hottest read, and gorm's reflective scan
	// costs more than the query itself.
	res, err := q.Select(`id, case_id, organization_id, author_id, kind, title, language, state, version, revision, created_at, updated_at, shredded_at`).
		Order("submissions.created_at DESC, submissions.id DESC").Limit(page.Limit + 1).Rows()
	if err != nil {
		return nil, "", err
	}
	defer res.Close()
	rows := make([]SubmissionSummary, 0, page.Limit+1)
	for res.Next() {
		var r SubmissionSummary
		if err := res.Scan(&r.ID, &r.CaseID, &r.OrganizationID, &r.AuthorID, &r.Kind, &r.Title, &r.Language, &r.State,
			&r.Version, &r.Revision, &r.CreatedAt, &r.UpdatedAt, &r.ShreddedAt); err != nil {
			return nil, "", err
		}
		rows = append(rows, r)
	}
	if err := res.Err(); err != nil {
		return nil, "", err
	}
	items, next := database.Trim(rows, page, func(r SubmissionSummary) []string { return timeIDKey(r.CreatedAt, r.ID) })
	base := newActor(a)
	if err := s.listFacts(ctx, a, base, items); err != nil {
		return nil, "", err
	}
	for i := range items {
		who := base
		who.contributor, who.approved = items[i].Contributed, items[i].ApprovedByMe
		items[i].AllowedActions = allowedActions(items[i].State, items[i].OrganizationID, who)
		items[i].Capabilities = capabilities(items[i].State, items[i].OrganizationID, who)
		items[i].Capabilities.Comment = items[i].Capabilities.Comment && items[i].ShreddedAt == nil
	}
	return items, next, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// listFacts sets, for a page of submissions, whether the caller contributed to each and
// approved its revision: one statement for the page, for the submissions whose state
// and the caller's permissions make a rule depend on them (only approving and signing
// do: an author may not, and a reviewer approves a revision once), and none when there
// are none.
func (s *Service) listFacts(ctx context.Context, a *auth.TenantAccess, who actor, items []SubmissionSummary) error {
	var ids []string
	at := make(map[string]int, len(items))
	for i := range items {
		if factsMatter(items[i].State, who) {
			ids, at[items[i].ID] = append(ids, items[i].ID), i
		}
	}
	if len(ids) == 0 {
		return nil
	}
	uid := a.Principal.User.ID
	var facts []struct {
		SubmissionID string
		Fact         string
	}
	err := s.db.Conn(ctx).Raw(`SELECT submission_id, 'contributed' AS fact FROM submission_contributors WHERE user_id = ? AND submission_id IN ?
		UNION ALL
		SELECT ap.submission_id, 'approved' AS fact FROM approvals ap JOIN submissions s ON s.id = ap.submission_id AND s.revision = ap.revision
		WHERE ap.reviewer_id = ? AND ap.submission_id IN ?`, uid, ids, uid, ids).Find(&facts).Error
	if err != nil {
		return err
	}
	for _, f := range facts {
		it := &items[at[f.SubmissionID]]
		switch f.Fact {
		case "contributed":
			it.Contributed = true
		case "approved":
			it.ApprovedByMe = true
		}
	}
	return nil
}
