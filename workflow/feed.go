package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
)

// EventType names an event of a tenant's event feed, as its webhooks carry it.
type EventType string

// The event types (ADR 0021).
const (
	EventSubmissionCreated EventType = "submission.created"
	EventSubmitted         EventType = "submission.submitted"
	EventChangesRequested  EventType = "submission.changes_requested"
	EventApproved          EventType = "submission.approved"
	EventSigned            EventType = "submission.signed"
	EventWithdrawn         EventType = "submission.withdrawn"
	EventRejected          EventType = "submission.rejected"
	EventDispatched        EventType = "submission.dispatched"
	EventDispatchFailed    EventType = "submission.dispatch_failed"
	EventCommentCreated    EventType = "comment.created"
)

// EventTypes lists every event type, in workflow order.
func EventTypes() []EventType {
	return []EventType{EventSubmissionCreated, EventSubmitted, EventChangesRequested, EventApproved, EventSigned,
		EventWithdrawn, EventRejected, EventDispatched, EventDispatchFailed, EventCommentCreated}
}

// TenantEvent is one entry of a tenant's event feed and the body of a webhook delivery.
// It carries ids, states and links, never a submission's text, a comment's text or
// evidence: it leaves the portal.
type TenantEvent struct {
	// ID is the event's id, sent as the webhook-id header of every delivery of it.
	ID string `json:"id"`
	// TenantID is the tenant's id (the data names its slug).
	TenantID string `json:"-"`
	// Seq orders the tenant's events: it grows by one with every event, in the order
	// in which they committed.
	Seq       int64     `json:"seq"`
	Type      EventType `json:"type" enum:"event_type"`
	Timestamp time.Time `json:"timestamp"`
	Data      EventData `json:"data"`
}

// EventData is what an event says about its submission.
type EventData struct {
	Tenant         string `json:"tenant"`
	SubmissionID   string `json:"submission_id"`
	CaseID         string `json:"case_id"`
	CaseNumber     string `json:"case_number"`
	Kind           string `json:"kind" enum:"submission_kind"`
	State          State  `json:"state"`
	FromState      State  `json:"from_state,omitempty"`
	Revision       int    `json:"revision"`
	OrganizationID string `json:"organization_id"`
	// CommentID is set on comment.created; DispatchID and MessageID (the e-mail's
	// Message-ID, in angle brackets) on submission.dispatched and dispatch_failed.
	CommentID  string     `json:"comment_id,omitempty"`
	DispatchID string     `json:"dispatch_id,omitempty"`
	MessageID  string     `json:"message_id,omitempty"`
	Links      EventLinks `json:"links"`
}

// EventLinks are API paths of what an event is about.
type EventLinks struct {
	Submission string `json:"submission"`
	Comments   string `json:"comments,omitempty"`
	Dispatches string `json:"dispatches,omitempty"`
}

// EventListener acts on events appended to a tenant's feed, in the transaction that
// appended them: the webhook service enqueues their deliveries there, so that they
// exist if and only if the change committed.
type EventListener interface {
	Published(ctx context.Context, e TenantEvent) error
}

// SubscribeEvents adds a listener of the tenant event feed (the webhook service). It
// is part of the wiring, before the service is used.
func (s *Service) SubscribeEvents(l EventListener) { s.eventListeners = append(s.eventListeners, l) }

// tenantEvent is a row of the feed.
type tenantEvent struct {
	ID             string
	TenantID       string
	Seq            int64
	Type           string
	OrganizationID string
	SubmissionID   string
	Data           string
	CreatedAt      time.Time
}

func (tenantEvent) TableName() string { return "tenant_events" }

func (r tenantEvent) event() (TenantEvent, error) {
	e := TenantEvent{ID: r.ID, TenantID: r.TenantID, Seq: r.Seq, Type: EventType(r.Type), Timestamp: r.CreatedAt.UTC()}
	return e, json.Unmarshal([]byte(r.Data), &e.Data)
}

// eventHead is the last sequence number of a tenant's feed; writers take turns on it.
type eventHead struct {
	TenantID string `gorm:"primaryKey"`
	Seq      int64
}

func (eventHead) TableName() string { return "tenant_event_heads" }

