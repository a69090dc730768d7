package workflow

import (
	"context"
	"strconv"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
)

// Revisions lists a submission's revisions, oldest first, without their bodies.
func (s *Service) Revisions(ctx context.Context, a *auth.TenantAccess, submissionID string) ([]Revision, error) {
	sub, err := s.load(ctx, a, submissionID, false)
	if err != nil {
		return nil, err
	}
	var revs []Revision
	if err := s.db.Conn(ctx).Select("id, tenant_id, submission_id, number, title, language, attachments, created_by, created_at").
		Where("submission_id = ? AND tenant_id = ?", sub.ID, sub.TenantID).Order("number").Find(&revs).Error; err != nil {
		return nil, err
	}
	z := s.sealer(sub.TenantID, sub.ID)
	for i := range revs {
		if err := z.openSnaps(ctx, &revs[i]); err != nil {
			return nil, err
		}
	}
	return revs, nil
}

// Revision returns revision n of a submission.
func (s *Service) Revision(ctx context.Context, a *auth.TenantAccess, submissionID string, n string) (*Revision, error) {
	sub, err := s.load(ctx, a, submissionID, false)
	if err != nil {
		return nil, err
	}
	num, err := strconv.Atoi(n)
	if err != nil || num < 1 {
		return nil, apperr.NotFound("revision")
	}
	return s.revision(ctx, sub, num)
}

func (s *Service) revision(ctx context.Context, sub *Submission, n int) (*Revision, error) {
	var r Revision
	if err := s.db.Conn(ctx).Where("submission_id = ? AND tenant_id = ? AND number = ?", sub.ID, sub.TenantID, n).First(&r).Error; err != nil {
		return nil, notFound(err, "revision")
	}
	return &r, s.openRevision(ctx, &r)
}

// DiffOp is one piece of a word-level diff: text kept, inserted or deleted.
type DiffOp struct {
	Op   string `json:"op" enum:"diff_operation"` // equal, insert, delete
	Text string `json:"text"`
}

// Diff compares two revisions word by word.
type Diff struct {
	From  int      `json:"from"`
	To    int      `json:"to"`
	Title []DiffOp `json:"title"`
	Body  []DiffOp `json:"body"`
}

// Diff compares revisions from and to of a submission, word by word, in time linear in
// their size (see WordDiff). It fails with diff_timeout (503) when ctx ends first.
func (s *Service) Diff(ctx context.Context, a *auth.TenantAccess, submissionID, from, to string) (*Diff, error) {
	sub, err := s.load(ctx, a, submissionID, false)
	if err != nil {
		return nil, err
	}
	var f []apperr.FieldError
	nf, err1 := strconv.Atoi(from)
	nt, err2 := strconv.Atoi(to)
	if err1 != nil || nf < 1 {
		f = append(f, apperr.FieldError{Field: "from", Message: "expected a revision number"})
	}
	if err2 != nil || nt < 1 {
		f = append(f, apperr.FieldError{Field: "to", Message: "expected a revision number"})
	}
	if len(f) > 0 {
		return nil, apperr.Malformed("invalid revision numbers", f...)
	}
	rf, err := s.revision(ctx, sub, nf)
	if err != nil {
		return nil, err
	}
	rt, err := s.revision(ctx, sub, nt)
	if err != nil {
		return nil, err
	}
	title, err := WordDiff(ctx, rf.Title, rt.Title)
	if err != nil {
		return nil, err
	}
	body, err := WordDiff(ctx, rf.Body, rt.Body)
	if err != nil {
		return nil, err
	}
	return &Diff{From: nf, To: nt, Title: title, Body: body}, nil
}

// Comments lists a submission's comments, oldest first.
func (s *Service) Comments(ctx context.Context, a *auth.TenantAccess, submissionID string) ([]Comment, error) {
	sub, err := s.load(ctx, a, submissionID, false)
	if err != nil {
		return nil, err
	}
	var out []Comment
	if err := s.db.Conn(ctx).Where("submission_id = ? AND tenant_id = ?", sub.ID, sub.TenantID).Order("created_at, id").Find(&out).Error; err != nil {
		return nil, err
	}
	return out, s.openComments(ctx, sub.TenantID, sub.ID, out)
}

