package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/workflow"
)

// TestLetterPreviewRenderTimeout: a letter that does not render within its deadline
// answers 503 render_timeout, with Retry-After, instead of running on.
func TestLetterPreviewRenderTimeout(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newPortalHarness(t, db, dispatch.Options{RenderTimeout: time.Nanosecond}, false)
		w := h.world()
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
		r := w.reviewerA.do("GET", subPath(w.submissionA.ID, "/letter.pdf"), nil)
		if r.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503; body %s", r.Code, r.Body)
		}
		p := r.problem(t)
		if p["code"] != dispatch.CodeRenderTimeout || !strings.Contains(p["detail"].(string), "took longer than allowed") {
			t.Errorf("problem %v", p)
		}
		if r.Header().Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
	})
}

// TestDispatchRenderTimeout: a dispatch whose letter does not render within its
// deadline fails the attempt with that reason, is retried, and fails for good after
// the last attempt.
func TestDispatchRenderTimeout(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newPortalHarness(t, db, dispatch.Options{RenderTimeout: time.Nanosecond, MaxAttempts: 2,
			RetryBase: 50 * time.Millisecond, PollInterval: 50 * time.Millisecond}, true)
		w := h.world()
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
		d := approveAndWait(t, w, w.submissionA.ID, workflow.DispatchFailed)
		if d.State != "failed" || d.Attempts != 2 || !strings.Contains(d.LastError, dispatch.CodeRenderTimeout) ||
			!strings.Contains(d.LastError, "could not be rendered in time") || d.SentAt != nil {
			t.Fatalf("dispatch %+v", d)
		}
	})
}
