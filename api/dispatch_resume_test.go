package api

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

// cutOffStore fails the first Put of a dispatch manifest: the attempt ends after the
// relay accepted the e-mail and before its record is complete, as when the worker
// process is killed there.
type cutOffStore struct {
	storage.Store
	once sync.Once
}

func (s *cutOffStore) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	cut := false
	if strings.Contains(key, "/manifest.json") {
		s.once.Do(func() { cut = true })
	}
	if cut {
		return errors.New("the process died here")
	}
	return s.Store.Put(ctx, key, r, size, contentType)
}

// countingOutbox counts the letters it is given.
type countingOutbox struct {
	dispatch.Outbox
	letters atomic.Int32
}

func (c *countingOutbox) Send(ctx context.Context, msg *mail.Msg) error {
	if strings.HasPrefix(strings.Join(msg.GetGenHeader(mail.HeaderSubject), ""), "[TEST]") {
		c.letters.Add(1)
	}
	return c.Outbox.Send(ctx, msg)
}

// TestDispatchAcceptedIsNotSentAgain: an attempt cut off after the relay accepted the
// letter is taken up again, and the next attempt completes the record (manifest,
// deliveries, the submission dispatched) without sending the letter a second time.
func TestDispatchAcceptedIsNotSentAgain(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		sender := &countingOutbox{Outbox: dispatch.Outbox{Dir: t.TempDir()}}
		h := newPortalHarnessStore(t, db, dispatch.Options{Sender: sender, RetryBase: 200 * time.Millisecond, PollInterval: 50 * time.Millisecond, MaxAttempts: 25},
			testWebhookOptions, true, func(s storage.Store) storage.Store { return &cutOffStore{Store: s} })
		w := h.world()
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
		d := approveAndWait(t, w, w.submissionA.ID, workflow.Dispatched)
		if n := sender.letters.Load(); n != 1 {
			t.Errorf("the letter was sent %d times, want once", n)
		}
		if d.State != "sent" || d.Attempts != 2 || d.SentAt == nil || len(d.Deliveries) == 0 || d.Deliveries[0].Status != "accepted" {
			t.Errorf("dispatch %+v", d)
		}
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/dispatches/"+d.ID+"/manifest.json", nil)
	})
}
