package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/logctx"
)

// maxResponseRead bounds what is read of a receiver's answer (and then discarded).
const maxResponseRead = 64 << 10

// Attempt is one line of an endpoint's delivery log: one attempt to deliver one event.
type Attempt struct {
	ID         string `json:"id"`
	TenantID   string `json:"-"`
	EndpointID string `json:"endpoint_id"`
	// EventID is the event's id, sent as webhook-id (the same on every attempt).
	EventID   string `json:"event_id"`
	EventType string `json:"event_type" enum:"event_type"`
	// Attempt counts from 1 for each delivery (a redelivery starts again at 1).
	Attempt int    `json:"attempt"`
	Status  string `json:"status" enum:"webhook_delivery_status"`
	// ResponseCode is the receiver's HTTP status; 0 when none came (see Error).
	ResponseCode int    `json:"response_code"`
	Error        string `json:"error"`
	DurationMS   int64  `json:"duration_ms"`
	// NextAttemptAt is when the delivery is tried again after this failed attempt;
	// null after a success or the last attempt.
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	CreatedAt     time.Time  `json:"created_at"`
}

// TableName is the delivery log.
func (Attempt) TableName() string { return "webhook_deliveries" }

// Delivery statuses.
const (
	StatusDelivered = "delivered"
	StatusFailed    = "failed"
)

// DeliverArgs is a delivery job: one event to one endpoint. The payload is read from
// the feed when the job runs, so a retry sends the same bytes.
type DeliverArgs struct {
	TenantID   string `json:"tenant_id"`
	EndpointID string `json:"endpoint_id"`
	EventID    string `json:"event_id"`
}

// Kind names the job for River.
func (DeliverArgs) Kind() string { return "webhook" }

