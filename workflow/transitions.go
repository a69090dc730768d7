package workflow

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/auth"
)

// MaxCommentLength bounds a comment, in characters.
const MaxCommentLength = 20000

// Transition takes action on a submission, as the workflow table allows. The state
// change, the revision (on submit), the approval, the comment, the audit event and,
// on entering dispatching, the dispatch job are written in one transaction.
func (s *Service) Transition(ctx context.Context, a *auth.TenantAccess, id string, action Action, comment string) (*SubmissionView, error) {
	rule, ok := ruleFor(action)
	if !ok {
		names := make([]string, 0, len(Table))
		for _, r := range Table {
			names = append(names, string(r.Action))
		}
		return nil, apperr.Invalid("unknown action", apperr.FieldError{Field: "action", Message: "expected one of " + strings.Join(names, ", ")})
	}
	comment = strings.TrimSpace(comment)
	if utf8.RuneCountInString(comment) > MaxCommentLength {
		return nil, apperr.Invalid("the comment is too long", apperr.FieldError{Field: "comment", Message: "at most 20000 characters"})
	}
	var sub *Submission
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if sub, err = s.load(ctx, a, id, true); err != nil {
			return err
		}
		who, err := s.actorFor(ctx, a, sub)
		if err != nil {
			return err
		}
		if rule.OwnOrganization && who.organizationID != sub.OrganizationID {
			who.organizationID = ""
		}
		switch rule.refusal(sub.State, who) {
		case "":
		case "invalid_transition":
			return (&apperr.Error{Kind: apperr.KindConflict, Code: "invalid_transition",
				Message: "the action " + string(action) + " is not possible in state " + string(sub.State)}).
				With("state", sub.State).With("allowed_actions", allowedActions(sub.State, sub.OrganizationID, who))
		case "author_cannot_approve", "author_cannot_sign":
			return &apperr.Error{Kind: apperr.KindForbidden, Code: "author_cannot_" + string(action),
				Message: "an author of a submission (who wrote, edited or submitted it, or added or removed its evidence) cannot " + string(action) + " it"}
		case "already_approved":
			return &apperr.Error{Kind: apperr.KindConflict, Code: "already_approved", Message: "you have approved this revision already; another reviewer must approve"}
		default:
			return &apperr.Error{Kind: apperr.KindForbidden, Code: "forbidden", Message: "your roles do not allow " + string(action) + " on this submission"}
		}
		if rule.CommentRequired && comment == "" {
			return apperr.Invalid("a comment is required", apperr.FieldError{Field: "comment", Message: "required: say why"})
		}
		return s.apply(ctx, a, sub, rule, comment)
	})
	if err != nil {
		return nil, err
	}
	return s.view(ctx, a, sub)
}

// apply performs rule on sub, which is locked, and records it.
func (s *Service) apply(ctx context.Context, a *auth.TenantAccess, sub *Submission, rule Rule, comment string) error {
	from := sub.State
	to := rule.To
	uid := a.Principal.User.ID
	now := s.now()
	details := map[string]any{"from": from}
	updates := map[string]any{}

	switch rule.Action {
	case ActionSubmit:
		sub.Revision++
		snaps, err := s.snapshotAttachments(ctx, sub)
		if err != nil {
			return err
		}
		rev := Revision{ID: auth.NewID(), TenantID: sub.TenantID, SubmissionID: sub.ID, Number: sub.Revision,
			Title: sub.Title, Body: sub.Body, Language: sub.Language, Attachments: snaps, CreatedBy: uid, CreatedAt: now}
		if err := s.db.Conn(ctx).Create(&rev).Error; err != nil {
			return err
		}
		if err := s.addContributor(ctx, sub.ID, uid); err != nil {
			return err
		}
		updates["revision"] = sub.Revision
		details["revision"], details["attachments"] = sub.Revision, len(snaps)
	case ActionStartReview:
		sub.ReviewerID = &uid
		updates["reviewer_id"] = uid
	case ActionApprove:
		st, err := s.Settings(ctx, a)
		if err != nil {
			return err
		}
		c, err := s.receivable(ctx, a, sub, st)
		if err != nil {
			return err
		}
		ap := Approval{ID: auth.NewID(), TenantID: sub.TenantID, SubmissionID: sub.ID, Revision: sub.Revision, ReviewerID: uid, CreatedAt: now}
		if err := s.db.Conn(ctx).Create(&ap).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return &apperr.Error{Kind: apperr.KindConflict, Code: "already_approved", Message: "you have approved this revision already"}
			}
			return err
		}
		var n int64
		if err := s.db.Conn(ctx).Model(&Approval{}).Where("submission_id = ? AND revision = ?", sub.ID, sub.Revision).
			Distinct("reviewer_id").Count(&n).Error; err != nil {
			return err
		}
		details["approvals"], details["required_approvals"] = n, st.Workflow.RequiredApprovals
		switch {
		case int(n) < st.Workflow.RequiredApprovals:
			to = InReview
		case st.Workflow.RequireSignatory:
			to = Approved
		default:
			to = Dispatching
		}
		if to != InReview {
			// The final approval freezes what will be sent.
			snap, err := s.takeSnapshot(ctx, sub, st.Dispatch, c)
			if err != nil {
				return err
			}
			details["snapshot_sha256"] = snap.SHA256
		}
	case ActionSign:
		snap, err := s.SnapshotFor(ctx, sub.TenantID, sub.ID, sub.Revision)
		if err != nil {
			return err
		}
		details["snapshot_sha256"] = snap.SHA256
	}

	var commentID string
	if comment != "" {
		rev := sub.Revision
		c := Comment{ID: auth.NewID(), TenantID: sub.TenantID, SubmissionID: sub.ID, AuthorID: uid, Body: comment, CreatedAt: now}
		if rev > 0 {
			c.Revision = &rev
		}
		if err := s.db.Conn(ctx).Create(&c).Error; err != nil {
			return err
		}
		commentID = c.ID
		details["comment_id"] = commentID
	}

	sub.State, sub.UpdatedAt = to, now
	sub.Version++
	updates["state"], updates["version"], updates["updated_at"] = to, sub.Version, now
	res := s.db.Conn(ctx).Model(&Submission{}).Where("id = ? AND version = ?", sub.ID, sub.Version-1).Updates(updates)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return staleVersion(sub.Version - 1)
	}
	details["to"] = to
	if err := s.event(ctx, a, "submission."+string(rule.Action), "submission", sub.ID, details); err != nil {
		return err
	}
	if s.opts.Dispatcher == nil {
		return nil
	}
	if to == Dispatching {
		if err := s.opts.Dispatcher.EnqueueDispatch(ctx, sub); err != nil {
			return err
		}
	}
	if notified(to) && to != from {
		return s.opts.Dispatcher.Notify(ctx, sub, to)
	}
	return nil
}

