package api

import (
	"context"
	"testing"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/workflow"
)

// TestSweepKeepsWhatWasSent: the orphan sweep, even with no grace at all, removes no
// letter or manifest of a dispatch (they have no attachment row, and never need one).
func TestSweepKeepsWhatWasSent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newDispatchHarness(t, db, dispatch.Outbox{Dir: t.TempDir()})
		w := h.world()
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
		d := approveAndWait(t, w, w.submissionA.ID, workflow.Dispatched)
		if _, err := h.wf.SweepOrphans(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
		for _, which := range []string{"letter.pdf", "manifest.json"} {
			w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/dispatches/"+d.ID+"/"+which, nil)
		}
		// And the approved evidence stays too.
		var atts struct{ Items []workflow.Attachment }
		w.reviewerA.must(200, "GET", subPath(w.submissionA.ID, "/attachments"), nil).json(t, &atts)
		for _, a := range atts.Items {
			w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/attachments/"+a.ID+"/content", nil)
		}
	})
}
