package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/workflow"
)

// dispatchReady is a settings document that passes the receivability checks.
func dispatchReady(approvals int, signatory bool) map[string]any {
	return map[string]any{
		"workflow": map[string]any{"required_approvals": approvals, "require_signatory": signatory},
		"dispatch": map[string]any{
			"sandbox": true, "sandbox_recipient": "sandbox@alpha.test",
			"from":            map[string]any{"name": "Alpha Federation", "address": "cfa@alpha.test"},
			"reply_to":        "",
			"recipients":      []any{map[string]any{"name": "Chief, FoA Branch", "title": "Chief", "address": "freedom@ilo.test", "kind": "to"}},
			"letterhead":      map[string]any{"organization": "Alpha Federation", "address_lines": []string{"Route 1", "Geneva"}, "place": "Geneva"},
			"signatory":       map[string]any{"name": "A. Secretary", "title": "General Secretary"},
			"max_email_bytes": 15 << 20,
		},
	}
}

func subPath(id string, rest ...string) string {
	return "/api/v1/tenants/alpha/submissions/" + id + strings.Join(rest, "")
}

// expected is the workflow of the README's table, written out independently of the workflow tables:
// which role may take which action from which state, and where it leads (with one
// approval required and no signatory step).
func expected(role string, state workflow.State, action workflow.Action) (workflow.State, bool) {
	in := func(states ...workflow.State) bool { return slices.Contains(states, state) }
	switch {
	case action == "submit" && role == "editor" && in("draft", "changes_requested"):
		return "submitted", true
	case action == "withdraw" && role == "editor" && in("submitted", "in_review", "changes_requested"):
		return "withdrawn", true
	case action == "start_review" && role == "reviewer" && in("submitted"):
		return "in_review", true
	case action == "request_changes" && role == "reviewer" && in("submitted", "in_review"):
		return "changes_requested", true
	case action == "approve" && role == "reviewer" && in("submitted", "in_review"):
		return "dispatching", true
	case action == "reject" && role == "reviewer" && in("submitted", "in_review"):
		return "rejected", true
	case action == "sign" && role == "signatory" && in("approved"):
		return "dispatching", true
	case action == "resend" && (role == "reviewer" || role == "tenant_admin") && in("dispatch_failed"):
		return "dispatching", true
	}
	return state, false
}

// TestWorkflowTable walks every (state, action, role) and checks the outcome, the
// audit event and allowed_actions against the README's table.
func TestWorkflowTable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
		signatory := h.anonymous()
		w.adminA.must(201, "POST", "/api/v1/tenants/alpha/users", map[string]any{"email": "sign@alpha.test", "name": "S",
			"password": testPassword, "organization_id": w.orgA1.ID, "roles": []string{"signatory"}})
		signatory.loginAs("sign@alpha.test", testPassword)
		roles := map[string]*client{"tenant_admin": w.adminA, "reviewer": w.reviewerA, "signatory": signatory,
			"editor": w.editorA1, "viewer": h.login("viewer@alpha.test")}
		// The viewer of the fixture is in organization A2; this test needs one in A1.
		w.adminA.must(200, "PATCH", "/api/v1/tenants/alpha/users/"+w.viewerA2ID, map[string]any{"organization_id": w.orgA1.ID, "roles": []string{"viewer"}})
		roles["viewer"] = h.login("viewer@alpha.test")

		id := w.submissionA.ID
		ctx := context.Background()
		reset := func(state workflow.State) {
			t.Helper()
			conn := db.Conn(ctx)
			if err := conn.Exec("UPDATE submissions SET state = ? WHERE id = ?", state, id).Error; err != nil {
				t.Fatal(err)
			}
			conn.Exec("DELETE FROM approvals WHERE submission_id = ?", id)
			conn.Exec("DELETE FROM approval_snapshots WHERE submission_id = ?", id)
			if state == workflow.Approved || state == workflow.DispatchFailed {
				// What a final approval would have frozen, for sign and resend.
				if err := conn.Exec("INSERT INTO approval_snapshots (submission_id, revision, tenant_id, dispatch, case_data, created_at) SELECT id, revision, tenant_id, '{}', '{}', created_at FROM submissions WHERE id = ?", id).Error; err != nil {
					t.Fatal(err)
				}
			}
		}
		events := func() int64 {
			var n int64
			db.Conn(ctx).Table("events").Where("object_id = ? AND action LIKE 'submission.%'", id).Count(&n)
			return n
		}
		for _, state := range workflow.States() {
			for role, c := range roles {
				for _, action := range workflow.Actions() {
					name := fmt.Sprintf("%s/%s/%s", state, role, action)
					reset(state)
					var before workflow.SubmissionView
					c.must(200, "GET", subPath(id), nil).json(t, &before)
					to, ok := expected(role, state, action)
					if slices.Contains(before.AllowedActions, action) != ok {
						t.Errorf("%s: allowed_actions %v, want %s allowed=%v", name, before.AllowedActions, action, ok)
					}
					n := events()
					r := c.do("POST", subPath(id, "/transitions"), map[string]string{"action": string(action), "comment": "because"})
					var after workflow.SubmissionView
					c.must(200, "GET", subPath(id), nil).json(t, &after)
					switch {
					case ok && r.Code != 200:
						t.Errorf("%s: refused (%d %s), want allowed", name, r.Code, r.Body)
					case ok && after.State != to:
						t.Errorf("%s: state %s, want %s", name, after.State, to)
					case ok && (events() != n+1 || after.Version != before.Version+1):
						t.Errorf("%s: %d new events, version %d -> %d; want 1 event and version +1", name, events()-n, before.Version, after.Version)
					case !ok && r.Code != http.StatusForbidden && r.Code != http.StatusConflict:
						t.Errorf("%s: status %d, want 403 or 409: %s", name, r.Code, r.Body)
					case !ok && (after.State != state || events() != n || after.Version != before.Version):
						t.Errorf("%s: a refused action changed the submission or wrote an event", name)
					}
				}
			}
		}
	})
}

