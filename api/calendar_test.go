package api

import (
	"testing"
	"time"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/workflow"
)

// TestCFACalendar: tenant admins keep the sessions, members read them, cases show the
// next deadline and the home screen's list says what is due; every exchange is checked
// against the OpenAPI document by the harness.
func TestCFACalendar(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		const base = "/api/v1/tenants/alpha/cfa-sessions"
		today := h.clock.Now().UTC()
		date := func(days int) string { return today.AddDate(0, 0, days).Format(time.DateOnly) }

		// The fixture has a session 200 days ahead; remove it.
		var list struct{ Items []workflow.CFASession }
		w.editorA1.must(200, "GET", base, nil).json(t, &list)
		if len(list.Items) != 1 {
			t.Fatalf("the fixture's session: %+v", list)
		}
		w.adminA.must(204, "DELETE", base+"/"+list.Items[0].ID, nil)
		var cs workflow.Case
		w.editorA1.must(200, "GET", "/api/v1/tenants/alpha/cases/"+w.caseA.ID, nil).json(t, &cs)
		if cs.NextDeadline != nil {
			t.Fatalf("no session, yet a deadline: %+v", cs.NextDeadline)
		}

		// Validation: 422 naming the fields.
		p := w.adminA.must(422, "POST", base, map[string]any{"name": "410th Session", "starts_on": date(10), "deadline": date(11)}).problem(t)
		if errs, _ := p["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["field"] != "deadline" {
			t.Fatalf("want deadline named: %v", p)
		}
		p = w.adminA.must(422, "POST", base, map[string]any{"name": "", "starts_on": "01/06/2026", "deadline": date(1)}).problem(t)
		if errs, _ := p["errors"].([]any); len(errs) != 2 {
			t.Fatalf("want name and starts_on named: %v", p)
		}
		// Permissions: members read; only tenant admins write; other tenants see nothing.
		w.reviewerA.must(403, "POST", base, map[string]any{"name": "410th Session", "starts_on": date(30), "deadline": date(14)})
		var s410 workflow.CFASession
		w.adminA.must(201, "POST", base, map[string]any{"name": "410th Session", "starts_on": date(30), "deadline": date(14)}).json(t, &s410)
		w.editorA1.must(200, "GET", base, nil).json(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != s410.ID {
			t.Fatalf("members read the calendar: %+v", list)
		}
		w.adminB.must(200, "GET", "/api/v1/tenants/beta/cfa-sessions", nil).json(t, &list)
		if len(list.Items) != 0 {
			t.Fatalf("another tenant's calendar: %+v", list)
		}
		w.adminB.must(404, "PUT", "/api/v1/tenants/beta/cfa-sessions/"+s410.ID, map[string]any{"name": "x", "starts_on": date(30), "deadline": date(14)})
		w.editorA1.must(403, "DELETE", base+"/"+s410.ID, nil)

		// Cases show the next deadline.
		w.editorA1.must(200, "GET", "/api/v1/tenants/alpha/cases/"+w.caseA.ID, nil).json(t, &cs)
		if cs.NextDeadline == nil || cs.NextDeadline.SessionID != s410.ID || cs.NextDeadline.Deadline != date(14) || cs.NextDeadline.DaysLeft != 14 {
			t.Fatalf("next deadline: %+v", cs.NextDeadline)
		}
		var cases struct{ Items []workflow.Case }
		w.viewerA2.must(200, "GET", "/api/v1/tenants/alpha/cases", nil).json(t, &cases)
		if len(cases.Items) != 1 || cases.Items[0].NextDeadline == nil || cases.Items[0].NextDeadline.SessionName != "410th Session" {
			t.Fatalf("case list: %+v", cases)
		}
		var updated workflow.CFASession
		w.adminA.must(200, "PUT", base+"/"+s410.ID, map[string]any{"name": "410th Session", "starts_on": date(30), "deadline": date(7)}).json(t, &updated)
		if updated.Deadline != date(7) {
			t.Fatalf("update: %+v", updated)
		}

		// What is due: the fixture's submission was submitted; a new draft is due.
		var due workflow.Due
		w.editorA1.must(200, "GET", "/api/v1/tenants/alpha/due", nil).json(t, &due)
		if len(due.Items) != 0 || due.NextDeadline == nil || due.NextDeadline.DaysLeft != 7 {
			t.Fatalf("nothing due yet: %+v", due)
		}
		var draft workflow.SubmissionView
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{
			"case_id": w.caseA.ID, "kind": "additional_information", "title": "Follow-up", "language": "en"}).json(t, &draft)
		for _, c := range []*client{w.editorA1, w.reviewerA} {
			c.must(200, "GET", "/api/v1/tenants/alpha/due", nil).json(t, &due)
			if len(due.Items) != 1 || due.Items[0].SubmissionID != draft.ID || due.Items[0].State != workflow.Draft {
				t.Fatalf("the draft is due: %+v", due)
			}
		}
		w.adminB.must(200, "GET", "/api/v1/tenants/beta/due", nil).json(t, &due)
		if len(due.Items) != 0 || due.NextDeadline != nil {
			t.Fatalf("another tenant: %+v", due)
		}

		w.adminA.must(204, "DELETE", base+"/"+s410.ID, nil)
		w.adminA.must(404, "DELETE", base+"/"+s410.ID, nil)
		w.editorA1.must(200, "GET", "/api/v1/tenants/alpha/cases/"+w.caseA.ID, nil).json(t, &cs)
		if cs.NextDeadline != nil {
			t.Fatalf("deleted session still the next deadline: %+v", cs.NextDeadline)
		}
	})
}
