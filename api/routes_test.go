package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/workflow"
)

// publicRoutes may be reached without logging in; every other /api/v1 route needs a
// login and declares its permission.
var publicRoutes = []string{"POST /api/v1/auth/login", "GET /api/v1/openapi.json", "GET /api/v1/healthz", "GET /api/v1/readyz",
	"GET /api/v1/evidence/:token", "POST /api/v1/auth/second-factor", "POST /api/v1/auth/second-factor/challenge"}

func TestEveryRouteDeclaresItsAccess(t *testing.T) {
	h := newDispatchHarness(t, dbtest.New(t, database.SQLite), dispatch.Outbox{Dir: t.TempDir()})
	declared := h.srv.RouteAccess()
	n := 0
	for _, r := range h.srv.Echo().Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1") {
			continue
		}
		n++
		key := r.Method + " " + r.Path
		a, ok := declared[key]
		switch {
		case !ok:
			t.Errorf("%s is registered without an access declaration (use Server.route)", key)
		case a.kind == accessPublic && !slices.Contains(publicRoutes, key):
			t.Errorf("%s is public but not in the list of public routes", key)
		case a.kind == accessTenant && !strings.Contains(r.Path, ":tenant"):
			t.Errorf("%s requires a tenant permission but has no :tenant parameter", key)
		}
	}
	if n < 10 {
		t.Fatalf("only %d /api/v1 routes found", n)
	}
}

// TestPermissionsExistInPolicy catches a route declaring a permission that no role has.
func TestPermissionsExistInPolicy(t *testing.T) {
	h := newDispatchHarness(t, dbtest.New(t, database.SQLite), dispatch.Outbox{Dir: t.TempDir()})
	all := map[auth.Permission]bool{}
	for _, role := range auth.Roles() {
		for _, p := range h.auth.Authorizer().RolePermissions(role) {
			all[p] = true
		}
	}
	for key, a := range h.srv.RouteAccess() {
		if a.kind == accessTenant && !all[a.perm] {
			t.Errorf("%s requires %q, which no role holds", key, a.perm)
		}
	}
}

// snapshot serialises every table a request could change (not the audit trail, which
// records the refusals), to prove that refused requests change nothing.
func snapshot(t *testing.T, db *database.DB) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"tenants", "organizations", "users", "memberships", "invitations", "api_tokens", "casbin_rule", "authz_state", "sessions",
		"auth_factors", "auth_recovery_codes", "auth_pending_logins",
		"cases", "submissions", "submission_contributors", "revisions", "approvals", "comments", "attachments",
		"dispatches", "deliveries", "tenant_events", "webhook_endpoints"} {
		var rows []map[string]any
		if err := db.Conn(context.Background()).Table(table).Order("1").Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			delete(r, "last_seen_at")
			delete(r, "last_used_at")
			j, _ := json.Marshal(r)
			b.Write(j)
		}
	}
	return b.String()
}

// fillPath replaces :tenant with the victim tenant's slug and every :id with the id of
// an object of the victim's, as owner lists it: from the collection route above the :id,
// or, where that is not a list route (attachments), from the list route of the same name
// nested under another object.
func fillPath(t *testing.T, h *harness, path, slug string, owner *client) string {
	t.Helper()
	parts := strings.Split(path, "/")
	for i, p := range parts {
		switch {
		case p == ":tenant":
			parts[i] = slug
		case p == ":token":
			parts[i] = "not-a-token" // a download link's (links_test.go tests real ones)
		case p == ":upload":
			// Resumable uploads are not listed; tus_test.go aims at real ones.
			parts[i] = database.NewID()
		case strings.HasPrefix(p, ":"):
			collection := strings.Join(parts[:i], "/")
			if owner.do("GET", collection, nil).Code == http.StatusNotFound {
				name := parts[i-1]
				for key := range h.srv.RouteAccess() {
					m, other, _ := strings.Cut(key, " ")
					if m == "GET" && strings.HasSuffix(other, "/:id/"+name) {
						collection = fillPath(t, h, other, slug, owner)
						break
					}
				}
			}
			var l struct {
				Items []map[string]any `json:"items"`
			}
			owner.must(200, "GET", collection, nil).json(t, &l)
			if len(l.Items) == 0 {
				t.Fatalf("%s: the fixture has no object at %s to aim at", path, collection)
			}
			first := l.Items[0]
			if id, ok := first["id"]; ok {
				parts[i] = fmt.Sprint(id)
			} else if d, ok := first["domain"]; ok {
				parts[i] = fmt.Sprint(d) // sender domains are addressed by name
			} else {
				parts[i] = fmt.Sprint(first["number"]) // revisions are addressed by number
			}
		}
	}
	return strings.Join(parts, "/")
}