func TestWorkflowWholePath(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(2, true))
		// A second reviewer, and an editor who is also a reviewer (and so an author).
		mk := func(email string, roles ...string) *client {
			w.adminA.must(201, "POST", "/api/v1/tenants/alpha/users", map[string]any{"email": email, "name": email,
				"password": testPassword, "organization_id": w.orgA1.ID, "roles": roles})
			return h.login(email)
		}
		reviewer2 := mk("reviewer2@alpha.test", "reviewer")
		both := mk("both@alpha.test", "editor", "reviewer")
		signatory := mk("sign@alpha.test", "signatory")

		var sub workflow.SubmissionView
		both.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
			"kind": "additional_information", "title": "Update on Case 3386", "body": "The first account of events.", "language": "en"}).json(t, &sub)
		id := sub.ID
		act := func(c *client, status int, action, comment string) workflow.SubmissionView {
			t.Helper()
			var v workflow.SubmissionView
			r := c.must(status, "POST", subPath(id, "/transitions"), map[string]string{"action": action, "comment": comment})
			if status == 200 {
				r.json(t, &v)
			}
			return v
		}
		// Skipped steps are refused.
		act(w.reviewerA, 409, "approve", "")
		act(signatory, 409, "sign", "")
		act(both, 200, "submit", "")
		act(w.reviewerA, 422, "request_changes", "") // a comment is required
		v := act(w.reviewerA, 200, "request_changes", "Please date the events.")
		if v.State != "changes_requested" {
			t.Fatalf("state %s", v.State)
		}
		// The author edits (with If-Match) and submits revision 2.
		r := both.do("PATCH", subPath(id), map[string]string{"body": "On 3 May the union's office was raided."})
		if r.Code != 428 {
			t.Fatalf("PATCH without If-Match: %d", r.Code)
		}
		req := map[string]string{"body": "On 3 May the union's office was raided."}
		rr := both.doWithHeaders("PATCH", subPath(id), req, map[string]string{"If-Match": fmt.Sprintf(`"%d"`, v.Version)})
		if rr.Code != 200 {
			t.Fatalf("PATCH: %d %s", rr.Code, rr.Body)
		}
		act(both, 200, "submit", "")
		act(w.reviewerA, 200, "start_review", "")
		// The author, though a reviewer, can never approve.
		if p := both.must(403, "POST", subPath(id, "/transitions"), map[string]string{"action": "approve"}).problem(t); p["code"] != "author_cannot_approve" {
			t.Errorf("self-approval: %v", p)
		}
		v = act(w.reviewerA, 200, "approve", "")
		if v.State != "in_review" || v.Approvals != 1 || v.RequiredApprovals != 2 {
			t.Fatalf("after one of two approvals: %s, %d/%d", v.State, v.Approvals, v.RequiredApprovals)
		}
		// The same reviewer twice counts once.
		if p := w.reviewerA.must(409, "POST", subPath(id, "/transitions"), map[string]string{"action": "approve"}).problem(t); p["code"] != "already_approved" {
			t.Errorf("double approval: %v", p)
		}
		v = act(reviewer2, 200, "approve", "")
		if v.State != "approved" {
			t.Fatalf("after two approvals with a signatory step: %s", v.State)
		}
		act(w.reviewerA, 403, "sign", "")
		v = act(signatory, 200, "sign", "")
		if v.State != "dispatching" {
			t.Fatalf("after signing: %s", v.State)
		}
		act(signatory, 409, "sign", "") // no replay

		// The timeline tells the story, and the chain holds.
		var evs struct {
			Items []struct{ Action string } `json:"items"`
		}
		w.reviewerA.must(200, "GET", subPath(id, "/events"), nil).json(t, &evs)
		var actions []string
		for _, e := range evs.Items {
			actions = append(actions, e.Action)
		}
		want := []string{"submission.created", "submission.submit", "submission.request_changes", "submission.edited",
			"submission.submit", "submission.start_review", "submission.approve", "submission.approve", "submission.sign"}
		if !slices.Equal(actions, want) {
			t.Errorf("timeline %v\nwant %v", actions, want)
		}
		// Revisions and the word diff.
		var revs struct{ Items []workflow.Revision }
		w.reviewerA.must(200, "GET", subPath(id, "/revisions"), nil).json(t, &revs)
		if len(revs.Items) != 2 || revs.Items[0].Body != "" {
			t.Fatalf("revisions %+v (bodies belong to the single revision)", revs.Items)
		}
		var rev workflow.Revision
		w.reviewerA.must(200, "GET", subPath(id, "/revisions/1"), nil).json(t, &rev)
		if rev.Body != "The first account of events." {
			t.Errorf("revision 1 body %q", rev.Body)
		}
		var d workflow.Diff
		w.reviewerA.must(200, "GET", subPath(id, "/diff?from=1&to=2"), nil).json(t, &d)
		var ins, del string
		for _, op := range d.Body {
			switch op.Op {
			case "insert":
				ins += op.Text
			case "delete":
				del += op.Text
			}
		}
		if !strings.Contains(ins, "raided") || !strings.Contains(del, "first") || strings.Contains(del, "raided") {
			t.Errorf("diff %+v", d.Body)
		}
		w.reviewerA.must(404, "GET", subPath(id, "/revisions/3"), nil)
		w.reviewerA.must(400, "GET", subPath(id, "/diff?from=1&to=x"), nil)
		w.reviewerA.must(404, "GET", subPath(id, "/diff?from=1&to=9"), nil)
	})
}

