package api

import (
	"context"
	"encoding/csv"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

const auditPath = "/api/v1/tenants/alpha/audit-events"

// auditView reads the whole audit view of path (with its query), following Link.
func auditView(t *testing.T, c *client, path string) []audit.Event {
	t.Helper()
	var out []audit.Event
	for path != "" {
		r := c.must(200, "GET", path, nil)
		var page struct {
			Items      []audit.Event
			NextCursor string `json:"next_cursor"`
		}
		r.json(t, &page)
		for _, e := range page.Items {
			if slices.ContainsFunc(out, func(o audit.Event) bool { return o.ID == e.ID }) {
				t.Fatalf("event %d (%s) appears twice in %s", e.ID, e.Action, path)
			}
		}
		out = append(out, page.Items...)
		path = nextLink(t, r)
		if (path == "") != (page.NextCursor == "") {
			t.Fatalf("Link %q but next_cursor %q", path, page.NextCursor)
		}
	}
	return out
}

var linkNext = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// nextLink is the address of the next page an answer links to, or "".
func nextLink(t *testing.T, r response) string {
	t.Helper()
	l := r.Header().Get("Link")
	if l == "" {
		return ""
	}
	m := linkNext.FindStringSubmatch(l)
	if m == nil {
		t.Fatalf("Link %q", l)
	}
	return m[1]
}

// findEvent is the newest event of action in events, or nil.
func findEvent(events []audit.Event, action string) *audit.Event {
	for i := range events {
		if events[i].Action == action {
			return &events[i]
		}
	}
	return nil
}

// TestAuditViewAccess: tenant admins and superadmins read the tenant's audit trail;
// other members are refused (403), other tenants' admins find nothing (404), and no one
// sees another tenant's events.
func TestAuditViewAccess(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		for _, c := range []*client{w.reviewerA, w.editorA1, w.viewerA2, w.editorA2} {
			if p := c.must(403, "GET", auditPath, nil).problem(t); p["code"] != "forbidden" {
				t.Errorf("%s: %v", c.user.Email, p)
			}
			c.must(403, "GET", auditPath+".csv", nil)
		}
		w.adminB.must(404, "GET", auditPath, nil)
		w.adminB.must(404, "GET", auditPath+".csv", nil)
		h.anonymous().must(401, "GET", auditPath, nil)

		alpha := auditView(t, w.adminA, auditPath)
		if len(alpha) < 10 {
			t.Fatalf("%d events in alpha's view", len(alpha))
		}
		if super := auditView(t, w.super, auditPath); len(super) < len(alpha) {
			t.Errorf("the superadmin sees %d events, the tenant admin %d", len(super), len(alpha))
		}
		for _, e := range alpha {
			if e.TenantID != nil && *e.TenantID != w.tenantA.ID {
				t.Errorf("alpha's view shows an event of tenant %s: %+v", *e.TenantID, e)
			}
			if e.TenantID == nil && !slices.Contains(audit.AccountActions(), e.Action) {
				t.Errorf("alpha's view shows a platform event that is not an account event: %+v", e)
			}
		}
		for _, e := range auditView(t, w.adminB, "/api/v1/tenants/beta/audit-events") {
			// Beta's own events, and the account events of its members (its admin
			// enrolled a second factor).
			if (e.TenantID == nil && !slices.Contains(audit.AccountActions(), e.Action)) || (e.TenantID != nil && *e.TenantID != w.tenantB.ID) {
				t.Errorf("beta's view shows %+v", e)
			}
		}
		// A read-only token of a tenant admin reads it too.
		reader, _ := tokenClient(t, w.adminA, map[string]any{"name": "audit reader", "scopes": []string{"read"}})
		reader.must(200, "GET", auditPath, nil)
	})
}