// TestIsolationMatrix is generated from the route table: for every route that acts on a
// tenant's objects, users of another tenant and members of another organization without
// the permission try tenant alpha's ids in the path and body. They get 404 or 403, and
// nothing changes.
func TestIsolationMatrix(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newDispatchHarness(t, db, dispatch.Outbox{Dir: t.TempDir()})
		w := h.world()
		// A webhook of alpha's, whose log fills as the submission below is dispatched,
		// so that the webhook routes have targets.
		hookLogged := fixtureWebhook(t, w)
		// A dispatched submission, so that the dispatch routes have a target.
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
		var sent workflow.SubmissionView
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
			"kind": "follow_up", "title": "Sent " + secretMarker, "body": "b", "language": "en"}).json(t, &sent)
		w.editorA1.upload(201, sent.ID, "sent evidence.txt", "text/plain", []byte("Sent statement "+secretMarker+"\n"))
		w.editorA1.must(200, "POST", subPath(sent.ID, "/transitions"), map[string]string{"action": "submit"})
		w.reviewerA.must(201, "POST", subPath(sent.ID, "/comments"), map[string]any{"body": "ok " + secretMarker})
		approveAndWait(t, w, sent.ID, workflow.Dispatched)
		hookLogged()
		fixtureCorrespondence(t, h, w)
		// An API token of alpha's, so that /me/tokens/:id has a target.
		w.editorA1.must(201, "POST", "/api/v1/me/tokens", map[string]string{"name": "alpha's"})
		// A second factor of alpha's editor (pending), so that /me/factors/:id has a target.
		w.editorA1.must(201, "POST", "/api/v1/me/factors", map[string]string{"type": "totp", "name": "editor's phone"})
		var betaTok auth.NewToken
		// Every scope, so that the tenant checks, not the scope check, answer.
		w.adminB.must(201, "POST", "/api/v1/me/tokens", map[string]any{"name": "beta's", "scopes": auth.AllScopes()}).json(t, &betaTok)
		betaREST := &client{h: h, ip: "203.0.113.66", bearer: betaTok.Token}
		// Invitations: one to alpha (for alpha's invitation routes), and one from beta to
		// alpha's editor (for /me/invitations/:id, which nobody else may answer).
		w.adminA.must(201, "POST", "/api/v1/tenants/alpha/users", map[string]any{"email": "guest@elsewhere.test", "name": "Guest",
			"password": testPassword, "organization_id": w.orgA2.ID, "roles": []string{"viewer"}})
		w.adminB.must(201, "POST", "/api/v1/tenants/beta/users", map[string]any{"email": "editor@alpha.test", "name": "Editor",
			"password": testPassword, "organization_id": w.orgB.ID, "roles": []string{"viewer"}})

		// A body that names alpha's objects wherever a body can.
		body := map[string]any{"name": "Intruder", "slug": "intrusion", "email": "intruder@beta.test", "password": testPassword,
			"organization_id": w.orgA2.ID, "roles": []string{"tenant_admin"}, "country": "FR", "kind": "affiliate", "active": false,
			"case_id": w.caseA.ID, "title": "Hijacked", "language": "en", "action": "withdraw", "comment": "no", "number": "1"}

		routes := h.srv.RouteAccess()
		keys := make([]string, 0, len(routes))
		for k := range routes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		before := snapshot(t, db)
		checked := 0
		for _, key := range keys {
			a := routes[key]
			method, path, _ := strings.Cut(key, " ")
			if !strings.HasPrefix(path, "/api/v1") || a.kind == accessPublic {
				continue
			}
			switch {
			case a.kind == accessTenant:
				target := fillPath(t, h, path, "alpha", w.super)
				for name, intruder := range map[string]*client{"beta admin (session)": w.adminB, "beta admin (token)": betaREST} {
					r := intruder.do(method, target, bodyFor(method, h.srv.docs[key], body))
					if strings.Contains(r.Body.String(), secretMarker) {
						t.Errorf("%s %s as %s: the answer shows alpha's submission", method, target, name)
					}
					if r.Code != http.StatusNotFound {
						t.Errorf("%s %s as %s: %d, want 404; body %s", method, target, name, r.Code, r.Body)
					}
				}
				// A viewer of another organization of alpha: refused wherever the role lacks the
				// permission or the object is organization A1's, and never shown A1's text.
				r := w.viewerA2.do(method, target, bodyFor(method, h.srv.docs[key], body))
				switch {
				case strings.Contains(r.Body.String(), secretMarker):
					t.Errorf("%s %s as alpha's viewer of another organization: the answer shows A1's submission: %s", method, target, r.Body)
				case !slices.Contains(h.auth.Authorizer().RolePermissions(auth.RoleViewer), a.perm) || orgOwned(path):
					if r.Code != http.StatusForbidden && r.Code != http.StatusNotFound {
						t.Errorf("%s %s as alpha's viewer of another organization: %d, want 403/404", method, target, r.Code)
					}
				case method != http.MethodGet:
					t.Errorf("%s %s as a viewer: %d; a viewer changes nothing", method, target, r.Code)
				}
				// An editor of another organization may draft its own, never touch A1's.
				if orgOwned(path) {
					r := w.editorA2.do(method, target, bodyFor(method, h.srv.docs[key], body))
					if strings.Contains(r.Body.String(), secretMarker) || (r.Code != http.StatusForbidden && r.Code != http.StatusNotFound) {
						t.Errorf("%s %s as an editor of another organization: %d %s, want 403/404", method, target, r.Code, r.Body)
					}
				}
				checked++
			case a.kind == accessPlatform:
				// Platform routes, some about one tenant (/tenants/:tenant/sender-domains).
				target := path
				if strings.Contains(path, "/:") {
					target = fillPath(t, h, path, "alpha", w.super)
				}
				for _, c := range []*client{w.adminA, w.adminB, betaREST} {
					if r := c.do(method, target, bodyFor(method, h.srv.docs[key], body)); r.Code != http.StatusForbidden {
						t.Errorf("%s %s as a tenant admin: %d, want 403", method, target, r.Code)
					}
				}
				checked++
			case strings.Contains(path, "/:"):
				// Per-user objects outside tenants (/me/tokens/:id): another user's id is 404.
				target := fillPath(t, h, path, "alpha", w.editorA1)
				if r := w.adminB.do(method, target, bodyFor(method, h.srv.docs[key], body)); r.Code != http.StatusNotFound {
					t.Errorf("%s %s as another user: %d, want 404", method, target, r.Code)
				}
				checked++
			}
		}
		if checked < 8 {
			t.Fatalf("only %d routes checked", checked)
		}
		if after := snapshot(t, db); after != before {
			t.Error("refused requests changed the database")
		}
	})
}

// orgOwned reports whether a route addresses an object that belongs to one
// organization: a submission, or what hangs off one.
func orgOwned(path string) bool {
	for _, p := range []string{"/submissions/:id", "/attachments/:id", "/dispatches/:id"} {
		if strings.Contains(path, p) {
			return true
		}
	}
	return false
}

// bodyFor picks from body the fields the route's request accepts, so the request gets
// past decoding to the checks under test.
func bodyFor(method string, doc Doc, body map[string]any) any {
	if method == http.MethodGet || method == http.MethodDelete {
		return nil
	}
	out := map[string]any{}
	for _, f := range requestFields(doc) {
		if v, ok := body[f]; ok {
			out[f] = v
		}
	}
	return out
}