func TestReceivabilityChecks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		// A case without number and complainants, default settings (nothing configured).
		var c workflow.Case
		w.reviewerA.must(201, "POST", "/api/v1/tenants/alpha/cases", map[string]any{"country": "KG", "title": "New"}).json(t, &c)
		var sub workflow.SubmissionView
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": c.ID,
			"kind": "follow_up", "title": "T", "body": "  ", "language": "fr"}).json(t, &sub)
		w.editorA1.must(200, "POST", subPath(sub.ID, "/transitions"), map[string]string{"action": "submit"})
		p := w.reviewerA.must(422, "POST", subPath(sub.ID, "/transitions"), map[string]string{"action": "approve"}).problem(t)
		want := []string{"case.number", "case.complainants", "body", "settings.dispatch.signatory", "settings.dispatch.from", "settings.dispatch.sandbox_recipient"}
		if p["code"] != "not_receivable" || !slices.Equal(fieldNames(p), want) {
			t.Errorf("checks %v (%v), want %v", fieldNames(p), p["code"], want)
		}
		var after workflow.SubmissionView
		w.reviewerA.must(200, "GET", subPath(sub.ID), nil).json(t, &after)
		if after.State != "submitted" || after.Approvals != 0 {
			t.Errorf("a refused approval left state %s, %d approvals", after.State, after.Approvals)
		}
	})
}

