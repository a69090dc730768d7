package api

import (
	"testing"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/workflow"
)

// TestCapabilitiesOnSubmissions: a submission says what its reader may do besides
// actions, in the resource and in lists, and the API keeps to it.
func TestCapabilitiesOnSubmissions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		var draft workflow.SubmissionView
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
			"kind": "follow_up", "title": "T", "body": "B", "language": "en"}).json(t, &draft)
		get := func(c *client, id string) workflow.Capabilities {
			t.Helper()
			var v workflow.SubmissionView
			c.must(200, "GET", subPath(id), nil).json(t, &v)
			return v.Capabilities
		}
		if got, want := get(w.editorA1, draft.ID), (workflow.Capabilities{Edit: true, Upload: true, Delete: true, Comment: true}); got != want {
			t.Errorf("the author's draft: %+v, want %+v", got, want)
		}
		if got, want := get(w.reviewerA, draft.ID), (workflow.Capabilities{Comment: true}); got != want {
			t.Errorf("a reviewer on a draft: %+v, want %+v", got, want)
		}
		// Submitted: nothing to edit any more, and the API refuses what the flags deny.
		if got, want := get(w.editorA1, w.submissionA.ID), (workflow.Capabilities{Comment: true}); got != want {
			t.Errorf("the author's submitted one: %+v, want %+v", got, want)
		}
		w.editorA1.upload(409, w.submissionA.ID, "late.txt", "text/plain", []byte("late\n"))
		w.editorA1.must(409, "DELETE", subPath(w.submissionA.ID), nil)
		var list struct{ Items []workflow.SubmissionSummary }
		w.editorA1.must(200, "GET", "/api/v1/tenants/alpha/submissions", nil).json(t, &list)
		for _, it := range list.Items {
			if it.ID == draft.ID && !it.Capabilities.Delete || it.ID == w.submissionA.ID && it.Capabilities.Edit {
				t.Errorf("list item %s: %+v", it.State, it.Capabilities)
			}
		}
	})
}
