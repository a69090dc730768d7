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

// TestShorterStepUpWindow: with a step-up window of 30 seconds (UNIONPORTAL_STEP_UP_WINDOW),
// /me says so, and an act that matters 31 seconds after the password asks again; a
// window longer than the default is refused.
func TestShorterStepUpWindow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		opts := auth.Options{SecretKey: []byte("0123456789abcdef0123456789abcdef"), PasswordParams: cheapPasswords,
			Now: h.clock.Now, Keys: h.keys, StepUpWindow: 30 * time.Second}
		svc, err := auth.NewService(context.Background(), db, opts)
		if err != nil {
			t.Fatal(err)
		}
		h.auth = svc
		h.srv = New(Options{Auth: svc, Workflow: h.wf})
		h.world()

		c := h.login("editor@alpha.test")
		var me meResponse
		c.must(200, "GET", "/api/v1/me", nil).json(t, &me)
		if me.SecondFactor.StepUpUntil == nil || !me.SecondFactor.StepUpUntil.Equal(h.clock.Now().Add(30*time.Second).Truncate(time.Microsecond)) {
			t.Errorf("step_up_until %v, want 30 s after the login", me.SecondFactor.StepUpUntil)
		}
		h.clock.Advance(31 * time.Second)
		if p := c.must(401, "POST", "/api/v1/me/tokens", map[string]string{"name": "late"}).problem(t); p["code"] != "reauthentication_required" {
			t.Errorf("a token 31 s after the password: %v", p)
		}
		c.must(200, "POST", "/api/v1/auth/second-factor", map[string]string{"method": "password", "password": testPassword})
		c.must(201, "POST", "/api/v1/me/tokens", map[string]string{"name": "late"})

		opts.StepUpWindow = auth.DefaultStepUpWindow + time.Second
		if _, err := auth.NewService(context.Background(), db, opts); err == nil {
			t.Error("a step-up window longer than the default was accepted")
		}
	})
}
