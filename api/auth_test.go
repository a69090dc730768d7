package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

func TestLoginLogoutAndSessionCookie(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		h.world()
		c := h.anonymous()
		r := c.loginAs("Editor@Alpha.test ", testPassword) // e-mail is case- and space-insensitive
		if r.Code != 200 {
			t.Fatalf("login: %d %s", r.Code, r.Body)
		}
		ck := c.cookie
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure {
			t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/, not Secure over http", ck)
		}
		if len(ck.Value) < 22 { // 16 bytes base64url; ours are 32 bytes
			t.Errorf("session token %q is too short", ck.Value)
		}
		if c.csrf == "" {
			t.Error("login returned no CSRF token")
		}
		var me meResponse
		c.must(200, "GET", "/api/v1/me", nil).json(t, &me)
		if me.User.Email != "editor@alpha.test" || len(me.Memberships) != 1 || me.Memberships[0].Tenant.Slug != "alpha" ||
			!slices.Equal(me.Memberships[0].Roles, []string{"editor"}) || me.CSRFToken != c.csrf {
			t.Errorf("/me = %+v", me)
		}
		// The token is stored hashed: the database never holds the cookie's value.
		var n int64
		db.Conn(context.Background()).Table("sessions").Where("token_hash = ?", ck.Value).Count(&n)
		if n != 0 {
			t.Error("the session token is stored in clear")
		}
		// A new login gives a new token and ends the session it came with.
		old := *ck
		c.loginAs("editor@alpha.test", testPassword)
		if c.cookie.Value == old.Value {
			t.Error("login reused the session token")
		}
		stale := h.anonymous()
		stale.cookie = &old
		stale.must(401, "GET", "/api/v1/me", nil)

		c.must(204, "POST", "/api/v1/auth/logout", nil)
		p := c.must(401, "GET", "/api/v1/me", nil).problem(t)
		if p["code"] != "unauthenticated" {
			t.Errorf("after logout: %v", p)
		}
	})
}

func TestLoginFailuresLookAlike(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		h.world()
		wrong := h.anonymous().loginAs("editor@alpha.test", "not the password at all")
		unknown := h.anonymous().loginAs("nobody@alpha.test", "not the password at all")
		for _, r := range []response{wrong, unknown} {
			if r.Code != 401 {
				t.Fatalf("status %d, want 401: %s", r.Code, r.Body)
			}
		}
		pw, pu := wrong.problem(t), unknown.problem(t)
		delete(pw, "request_id")
		delete(pu, "request_id")
		if !mapsEqual(pw, pu) {
			t.Errorf("wrong password and unknown user answer differently:\n%v\n%v", pw, pu)
		}
		// Missing fields are named.
		r := h.anonymous().do("POST", "/api/v1/auth/login", map[string]string{"email": ""})
		if r.Code != 422 || !slices.Equal(fieldNames(r.problem(t)), []string{"email", "password"}) {
			t.Errorf("empty login: %d %s", r.Code, r.Body)
		}
	})
}

func mapsEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestSessionExpiry(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		h.world()

		t.Run("idle", func(t *testing.T) {
			c := h.login("editor@alpha.test")
			h.clock.Advance(90 * time.Minute)
			c.must(200, "GET", "/api/v1/me", nil) // activity renews the idle timer
			h.clock.Advance(90 * time.Minute)
			c.must(200, "GET", "/api/v1/me", nil)
			h.clock.Advance(2*time.Hour + time.Second)
			if p := c.must(401, "GET", "/api/v1/me", nil).problem(t); p["code"] != "session_expired" {
				t.Errorf("idle session: %v", p)
			}
		})
		t.Run("absolute", func(t *testing.T) {
			c := h.login("editor@alpha.test")
			for i := 0; i < 12; i++ { // busy all day, never idle
				h.clock.Advance(59 * time.Minute)
				c.must(200, "GET", "/api/v1/me", nil)
			}
			h.clock.Advance(13 * time.Minute) // 12 h 01 min after login
			if p := c.must(401, "GET", "/api/v1/me", nil).problem(t); p["code"] != "session_expired" {
				t.Errorf("session past 12 h: %v", p)
			}
		})
	})
}

