package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
)

// ApprovalSnapshot is what the final approval of a revision froze: the tenant's
// dispatch settings (sender, recipients, letterhead, signatory, sandbox) and the case's
// identity as they were at that moment. The signatory signs it, the dispatch worker
// sends exactly it (with the approved revision's text and evidence), and the as-sent
// record names its hash. Changing the tenant's settings or the case afterwards changes
// nothing that was approved.
type ApprovalSnapshot struct {
	SubmissionID string           `json:"submission_id"`
	Revision     int              `json:"revision"`
	Dispatch     DispatchSettings `json:"dispatch"`
	Case         CaseSnapshot     `json:"case"`
	// SHA256 identifies the snapshot: the hash of its dispatch settings and case as
	// stored. Approval, signature and dispatch events record it.
	SHA256    string    `json:"sha256"`
	CreatedAt time.Time `json:"created_at"`
}

// CaseSnapshot is the part of a case a letter shows.
type CaseSnapshot struct {
	Number       string   `json:"number"`
	Country      string   `json:"country"`
	Title        string   `json:"title"`
	Complainants []string `json:"complainants"`
}

// AsCase returns the snapshot as a Case for rendering.
func (c CaseSnapshot) AsCase() Case {
	return Case{Number: c.Number, Country: c.Country, Title: c.Title, Complainants: c.Complainants, Status: "open"}
}

// snapshotRow is the stored form.
type snapshotRow struct {
	SubmissionID string
	Revision     int
	TenantID     string
	Dispatch     string
	CaseData     string
	CreatedAt    time.Time
}

func (snapshotRow) TableName() string { return "approval_snapshots" }

func (r *snapshotRow) decode() (*ApprovalSnapshot, error) {
	snap := &ApprovalSnapshot{SubmissionID: r.SubmissionID, Revision: r.Revision, Dispatch: DefaultSettings().Dispatch, CreatedAt: r.CreatedAt}
	if err := json.Unmarshal([]byte(r.Dispatch), &snap.Dispatch); err != nil {
		return nil, fmt.Errorf("approval snapshot %s/%d: dispatch: %w", r.SubmissionID, r.Revision, err)
	}
	if err := json.Unmarshal([]byte(r.CaseData), &snap.Case); err != nil {
		return nil, fmt.Errorf("approval snapshot %s/%d: case: %w", r.SubmissionID, r.Revision, err)
	}
	sum := sha256.Sum256([]byte(r.Dispatch + "\n" + r.CaseData))
	snap.SHA256 = hex.EncodeToString(sum[:])
	return snap, nil
}

// takeSnapshot freezes d and c for sub's current revision, in the transaction carried
// by ctx.
func (s *Service) takeSnapshot(ctx context.Context, sub *Submission, d DispatchSettings, c *Case) (*ApprovalSnapshot, error) {
	dj, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	complainants := c.Complainants
	if complainants == nil {
		complainants = []string{}
	}
	cj, err := json.Marshal(CaseSnapshot{Number: c.Number, Country: c.Country, Title: c.Title, Complainants: complainants})
	if err != nil {
		return nil, err
	}
	row := snapshotRow{SubmissionID: sub.ID, Revision: sub.Revision, TenantID: sub.TenantID, Dispatch: string(dj), CaseData: string(cj), CreatedAt: s.now()}
	if err := s.db.Conn(ctx).Create(&row).Error; err != nil {
		return nil, err
	}
	return row.decode()
}

// SnapshotFor returns the approval snapshot of a submission's revision, for the
// dispatch worker (which acts for no user). It is apperr not_found when the revision
// was never finally approved.
func (s *Service) SnapshotFor(ctx context.Context, tenantID, submissionID string, revision int) (*ApprovalSnapshot, error) {
	var row snapshotRow
	err := s.db.Conn(ctx).Where("tenant_id = ? AND submission_id = ? AND revision = ?", tenantID, submissionID, revision).First(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.NotFound("approval snapshot")
	}
	if err != nil {
		return nil, err
	}
	return row.decode()
}

// Snapshot returns the approval snapshot of the current revision of a submission the
// caller may see; 404 before the final approval.
func (s *Service) Snapshot(ctx context.Context, a *auth.TenantAccess, submissionID string) (*ApprovalSnapshot, error) {
	sub, err := s.load(ctx, a, submissionID, false)
	if err != nil {
		return nil, err
	}
	return s.SnapshotFor(ctx, a.Tenant.ID, sub.ID, sub.Revision)
}
