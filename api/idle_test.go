package api

import (
	"context"
	"testing"
	"time"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

// TestShortIdleTimeoutKeepsActiveSessions: with a one-minute idle timeout, a session
// used every 50 seconds stays open (its last-seen time is refreshed well within the
// timeout), and one left alone for a minute ends.
func TestShortIdleTimeoutKeepsActiveSessions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		svc, err := auth.NewService(context.Background(), db, auth.Options{
			SecretKey:      []byte("0123456789abcdef0123456789abcdef"),
			PasswordParams: cheapPasswords,
			Now:            h.clock.Now,
			SessionIdle:    time.Minute,
			Keys:           h.keys,
		})
		if err != nil {
			t.Fatal(err)
		}
		h.auth = svc
		h.srv = New(Options{Auth: svc, Workflow: h.wf})
		h.world()

		c := h.login("editor@alpha.test")
		for i := 1; i <= 6; i++ { // five minutes of steady use
			h.clock.Advance(50 * time.Second)
			if r := c.do("GET", "/api/v1/me", nil); r.Code != 200 {
				t.Fatalf("request %d, %d s after login, 50 s after the last: %d %s", i, i*50, r.Code, r.Body)
			}
		}
		h.clock.Advance(time.Minute + time.Second)
		if p := c.must(401, "GET", "/api/v1/me", nil).problem(t); p["code"] != "session_expired" {
			t.Errorf("idle for a minute: %v", p)
		}
	})
}