func TestCSRF(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		h.world()
		c := h.login("editor@alpha.test")
		token := c.csrf

		c.csrf = ""
		if p := c.must(403, "POST", "/api/v1/me/tokens", map[string]string{"name": "ci"}).problem(t); p["code"] != "csrf_failed" {
			t.Errorf("no CSRF header: %v", p)
		}
		c.csrf = "forged"
		c.must(403, "POST", "/api/v1/me/tokens", map[string]string{"name": "ci"})
		c.must(403, "POST", "/api/v1/auth/logout", nil)
		c.must(200, "GET", "/api/v1/me/tokens", nil) // reads need none
		var list list[auth.APIToken]
		c.must(200, "GET", "/api/v1/me/tokens", nil).json(t, &list)
		if len(list.Items) != 0 {
			t.Fatalf("a token was created without CSRF token: %+v", list.Items)
		}
		// Another session's token does not fit this session.
		other := h.login("viewer@alpha.test")
		c.csrf = other.csrf
		c.must(403, "POST", "/api/v1/me/tokens", map[string]string{"name": "ci"})
		c.csrf = token
		c.must(201, "POST", "/api/v1/me/tokens", map[string]string{"name": "ci"})
	})
}

func TestAPITokens(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		h.world()
		browser := h.login("reviewer@alpha.test")
		var tok auth.NewToken
		browser.must(201, "POST", "/api/v1/me/tokens", map[string]any{"name": "federation CRM", "can_create_tokens": true,
			"scopes": []string{"read", "write", "step_up"}}).json(t, &tok)
		if !strings.HasPrefix(tok.Token, "up_") || len(tok.Token) < 40 || !strings.HasPrefix(tok.Token, tok.Prefix) {
			t.Fatalf("token %+v", tok)
		}
		rest := &client{h: h, ip: "203.0.113.9", bearer: tok.Token}
		// No CSRF token needed for bearer requests, mutating or not.
		var me meResponse
		rest.must(200, "GET", "/api/v1/me", nil).json(t, &me)
		if me.User.Email != "reviewer@alpha.test" || me.CSRFToken != "" {
			t.Errorf("/me by token: %+v", me)
		}
		var second auth.NewToken
		rest.must(201, "POST", "/api/v1/me/tokens", map[string]any{"name": "short-lived", "expires_at": h.clock.Now().Add(time.Hour).Format(time.RFC3339)}).json(t, &second)

		// The list shows names, prefixes and last use, never the token.
		r := browser.must(200, "GET", "/api/v1/me/tokens", nil)
		if strings.Contains(r.Body.String(), tok.Token) || strings.Contains(r.Body.String(), second.Token) {
			t.Fatal("the token list reveals a token")
		}
		var l list[auth.APIToken]
		r.json(t, &l)
		if len(l.Items) != 2 || l.Items[0].ID != second.ID || l.Items[1].LastUsedAt == nil {
			t.Errorf("tokens = %+v", l.Items)
		}
		// Pagination: one per page.
		var p1, p2 list[auth.APIToken]
		browser.must(200, "GET", "/api/v1/me/tokens?limit=1", nil).json(t, &p1)
		browser.must(200, "GET", "/api/v1/me/tokens?limit=1&cursor="+p1.NextCursor, nil).json(t, &p2)
		if len(p1.Items) != 1 || len(p2.Items) != 1 || p1.Items[0].ID == p2.Items[0].ID || p2.NextCursor != "" {
			t.Errorf("pages %+v / %+v", p1, p2)
		}

		// Expiry.
		short := &client{h: h, ip: "203.0.113.9", bearer: second.Token}
		short.must(200, "GET", "/api/v1/me", nil)
		h.clock.Advance(time.Hour + time.Second)
		if p := short.must(401, "GET", "/api/v1/me", nil).problem(t); p["code"] != "token_expired" {
			t.Errorf("expired token: %v", p)
		}
		// Revocation, by its owner only.
		other := h.login("editor@alpha.test")
		other.must(404, "DELETE", "/api/v1/me/tokens/"+tok.ID, nil)
		rest.must(200, "GET", "/api/v1/me", nil)
		browser.must(204, "DELETE", "/api/v1/me/tokens/"+tok.ID, nil)
		rest.must(401, "GET", "/api/v1/me", nil)
		browser.must(404, "DELETE", "/api/v1/me/tokens/"+tok.ID, nil)
		browser.must(404, "DELETE", "/api/v1/me/tokens/not-a-uuid", nil)

		// Malformed headers and unknown tokens.
		for _, hdr := range []string{"Basic abc", "Bearer", "Bearer up_unknown", "Bearer notaportaltoken"} {
			req := h.anonymous()
			req.bearer = ""
			resp := req.doWithAuthorization(hdr)
			if resp.Code != 401 {
				t.Errorf("Authorization %q: %d", hdr, resp.Code)
			}
		}
	})
}

func (c *client) doWithAuthorization(value string) response {
	c.h.t.Helper()
	c.bearer = ""
	rec := c.do("GET", "/api/v1/me", nil)
	if value == "" {
		return rec
	}
	// Rebuild with a raw header value.
	r := c.rawGet("/api/v1/me", map[string]string{"Authorization": value})
	return r
}