// Comment returns one comment of a submission the caller may see.
func (s *Service) Comment(ctx context.Context, a *auth.TenantAccess, id string) (*Comment, error) {
	if !database.ValidID(id) {
		return nil, apperr.NotFound("comment")
	}
	var c Comment
	if err := s.db.Conn(ctx).Where("id = ? AND tenant_id = ?", id, a.Tenant.ID).First(&c).Error; err != nil {
		return nil, notFound(err, "comment")
	}
	// Visible only with its submission: another organization's answers 404 as well.
	if _, err := s.load(ctx, a, c.SubmissionID, false); err != nil {
		return nil, apperr.NotFound("comment")
	}
	cs := []Comment{c}
	if err := s.openComments(ctx, c.TenantID, c.SubmissionID, cs); err != nil {
		return nil, err
	}
	return &cs[0], nil
}

// AddComment comments on a submission the caller may see, optionally about a revision.
func (s *Service) AddComment(ctx context.Context, a *auth.TenantAccess, submissionID, body string, revision *int) (*Comment, error) {
	if err := a.Require(auth.PermCommentCreate); err != nil {
		return nil, err
	}
	var c *Comment
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		sub, err := s.load(ctx, a, submissionID, false)
		if err != nil {
			return err
		}
		if sub.ShreddedAt != nil {
			return apperr.Shredded("this submission's texts were deleted under the tenant's retention policy; it takes no more comments")
		}
		if !capabilities(sub.State, sub.OrganizationID, newActor(a)).Comment {
			return apperr.New(apperr.KindConflict, apperr.CodeInvalidTransition, "a submission in state "+string(sub.State)+" takes no comments")
		}
		var f []apperr.FieldError
		if l := len([]rune(body)); l == 0 || l > MaxCommentLength || isBlank(body) {
			f = append(f, apperr.FieldError{Field: "body", Message: "required, at most 20000 characters"})
		}
		if revision != nil && (*revision < 1 || *revision > sub.Revision) {
			f = append(f, apperr.FieldError{Field: "revision", Message: "expected the number of an existing revision"})
		}
		if len(f) > 0 {
			return apperr.Invalid("the comment is invalid", f...)
		}
		c = &Comment{ID: database.NewID(), TenantID: sub.TenantID, SubmissionID: sub.ID, AuthorID: a.Principal.User.ID,
			Body: body, Revision: revision, CreatedAt: s.now()}
		if c.SealedBody, err = s.sealer(sub.TenantID, sub.ID).seal(ctx, "comments", "body", c.ID, body); err != nil {
			return err
		}
		if err := s.db.Conn(ctx).Create(c).Error; err != nil {
			return err
		}
		if err := s.event(ctx, a, "submission.commented", "submission", sub.ID, map[string]any{"comment_id": c.ID}); err != nil {
			return err
		}
		return s.publishComment(ctx, sub, c.ID)
	})
	return c, err
}

func isBlank(s string) bool {
	for _, r := range s {
		if r != ' ' && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}

// Reading acts on a submission that the audit trail records (ADR 0033): downloads of
// evidence, previews of the letter, downloads of what a dispatch sent.
const (
	ActionAttachmentDownloaded   = "attachment.downloaded"
	ActionLetterPreviewed        = "letter.previewed"
	ActionDispatchFileDownloaded = "dispatch.file_downloaded"
)

// readActions are the reading acts of members, which a timeline shows to tenant admins
// and superadmins only.
var readActions = []string{ActionAttachmentDownloaded, ActionLetterPreviewed, ActionDispatchFileDownloaded}

// Events is a submission's timeline: every audit event about it, oldest first.
func (s *Service) Events(ctx context.Context, a *auth.TenantAccess, submissionID string) ([]audit.Event, error) {
	sub, err := s.load(ctx, a, submissionID, false)
	if err != nil {
		return nil, err
	}
	q := s.db.Conn(ctx).Where("tenant_id = ? AND object_type = 'submission' AND object_id = ?", sub.TenantID, sub.ID)
	// Where someone acted from, and who read what, are personal data that reviewers and
	// editors do not need: only tenant admins and superadmins see them.
	admin := a.Principal.User.IsSuperadmin || a.HasRole(auth.RoleTenantAdmin)
	if !admin {
		q = q.Where("action NOT IN ?", readActions)
	}
	var out []audit.Event
	err = q.Order("seq").Find(&out).Error
	if !admin {
		for i := range out {
			out[i].IP = ""
		}
	}
	return out, err
}