// notified says which states are announced by e-mail: to the authors when their
// submission is approved, sent back, rejected, dispatched or failed; to the reviewers
// when one is submitted or a dispatch fails.
func notified(st State) bool {
	switch st {
	case Submitted, Approved, ChangesRequested, Rejected, Dispatched, DispatchFailed:
		return true
	}
	return false
}

// receivable runs the checks the ILO applies before it accepts a communication, and
// those dispatch needs, and lists every one that fails.
// It returns the case, which the approval snapshot records.
func (s *Service) receivable(ctx context.Context, a *auth.TenantAccess, sub *Submission, st *Settings) (*Case, error) {
	c, err := s.caseByID(ctx, a, sub.CaseID, false)
	if err != nil {
		return nil, err
	}
	var failed []apperr.FieldError
	fail := func(check, msg string) { failed = append(failed, apperr.FieldError{Field: check, Message: msg}) }
	if sub.Kind != KindComplaint && c.Number == "" {
		fail("case.number", "only a new complaint may go without an ILO case number; give the case its number")
	}
	if len(c.Complainants) == 0 {
		fail("case.complainants", "the case names no complainant organization")
	}
	if strings.TrimSpace(sub.Body) == "" {
		fail("body", "the submission has no text")
	}
	d := st.Dispatch
	if strings.TrimSpace(d.Signatory.Name) == "" {
		fail("settings.dispatch.signatory", "no signatory is configured for the tenant's letters")
	}
	if d.From.Address == "" {
		fail("settings.dispatch.from", "no sender address is configured")
	}
	unverified, err := s.unverifiedSenders(ctx, sub.TenantID, &d)
	if err != nil {
		return nil, err
	}
	for _, f := range unverified {
		fail("settings."+f.Field, f.Message)
	}
	hasTo := false
	for _, r := range d.Recipients {
		hasTo = hasTo || r.Kind == "to"
	}
	switch {
	case d.Sandbox && d.SandboxRecipient == "":
		fail("settings.dispatch.sandbox_recipient", "sandbox mode is on but no sandbox recipient is configured")
	case !d.Sandbox && !hasTo:
		fail("settings.dispatch.recipients", "no ILO recipient is configured")
	}
	if len(failed) == 0 {
		return c, nil
	}
	return nil, &apperr.Error{Kind: apperr.KindInvalid, Code: "not_receivable",
		Message: "the submission cannot be approved until these checks pass", Fields: failed}
}

// CompleteDispatch records the outcome of a dispatch, in the transaction carried by ctx:
// dispatching becomes dispatched or dispatch_failed. It is the dispatch worker's step,
// not a user's, so it is not in Table; a submission in any other state is left alone.
func (s *Service) CompleteDispatch(ctx context.Context, tenantID, submissionID, dispatchID string, sent bool, detail string) error {
	to := DispatchFailed
	if sent {
		to = Dispatched
	}
	res := s.db.Conn(ctx).Model(&Submission{}).Where("id = ? AND tenant_id = ? AND state = ?", submissionID, tenantID, Dispatching).
		Updates(map[string]any{"state": to, "version": gorm.Expr("version + 1"), "updated_at": s.now()})
	if res.Error != nil || res.RowsAffected == 0 {
		return res.Error
	}
	_, err := audit.Record(ctx, s.db, audit.Entry{TenantID: tenantID, Action: "submission." + string(to), ObjectType: "submission",
		ObjectID: submissionID, IP: "dispatch", Details: map[string]any{"from": Dispatching, "to": to, "dispatch_id": dispatchID, "detail": detail},
		At: s.now()})
	if err != nil || s.opts.Dispatcher == nil {
		return err
	}
	var sub Submission
	if err := s.db.Conn(ctx).Where("id = ?", submissionID).First(&sub).Error; err != nil {
		return err
	}
	return s.opts.Dispatcher.Notify(ctx, &sub, to)
}