func (c *client) rawGet(path string, headers map[string]string) response {
	req, _ := http.NewRequest("GET", path, nil)
	req.RemoteAddr = c.ip + ":40000"
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	c.h.srv.Handler().ServeHTTP(rec, req)
	c.h.checkExchange(req, nil, rec)
	return response{rec}
}

func TestUserManagement(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()

		var users list[auth.Member]
		w.adminA.must(200, "GET", "/api/v1/tenants/alpha/users", nil).json(t, &users)
		if len(users.Items) != 5 {
			t.Fatalf("alpha has %d members, want 5: %+v", len(users.Items), users.Items)
		}
		for _, u := range users.Items {
			if u.Email == "admin@beta.test" {
				t.Error("a beta user is listed in alpha")
			}
		}

		// Role change: a removed role is gone from the next request on; the session stays.
		draft := map[string]any{"case_id": w.caseA.ID, "kind": "follow_up", "title": "T", "body": "b", "language": "en"}
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", draft)
		var m auth.Member
		w.adminA.must(200, "PATCH", "/api/v1/tenants/alpha/users/"+w.editorA1ID, map[string]any{"roles": []string{"viewer"}}).json(t, &m)
		if !slices.Equal(m.Roles, []string{"viewer"}) {
			t.Errorf("roles after change: %v", m.Roles)
		}
		w.editorA1.must(403, "POST", "/api/v1/tenants/alpha/submissions", draft)
		editor := w.editorA1
		var me meResponse
		editor.must(200, "GET", "/api/v1/me", nil).json(t, &me)
		if !slices.Equal(me.Memberships[0].Roles, []string{"viewer"}) {
			t.Errorf("roles seen by the user: %v", me.Memberships[0].Roles)
		}

		// Deactivation: the tenant disappears for the user at once, the record stays.
		w.adminA.must(204, "DELETE", "/api/v1/tenants/alpha/users/"+w.editorA1ID, nil)
		editor.must(404, "GET", "/api/v1/tenants/alpha", nil)
		editor.must(200, "GET", "/api/v1/me", nil).json(t, &me)
		if len(me.Memberships) != 0 {
			t.Errorf("deactivated member still sees %+v", me.Memberships)
		}
		// Reactivation needs roles.
		w.adminA.must(422, "PATCH", "/api/v1/tenants/alpha/users/"+w.editorA1ID, map[string]any{"active": true})
		w.adminA.must(200, "PATCH", "/api/v1/tenants/alpha/users/"+w.editorA1ID, map[string]any{"active": true, "roles": []string{"editor"}})
		editor.must(200, "GET", "/api/v1/tenants/alpha", nil)

		// The last tenant admin cannot be removed.
		var admin auth.Member
		for _, u := range users.Items {
			if u.Email == "admin@alpha.test" {
				admin = u
			}
		}
		if p := w.adminA.must(409, "PATCH", "/api/v1/tenants/alpha/users/"+admin.ID, map[string]any{"roles": []string{"viewer"}}).problem(t); p["code"] != "last_tenant_admin" {
			t.Errorf("demoting the last admin: %v", p)
		}
		w.adminA.must(409, "DELETE", "/api/v1/tenants/alpha/users/"+admin.ID, nil)

		// An existing user of another tenant is invited, never added: see TestInvitations.
		w.adminB.must(201, "POST", "/api/v1/tenants/beta/users", map[string]any{
			"email": "viewer@alpha.test", "name": "V", "password": "another long password", "organization_id": w.orgB.ID, "roles": []string{"viewer"}})
		viewer := h.login("viewer@alpha.test")
		viewer.must(200, "GET", "/api/v1/me", nil).json(t, &me)
		if len(me.Memberships) != 1 {
			t.Errorf("memberships %+v, want alpha only until the invitation is accepted", me.Memberships)
		}
		var tenants list[auth.Tenant]
		w.adminA.must(200, "GET", "/api/v1/tenants", nil).json(t, &tenants)
		if len(tenants.Items) != 1 || tenants.Items[0].Slug != "alpha" {
			t.Errorf("alpha's admin sees tenants %+v", tenants.Items)
		}
		w.adminB.must(409, "POST", "/api/v1/tenants/beta/users", map[string]any{
			"email": "viewer@alpha.test", "name": "V", "password": "another long password", "organization_id": w.orgB.ID, "roles": []string{"viewer"}})
	})
}