func TestOptimisticConcurrency(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		var sub workflow.SubmissionView
		r := w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
			"kind": "additional_information", "title": "T", "body": "B", "language": "en"})
		r.json(t, &sub)
		tag := r.Header().Get("ETag")
		if !strings.HasPrefix(tag, `"1-`) {
			t.Fatalf("ETag %q", tag)
		}
		// If-None-Match: unchanged answers 304 without a body; the ETag is also accepted by
		// If-Match, as is the bare version.
		if r := w.editorA1.doWithHeaders("GET", subPath(sub.ID), nil, map[string]string{"If-None-Match": tag}); r.Code != 304 || r.Body.Len() != 0 || r.Header().Get("ETag") != tag {
			t.Fatalf("If-None-Match: %d %q %s", r.Code, r.Header().Get("ETag"), r.Body)
		}
		// Another reader's view differs (allowed actions), and so does its ETag.
		if r := w.reviewerA.doWithHeaders("GET", subPath(sub.ID), nil, map[string]string{"If-None-Match": tag}); r.Code != 404 && (r.Code != 200 || r.Header().Get("ETag") == tag) {
			t.Fatalf("another reader: %d %q", r.Code, r.Header().Get("ETag"))
		}
		// Two editors save on top of version 1 at once: one wins, the other is told.
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = w.editorA1.doWithHeaders("PATCH", subPath(sub.ID), map[string]string{"title": fmt.Sprintf("Editor %d", i)},
					map[string]string{"If-Match": `"1"`}).Code
			}()
		}
		wg.Wait()
		slices.Sort(codes)
		if !slices.Equal(codes, []int{200, 412}) {
			t.Fatalf("concurrent saves: %v, want one 200 and one 412", codes)
		}
		p := w.editorA1.doWithHeaders("PATCH", subPath(sub.ID), map[string]string{"title": "late"}, map[string]string{"If-Match": `"1"`}).problem(t)
		if p["code"] != "version_mismatch" || p["current_version"] != float64(2) {
			t.Errorf("stale save: %v", p)
		}
		if r := w.editorA1.doWithHeaders("PATCH", subPath(sub.ID), map[string]string{"title": "x"}, map[string]string{"If-Match": "garbage"}); r.Code != 412 {
			t.Errorf("malformed If-Match: %d", r.Code)
		}
		ok := w.editorA1.doWithHeaders("PATCH", subPath(sub.ID), map[string]string{"title": "Final"}, map[string]string{"If-Match": `"2-0000000000000000"`})
		if ok.Code != 200 || !strings.HasPrefix(ok.Header().Get("ETag"), `"3-`) {
			t.Errorf("save on the current version: %d, ETag %q", ok.Code, ok.Header().Get("ETag"))
		}
	})
}

func TestSubmissionLists(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		create := func(c *client, title string) string {
			var v workflow.SubmissionView
			c.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
				"kind": "additional_information", "title": title, "body": "text about " + title, "language": "en"}).json(t, &v)
			return v.ID
		}
		for i := 0; i < 7; i++ {
			create(w.editorA1, fmt.Sprintf("A1 report %d", i))
		}
		a2 := create(w.editorA2, "A2 report 50%_off")

		type page struct {
			Items      []workflow.SubmissionSummary `json:"items"`
			NextCursor string                       `json:"next_cursor"`
		}
		// A reviewer sees all nine (the fixture's one, seven, A2's), three per page, newest first.
		var all []workflow.SubmissionSummary
		cursor := ""
		for pages := 0; ; pages++ {
			var p page
			w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/submissions?limit=3&cursor="+cursor, nil).json(t, &p)
			all = append(all, p.Items...)
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
		}
		if len(all) != 9 || all[0].ID != a2 {
			t.Fatalf("reviewer sees %d, first %s", len(all), all[0].Title)
		}
		for i := 1; i < len(all); i++ {
			if all[i].CreatedAt.After(all[i-1].CreatedAt) {
				t.Errorf("not newest first at %d", i)
			}
		}
		// Editors see their own organization's only.
		var p page
		w.editorA2.must(200, "GET", "/api/v1/tenants/alpha/submissions", nil).json(t, &p)
		if len(p.Items) != 1 || p.Items[0].ID != a2 {
			t.Errorf("A2's editor sees %+v", p.Items)
		}
		w.editorA2.must(200, "GET", "/api/v1/tenants/alpha/submissions?organization_id="+w.orgA1.ID, nil).json(t, &p)
		if len(p.Items) != 0 {
			t.Errorf("A2's editor filtering on A1 sees %d", len(p.Items))
		}
		// Filters.
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/submissions?state=submitted", nil).json(t, &p)
		if len(p.Items) != 1 || p.Items[0].ID != w.submissionA.ID {
			t.Errorf("state=submitted: %+v", p.Items)
		}
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/submissions?q=50%25_OFF", nil).json(t, &p)
		if len(p.Items) != 1 || p.Items[0].ID != a2 {
			t.Errorf("q with LIKE wildcards: %+v", p.Items)
		}
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/submissions?q=report+3", nil).json(t, &p)
		if len(p.Items) != 1 {
			t.Errorf("q=report 3: %d items", len(p.Items))
		}
		for _, bad := range []string{"state=lost", "case_id=7", "organization_id=x", "limit=0", "cursor=Zm9v", "cursor=WyIyMDI2LTAxLTAxIiwieCJd", "q=" + strings.Repeat("x", 201)} {
			if r := w.reviewerA.do("GET", "/api/v1/tenants/alpha/submissions?"+bad, nil); r.Code != 400 {
				t.Errorf("?%s: %d", bad, r.Code)
			}
		}
	})
}

