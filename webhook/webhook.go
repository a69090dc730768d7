// Package webhook owns a tenant's webhook endpoints and their delivery log: it
// registers endpoints (checking that they are not internal addresses), fans each event
// of the tenant's feed (workflow.TenantEvent) out to the endpoints subscribed to it as
// River jobs enqueued in the transaction of the change, and delivers them signed as
// the Standard Webhooks specification says, with retries spread over about a day
// (ADR 0021). It sits between dispatch and portal in the layering.
package webhook

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gorm.io/gorm"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/workflow"
)

// AllEvents in an endpoint's events subscribes it to every event type, those added
// later included.
const AllEvents = "*"

// QueueName is the River queue deliveries run in, apart from the dispatches so that a
// slow receiver never delays a letter.
const QueueName = "webhook"

// DefaultSchedule is the delay before each retry of a failed delivery: about a day in
// all, as Standard Webhooks implementations do.
var DefaultSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 10 * time.Hour}

// Endpoint is a URL the tenant's events are posted to. Its secret is never shown
// again after creation.
type Endpoint struct {
	ID       string   `json:"id"`
	TenantID string   `json:"-"`
	URL      string   `json:"url"`
	Events   []string `json:"events" gorm:"serializer:json" enum:"webhook_event"`
	Enabled  bool     `json:"enabled"`
	// DisabledReason says why the portal disabled the endpoint (it answered 410 Gone,
	// its address was refused, or its signing secret does not decrypt).
	DisabledReason string `json:"disabled_reason"`
	// SealedSecret is the signing secret as stored: sealed under the tenant's key
	// (secrets.go), or in clear if stored before secrets were sealed.
	SealedSecret string    `json:"-" gorm:"column:secret"`
	CreatedBy    *string   `json:"created_by"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// TableName is the endpoints table.
func (Endpoint) TableName() string { return "webhook_endpoints" }

// NewEndpoint is a newly registered endpoint with its signing secret, shown this once.
type NewEndpoint struct {
	Endpoint
	// Secret is the Standard Webhooks signing secret: "whsec_" and the base64 of the
	// key (the HMAC-SHA256 key is the decoded bytes).
	Secret string `json:"secret"`
}

// EndpointInput registers an endpoint.
type EndpointInput struct {
	URL    string   `json:"url"`
	Events []string `json:"events" enum:"webhook_event"`
	// Enabled defaults to true.
	Enabled *bool `json:"enabled"`
}

// EndpointPatch changes an endpoint; absent fields are left alone.
type EndpointPatch struct {
	URL     *string   `json:"url"`
	Events  *[]string `json:"events" enum:"webhook_event"`
	Enabled *bool     `json:"enabled"`
}

// Queue enqueues jobs in the caller's transaction: River's client.
type Queue interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Resolver looks host names up; net.DefaultResolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options configure the service.
type Options struct {
	Logger *slog.Logger
	// AllowPrivate lets endpoints be loopback, private or link-local addresses, and
	// plain http (UNIONPORTAL_WEBHOOK_ALLOW_PRIVATE; tests).
	AllowPrivate bool
	// Schedule is the delay before each retry (default DefaultSchedule); a delivery is
	// attempted len(Schedule)+1 times at most.
	Schedule []time.Duration
	// Timeout bounds one attempt: connecting, sending and the answer (default 10 s).
	Timeout time.Duration
	// Workers is how many deliveries run at once (default 4).
	Workers int
	// Resolver checks host names at registration (default net.DefaultResolver).
	Resolver Resolver
	// Keys seal the signing secrets under the tenants' keys (required to register
	// endpoints and deliver).
	Keys *keys.Service
}

// Service manages endpoints and delivers events to them.
type Service struct {
	db           *database.DB
	wf           *workflow.Service
	opts         Options
	allowPrivate atomic.Bool
	queue        Queue
	client       *http.Client
}

var _ workflow.EventListener = (*Service)(nil)

// NewService builds the service; it reads the events it delivers through wf.
func NewService(db *database.DB, wf *workflow.Service, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if len(opts.Schedule) == 0 {
		opts.Schedule = DefaultSchedule
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	s := &Service{db: db, wf: wf, opts: opts}
	s.allowPrivate.Store(opts.AllowPrivate)
	s.client = s.newHTTPClient(opts.Timeout)
	return s
}

// Register adds the delivery worker to the queue client's workers.
func (s *Service) Register(workers *river.Workers) error {
	return river.AddWorkerSafely(workers, &worker{s: s})
}

// QueueConfig is the configuration of the deliveries' queue.
func (s *Service) QueueConfig() river.QueueConfig {
	return river.QueueConfig{MaxWorkers: s.opts.Workers}
}

// UseQueue gives the service the queue client it enqueues deliveries on (the one that
// runs the worker Register added). It is part of the wiring, before the service is used.
func (s *Service) UseQueue(q Queue) { s.queue = q }

// maxAttempts is how often a delivery is tried at most.
func (s *Service) maxAttempts() int { return len(s.opts.Schedule) + 1 }

// delay is the wait after the attempt-th attempt failed.
func (s *Service) delay(attempt int) time.Duration {
	i := min(max(attempt-1, 0), len(s.opts.Schedule)-1)
	return s.opts.Schedule[i]
}

// subscribes reports whether the endpoint takes events of type t.
func (e *Endpoint) subscribes(t workflow.EventType) bool {
	return slices.Contains(e.Events, AllEvents) || slices.Contains(e.Events, string(t))
}

// Published enqueues, in the transaction that appended the event, one delivery job per
// enabled endpoint of the tenant subscribed to its type.
func (s *Service) Published(ctx context.Context, e workflow.TenantEvent) error {
	var eps []Endpoint
	if err := s.db.Conn(ctx).Where("tenant_id = ? AND enabled = ?", e.TenantID, true).Order("created_at, id").Find(&eps).Error; err != nil {
		return err
	}
	for i := range eps {
		if !eps[i].subscribes(e.Type) {
			continue
		}
		if err := s.enqueue(ctx, DeliverArgs{TenantID: e.TenantID, EndpointID: eps[i].ID, EventID: e.ID}); err != nil {
			return err
		}
	}
	return nil
}

// enqueue inserts a delivery job in the transaction carried by ctx.
func (s *Service) enqueue(ctx context.Context, args DeliverArgs) error {
	tx, ok := s.db.SQLTx(ctx)
	if !ok {
		return errors.New("webhook: a delivery enqueued outside a transaction")
	}
	if s.queue == nil {
		return errors.New("webhook: no queue (UseQueue was not called)")
	}
	_, err := s.queue.InsertTx(ctx, tx, args, &river.InsertOpts{Queue: QueueName, MaxAttempts: s.maxAttempts()})
	return err
}

// newSecret is a Standard Webhooks secret: 32 random bytes, base64, prefixed whsec_.
func newSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// checkEvents validates an endpoint's event types: known ones, or "*".
func checkEvents(events []string) ([]string, *apperr.FieldError) {
	known := map[string]bool{AllEvents: true}
	names := []string{}
	for _, t := range workflow.EventTypes() {
		known[string(t)] = true
		names = append(names, string(t))
	}
	if len(events) == 0 {
		return nil, &apperr.FieldError{Field: "events", Message: "required: \"*\" or some of " + strings.Join(names, ", ")}
	}
	out := []string{}
	for _, e := range events {
		if !known[e] {
			return nil, &apperr.FieldError{Field: "events", Message: "unknown event type " + e + "; expected \"*\" or some of " + strings.Join(names, ", ")}
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// record writes an audit event about an endpoint (never its secret).
func (s *Service) record(ctx context.Context, a *auth.TenantAccess, action, id string, details map[string]any) error {
	actor := a.Actor()
	_, err := audit.Record(ctx, s.db, audit.Entry{TenantID: a.Tenant.ID, ActorID: actor.UserID, IP: actor.IP,
		Action: action, ObjectType: "webhook", ObjectID: id, Details: details, At: time.Now().UTC()})
	return err
}

// Create registers an endpoint and returns it with its secret.
func (s *Service) Create(ctx context.Context, a *auth.TenantAccess, in EndpointInput) (*NewEndpoint, error) {
	if err := a.Require(auth.PermWebhookManage); err != nil {
		return nil, err
	}
	var fe []apperr.FieldError
	if f := s.checkURL(ctx, in.URL); f != nil {
		fe = append(fe, *f)
	}
	events, f := checkEvents(in.Events)
	if f != nil {
		fe = append(fe, *f)
	}
	if len(fe) > 0 {
		return nil, apperr.Invalid("the webhook is invalid", fe...)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	uid := a.Principal.User.ID
	secret := newSecret()
	ep := Endpoint{ID: database.NewID(), TenantID: a.Tenant.ID, URL: in.URL, Events: events, Enabled: in.Enabled == nil || *in.Enabled,
		CreatedBy: &uid, CreatedAt: now, UpdatedAt: now}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if ep.SealedSecret, err = s.sealSecret(ctx, ep.TenantID, ep.ID, secret); err != nil {
			return err
		}
		if err := s.db.Conn(ctx).Create(&ep).Error; err != nil {
			return err
		}
		return s.record(ctx, a, "webhook.created", ep.ID, map[string]any{"url": ep.URL, "events": ep.Events, "enabled": ep.Enabled})
	})
	if err != nil {
		return nil, err
	}
	return &NewEndpoint{Endpoint: ep, Secret: secret}, nil
}

// List lists the tenant's endpoints, newest first.
func (s *Service) List(ctx context.Context, a *auth.TenantAccess, page database.Page) ([]Endpoint, string, error) {
	if err := a.Require(auth.PermWebhookManage); err != nil {
		return nil, "", err
	}
	q, err := afterTimeID(s.db.Conn(ctx).Where("tenant_id = ?", a.Tenant.ID), page)
	if err != nil {
		return nil, "", err
	}
	var rows []Endpoint
	if err := q.Order("created_at DESC, id DESC").Limit(page.Limit + 1).Find(&rows).Error; err != nil {
		return nil, "", err
	}
	items, next := database.Trim(rows, page, func(e Endpoint) []string { return timeIDKey(e.CreatedAt, e.ID) })
	return items, next, nil
}

// Endpoint returns one of the tenant's endpoints.
func (s *Service) Endpoint(ctx context.Context, a *auth.TenantAccess, id string) (*Endpoint, error) {
	if err := a.Require(auth.PermWebhookManage); err != nil {
		return nil, err
	}
	return s.load(ctx, a.Tenant.ID, id)
}

func (s *Service) load(ctx context.Context, tenantID, id string) (*Endpoint, error) {
	if !database.ValidID(id) {
		return nil, apperr.NotFound("webhook")
	}
	var ep Endpoint
	if err := s.db.Conn(ctx).Where("id = ? AND tenant_id = ?", id, tenantID).First(&ep).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, apperr.NotFound("webhook")
		}
		return nil, err
	}
	return &ep, nil
}

// Update changes an endpoint's URL, events or enabled state. Enabling it again clears
// the reason the portal disabled it for.
func (s *Service) Update(ctx context.Context, a *auth.TenantAccess, id string, in EndpointPatch) (*Endpoint, error) {
	if err := a.Require(auth.PermWebhookManage); err != nil {
		return nil, err
	}
	var ep *Endpoint
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if ep, err = s.load(ctx, a.Tenant.ID, id); err != nil {
			return err
		}
		var fe []apperr.FieldError
		if in.URL != nil {
			ep.URL = *in.URL
		}
		// A new address, or one switched back on, is checked again: an endpoint disabled
		// because its address was refused stays off until the address is acceptable.
		if in.URL != nil || (in.Enabled != nil && *in.Enabled && !ep.Enabled) {
			if f := s.checkURL(ctx, ep.URL); f != nil {
				fe = append(fe, *f)
			}
		}
		if in.Events != nil {
			events, f := checkEvents(*in.Events)
			if f != nil {
				fe = append(fe, *f)
			}
			ep.Events = events
		}
		if len(fe) > 0 {
			return apperr.Invalid("the webhook is invalid", fe...)
		}
		if in.Enabled != nil {
			ep.Enabled = *in.Enabled
			if ep.Enabled {
				ep.DisabledReason = ""
			}
		}
		ep.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
		if err := s.db.Conn(ctx).Model(&Endpoint{}).Where("id = ?", ep.ID).Updates(map[string]any{"url": ep.URL,
			"events": eventsJSON(ep.Events), "enabled": ep.Enabled, "disabled_reason": ep.DisabledReason, "updated_at": ep.UpdatedAt}).Error; err != nil {
			return err
		}
		return s.record(ctx, a, "webhook.updated", ep.ID, map[string]any{"url": ep.URL, "events": ep.Events, "enabled": ep.Enabled})
	})
	if err != nil {
		return nil, err
	}
	return ep, nil
}

// eventsJSON is the events column as gorm's json serializer writes it.
func eventsJSON(events []string) string {
	b, _ := json.Marshal(events)
	return string(b)
}

// Delete removes an endpoint and its delivery log; deliveries still queued for it are
// dropped when they come up.
func (s *Service) Delete(ctx context.Context, a *auth.TenantAccess, id string) error {
	if err := a.Require(auth.PermWebhookManage); err != nil {
		return err
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		ep, err := s.load(ctx, a.Tenant.ID, id)
		if err != nil {
			return err
		}
		if err := s.db.Conn(ctx).Where("endpoint_id = ?", ep.ID).Delete(&Attempt{}).Error; err != nil {
			return err
		}
		if err := s.db.Conn(ctx).Delete(&Endpoint{}, "id = ?", ep.ID).Error; err != nil {
			return err
		}
		return s.record(ctx, a, "webhook.deleted", ep.ID, map[string]any{"url": ep.URL})
	})
}

func timeIDKey(t time.Time, id string) []string {
	return []string{t.UTC().Format(time.RFC3339Nano), id}
}

// afterTimeID continues a newest-first list after the (created_at, id) of a cursor.
func afterTimeID(q *gorm.DB, page database.Page) (*gorm.DB, error) {
	if len(page.After) != 2 {
		return q, nil
	}
	t, err := time.Parse(time.RFC3339Nano, page.After[0])
	if err != nil || !database.ValidID(page.After[1]) {
		return nil, apperr.Malformed("invalid cursor", apperr.FieldError{Field: "cursor", Message: "not a cursor this list returned; start again without it"})
	}
	return q.Where("(created_at, id) < (?, ?)", t, page.After[1]), nil
}
