package api

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/webhook"
)

// TestWebhookSecretsSealed: an endpoint's signing secret is stored sealed under the
// tenant's key, and deliveries verify with the secret shown at creation; a sealed
// secret copied to another endpoint does not open there (the delivery fails with a
// logged error, the endpoint is disabled with the reason, nothing is sent); a secret
// stored in clear before sealing still delivers, and SealExistingSecrets seals it,
// once.
func TestWebhookSecretsSealed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		logs := &syncBuffer{}
		opts := testWebhookOptions
		opts.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		h := newPortalHarnessWith(t, db, dispatch.Options{Sender: dispatch.Outbox{Dir: t.TempDir()}, PollInterval: 50 * time.Millisecond}, opts, true)
		w := h.world()
		const hooks = "/api/v1/tenants/alpha/webhooks"
		register := func() (*receiver, webhook.NewEndpoint) {
			rcv, srv := newReceiver(t)
			var ep webhook.NewEndpoint
			w.adminA.must(201, "POST", hooks, map[string]any{"url": srv.URL, "events": []string{"comment.created"}}).json(t, &ep)
			rcv.mu.Lock()
			rcv.secret = ep.Secret
			rcv.mu.Unlock()
			return rcv, ep
		}
		stored := func(id string) string {
			var s string
			if err := db.Conn(ctx).Raw("SELECT secret FROM webhook_endpoints WHERE id = ?", id).Scan(&s).Error; err != nil {
				t.Fatal(err)
			}
			return s
		}
		comment := func(text string) {
			w.reviewerA.must(201, "POST", subPath(w.submissionA.ID, "/comments"), map[string]any{"body": text})
		}

		rcv1, ep1 := register()
		sealed := stored(ep1.ID)
		if !keys.IsSealed(sealed) || strings.Contains(sealed, ep1.Secret) || strings.Contains(sealed, strings.TrimPrefix(ep1.Secret, "whsec_")) {
			t.Fatalf("stored secret %q for %q", sealed, ep1.Secret)
		}
		comment("First")
		waitUntil(t, "the first delivery", func() bool { return len(rcv1.accepted()) == 1 })

		// The first endpoint's sealed secret copied onto a second endpoint.
		rcv2, ep2 := register()
		if err := db.Conn(ctx).Exec("UPDATE webhook_endpoints SET secret = ? WHERE id = ?", sealed, ep2.ID).Error; err != nil {
			t.Fatal(err)
		}
		comment("Second")
		waitUntil(t, "the second delivery to the first endpoint", func() bool { return len(rcv1.accepted()) == 2 })
		var got webhook.Endpoint
		waitUntil(t, "the second endpoint disabled", func() bool {
			w.adminA.must(200, "GET", hooks+"/"+ep2.ID, nil).json(t, &got)
			return !got.Enabled
		})
		if !strings.Contains(got.DisabledReason, "signing secret does not decrypt") {
			t.Errorf("disabled because %q", got.DisabledReason)
		}
		var attempts struct{ Items []webhook.Attempt }
		w.adminA.must(200, "GET", hooks+"/"+ep2.ID+"/deliveries", nil).json(t, &attempts)
		if len(attempts.Items) != 1 || attempts.Items[0].Status != webhook.StatusFailed || !strings.Contains(attempts.Items[0].Error, "signing secret") {
			t.Errorf("the second endpoint's log: %+v", attempts.Items)
		}
		rcv2.mu.Lock()
		if len(rcv2.bodies) != 0 {
			t.Errorf("%d requests reached the second endpoint", len(rcv2.bodies))
		}
		rcv2.mu.Unlock()
		if l := logs.String(); !strings.Contains(l, `"level":"ERROR","msg":"a webhook endpoint's signing secret does not decrypt`) || !strings.Contains(l, ep2.ID) {
			t.Errorf("logs: %s", l)
		}
		var audited int64
		db.Conn(ctx).Table("events").Where("action = 'data.undecryptable' AND object_type = 'webhook' AND object_id = ?", ep2.ID).Count(&audited)
		if audited != 1 {
			t.Errorf("%d audit events for the undecryptable secret", audited)
		}

		// A secret stored in clear, as before sealing.
		rcv3, ep3 := register()
		if err := db.Conn(ctx).Exec("UPDATE webhook_endpoints SET secret = ? WHERE id = ?", ep3.Secret, ep3.ID).Error; err != nil {
			t.Fatal(err)
		}
		comment("Third")
		waitUntil(t, "the delivery with a secret in clear", func() bool { return len(rcv3.accepted()) == 1 })
		var updatedAt time.Time
		db.Conn(ctx).Raw("SELECT updated_at FROM webhook_endpoints WHERE id = ?", ep3.ID).Scan(&updatedAt)
		if n, err := h.hooks.SealExistingSecrets(ctx); err != nil || n != 1 {
			t.Fatalf("sealed %d, %v; want the one in clear", n, err)
		}
		if n, err := h.hooks.SealExistingSecrets(ctx); err != nil || n != 0 {
			t.Errorf("run again: %d, %v", n, err)
		}
		if s := stored(ep3.ID); !keys.IsSealed(s) || strings.Contains(s, strings.TrimPrefix(ep3.Secret, "whsec_")) {
			t.Errorf("after SealExistingSecrets: %q", s)
		}
		var after time.Time
		db.Conn(ctx).Raw("SELECT updated_at FROM webhook_endpoints WHERE id = ?", ep3.ID).Scan(&after)
		if !after.Equal(updatedAt) {
			t.Errorf("sealing changed updated_at: %v, was %v", after, updatedAt)
		}
		comment("Fourth")
		waitUntil(t, "the delivery with the secret sealed afterwards", func() bool { return len(rcv3.accepted()) == 2 })
	})
}
