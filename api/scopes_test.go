package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

// tokenClient creates a token from c's browser session with body and returns a REST
// client using it.
func tokenClient(t *testing.T, c *client, body map[string]any) (*client, auth.NewToken) {
	t.Helper()
	var tok auth.NewToken
	c.must(201, "POST", "/api/v1/me/tokens", body).json(t, &tok)
	return &client{h: c.h, ip: "203.0.113.40", bearer: tok.Token}, tok
}

// TestTokenScopes: read tokens read, write tokens write, admin tokens administer, and
// no scope adds a right the holder lacks.
func TestTokenScopes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		sub := "/api/v1/tenants/alpha/submissions/" + w.submissionA.ID
		reader, tok := tokenClient(t, w.reviewerA, map[string]any{"name": "reporting", "scopes": []string{"read"}})
		if !slices.Equal(tok.Scopes, auth.Scopes{"read"}) {
			t.Errorf("scopes %v", tok.Scopes)
		}
		reader.must(200, "GET", sub, nil)
		reader.must(200, "GET", sub+"/comments", nil)
		for _, r := range []response{
			reader.do("POST", sub+"/comments", map[string]string{"body": "no"}),
			reader.do("POST", sub+"/transitions", map[string]string{"action": "start_review"}),
			reader.do("PUT", "/api/v1/me/language", map[string]string{"language": "fr"}),
		} {
			if p := r.problem(t); r.Code != 403 || p["code"] != "insufficient_scope" {
				t.Errorf("read token writing: %d %v", r.Code, p)
			}
		}

		// The default is read and write: work, but no administration.
		writer, tok := tokenClient(t, w.adminA, map[string]any{"name": "crm"})
		if !slices.Equal(tok.Scopes, auth.Scopes{"read", "write"}) {
			t.Errorf("default scopes %v", tok.Scopes)
		}
		writer.must(201, "POST", "/api/v1/tenants/alpha/cases", map[string]any{"number": "9", "country": "KG", "title": "T", "complainants": []string{"X"}})
		var settings map[string]any
		writer.must(200, "GET", "/api/v1/tenants/alpha/settings", nil).json(t, &settings)
		for _, r := range []response{
			writer.do("PUT", "/api/v1/tenants/alpha/settings", settings),
			writer.do("POST", "/api/v1/tenants/alpha/organizations", map[string]string{"name": "N", "country": "FR", "kind": "affiliate"}),
			writer.do("POST", "/api/v1/tenants/alpha/users", map[string]any{"email": "x@alpha.test", "name": "X", "organization_id": w.orgA1.ID, "roles": []string{"viewer"}}),
			writer.do("DELETE", "/api/v1/tenants/alpha/users/"+w.viewerA2ID, nil),
		} {
			if p := r.problem(t); r.Code != 403 || p["code"] != "insufficient_scope" {
				t.Errorf("write token administering: %d %v", r.Code, p)
			}
		}
		admin, _ := tokenClient(t, w.adminA, map[string]any{"name": "provisioning", "scopes": []string{"read", "write", "admin"}})
		// Settings are an act that matters: an admin token without step_up is asked to
		// re-authenticate (ADR 0032), one with it may.
		if p := admin.must(401, "PUT", "/api/v1/tenants/alpha/settings", settings).problem(t); p["code"] != "reauthentication_required" {
			t.Errorf("admin token without step_up changing settings: %v", p)
		}
		stepUp, _ := tokenClient(t, w.adminA, map[string]any{"name": "provisioning", "scopes": []string{"read", "write", "admin", "step_up"}})
		stepUp.must(200, "PUT", "/api/v1/tenants/alpha/settings", settings)
		admin.must(201, "POST", "/api/v1/tenants/alpha/organizations", map[string]string{"name": "N", "country": "FR", "kind": "affiliate"})
		// Platform routes are administration too.
		superWriter, _ := tokenClient(t, w.super, map[string]any{"name": "platform"})
		if p := superWriter.do("POST", "/api/v1/tenants", map[string]string{"slug": "gamma", "name": "G"}).problem(t); p["code"] != "insufficient_scope" {
			t.Errorf("write token creating a tenant: %v", p)
		}
		// An editor's admin token administers nothing: the roles still decide.
		editorAdmin, _ := tokenClient(t, w.editorA1, map[string]any{"name": "x", "scopes": []string{"admin", "read"}})
		if p := editorAdmin.do("PUT", "/api/v1/tenants/alpha/settings", settings).problem(t); p["code"] != "forbidden" {
			t.Errorf("editor's admin token: %v", p)
		}

		// Invalid scopes name the field.
		for _, scopes := range [][]string{{}, {"delete"}, {"read", "Read"}} {
			r := w.adminA.do("POST", "/api/v1/me/tokens", map[string]any{"name": "bad", "scopes": scopes})
			if r.Code != 422 || !slices.Equal(fieldNames(r.problem(t)), []string{"scopes"}) {
				t.Errorf("scopes %q: %d %s", scopes, r.Code, r.Body)
			}
		}

		// A token creating a token gives at most its own scopes; by default those of
		// read and write it has.
		maker, _ := tokenClient(t, w.adminA, map[string]any{"name": "maker", "can_create_tokens": true, "scopes": []string{"read", "write", "step_up"}})
		if p := maker.do("POST", "/api/v1/me/tokens", map[string]any{"name": "escalate", "scopes": []string{"read", "admin"}}).problem(t); p["code"] != "insufficient_scope" {
			t.Errorf("a child with a scope its maker lacks: %v", p)
		}
		var child auth.NewToken
		maker.must(201, "POST", "/api/v1/me/tokens", map[string]any{"name": "reader", "scopes": []string{"read"}}).json(t, &child)
		if !slices.Equal(child.Scopes, auth.Scopes{"read"}) {
			t.Errorf("child scopes %v", child.Scopes)
		}

		// Tokens made before scopes existed have all three (the migration's default).
		oldHash := sha256.Sum256([]byte("up_old-token"))
		old := auth.APIToken{ID: database.NewID(), UserID: w.adminA.user.ID, Name: "old", TokenHash: hex.EncodeToString(oldHash[:]), Prefix: "up_old",
			CreatedAt: h.clock.Now()}
		if err := db.Conn(context.Background()).Omit("Scopes").Create(&old).Error; err != nil {
			t.Fatal(err)
		}
		legacy := &client{h: h, ip: "203.0.113.41", bearer: "up_old-token"}
		legacy.must(201, "POST", "/api/v1/tenants/alpha/organizations", map[string]string{"name": "Old", "country": "FR", "kind": "affiliate"})
		legacy.must(401, "PUT", "/api/v1/tenants/alpha/settings", settings) // never step_up
	})
}