func TestAuditEvents(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		h.anonymous().loginAs("editor@alpha.test", "wrong password!!")
		c := h.login("editor@alpha.test")
		var tok auth.NewToken
		c.must(201, "POST", "/api/v1/me/tokens", map[string]string{"name": "x"}).json(t, &tok)
		c.must(204, "DELETE", "/api/v1/me/tokens/"+tok.ID, nil)
		c.must(204, "POST", "/api/v1/auth/logout", nil)
		w.adminA.must(200, "PATCH", "/api/v1/tenants/alpha/users/"+w.viewerA2ID, map[string]any{"roles": []string{"viewer", "editor"}})
		w.viewerA2.must(403, "POST", "/api/v1/tenants/alpha/organizations", map[string]string{"name": "X", "country": "FR", "kind": "affiliate"})

		var actions []string
		db.Conn(context.Background()).Table("events").Order("id").Pluck("action", &actions)
		for _, want := range []string{"tenant.created", "organization.created", "user.created", "login", "login.failed",
			"token.created", "token.revoked", "logout", "user.updated", "authorization.denied"} {
			if !slices.Contains(actions, want) {
				t.Errorf("no %s event among %v", want, actions)
			}
		}
		var ev audit.Event
		db.Conn(context.Background()).Table("events").Where("action = 'user.updated'").First(&ev)
		if ev.TenantID == nil || *ev.TenantID != w.tenantA.ID || ev.ActorID == nil || ev.IP == "" ||
			!strings.Contains(ev.Details, `"roles_before":["viewer"]`) {
			t.Errorf("user.updated event %+v", ev)
		}
	})
}

// TestRoleChangeReachesSecondProcess runs two portal processes on one database: a
// role given or removed through one holds in the other from its next request on, for
// the tenant routes and for /me.
func TestRoleChangeReachesSecondProcess(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, d database.Dialect) {
		target := dbtest.Target(t, d)
		open := func() *database.DB {
			db, err := database.Open(context.Background(), target, database.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if _, err := db.Migrate(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			return db
		}
		one := newHarness(t, open())
		w := one.world()
		two := newHarness(t, open())

		// The same bearer token works against both processes.
		var tok auth.NewToken
		w.viewerA2.must(201, "POST", "/api/v1/me/tokens", map[string]string{"name": "two"}).json(t, &tok)
		onTwo := &client{h: two, ip: "203.0.113.5", bearer: tok.Token}
		// viewer lacks organization:manage; grant tenant_admin through process one...
		onTwo.must(403, "POST", "/api/v1/tenants/alpha/organizations", map[string]string{"name": "New", "country": "DE", "kind": "affiliate"})
		// (process two has just looked at the policy: the change lands within what was
		// its check interval, and must hold on its next request all the same).
		for i := 0; i < 5; i++ {
			w.adminA.must(200, "PATCH", "/api/v1/tenants/alpha/users/"+w.viewerA2ID, map[string]any{"roles": []string{"viewer", "tenant_admin"}})
			onTwo.must(200, "GET", "/api/v1/tenants/alpha/users", nil)
			// ...and take it away again: process two refuses on its next request.
			w.adminA.must(200, "PATCH", "/api/v1/tenants/alpha/users/"+w.viewerA2ID, map[string]any{"roles": []string{"viewer"}})
			onTwo.must(403, "GET", "/api/v1/tenants/alpha/users", nil)
			var me struct {
				Memberships []struct{ Roles []string }
			}
			onTwo.must(200, "GET", "/api/v1/me", nil).json(t, &me)
			if len(me.Memberships) != 1 || len(me.Memberships[0].Roles) != 1 {
				t.Fatalf("round %d: /me on process two shows %+v, want the viewer role only", i+1, me.Memberships)
			}
		}
		// Deactivation through one locks the token out of the tenant on two at once.
		w.adminA.must(204, "DELETE", "/api/v1/tenants/alpha/users/"+w.viewerA2ID, nil)
		onTwo.must(404, "GET", "/api/v1/tenants/alpha", nil)
	})
}

func waitFor(t *testing.T, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if ok() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConcurrentEnforceAndPolicyChanges is for the race detector: decisions, reloads
// and role changes at once.
func TestConcurrentEnforceAndPolicyChanges(t *testing.T) {
	db := dbtest.New(t, database.SQLite)
	h := newHarness(t, db)
	w := h.world()
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	authz := h.auth.Authorizer()
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				authz.Can(w.viewerA2ID, w.tenantA.ID, auth.PermUserRead)
				authz.RolesOf(w.viewerA2ID, w.tenantA.ID)
				_ = authz.Refresh(ctx)
			}
		}()
	}
	for i := 0; i < 20; i++ {
		roles := []string{"viewer"}
		if i%2 == 0 {
			roles = append(roles, "reviewer")
		}
		w.adminA.must(200, "PATCH", "/api/v1/tenants/alpha/users/"+w.viewerA2ID, map[string]any{"roles": roles})
		if got := authz.Can(w.viewerA2ID, w.tenantA.ID, auth.PermSubmissionReview); got != (i%2 == 0) {
			t.Errorf("round %d: review permission %v right after the change", i, got)
		}
	}
	close(stop)
	wg.Wait()
}
