package api

import (
	"slices"
	"testing"
	"time"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

// TestTokensCreatingTokens: a token creates tokens only when it was made to, and what
// it creates never outlives it.
func TestTokensCreatingTokens(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		h.world()
		browser := h.login("reviewer@alpha.test")
		bearer := func(tok auth.NewToken) *client { return &client{h: h, ip: "203.0.113.9", bearer: tok.Token} }
		in := func(d time.Duration) string { return h.clock.Now().Add(d).UTC().Format(time.RFC3339) }

		// A plain token, even a 4-second one, creates nothing: creating tokens needs the
		// step_up scope (ADR 0032), and with it, can_create_tokens.
		var plain, plainStepUp auth.NewToken
		browser.must(201, "POST", "/api/v1/me/tokens", map[string]any{"name": "plain", "expires_at": in(4 * time.Second)}).json(t, &plain)
		if plain.CanCreateTokens {
			t.Error("a token may create tokens without asking")
		}
		if p := bearer(plain).must(401, "POST", "/api/v1/me/tokens", map[string]any{"name": "minted"}).problem(t); p["code"] != "reauthentication_required" {
			t.Errorf("plain token creating a token: %v", p)
		}
		browser.must(201, "POST", "/api/v1/me/tokens", map[string]any{"name": "plain", "scopes": []string{"read", "write", "step_up"}}).json(t, &plainStepUp)
		if p := bearer(plainStepUp).must(403, "POST", "/api/v1/me/tokens", map[string]any{"name": "minted"}).problem(t); p["code"] != "token_cannot_create_tokens" {
			t.Errorf("plain step_up token creating a token: %v", p)
		}
		bearer(plainStepUp).must(403, "POST", "/api/v1/me/tokens", map[string]any{"name": "minted", "can_create_tokens": true})

		// A token made to create tokens: what it creates expires with it at the latest.
		var maker auth.NewToken
		browser.must(201, "POST", "/api/v1/me/tokens", map[string]any{"name": "maker", "expires_at": in(time.Hour), "can_create_tokens": true,
			"scopes": []string{"read", "write", "step_up"}}).json(t, &maker)
		var child, grandchildMaker auth.NewToken
		bearer(maker).must(201, "POST", "/api/v1/me/tokens", map[string]any{"name": "child"}).json(t, &child)
		if child.ExpiresAt == nil || !child.ExpiresAt.Equal(*maker.ExpiresAt) || child.CanCreateTokens {
			t.Errorf("child token %+v: want the maker's expiry %v and no right to create tokens", child.APIToken, maker.ExpiresAt)
		}
		r := bearer(maker).must(422, "POST", "/api/v1/me/tokens", map[string]any{"name": "outliving", "expires_at": in(2 * time.Hour)})
		if !slices.Equal(fieldNames(r.problem(t)), []string{"expires_at"}) {
			t.Errorf("a child outliving its maker: %s", r.Body)
		}
		bearer(maker).must(201, "POST", "/api/v1/me/tokens", map[string]any{"name": "sooner", "expires_at": in(time.Minute)})
		bearer(maker).must(201, "POST", "/api/v1/me/tokens", map[string]any{"name": "maker 2", "can_create_tokens": true}).json(t, &grandchildMaker)
		// Only a browser session gives step_up: a token made by a token never has it,
		// so it creates no tokens in turn.
		if p := bearer(maker).must(403, "POST", "/api/v1/me/tokens", map[string]any{"name": "no", "scopes": []string{"step_up"}}).problem(t); p["code"] != "insufficient_scope" {
			t.Errorf("a token giving step_up: %v", p)
		}
		bearer(grandchildMaker).must(401, "POST", "/api/v1/me/tokens", map[string]any{"name": "grandchild"})
		bearer(child).must(401, "POST", "/api/v1/me/tokens", map[string]any{"name": "no"})

		// Revoking a token revokes what it created, down the line.
		bearer(grandchildMaker).must(200, "GET", "/api/v1/me", nil)
		browser.must(204, "DELETE", "/api/v1/me/tokens/"+maker.ID, nil)
		for _, tok := range []auth.NewToken{maker, child, grandchildMaker} {
			bearer(tok).must(401, "GET", "/api/v1/me", nil)
		}
		// A token made by a token does not outlive it in time either.
		var maker3, child3 auth.NewToken
		browser.must(201, "POST", "/api/v1/me/tokens", map[string]any{"name": "maker 3", "expires_at": in(10 * time.Second), "can_create_tokens": true,
			"scopes": []string{"read", "write", "step_up"}}).json(t, &maker3)
		bearer(maker3).must(201, "POST", "/api/v1/me/tokens", map[string]any{"name": "child 3"}).json(t, &child3)
		h.clock.Advance(11 * time.Second)
		bearer(child3).must(401, "GET", "/api/v1/me", nil)
	})
}

// TestTokenLosesOnlyTheTenantWhoseMembershipEnded: a deactivated membership's tokens
// stop working in that tenant, at once, and keep working in the others.
func TestTokenLosesOnlyTheTenantWhoseMembershipEnded(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		w.super.must(201, "POST", "/api/v1/tenants/beta/users", map[string]any{"email": "viewer@alpha.test", "name": "V",
			"organization_id": w.orgB.ID, "roles": []string{"viewer"}})
		var tok auth.NewToken
		h.login("viewer@alpha.test").must(201, "POST", "/api/v1/me/tokens", map[string]string{"name": "script"}).json(t, &tok)
		rest := &client{h: h, ip: "203.0.113.9", bearer: tok.Token}
		rest.must(200, "GET", "/api/v1/tenants/alpha", nil)
		rest.must(200, "GET", "/api/v1/tenants/beta", nil)
		w.adminA.must(204, "DELETE", "/api/v1/tenants/alpha/users/"+w.viewerA2ID, nil)
		rest.must(404, "GET", "/api/v1/tenants/alpha", nil)
		rest.must(404, "GET", "/api/v1/tenants/alpha/submissions", nil)
		rest.must(200, "GET", "/api/v1/tenants/beta", nil)
		var me meResponse
		rest.must(200, "GET", "/api/v1/me", nil).json(t, &me)
		if len(me.Memberships) != 1 || me.Memberships[0].Tenant.Slug != "beta" {
			t.Errorf("memberships after leaving alpha: %+v", me.Memberships)
		}
	})
}