// Sign is the Standard Webhooks signature of a delivery: "v1," and the base64 of the
// HMAC-SHA256 of "id.timestamp.body", keyed with the secret's decoded bytes.
func Sign(secret, id, timestamp string, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return "", fmt.Errorf("webhook: malformed secret: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + timestamp + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// worker delivers one event to one endpoint. River runs it at least once per attempt;
// receivers de-duplicate by webhook-id.
type worker struct {
	river.WorkerDefaults[DeliverArgs]
	s *Service
}

// NextRetry follows the service's schedule.
func (w *worker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	return time.Now().Add(w.s.delay(job.Attempt))
}

// Timeout leaves the attempt its own timeout and time to record it.
func (w *worker) Timeout(*river.Job[DeliverArgs]) time.Duration {
	return w.s.opts.Timeout + 30*time.Second
}

// Work posts the event, records the attempt and returns an error for River to retry
// when the receiver did not answer 2xx. An endpoint that answers 410 Gone is disabled.
func (w *worker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	s, args := w.s, job.Args
	ctx = logctx.With(ctx, slog.String("job", job.Kind), slog.Int64("job_id", job.ID), slog.Int("attempt", job.Attempt),
		slog.String("tenant_id", args.TenantID))
	ctx, span := otel.Tracer("github.com/unionportal/unionportal/webhook").Start(ctx, "job "+job.Kind)
	defer span.End()
	ep, err := s.load(ctx, args.TenantID, args.EndpointID)
	if apperr.KindOf(err) == apperr.KindNotFound {
		return river.JobCancel(errors.New("the webhook endpoint was deleted"))
	}
	if err != nil {
		return err
	}
	if !ep.Enabled {
		return river.JobCancel(errors.New("the webhook endpoint is disabled"))
	}
	ev, err := s.wf.TenantEvent(ctx, args.TenantID, args.EventID)
	if apperr.KindOf(err) == apperr.KindNotFound {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	secret, err := s.openSecret(ctx, ep)
	if errors.Is(err, keys.ErrCannotOpen) {
		return s.secretUnreadable(ctx, job, ep, ev, err)
	}
	if err != nil {
		return err
	}
	start := time.Now()
	code, sendErr := s.send(ctx, ep, secret, ev.ID, body)
	a := Attempt{ID: database.NewID(), TenantID: ep.TenantID, EndpointID: ep.ID, EventID: ev.ID, EventType: string(ev.Type),
		Attempt: job.Attempt, Status: StatusFailed, ResponseCode: code, DurationMS: time.Since(start).Milliseconds(), CreatedAt: time.Now().UTC()}
	gone := code == http.StatusGone
	// A delivery the address policy refuses will be refused again: the endpoint is
	// disabled with the reason, as for 410, and nothing is retried.
	refused := errors.Is(sendErr, errRefused)
	disabledReason := "the endpoint answered 410 Gone"
	if refused {
		disabledReason = "its address was refused at delivery: " + truncate(sendErr.Error(), 300)
	}
	stop := gone || refused
	switch {
	case sendErr != nil:
		a.Error = truncate(sendErr.Error(), 500)
	case code >= 200 && code < 300:
		a.Status = StatusDelivered
	case gone:
		a.Error = "the receiver answered 410 Gone: the endpoint is disabled"
	default:
		a.Error = "the receiver answered " + strconv.Itoa(code)
	}
	if a.Status == StatusFailed && !stop && job.Attempt < job.MaxAttempts {
		next := time.Now().Add(s.delay(job.Attempt)).UTC()
		a.NextAttemptAt = &next
	}
	// Recorded even when the job's own deadline has passed.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err = s.db.WithTx(rctx, func(ctx context.Context) error {
		if err := s.db.Conn(ctx).Create(&a).Error; err != nil {
			return err
		}
		if !stop {
			return nil
		}
		return s.db.Conn(ctx).Model(&Endpoint{}).Where("id = ?", ep.ID).
			Updates(map[string]any{"enabled": false, "disabled_reason": disabledReason, "updated_at": time.Now().UTC()}).Error
	})
	if err != nil {
		s.opts.Logger.WarnContext(ctx, "could not record a webhook delivery attempt", "endpoint_id", ep.ID, "event_id", ev.ID, "error", err)
	}
	switch {
	case a.Status == StatusDelivered:
		return nil
	case stop:
		return river.JobCancel(errors.New(a.Error))
	}
	s.opts.Logger.InfoContext(ctx, "webhook delivery failed", "endpoint_id", ep.ID, "event_id", ev.ID, "attempt", job.Attempt, "error", a.Error)
	return errors.New(a.Error)
}

// send posts body to the endpoint, signed with secret, and returns the receiver's status.
func (s *Service) send(ctx context.Context, ep *Endpoint, secret, id string, body []byte) (int, error) {
	if !strings.HasPrefix(ep.URL, "https://") && !s.allowPrivate.Load() {
		return 0, fmt.Errorf("%w: only https URLs are accepted", errRefused)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig, err := Sign(secret, id, ts, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "unionportal-webhooks")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", sig)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	return resp.StatusCode, nil
}

// Deliveries lists an endpoint's delivery log, newest first.
func (s *Service) Deliveries(ctx context.Context, a *auth.TenantAccess, endpointID string, page database.Page) ([]Attempt, string, error) {
	if _, err := s.Endpoint(ctx, a, endpointID); err != nil {
		return nil, "", err
	}
	q, err := afterTimeID(s.db.Conn(ctx).Where("endpoint_id = ? AND tenant_id = ?", endpointID, a.Tenant.ID), page)
	if err != nil {
		return nil, "", err
	}
	var rows []Attempt
	if err := q.Order("created_at DESC, id DESC").Limit(page.Limit + 1).Find(&rows).Error; err != nil {
		return nil, "", err
	}
	items, next := database.Trim(rows, page, func(a Attempt) []string { return timeIDKey(a.CreatedAt, a.ID) })
	return items, next, nil
}

// Redeliver delivers the event of one line of an endpoint's log again, with the same
// webhook-id, and the same retries as a first delivery.
func (s *Service) Redeliver(ctx context.Context, a *auth.TenantAccess, endpointID, deliveryID string) error {
	if err := a.Require(auth.PermWebhookManage); err != nil {
		return err
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		ep, err := s.load(ctx, a.Tenant.ID, endpointID)
		if err != nil {
			return err
		}
		if !database.ValidID(deliveryID) {
			return apperr.NotFound("delivery")
		}
		var at Attempt
		if err := s.db.Conn(ctx).Where("id = ? AND endpoint_id = ?", deliveryID, ep.ID).First(&at).Error; err != nil {
			return apperr.NotFound("delivery")
		}
		if !ep.Enabled {
			return apperr.New(apperr.KindConflict, apperr.CodeWebhookDisabled, "the webhook is disabled; enable it before redelivering")
		}
		if err := s.enqueue(ctx, DeliverArgs{TenantID: ep.TenantID, EndpointID: ep.ID, EventID: at.EventID}); err != nil {
			return err
		}
		return s.record(ctx, a, "webhook.redelivered", ep.ID, map[string]any{"event_id": at.EventID, "delivery_id": at.ID})
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