// TestScopeTableIsComplete: every permission a role holds is classified for tokens.
func TestScopeTableIsComplete(t *testing.T) {
	h := newHarness(t, dbtest.New(t, database.SQLite))
	for _, role := range auth.Roles() {
		for _, perm := range h.auth.Authorizer().RolePermissions(role) {
			if !auth.ClassifiedPermission(perm) {
				t.Errorf("permission %s (of %s) has no scope in auth.writeScopes", perm, role)
			}
		}
	}
}

// TestTokenLifetimePolicy: a tenant's maximum lifetime refuses, on its routes, tokens
// that may live longer; their creation says which tenants will refuse them.
func TestTokenLifetimePolicy(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		var settings map[string]any
		w.adminA.must(200, "GET", "/api/v1/tenants/alpha/settings", nil).json(t, &settings)
		settings["tokens"] = map[string]any{"max_lifetime_days": -1}
		if r := w.adminA.do("PUT", "/api/v1/tenants/alpha/settings", settings); r.Code != 422 || !slices.Equal(fieldNames(r.problem(t)), []string{"tokens.max_lifetime_days"}) {
			t.Errorf("negative lifetime: %d %s", r.Code, r.Body)
		}
		// Tokens made before the policy are judged by it too.
		forever, foreverTok := tokenClient(t, w.reviewerA, map[string]any{"name": "forever"})
		if len(foreverTok.RefusedBy) != 0 {
			t.Errorf("refused by %v before any policy", foreverTok.RefusedBy)
		}
		settings["tokens"] = map[string]any{"max_lifetime_days": 30}
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", settings)

		r := forever.do("GET", "/api/v1/tenants/alpha/cases", nil)
		if p := r.problem(t); r.Code != 403 || p["code"] != "token_lifetime_exceeds_policy" || p["max_lifetime_days"] != float64(30) {
			t.Errorf("a token without expiry: %d %v", r.Code, p)
		}
		forever.must(200, "GET", "/api/v1/me", nil) // not a tenant's route
		in := func(d time.Duration) string { return h.clock.Now().Add(d).UTC().Format(time.RFC3339) }
		long, longTok := tokenClient(t, w.reviewerA, map[string]any{"name": "31 days", "expires_at": in(31 * 24 * time.Hour)})
		if !slices.Equal(longTok.RefusedBy, []string{"alpha"}) {
			t.Errorf("a 31-day token: refused_by %v, want [alpha]", longTok.RefusedBy)
		}
		long.must(403, "GET", "/api/v1/tenants/alpha/cases", nil)
		short, shortTok := tokenClient(t, w.reviewerA, map[string]any{"name": "30 days", "expires_at": in(30 * 24 * time.Hour)})
		if len(shortTok.RefusedBy) != 0 {
			t.Errorf("a 30-day token: refused_by %v", shortTok.RefusedBy)
		}
		short.must(200, "GET", "/api/v1/tenants/alpha/cases", nil)
		// Browser sessions are not tokens: the policy does not touch them.
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/cases", nil)
		// Beta has no policy: its members' tokens without expiry work there.
		betaForever, _ := tokenClient(t, w.adminB, map[string]any{"name": "forever"})
		betaForever.must(200, "GET", "/api/v1/tenants/beta/cases", nil)
	})
}