// publish appends an event about sub (in the state it is now, coming from from) to its
// tenant's feed, in the transaction carried by ctx, and hands it to the listeners.
func (s *Service) publish(ctx context.Context, typ EventType, sub *Submission, from State, add func(*EventData)) error {
	if !s.db.InTx(ctx) {
		return errors.New("workflow: an event published outside a transaction")
	}
	slug, err := auth.TenantSlug(ctx, s.db, sub.TenantID)
	if err != nil {
		return err
	}
	var numbers []string
	if err := s.db.Conn(ctx).Model(&Case{}).Where("id = ?", sub.CaseID).Pluck("number", &numbers).Error; err != nil {
		return err
	}
	link := "/api/v1/tenants/" + slug + "/submissions/" + sub.ID
	d := EventData{Tenant: slug, SubmissionID: sub.ID, CaseID: sub.CaseID, Kind: sub.Kind, State: sub.State, FromState: from,
		Revision: sub.Revision, OrganizationID: sub.OrganizationID, Links: EventLinks{Submission: link}}
	if len(numbers) > 0 {
		d.CaseNumber = numbers[0]
	}
	if add != nil {
		add(&d)
	}
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	row := tenantEvent{ID: database.NewID(), TenantID: sub.TenantID, Type: string(typ), OrganizationID: sub.OrganizationID,
		SubmissionID: sub.ID, Data: string(data), CreatedAt: s.now().Truncate(time.Microsecond)}
	tx := s.db.Conn(ctx)
	// The head row is locked until the transaction ends, so sequence numbers are given
	// in commit order: a reader that sees seq n has seen every event before it.
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&eventHead{TenantID: sub.TenantID}).Error; err != nil {
		return err
	}
	var head eventHead
	if err := s.forUpdate(tx.Where("tenant_id = ?", sub.TenantID)).First(&head).Error; err != nil {
		return err
	}
	row.Seq = head.Seq + 1
	if err := tx.Create(&row).Error; err != nil {
		return err
	}
	if err := tx.Model(&eventHead{}).Where("tenant_id = ?", sub.TenantID).Update("seq", row.Seq).Error; err != nil {
		return err
	}
	e, err := row.event()
	if err != nil {
		return err
	}
	for _, l := range s.eventListeners {
		if err := l.Published(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// Feed returns the tenant's events after sequence number after that the caller may
// see (its organization's only, for editors and viewers), oldest first, at most limit,
// and the sequence number to continue from. That is the last event returned when the
// page is full, else the feed's end as it was read: a client that polls with it sees
// every later event exactly once.
func (s *Service) Feed(ctx context.Context, a *auth.TenantAccess, after int64, limit int) ([]TenantEvent, int64, error) {
	sc, err := submissionScope(a)
	if err != nil {
		return nil, 0, err
	}
	// The end is read first: every event up to it has committed (its writer held the
	// head until then), so nothing below the cursor returned can appear later.
	var heads []int64
	if err := s.db.Conn(ctx).Model(&eventHead{}).Where("tenant_id = ?", a.Tenant.ID).Pluck("seq", &heads).Error; err != nil {
		return nil, 0, err
	}
	var end int64
	if len(heads) > 0 {
		end = heads[0]
	}
	var rows []tenantEvent
	err = sc.Apply(s.db.Conn(ctx).Model(&tenantEvent{}), "tenant_events", true).
		Where("seq > ? AND seq <= ?", after, end).Order("seq").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, 0, err
	}
	out := make([]TenantEvent, len(rows))
	for i, r := range rows {
		if out[i], err = r.event(); err != nil {
			return nil, 0, err
		}
	}
	next := end
	if len(rows) == limit {
		next = rows[len(rows)-1].Seq
	}
	return out, next, nil
}

// TenantEvent returns one event of a tenant's feed, for its webhook deliveries.
func (s *Service) TenantEvent(ctx context.Context, tenantID, id string) (*TenantEvent, error) {
	var row tenantEvent
	if err := s.db.Conn(ctx).Where("id = ? AND tenant_id = ?", id, tenantID).First(&row).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, apperr.NotFound("event")
		}
		return nil, err
	}
	e, err := row.event()
	return &e, err
}