// TestListQueriesConstant counts the queries of a list and a detail request: the same
// for 3 rows as for 30 (no N+1).
func TestListQueriesConstant(t *testing.T) {
	db := dbtest.New(t, database.SQLite)
	h := newHarness(t, db)
	w := h.world()
	for i := 0; i < 30; i++ {
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
			"kind": "additional_information", "title": fmt.Sprint(i), "body": "b", "language": "en"})
	}
	// The fewest of three runs: a reload of the policy (after a change) may fall into
	// any run.
	count := func(path string) int {
		best := -1
		for i := 0; i < 3; i++ {
			n := 0
			stop := database.CountQueries(db, func() { n++ })
			w.reviewerA.must(200, "GET", path, nil)
			stop()
			if best < 0 || n < best {
				best = n
			}
		}
		return best
	}
	few, many := count("/api/v1/tenants/alpha/submissions?limit=3"), count("/api/v1/tenants/alpha/submissions?limit=30")
	if few != many {
		t.Errorf("list: %d queries for 3 rows, %d for 30", few, many)
	}
	// The list: the session with its user, the tenant named in the path, the
	// membership, the settings and the policy version, all in one statement (issue 17);
	// the page; the caller's facts for the page (a reviewer's approvals).
	if few > 3 {
		t.Errorf("list costs %d queries, want 3", few)
	}
	// The detail: the session with the tenant as above; the submission with the
	// caller's facts, its approval count and its wrapped data key (issue 17's P1).
	detail := count(subPath(w.submissionA.ID))
	if detail > 2 {
		t.Errorf("detail costs %d queries, want 2", detail)
	}
	t.Logf("queries: list %d, detail %d", few, detail)
}

