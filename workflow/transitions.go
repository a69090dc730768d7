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
	"github.com/unionportal/unionportal/database"
)

// MaxCommentLength bounds a comment, in characters.
const MaxCommentLength = 20000

// Transition takes action on a submission, as the workflow table allows. The state
// change, the revision (on submit), the approval and its snapshot, the comment, the
// audit event and what the listener does on entering the new state (the dispatch job,
// the notifications) are written in one transaction.
func (s *Service) Transition(ctx context.Context, a *auth.TenantAccess, id string, action Action, comment string) (*SubmissionView, error) {
	rule, ok := ruleFor(action)
	if !ok {
		names := make([]string, 0, len(table))
		for _, r := range table {
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
		allowed := func() []Action { return allowedActions(sub.State, sub.OrganizationID, who) }
		if refused := rule.refusal(sub.State, forRule(rule, sub.OrganizationID, who), allowed); refused != nil {
			return refused
		}
		if rule.CommentRequired && comment == "" {
			return apperr.Invalid("a comment is required", apperr.FieldError{Field: "comment", Message: "required: say why"})
		}
		return s.apply(ctx, a, sub, rule, comment)
	})
	if err != nil {
		return nil, s.reportUnreadable(ctx, err)
	}
	return s.view(ctx, a, sub)
}

// apply performs rule on sub, which is locked, and records it.
func (s *Service) apply(ctx context.Context, a *auth.TenantAccess, sub *Submission, rule Rule, comment string) error {
	from, to := sub.State, rule.To
	uid := a.Principal.User.ID
	details := map[string]any{"from": from}
	updates := map[string]any{}
	if rule.NewRevision {
		if err := s.newRevision(ctx, sub, uid, details); err != nil {
			return err
		}
		updates["revision"] = sub.Revision
	}
	if rule.AssignsReviewer {
		sub.ReviewerID = &uid
		updates["reviewer_id"] = uid
	}
	var snap *ApprovalSnapshot
	if rule.Counted {
		var err error
		if to, snap, err = s.count(ctx, a, sub, rule, details); err != nil {
			return err
		}
	}
	if rule.SignsSnapshot || to == Dispatching && snap == nil {
		var err error
		if snap, err = s.SnapshotFor(ctx, sub.TenantID, sub.ID, sub.Revision); err != nil {
			return err
		}
		details["snapshot_sha256"] = snap.SHA256
	}
	var commentID string
	if comment != "" {
		var err error
		if commentID, err = s.recordComment(ctx, sub, uid, comment); err != nil {
			return err
		}
		details["comment_id"] = commentID
	}

	now := s.now()
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
	if rule.Event != "" && (!rule.Counted || to != rule.Pending) {
		if err := s.publish(ctx, rule.Event, sub, from, nil); err != nil {
			return err
		}
	}
	if commentID != "" {
		if err := s.publishComment(ctx, sub, commentID); err != nil {
			return err
		}
	}
	return s.entered(ctx, sub, from, snap)
}

// publishComment tells the feed of a new comment on sub (by id only: its text stays in
// the portal).
func (s *Service) publishComment(ctx context.Context, sub *Submission, commentID string) error {
	return s.publish(ctx, EventCommentCreated, sub, "", func(d *EventData) {
		d.CommentID, d.Links.Comments = commentID, d.Links.Submission+"/comments"
	})
}

// newRevision records sub as its next immutable revision, with its evidence.
func (s *Service) newRevision(ctx context.Context, sub *Submission, uid string, details map[string]any) error {
	if err := s.openBody(ctx, sub); err != nil {
		return err
	}
	sub.Revision++
	snaps, err := s.snapshotAttachments(ctx, sub)
	if err != nil {
		return err
	}
	rev := Revision{ID: database.NewID(), TenantID: sub.TenantID, SubmissionID: sub.ID, Number: sub.Revision,
		Title: sub.Title, Body: sub.Body, Language: sub.Language, SealedAttachments: snaps, CreatedBy: uid, CreatedAt: s.now()}
	if rev.SealedBody, err = s.sealer(sub.TenantID, sub.ID).seal(ctx, "revisions", "body", rev.ID, rev.Body); err != nil {
		return err
	}
	if err := s.db.Conn(ctx).Create(&rev).Error; err != nil {
		return err
	}
	details["revision"], details["attachments"] = sub.Revision, len(snaps)
	return s.addContributor(ctx, sub.ID, uid)
}

// count records the caller's approval of sub's revision (after the receivability
// checks) and returns where the counted rule leads with it; when that is past the
// pending state, the snapshot of what will be sent is taken.
func (s *Service) count(ctx context.Context, a *auth.TenantAccess, sub *Submission, rule Rule, details map[string]any) (State, *ApprovalSnapshot, error) {
	st, err := s.Settings(ctx, a)
	if err != nil {
		return "", nil, err
	}
	c, err := s.receivable(ctx, a, sub, st)
	if err != nil {
		return "", nil, err
	}
	ap := Approval{ID: database.NewID(), TenantID: sub.TenantID, SubmissionID: sub.ID, Revision: sub.Revision,
		ReviewerID: a.Principal.User.ID, CreatedAt: s.now()}
	if err := s.db.Conn(ctx).Create(&ap).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return "", nil, apperr.New(apperr.KindConflict, apperr.CodeAlreadyApproved,
				"you have approved this revision already; another reviewer must approve")
		}
		return "", nil, err
	}
	var n int64
	if err := s.db.Conn(ctx).Model(&Approval{}).Where("submission_id = ? AND revision = ?", sub.ID, sub.Revision).
		Distinct("reviewer_id").Count(&n).Error; err != nil {
		return "", nil, err
	}
	details["approvals"], details["required_approvals"] = n, st.Workflow.RequiredApprovals
	to := rule.target(int(n), st)
	if to == rule.Pending || !rule.Freezes {
		return to, nil, nil
	}
	snap, err := s.takeSnapshot(ctx, sub, st.Dispatch, c)
	if err != nil {
		return "", nil, err
	}
	details["snapshot_sha256"] = snap.SHA256
	return to, snap, nil
}

