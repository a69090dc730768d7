package workflow

import (
	"context"
	"errors"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
)

// The dispatch package acts for no user: it sends approved submissions and tells people
// about them. It reads what it needs through these ports, never the workflow's tables.

// Evidence is a file of an approved revision, with where storage keeps it.
type Evidence struct {
	AttachmentSnap
	ObjectKey string
}

// DispatchInput is what one dispatch sends: the approved revision (its text as the
// Submission's title, body and language), its evidence, and the approval snapshot of
// sender, recipients, letterhead, signatory and case.
type DispatchInput struct {
	Submission Submission
	Evidence   []Evidence
	Snapshot   *ApprovalSnapshot
	// TenantSlug is for links to the portal.
	TenantSlug string
	// Reply, for a submission that answers the ILO's correspondence, threads its e-mail
	// under the message it answers (ADR 0036).
	Reply *ReplyHeaders
}

// DispatchInputFor returns what the dispatch of a submission's revision sends.
func (s *Service) DispatchInputFor(ctx context.Context, tenantID, submissionID string, revision int) (*DispatchInput, error) {
	var sub Submission
	if err := s.db.Conn(ctx).Where("id = ? AND tenant_id = ?", submissionID, tenantID).First(&sub).Error; err != nil {
		return nil, notFound(err, "submission")
	}
	rev, err := s.revisionFor(ctx, sub.ID, revision)
	if err != nil {
		return nil, err
	}
	if err := s.openRevision(ctx, rev); err != nil {
		return nil, err
	}
	snap, err := s.SnapshotFor(ctx, tenantID, sub.ID, revision)
	if err != nil {
		return nil, err
	}
	slug, err := auth.TenantSlug(ctx, s.db, tenantID)
	if err != nil {
		return nil, err
	}
	sub.Title, sub.Body, sub.Language, sub.Revision = rev.Title, rev.Body, rev.Language, rev.Number
	evidence, err := s.evidence(ctx, rev)
	if err != nil {
		return nil, err
	}
	reply, err := s.replyHeadersFor(ctx, &sub)
	if err != nil {
		return nil, err
	}
	return &DispatchInput{Submission: sub, Snapshot: snap, TenantSlug: slug, Evidence: evidence, Reply: reply}, nil
}

// EvidenceFor returns the evidence a submission's revision lists, with where storage
// keeps each file: what a download link of its dispatch may give, without opening its
// text.
func (s *Service) EvidenceFor(ctx context.Context, tenantID, submissionID string, revision int) ([]Evidence, error) {
	rev, err := s.revisionFor(ctx, submissionID, revision)
	if err != nil {
		return nil, err
	}
	if rev.TenantID != tenantID {
		return nil, apperr.NotFound("revision")
	}
	if err := s.sealer(rev.TenantID, rev.SubmissionID).openSnaps(ctx, rev); err != nil {
		return nil, err
	}
	return s.evidence(ctx, rev)
}

func (s *Service) revisionFor(ctx context.Context, submissionID string, revision int) (*Revision, error) {
	var rev Revision
	if err := s.db.Conn(ctx).Where("submission_id = ? AND number = ?", submissionID, revision).First(&rev).Error; err != nil {
		return nil, notFound(err, "revision")
	}
	return &rev, nil
}

// evidence pairs the files a revision lists (their names opened) with their objects.
func (s *Service) evidence(ctx context.Context, rev *Revision) ([]Evidence, error) {
	out := make([]Evidence, 0, len(rev.Attachments))
	if len(rev.Attachments) == 0 {
		return out, nil
	}
	ids := make([]string, len(rev.Attachments))
	for i, a := range rev.Attachments {
		ids[i] = a.ID
	}
	var rows []Attachment
	if err := s.db.Conn(ctx).Where("id IN ? AND submission_id = ?", ids, rev.SubmissionID).Find(&rows).Error; err != nil {
		return nil, err
	}
	keys := make(map[string]string, len(rows))
	for _, r := range rows {
		keys[r.ID] = r.ObjectKey
	}
	for _, a := range rev.Attachments {
		key, ok := keys[a.ID]
		if !ok {
			return nil, errors.New("workflow: evidence " + a.ID + " of an approved revision has no record")
		}
		out = append(out, Evidence{AttachmentSnap: a, ObjectKey: key})
	}
	return out, nil
}

// NoticeInput is what a notification about a submission names, and who may be told.
type NoticeInput struct {
	Submission Submission
	Case       Case
	// Authors are the ids of everyone who wrote, edited, submitted or changed the
	// evidence of the submission (whether they may still be told is auth's to say).
	Authors []string
	// Sender is the tenant's sender today; notifications are not letters, so they
	// follow the settings rather than a snapshot.
	Sender     Mailbox
	TenantSlug string
}

// NoticeInputFor returns what a notification about a submission needs; not_found when
// the submission was deleted since.
func (s *Service) NoticeInputFor(ctx context.Context, tenantID, submissionID string) (*NoticeInput, error) {
	var in NoticeInput
	if err := s.db.Conn(ctx).Where("id = ? AND tenant_id = ?", submissionID, tenantID).First(&in.Submission).Error; err != nil {
		return nil, notFound(err, "submission")
	}
	if err := s.db.Conn(ctx).Where("id = ?", in.Submission.CaseID).First(&in.Case).Error; err != nil {
		return nil, err
	}
	authors, err := s.Contributors(ctx, submissionID)
	if err != nil {
		return nil, err
	}
	in.Authors = authors
	if in.Authors == nil {
		in.Authors = []string{}
	}
	st, err := s.SettingsFor(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	in.Sender = st.Dispatch.From
	if in.TenantSlug, err = auth.TenantSlug(ctx, s.db, tenantID); err != nil {
		return nil, err
	}
	return &in, nil
}
