package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/workflow"
)

// Signing secrets at rest (ADR 0031): an endpoint's secret is stored sealed under its
// tenant's key, bound to the tenant, the table, the column and the endpoint's id, so a
// database dump does not let anyone sign deliveries, and a sealed secret copied to
// another endpoint does not open. Secrets stored before this are used as they are
// until SealExistingSecrets sealed them (`unionportal admin encrypt-existing`).

const (
	secretTable  = "webhook_endpoints"
	secretColumn = "secret"
)

// errNoKeys is a service built without the key hierarchy, which it needs to keep
// secrets.
var errNoKeys = errors.New("webhook: no key service (Options.Keys)")

// sealSecret seals an endpoint's signing secret for storage.
func (s *Service) sealSecret(ctx context.Context, tenantID, endpointID, secret string) (string, error) {
	if s.opts.Keys == nil {
		return "", errNoKeys
	}
	k, err := s.opts.Keys.TenantKey(ctx, tenantID)
	if err != nil {
		return "", err
	}
	return keys.SealField(k, secret, tenantID, secretTable, secretColumn, endpointID), nil
}

// openSecret returns an endpoint's signing secret. One that does not decrypt (copied
// from another endpoint, altered) is keys.ErrCannotOpen.
func (s *Service) openSecret(ctx context.Context, ep *Endpoint) (string, error) {
	if !keys.IsSealed(ep.SealedSecret) {
		return ep.SealedSecret, nil // stored before secrets were sealed
	}
	if s.opts.Keys == nil {
		return "", errNoKeys
	}
	k, err := s.opts.Keys.TenantKey(ctx, ep.TenantID)
	if err != nil {
		return "", err
	}
	secret, err := keys.OpenField(k, ep.SealedSecret, ep.TenantID, secretTable, secretColumn, ep.ID)
	if err != nil {
		return "", fmt.Errorf("webhook endpoint %s's signing secret: %w", ep.ID, err)
	}
	return secret, nil
}

// secretUnreadable ends the delivery of ev to an endpoint whose secret does not
// decrypt, without sending anything: logged as an error, recorded in the delivery log,
// the endpoint disabled with the reason, and audited. No delivery can be signed until
// the endpoint is registered again, so the job is not retried.
func (s *Service) secretUnreadable(ctx context.Context, job *river.Job[DeliverArgs], ep *Endpoint, ev *workflow.TenantEvent, cause error) error {
	const reason = "its signing secret does not decrypt here; delete the endpoint and register it again"
	s.opts.Logger.ErrorContext(ctx, "a webhook endpoint's signing secret does not decrypt: the endpoint is disabled",
		"endpoint_id", ep.ID, "event_id", ev.ID, "error", cause)
	now := time.Now().UTC()
	a := Attempt{ID: database.NewID(), TenantID: ep.TenantID, EndpointID: ep.ID, EventID: ev.ID, EventType: string(ev.Type),
		Attempt: job.Attempt, Status: StatusFailed, CreatedAt: now,
		Error: "the endpoint's signing secret does not decrypt: nothing was sent, and the endpoint is disabled"}
	// Recorded even when the job's own deadline has passed.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := s.db.WithTx(rctx, func(ctx context.Context) error {
		if err := s.db.Conn(ctx).Create(&a).Error; err != nil {
			return err
		}
		if err := s.db.Conn(ctx).Model(&Endpoint{}).Where("id = ?", ep.ID).
			Updates(map[string]any{"enabled": false, "disabled_reason": reason, "updated_at": now}).Error; err != nil {
			return err
		}
		_, err := audit.Record(ctx, s.db, audit.Entry{TenantID: ep.TenantID, Action: "data.undecryptable", ObjectType: "webhook",
			ObjectID: ep.ID, At: now, Details: map[string]any{"table": secretTable, "column": secretColumn, "row_id": ep.ID}})
		return err
	})
	if err != nil {
		s.opts.Logger.WarnContext(ctx, "could not record a webhook delivery attempt", "endpoint_id", ep.ID, "event_id", ev.ID, "error", err)
	}
	return river.JobCancel(errors.New(a.Error))
}

// SealExistingSecrets seals the signing secrets stored in clear before secrets were
// sealed, one endpoint per transaction, and returns how many it sealed. It can be
// interrupted and run again: an endpoint changed meanwhile is left for the next run.
func (s *Service) SealExistingSecrets(ctx context.Context) (int, error) {
	if s.opts.Keys == nil {
		return 0, errNoKeys
	}
	var eps []Endpoint
	if err := s.db.Conn(ctx).Select("id", "tenant_id", "secret").Order("id").Find(&eps).Error; err != nil {
		return 0, err
	}
	n := 0
	for _, ep := range eps {
		if keys.IsSealed(ep.SealedSecret) {
			continue
		}
		var sealed bool
		err := s.db.WithTx(ctx, func(ctx context.Context) error {
			v, err := s.sealSecret(ctx, ep.TenantID, ep.ID, ep.SealedSecret)
			if err != nil {
				return err
			}
			// Only if it is still the value read: a concurrent run may have sealed it.
			res := s.db.Conn(ctx).Model(&Endpoint{}).Where("id = ? AND secret = ?", ep.ID, ep.SealedSecret).UpdateColumn("secret", v)
			sealed = res.RowsAffected == 1
			return res.Error
		})
		if err != nil {
			return n, fmt.Errorf("webhook endpoint %s: %w", ep.ID, err)
		}
		if sealed {
			n++
		}
	}
	return n, nil
}