func TestCasesAndSettings(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		w.reviewerA.must(409, "POST", "/api/v1/tenants/alpha/cases", map[string]any{"number": "3386", "country": "KG", "title": "Dup"})
		w.adminB.must(201, "POST", "/api/v1/tenants/beta/cases", map[string]any{"number": "3386", "country": "KG", "title": "Same number, other tenant"})
		w.editorA1.must(403, "PATCH", "/api/v1/tenants/alpha/cases/"+w.caseA.ID, map[string]any{"status": "closed"})
		var c workflow.Case
		w.reviewerA.must(200, "PATCH", "/api/v1/tenants/alpha/cases/"+w.caseA.ID, map[string]any{"status": "closed"}).json(t, &c)
		if c.Status != "closed" || c.Number != "3386" {
			t.Errorf("case %+v", c)
		}
		p := w.reviewerA.must(422, "POST", "/api/v1/tenants/alpha/cases", map[string]any{"number": "33a", "country": "XX", "title": "",
			"status": "pending", "normlex_url": "http://insecure.example", "complainants": []string{""}}).problem(t)
		if !slices.Equal(fieldNames(p), []string{"number", "country", "title", "complainants", "status", "normlex_url"}) {
			t.Errorf("case fields %v", fieldNames(p))
		}

		var st workflow.Settings
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/settings", nil).json(t, &st)
		if !st.Dispatch.Sandbox || st.Workflow.RequiredApprovals != 1 {
			t.Errorf("defaults %+v", st)
		}
		w.reviewerA.must(403, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
		w.editorA1.must(403, "GET", "/api/v1/tenants/alpha/settings", nil)
		bad := dispatchReady(0, false)
		d := bad["dispatch"].(map[string]any)
		d["sandbox"] = false
		d["recipients"] = []any{map[string]any{"name": "X\r\nBcc: evil@x.test", "address": "not-an-address", "kind": "cc"}}
		d["from"] = map[string]any{"name": "F", "address": "Evil <e@x.test>"}
		p = w.adminA.must(422, "PUT", "/api/v1/tenants/alpha/settings", bad).problem(t)
		want := []string{"workflow.required_approvals", "dispatch.from.address", "dispatch.recipients[0].address", "dispatch.recipients[0].name", "dispatch.recipients"}
		if !slices.Equal(fieldNames(p), want) {
			t.Errorf("settings fields %v\nwant %v", fieldNames(p), want)
		}
		w.adminA.must(400, "PUT", "/api/v1/tenants/alpha/settings", `{"workflow":{"required_approvals":1},"extra":1}`)
		// Left-out fields take their defaults.
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", `{"dispatch":{"sandbox_recipient":"s@alpha.test"}}`).json(t, &st)
		if !st.Dispatch.Sandbox || st.Workflow.RequiredApprovals != 1 || st.Dispatch.MaxEmailBytes != workflow.DefaultMaxEmailBytes {
			t.Errorf("defaults not applied: %+v", st)
		}
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(2, true))
		w.adminA.must(200, "GET", "/api/v1/tenants/alpha/settings", nil).json(t, &st)
		if st.Workflow.RequiredApprovals != 2 || st.Dispatch.Signatory.Name != "A. Secretary" {
			t.Errorf("stored %+v", st)
		}
	})
}

func TestSubmissionEditsAndDeletion(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		long := strings.Repeat("x", workflow.MaxBodyBytes+1)
		p := w.editorA1.must(422, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseB(t, h), "kind": "memo",
			"title": "", "body": long, "language": "not a language"}).problem(t)
		if !slices.Equal(fieldNames(p), []string{"kind", "title", "body", "language"}) && !slices.Equal(fieldNames(p), []string{"kind", "title", "body", "language", "case_id"}) {
			t.Errorf("fields %v", fieldNames(p))
		}
		w.editorA1.must(422, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseB(t, h), "kind": "complaint", "title": "x", "language": "en"})
		w.reviewerA.must(403, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID, "kind": "complaint", "title": "x", "language": "en"})

		var v workflow.SubmissionView
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
			"kind": "complaint", "title": "Draft", "body": "", "language": "KY-kg"}).json(t, &v)
		if v.Language != "ky-KG" || v.State != "draft" || !slices.Equal(v.AllowedActions, []workflow.Action{"submit"}) {
			t.Errorf("new draft %+v", v)
		}
		// Only its organization's editors may change or delete it.
		w.editorA2.must(404, "DELETE", subPath(v.ID), nil)
		w.reviewerA.must(403, "DELETE", subPath(v.ID), nil)
		w.editorA1.must(204, "DELETE", subPath(v.ID), nil)
		w.editorA1.must(404, "GET", subPath(v.ID), nil)
		w.editorA1.must(404, "POST", subPath(v.ID, "/transitions"), map[string]string{"action": "submit"})
		// A submitted one cannot be deleted or edited.
		w.editorA1.must(409, "DELETE", subPath(w.submissionA.ID), nil)
		w.editorA1.doWithHeaders("PATCH", subPath(w.submissionA.ID), map[string]string{"title": "x"}, map[string]string{"If-Match": `"2"`})
		if r := w.editorA1.doWithHeaders("PATCH", subPath(w.submissionA.ID), map[string]string{"title": "x"}, map[string]string{"If-Match": `"2"`}); r.Code != 409 {
			t.Errorf("editing a submitted submission: %d", r.Code)
		}
		p = w.editorA1.must(422, "POST", subPath(w.submissionA.ID, "/transitions"), map[string]string{"action": "teleport"}).problem(t)
		if fieldNames(p)[0] != "action" {
			t.Errorf("unknown action: %v", p)
		}
		p = w.editorA1.must(409, "POST", subPath(w.submissionA.ID, "/transitions"), map[string]string{"action": "submit"}).problem(t)
		if acts, _ := p["allowed_actions"].([]any); len(acts) != 1 || acts[0] != "withdraw" {
			t.Errorf("409 lists allowed actions %v", p["allowed_actions"])
		}
		// Comments: a revision that exists, a body.
		w.editorA1.must(422, "POST", subPath(w.submissionA.ID, "/comments"), map[string]any{"body": " "})
		w.editorA1.must(422, "POST", subPath(w.submissionA.ID, "/comments"), map[string]any{"body": "x", "revision": 7})
		w.editorA1.must(201, "POST", subPath(w.submissionA.ID, "/comments"), map[string]any{"body": "Added the date.", "revision": 1})
		var cs struct{ Items []workflow.Comment }
		w.viewerA2.must(404, "GET", subPath(w.submissionA.ID, "/comments"), nil)
		w.reviewerA.must(200, "GET", subPath(w.submissionA.ID, "/comments"), nil).json(t, &cs)
		if len(cs.Items) != 2 {
			t.Errorf("comments %+v", cs.Items)
		}
	})
}