// recordComment stores the comment that comes with an action, about the current revision.
func (s *Service) recordComment(ctx context.Context, sub *Submission, uid, body string) (string, error) {
	c := Comment{ID: database.NewID(), TenantID: sub.TenantID, SubmissionID: sub.ID, AuthorID: uid, Body: body, CreatedAt: s.now()}
	if rev := sub.Revision; rev > 0 {
		c.Revision = &rev
	}
	var err error
	if c.SealedBody, err = s.sealer(sub.TenantID, sub.ID).seal(ctx, "comments", "body", c.ID, body); err != nil {
		return "", err
	}
	return c.ID, s.db.Conn(ctx).Create(&c).Error
}

// entered tells the listener that sub entered its state from from, with what the state
// table says entering it causes.
func (s *Service) entered(ctx context.Context, sub *Submission, from State, snap *ApprovalSnapshot) error {
	r := stateRule(sub.State)
	if sub.State == from || !r.Dispatch && r.Notify == (Audience{}) {
		return nil
	}
	e := Entered{Submission: *sub, From: from, Dispatch: r.Dispatch, Snapshot: snap, Notify: r.Notify, Notice: r.Notice}
	for _, l := range s.listeners {
		if err := l.Entered(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// receivable runs the checks the ILO applies before it accepts a communication, and
// those dispatch needs, and lists every one that fails.
// It returns the case, which the approval snapshot records.
func (s *Service) receivable(ctx context.Context, a *auth.TenantAccess, sub *Submission, st *Settings) (*Case, error) {
	if err := s.openBody(ctx, sub); err != nil {
		return nil, err
	}
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
	uncleanable, err := s.uncleanable(ctx, sub.ID)
	if err != nil {
		return nil, err
	}
	for _, name := range uncleanable {
		fail("attachments", name+": "+CannotCleanMessage)
	}
	if len(failed) == 0 {
		return c, nil
	}
	return nil, &apperr.Error{Kind: apperr.KindInvalid, Code: apperr.CodeNotReceivable,
		Message: "the submission cannot be approved until these checks pass", Fields: failed}
}

// CompleteDispatch records the outcome of a dispatch (its id and Message-ID, without
// angle brackets), in the transaction carried by ctx: dispatching becomes dispatched or
// dispatch_failed, and the tenant's feed says so. It is the dispatch worker's step,
// not a user's, so it is not in Table; a submission in any other state is left alone.
func (s *Service) CompleteDispatch(ctx context.Context, tenantID, submissionID, dispatchID, messageID string, sent bool, detail string) error {
	to, typ := DispatchFailed, EventDispatchFailed
	if sent {
		to, typ = Dispatched, EventDispatched
	}
	res := s.db.Conn(ctx).Model(&Submission{}).Where("id = ? AND tenant_id = ? AND state = ?", submissionID, tenantID, Dispatching).
		Updates(map[string]any{"state": to, "version": gorm.Expr("version + 1"), "updated_at": s.now()})
	if res.Error != nil || res.RowsAffected == 0 {
		return res.Error
	}
	_, err := audit.Record(ctx, s.db, audit.Entry{TenantID: tenantID, Action: "submission." + string(to), ObjectType: "submission",
		ObjectID: submissionID, IP: "dispatch", Details: map[string]any{"from": Dispatching, "to": to, "dispatch_id": dispatchID, "detail": detail},
		At: s.now()})
	if err != nil {
		return err
	}
	var sub Submission
	if err := s.db.Conn(ctx).Where("id = ?", submissionID).First(&sub).Error; err != nil {
		return err
	}
	if sent {
		if err := s.replySent(ctx, &sub); err != nil {
			return err
		}
	}
	err = s.publish(ctx, typ, &sub, Dispatching, func(d *EventData) {
		d.DispatchID, d.MessageID, d.Links.Dispatches = dispatchID, messageID, d.Links.Submission+"/dispatches"
	})
	if err != nil {
		return err
	}
	return s.entered(ctx, &sub, Dispatching, nil)
}

// Receivability is the outcome of the receivability checks for a submission as it stands,
// for reviewers to see before they approve: Ready, or the checks that fail.
type Receivability struct {
	Ready  bool                `json:"ready"`
	Failed []apperr.FieldError `json:"failed"`
}

// Receivability runs the receivability checks on a submission the caller may see,
// changing nothing.
func (s *Service) Receivability(ctx context.Context, a *auth.TenantAccess, id string) (*Receivability, error) {
	sub, err := s.load(ctx, a, id, false)
	if err != nil {
		return nil, err
	}
	st, err := s.Settings(ctx, a)
	if err != nil {
		return nil, err
	}
	_, err = s.receivable(ctx, a, sub, st)
	if err == nil {
		return &Receivability{Ready: true, Failed: []apperr.FieldError{}}, nil
	}
	if ae, ok := apperr.As(err); ok && ae.Code == apperr.CodeNotReceivable {
		return &Receivability{Failed: ae.Fields}, nil
	}
	return nil, err
}
