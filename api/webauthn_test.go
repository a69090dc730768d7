package api

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

// TestWebAuthnFactor: a security key registers, completes logins and step-ups, and an
// answer whose signature counter did not move forward (a cloned key) is refused.
func TestWebAuthnFactor(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		key := newSoftKey(t)
		var nf auth.NewFactor
		w.editorA1.must(201, "POST", "/api/v1/me/factors", map[string]string{"type": "webauthn", "name": "YubiKey"}).json(t, &nf)
		if nf.WebAuthn == nil || nf.Secret != "" {
			t.Fatalf("new security key %+v", nf)
		}
		// An answer to another challenge does not register.
		other := map[string]any{"publicKey": map[string]any{"challenge": b64.EncodeToString([]byte("another challenge, 32 bytes long!"))}}
		if r := w.editorA1.do("POST", "/api/v1/me/factors/"+nf.ID+"/activate", map[string]any{"credential": key.create(other)}); r.Code != 422 {
			t.Fatalf("registration with a wrong challenge: %d %s", r.Code, r.Body)
		}
		var act auth.ActivatedFactor
		w.editorA1.must(200, "POST", "/api/v1/me/factors/"+nf.ID+"/activate", map[string]any{"credential": key.create(pk(nf.WebAuthn))}).json(t, &act)
		if !act.Active || len(act.RecoveryCodes) != 10 {
			t.Fatalf("activated key %+v", act)
		}
		if r := w.editorA1.do("POST", "/api/v1/me/factors/"+nf.ID+"/activate", map[string]any{"credential": key.create(pk(nf.WebAuthn))}); r.Code != 409 {
			t.Errorf("activating twice: %d", r.Code)
		}

		// Login with the key.
		c, body := h.passwordOnly("editor@alpha.test")
		if !slices.Equal(body.Methods, []string{"webauthn", "recovery"}) || body.WebAuthn == nil {
			t.Fatalf("password step: %+v", body)
		}
		c.takeSession(c.must(200, "POST", "/api/v1/auth/second-factor", map[string]any{"method": "webauthn", "credential": key.get(pk(body.WebAuthn), 1)}))
		c.must(200, "GET", "/api/v1/tenants/alpha", nil)

		// A step-up with the key: a fresh challenge for the session, answered once.
		h.clock.Advance(11 * time.Minute)
		var ch auth.WebAuthnOptions
		c.must(200, "POST", "/api/v1/auth/second-factor/challenge", nil).json(t, &ch)
		answer := key.get(pk(&ch), 1)
		c.must(200, "POST", "/api/v1/auth/second-factor", map[string]any{"method": "webauthn", "credential": answer})
		c.must(201, "POST", "/api/v1/me/tokens", map[string]string{"name": "after the key"})
		if r := c.do("POST", "/api/v1/auth/second-factor", map[string]any{"method": "webauthn", "credential": answer}); r.Code != 401 {
			t.Errorf("an answer replayed: %d", r.Code)
		}

		// A cloned key, whose counter stands still, is refused.
		d, body := h.passwordOnly("editor@alpha.test")
		if r := d.do("POST", "/api/v1/auth/second-factor", map[string]any{"method": "webauthn", "credential": key.get(pk(body.WebAuthn), 0)}); r.Code != 401 || code(t, r) != "invalid_second_factor" {
			t.Fatalf("a sign count that went back: %d %s", r.Code, r.Body)
		}
		// Another key, unknown to the account, is refused.
		e, body := h.passwordOnly("editor@alpha.test")
		if r := e.do("POST", "/api/v1/auth/second-factor", map[string]any{"method": "webauthn", "credential": newSoftKey(t).get(pk(body.WebAuthn), 1)}); r.Code != 401 {
			t.Errorf("an unknown key: %d", r.Code)
		}
		// With a new challenge for the pending login, the real key still works (once the
		// login limits' back-off after five failures has passed).
		h.clock.Advance(31 * time.Second)
		var again auth.WebAuthnOptions
		e.must(200, "POST", "/api/v1/auth/second-factor/challenge", nil).json(t, &again)
		e.must(200, "POST", "/api/v1/auth/second-factor", map[string]any{"method": "webauthn", "credential": key.get(pk(&again), 1)})
	})
}

// TestSecurityKeysNeedADomain: a portal reached at an IP address starts, without
// security keys (a WebAuthn relying party is a domain); authenticator apps still work.
func TestSecurityKeysNeedADomain(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		opts := testAuthOptions
		opts.Now, opts.Keys, opts.Origin = h.clock.Now, h.keys, "http://127.0.0.1:8080"
		svc, err := auth.NewService(context.Background(), db, opts)
		if err != nil {
			t.Fatal(err)
		}
		h.auth = svc
		h.srv = New(Options{Auth: svc, Workflow: h.wf})
		w := h.world()
		if r := w.editorA1.do("POST", "/api/v1/me/factors", map[string]string{"type": "webauthn"}); r.Code != 422 || !slices.Equal(fieldNames(r.problem(t)), []string{"type"}) {
			t.Errorf("a security key on an IP address: %d %s", r.Code, r.Body)
		}
		w.editorA1.enrolApp("editor@alpha.test")
	})
}
