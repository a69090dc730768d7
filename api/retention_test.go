package api

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/workflow"
)

// TestRetentionSettingsAPI: the settings carry a retention section, never deleting by
// default; a PUT validates it, naming each bad field; only tenant admins change it.
func TestRetentionSettingsAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		var st workflow.Settings
		w.adminA.must(200, "GET", "/api/v1/tenants/alpha/settings", nil).json(t, &st)
		if st.Retention != (workflow.RetentionSettings{}) {
			t.Fatalf("default retention %+v, want never", st.Retention)
		}
		for _, tt := range []struct {
			retention map[string]any
			fields    []string
		}{
			{map[string]any{"draft_days": 7}, []string{"retention.draft_days"}},
			{map[string]any{"draft_days": -30, "closed_days": 4000}, []string{"retention.draft_days", "retention.closed_days"}},
			{map[string]any{"dispatched_years": 101}, []string{"retention.dispatched_years"}},
		} {
			body := dispatchReady(1, false)
			body["retention"] = tt.retention
			r := w.adminA.do("PUT", "/api/v1/tenants/alpha/settings", body)
			if r.Code != 422 || !slices.Equal(fieldNames(r.problem(t)), tt.fields) {
				t.Errorf("%v: %d %s, want 422 naming %v", tt.retention, r.Code, r.Body, tt.fields)
			}
		}
		body := dispatchReady(1, false)
		body["retention"] = map[string]any{"draft_days": 365, "closed_days": 180, "dispatched_years": 10}
		if r := w.reviewerA.do("PUT", "/api/v1/tenants/alpha/settings", body); r.Code != 403 {
			t.Errorf("a reviewer's PUT: %d", r.Code)
		}
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", body).json(t, &st)
		want := workflow.RetentionSettings{DraftDays: 365, ClosedDays: 180, DispatchedYears: 10}
		if st.Retention != want {
			t.Errorf("answered %+v", st.Retention)
		}
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/settings", nil).json(t, &st)
		if st.Retention != want {
			t.Errorf("read back %+v", st.Retention)
		}
		// The whole document is replaced: left out, retention is the default again.
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false)).json(t, &st)
		if st.Retention != (workflow.RetentionSettings{}) {
			t.Errorf("a PUT without retention kept %+v", st.Retention)
		}
	})
}

// TestRetentionShreddedAnswers: once retention shredded a dispatched submission, the API
// says so: shredded_at and an empty title and body, no comments taken, 410 shredded for
// its files, its letter and what its dispatch stored; its dispatch record and hashes stay
// (every exchange is checked against the OpenAPI document).
func TestRetentionShreddedAnswers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newDispatchHarness(t, db, nil)
		w := h.world()
		st := dispatchReady(1, false)
		st["retention"] = map[string]any{"dispatched_years": 1}
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", st)
		id := w.submissionA.ID
		d := approveAndWait(t, w, id, workflow.Dispatched)
		var atts struct{ Items []workflow.Attachment }
		w.reviewerA.must(200, "GET", subPath(id, "/attachments"), nil).json(t, &atts)

		h.clock.Advance(2 * 366 * 24 * time.Hour)
		r, err := h.wf.Retain(context.Background(), w.tenantA.ID, workflow.RetentionRun{By: "test"})
		if err != nil || r.Shredded != 1 {
			t.Fatalf("retention: %+v %v", r, err)
		}
		// Two years on, the sessions have expired.
		w.reviewerA, w.editorA1, w.adminA = h.login("reviewer@alpha.test"), h.login("editor@alpha.test"), h.login("admin@alpha.test")

		for _, c := range []*client{w.reviewerA, w.editorA1} {
			var v workflow.SubmissionView
			res := c.must(200, "GET", subPath(id), nil)
			res.json(t, &v)
			if v.ShreddedAt == nil || v.Title != "" || v.Body != "" || v.State != workflow.Dispatched || v.Capabilities.Comment {
				t.Errorf("the shredded submission: %s", res.Body)
			}
			if strings.Contains(res.Body.String(), secretMarker) {
				t.Error("the shredded submission still says its content")
			}
			for _, path := range []string{"/api/v1/tenants/alpha/attachments/" + atts.Items[0].ID + "/content",
				"/api/v1/tenants/alpha/attachments/" + atts.Items[0].ID + "/content?original=0",
				"/api/v1/tenants/alpha/attachments/" + atts.Items[0].ID + "/content?redirect=1",
				subPath(id, "/letter.pdf"),
				"/api/v1/tenants/alpha/dispatches/" + d.ID + "/letter.pdf",
				"/api/v1/tenants/alpha/dispatches/" + d.ID + "/manifest.json"} {
				if res := c.do("GET", path, nil); res.Code != 410 || res.problem(t)["code"] != "shredded" {
					t.Errorf("GET %s: %d %s, want 410 shredded", path, res.Code, res.Body)
				}
			}
		}
		if res := w.reviewerA.do("POST", subPath(id, "/comments"), map[string]any{"body": "More?"}); res.Code != 410 || res.problem(t)["code"] != "shredded" {
			t.Errorf("a comment: %d %s", res.Code, res.Body)
		}
		for _, path := range []string{subPath(id, "/comments"), subPath(id, "/revisions/1"), subPath(id, "/attachments"), subPath(id, "/diff?from=1&to=1")} {
			if res := w.reviewerA.must(200, "GET", path, nil); strings.Contains(res.Body.String(), secretMarker) || strings.Contains(res.Body.String(), "witness statement") {
				t.Errorf("GET %s still says the content: %s", path, res.Body)
			}
		}
		var ds struct{ Items []dispatch.Dispatch }
		w.reviewerA.must(200, "GET", subPath(id, "/dispatches"), nil).json(t, &ds)
		if len(ds.Items) != 1 || ds.Items[0].ShreddedAt == nil || ds.Items[0].MessageID != d.MessageID || len(ds.Items[0].Deliveries) != 1 ||
			len(ds.Items[0].SentFiles) != 2 || ds.Items[0].SentFiles[1].OriginalSHA256 != atts.Items[0].SHA256 || ds.Items[0].SentFiles[0].SHA256 != d.SentFiles[0].SHA256 {
			t.Errorf("the dispatch record after shredding: %+v (before: %+v)", ds.Items, d)
		}
		var events struct{ Items []map[string]any }
		w.adminA.must(200, "GET", subPath(id, "/events"), nil).json(t, &events)
		if last := events.Items[len(events.Items)-1]; last["action"] != "submission.shredded" {
			t.Errorf("the timeline ends with %v", last)
		}
	})
}