// TestAuditViewFilters: actor, action (exact or prefix), submission and time; bad
// values are refused naming the parameter; pages follow each other without gap or
// repetition.
func TestAuditViewFilters(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		all := auditView(t, w.adminA, auditPath+"?limit=100")
		for i := 1; i < len(all); i++ {
			if all[i].ID >= all[i-1].ID {
				t.Fatalf("not newest first: %d after %d", all[i].ID, all[i-1].ID)
			}
		}

		t.Run("pages", func(t *testing.T) {
			paged := auditView(t, w.adminA, auditPath+"?limit=2")
			if len(paged) != len(all) {
				t.Fatalf("%d events over pages of 2, %d in one", len(paged), len(all))
			}
			for i := range all {
				if paged[i].ID != all[i].ID {
					t.Fatalf("page order differs at %d: %d, want %d", i, paged[i].ID, all[i].ID)
				}
			}
		})
		t.Run("actor", func(t *testing.T) {
			got := auditView(t, w.adminA, auditPath+"?actor_id="+w.editorA1ID)
			if len(got) == 0 {
				t.Fatal("nothing by the editor")
			}
			for _, e := range got {
				if e.ActorID == nil || *e.ActorID != w.editorA1ID {
					t.Errorf("not the editor's: %+v", e)
				}
			}
		})
		t.Run("action", func(t *testing.T) {
			exact := auditView(t, w.adminA, auditPath+"?action=submission.commented")
			if len(exact) != 1 || exact[0].Action != "submission.commented" {
				t.Errorf("exact: %+v", exact)
			}
			prefix := auditView(t, w.adminA, auditPath+"?action=submission.")
			if len(prefix) < 3 {
				t.Errorf("prefix: %d events", len(prefix))
			}
			for _, e := range prefix {
				if !strings.HasPrefix(e.Action, "submission.") {
					t.Errorf("prefix submission. gave %s", e.Action)
				}
			}
			// "_" is not a wildcard.
			if got := auditView(t, w.adminA, auditPath+"?action=submission_"); len(got) != 0 {
				t.Errorf("submission_ gave %+v", got)
			}
		})
		t.Run("submission", func(t *testing.T) {
			got := auditView(t, w.adminA, auditPath+"?submission_id="+w.submissionA.ID)
			if len(got) < 3 {
				t.Errorf("%d events about the submission", len(got))
			}
			for _, e := range got {
				if e.ObjectType != "submission" || e.ObjectID != w.submissionA.ID {
					t.Errorf("not about the submission: %+v", e)
				}
			}
		})
		t.Run("time", func(t *testing.T) {
			h.clock.Advance(time.Hour)
			mark := h.clock.Now().Add(-time.Minute)
			w.adminA.must(201, "POST", "/api/v1/tenants/alpha/organizations", map[string]string{"name": "Later Union", "country": "KG", "kind": "affiliate"})
			since := auditView(t, w.adminA, auditPath+"?since="+url.QueryEscape(mark.Format(time.RFC3339Nano)))
			if len(since) != 1 || since[0].Action != "organization.created" {
				t.Errorf("since: %+v", since)
			}
			until := auditView(t, w.adminA, auditPath+"?until="+url.QueryEscape(mark.Format(time.RFC3339)))
			if len(until) != len(all) {
				t.Errorf("until: %d events, want the %d before", len(until), len(all))
			}
			both := auditView(t, w.adminA, auditPath+"?since="+url.QueryEscape(mark.Add(-2*time.Hour).Format(time.RFC3339))+
				"&until="+url.QueryEscape(mark.Format(time.RFC3339))+"&action=organization.created")
			if len(both) != 2 {
				t.Errorf("since and until: %d organizations created, want alpha's 2 of the fixture: %+v", len(both), both)
			}
		})
		t.Run("bad values", func(t *testing.T) {
			for query, field := range map[string]string{
				"actor_id=someone":                                      "actor_id",
				"submission_id=1":                                       "submission_id",
				"action=Settings.Updated":                               "action",
				"action=" + url.QueryEscape("a b"):                      "action",
				"since=yesterday":                                       "since",
				"until=2026-13-01T00:00:00Z":                            "until",
				"since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z": "until",
				"cursor=abc":                                            "cursor",
				"cursor=" + database.Cursor("-1"):                       "cursor",
				"cursor=" + database.Cursor("x"):                        "cursor",
				"limit=101":                                             "limit",
			} {
				for _, path := range []string{auditPath, auditPath + ".csv"} {
					if path == auditPath+".csv" && query == "limit=101" {
						continue // a file may hold up to 10000 rows
					}
					r := w.adminA.must(400, "GET", path+"?"+query, nil)
					if !slices.Contains(fieldNames(r.problem(t)), field) {
						t.Errorf("%s?%s: %s, want it to name %s", path, query, r.Body, field)
					}
				}
			}
			w.adminA.must(400, "GET", auditPath+".csv?limit=10001", nil)
		})
	})
}