// caseB returns the id of a case of tenant beta, to try across tenants.
func (w *world) caseB(t *testing.T, h *harness) string {
	t.Helper()
	if w.caseBID == "" {
		var c workflow.Case
		w.adminB.must(201, "POST", "/api/v1/tenants/beta/cases", map[string]any{"number": "1111", "country": "FR", "title": "B"}).json(t, &c)
		w.caseBID = c.ID
	}
	return w.caseBID
}

// FuzzTransition sends arbitrary actions and comments: never a 5xx, never a change
// from a refused request.
func FuzzTransition(f *testing.F) {
	for _, a := range []string{"submit", "approve", "withdraw", "", "APPROVE", "approve\x00", "sign;DROP TABLE submissions", "résumé"} {
		f.Add(a, "because")
	}
	f.Add("request_changes", strings.Repeat("é", 30000))
	db := dbtest.New(f, database.SQLite)
	var h *harness
	var w *world
	f.Fuzz(func(t *testing.T, action, comment string) {
		if h == nil {
			h = newHarness(t, db)
			w = h.world()
		}
		h.t = t
		for _, c := range []*client{w.editorA1, w.reviewerA, w.viewerA2} {
			r := c.do("POST", subPath(w.submissionA.ID, "/transitions"), map[string]string{"action": action, "comment": comment})
			if r.Code >= 500 {
				t.Fatalf("action %q: %d %s", action, r.Code, r.Body)
			}
		}
	})
}

// TestListActionsMatchDetail: what a list says each caller may do with a submission is
// what its detail says, for every fixture user, after a reviewer has approved once (the
// list reads the callers' facts for a page at a time, the detail with the row).
func TestListActionsMatchDetail(t *testing.T) {
	db := dbtest.New(t, database.SQLite)
	h := newHarness(t, db)
	w := h.world()
	w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(2, false))
	w.reviewerA.must(200, "POST", subPath(w.submissionA.ID, "/transitions"), map[string]string{"action": "approve"})
	var draft workflow.SubmissionView
	w.editorA2.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
		"kind": "additional_information", "title": "Draft", "body": "b", "language": "en"}).json(t, &draft)
	compared := 0
	for name, c := range map[string]*client{"admin": w.adminA, "reviewer": w.reviewerA, "editor": w.editorA1, "viewer": w.viewerA2, "editor2": w.editorA2} {
		var list struct{ Items []workflow.SubmissionSummary }
		c.must(200, "GET", "/api/v1/tenants/alpha/submissions", nil).json(t, &list)
		for _, it := range list.Items {
			var v workflow.SubmissionView
			c.must(200, "GET", subPath(it.ID), nil).json(t, &v)
			if !slices.Equal(it.AllowedActions, v.AllowedActions) || it.Capabilities != v.Capabilities {
				t.Errorf("%s, %s: the list says %v %+v, the detail %v %+v", name, it.Title, it.AllowedActions, it.Capabilities, v.AllowedActions, v.Capabilities)
			}
			compared++
		}
	}
	var v workflow.SubmissionView
	w.reviewerA.must(200, "GET", subPath(w.submissionA.ID), nil).json(t, &v)
	if slices.Contains(v.AllowedActions, workflow.ActionApprove) {
		t.Error("the reviewer who approved may approve the same revision again")
	}
	if compared < 7 {
		t.Errorf("only %d compared", compared)
	}
}
