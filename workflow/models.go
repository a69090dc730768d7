// Package workflow owns cases, submissions, their revisions, comments and approvals,
// the state machine that moves a submission from draft to dispatch, tenant settings,
// and the events that record every step. It knows nothing of HTTP; it never imports
// dispatch, which listens to it through the Listener interface.
package workflow

import "time"

// State is where a submission stands in the workflow.
type State string

// The states of a submission.
const (
	Draft            State = "draft"
	Submitted        State = "submitted"
	InReview         State = "in_review"
	ChangesRequested State = "changes_requested"
	Approved         State = "approved"
	Dispatching      State = "dispatching"
	Dispatched       State = "dispatched"
	DispatchFailed   State = "dispatch_failed"
	Rejected         State = "rejected"
	Withdrawn        State = "withdrawn"
)

// Submission kinds.
const (
	KindComplaint             = "complaint"
	KindAdditionalInformation = "additional_information"
	KindAssociation           = "association"
	KindFollowUp              = "follow_up"
)

// Kinds lists every submission kind.
func Kinds() []string {
	return []string{KindComplaint, KindAdditionalInformation, KindAssociation, KindFollowUp}
}

// Case is an ILO Committee on Freedom of Association case.
type Case struct {
	ID           string    `json:"id"`
	TenantID     string    `json:"-"`
	Number       string    `json:"number"`
	Country      string    `json:"country"`
	Title        string    `json:"title"`
	Complainants []string  `json:"complainants" gorm:"serializer:json"`
	Status       string    `json:"status" enum:"case_status"`
	NormlexURL   string    `json:"normlex_url" gorm:"column:normlex_url"`
	CreatedBy    string    `json:"created_by"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	// NextDeadline is the tenant's next CFA information deadline (ADR 0034), set on
	// reads of open cases.
	NextDeadline *NextDeadline `json:"next_deadline" gorm:"-" doc:"The tenant's earliest CFA information deadline on or after today (UTC), for open cases; null when none is entered"`
}

// Submission is a document sent about a case: drafted by an affiliate, reviewed and
// approved by the secretariat, then dispatched to the ILO.
type Submission struct {
	ID             string `json:"id"`
	TenantID       string `json:"-"`
	CaseID         string `json:"case_id"`
	OrganizationID string `json:"organization_id"`
	AuthorID       string `json:"author_id"`
	Kind           string `json:"kind" enum:"submission_kind"`
	Title          string `json:"title"`
	// Body is the text, once opened (sealed.go); SealedBody is what the database keeps.
	Body       string `json:"body" gorm:"-"`
	SealedBody string `json:"-" gorm:"column:body"`
	bodyOpen   bool
	// wrappedKey is the submission's wrapped data key when the statement that read the
	// submission read it too (keyRead); openBody then reads no key.
	wrappedKey *string
	keyRead    bool
	Language   string    `json:"language"`
	State      State     `json:"state"`
	Version    int64     `json:"version"`
	Revision   int       `json:"revision"`
	ReviewerID *string   `json:"reviewer_id"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// ShreddedAt is when retention shredded the submission's texts, comments and
	// evidence (ADR 0030): its record stays, its title and body are empty, its files
	// answer 410.
	ShreddedAt *time.Time `json:"shredded_at" doc:"When the tenant's retention policy crypto-shredded this dispatched submission's title, texts, comments and evidence (its title and body are then empty, its files answer 410 shredded); null while they exist. The record of what was sent stays."`
	// RetentionWarnedAt is when the editors of a draft were told it will be deleted.
	RetentionWarnedAt *time.Time `json:"-"`
	// ReplyToItemID is the ILO correspondence item the submission answers (ADR 0036).
	ReplyToItemID *string `json:"reply_to_item_id" gorm:"column:reply_to_item_id" doc:"The correspondence item this submission answers; its dispatch replies in that e-mail thread"`
}

// Revision is an immutable snapshot taken at every submit.
type Revision struct {
	ID           string `json:"-"`
	TenantID     string `json:"-"`
	SubmissionID string `json:"submission_id"`
	Number       int    `json:"number"`
	Title        string `json:"title"`
	Body         string `json:"body,omitempty" gorm:"-"`
	SealedBody   string `json:"-" gorm:"column:body"`
	Language     string `json:"language"`
	// Attachments are the evidence files it lists, their names opened (sealed.go);
	// SealedAttachments is what the database keeps, the names sealed as their
	// attachments' own.
	Attachments       []AttachmentSnap `json:"attachments" gorm:"-"`
	SealedAttachments []AttachmentSnap `json:"-" gorm:"column:attachments;serializer:json"`
	CreatedBy         string           `json:"created_by"`
	CreatedAt         time.Time        `json:"created_at"`
}

// AttachmentSnap is an attachment as a revision recorded it.
type AttachmentSnap struct {
	ID          string `json:"id"`
	FileName    string `json:"file_name"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
	SHA256      string `json:"sha256"`
}

// Comment is a remark on a submission, optionally about one revision.
type Comment struct {
	ID           string    `json:"id"`
	TenantID     string    `json:"-"`
	SubmissionID string    `json:"submission_id"`
	AuthorID     string    `json:"author_id"`
	Body         string    `json:"body" gorm:"-"`
	SealedBody   string    `json:"-" gorm:"column:body"`
	Revision     *int      `json:"revision"`
	CreatedAt    time.Time `json:"created_at"`
}

// Approval is one reviewer's approval of one revision.
type Approval struct {
	ID           string
	TenantID     string
	SubmissionID string
	Revision     int
	ReviewerID   string
	CreatedAt    time.Time
}

type contributor struct {
	SubmissionID string
	UserID       string
}

func (contributor) TableName() string { return "submission_contributors" }