// TestAuditViewCSV: the same view as CSV, with a header row, cells that a spreadsheet
// does not take for formulas, and files that continue through Link.
func TestAuditViewCSV(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		// An event whose cells begin with what a spreadsheet would run.
		if _, err := audit.Record(context.Background(), db, audit.Entry{TenantID: w.tenantA.ID, Action: "test.injection",
			ObjectType: "@SUM(A1:A9)", ObjectID: "=HYPERLINK(\"http://evil.test\",\"x\")", IP: "cli", At: h.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		all := auditView(t, w.adminA, auditPath+"?limit=100")
		r := w.adminA.must(200, "GET", auditPath+".csv", nil)
		if ct := r.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if cd := r.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, "audit-events-alpha.csv") {
			t.Errorf("Content-Disposition %q", cd)
		}
		if r.Header().Get("Link") != "" {
			t.Errorf("a whole view links to a next file: %s", r.Header().Get("Link"))
		}
		rows, err := csv.NewReader(strings.NewReader(r.Body.String())).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(rows[0], ",") != "id,seq,created_at,tenant_id,actor_id,action,object_type,object_id,ip,details,hash" {
			t.Errorf("header %q", rows[0])
		}
		if len(rows)-1 != len(all) {
			t.Fatalf("%d rows, %d events", len(rows)-1, len(all))
		}
		for i, row := range rows[1:] {
			if row[0] != strconv.FormatInt(all[i].ID, 10) || row[5] != all[i].Action || row[10] != all[i].Hash {
				t.Errorf("row %d %q, event %+v", i, row, all[i])
			}
			for _, cell := range row {
				if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
					t.Errorf("row %d: the cell %q would be a formula", i, cell)
				}
			}
		}
		injected := rows[1]
		if injected[5] != "test.injection" || injected[6] != "'@SUM(A1:A9)" || injected[7] != "'=HYPERLINK(\"http://evil.test\",\"x\")" {
			t.Errorf("injection row %q", injected)
		}

		// Files of 3 rows, one after another through Link, hold the same rows, the
		// filters kept.
		var joined [][]string
		path := auditPath + ".csv?limit=3&actor_id=" + w.super.user.ID
		files := 0
		for path != "" {
			r := w.adminA.must(200, "GET", path, nil)
			part, err := csv.NewReader(strings.NewReader(r.Body.String())).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(part) > 4 {
				t.Fatalf("a file of limit 3 holds %d rows", len(part)-1)
			}
			joined = append(joined, part[1:]...)
			path = nextLink(t, r)
			if files++; files > 50 {
				t.Fatal("the files do not end")
			}
		}
		want := auditView(t, w.adminA, auditPath+"?actor_id="+w.super.user.ID)
		if len(joined) != len(want) || files < 3 || len(want) == len(all) {
			t.Fatalf("%d rows in %d files, want %d", len(joined), files, len(want))
		}
		for i := range want {
			if joined[i][0] != strconv.FormatInt(want[i].ID, 10) {
				t.Errorf("row %d is event %s, want %d", i, joined[i][0], want[i].ID)
			}
		}
	})
}

// TestAuditViewAccountEvents: the view shows the account events of the tenant's current
// members, done by them or to them, from when they joined; not their logins, not other
// people's, not another tenant's.
func TestAuditViewAccountEvents(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		ctx := context.Background()
		record := func(action, actorID, objectID string, at time.Time) {
			t.Helper()
			if _, err := audit.Record(ctx, db, audit.Entry{ActorID: actorID, Action: action, ObjectType: "user", ObjectID: objectID, IP: "203.0.113.9", At: at}); err != nil {
				t.Fatal(err)
			}
		}
		now := h.clock.Now()
		// (The fixture's admins and reviewers enrolled second factors when they logged
		// in: the events below are told apart by actor.)
		record("second_factor.created", w.editorA1ID, w.editorA1ID, now)                        // by the member
		record("second_factor.reset", w.super.user.ID, w.viewerA2ID, now)                       // to a member, by a superadmin
		record("second_factor.removed", w.editorA1ID, w.editorA1ID, now.Add(-24*time.Hour))     // before they joined
		record("second_factor.created", w.adminB.user.ID, w.adminB.user.ID, now.Add(time.Hour)) // beta's admin
		record("token.created", w.editorA1ID, w.editorA1ID, now)                                // not an account event

		alpha := auditView(t, w.adminA, auditPath+"?action=second_factor.reset")
		alpha = append(alpha, auditView(t, w.adminA, auditPath+"?actor_id="+w.editorA1ID+"&action=second_factor.")...)
		if len(alpha) != 2 || alpha[0].Action != "second_factor.reset" || alpha[1].Action != "second_factor.created" {
			t.Fatalf("alpha's account events: %+v", alpha)
		}
		for _, e := range alpha {
			if e.TenantID != nil || e.IP != "203.0.113.0/24" {
				t.Errorf("account event %+v", e)
			}
		}
		if got := auditView(t, w.adminA, auditPath+"?actor_id="+w.super.user.ID+"&action=second_factor.reset"); len(got) != 1 {
			t.Errorf("the superadmin's reset by actor: %+v", got)
		}
		beta := auditView(t, w.adminB, "/api/v1/tenants/beta/audit-events?action=second_factor.")
		if len(beta) == 0 || !beta[0].CreatedAt.Equal(now.Add(time.Hour).UTC().Truncate(time.Microsecond)) {
			t.Errorf("beta's account events: %+v", beta)
		}
		for _, e := range beta {
			if *e.ActorID != w.adminB.user.ID {
				t.Errorf("beta's view shows another tenant's member's account event: %+v", e)
			}
		}
		// Logins and tokens are the member's own business.
		for _, e := range auditView(t, w.adminA, auditPath) {
			if e.TenantID == nil && (strings.HasPrefix(e.Action, "login") || strings.HasPrefix(e.Action, "token.")) {
				t.Errorf("alpha's view shows %s", e.Action)
			}
		}
		// A member removed is no longer followed.
		w.adminA.must(204, "DELETE", "/api/v1/tenants/alpha/users/"+w.editorA1ID, nil)
		if got := auditView(t, w.adminA, auditPath+"?actor_id="+w.editorA1ID+"&action=second_factor."); len(got) != 0 {
			t.Errorf("a former member's account events: %+v", got)
		}
	})
}
