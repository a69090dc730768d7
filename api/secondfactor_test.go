package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/workflow"
)

// member adds a member of alpha (as the superadmin, at once) and returns their e-mail.
func (w *world) member(email, orgID string, roles ...string) string {
	w.super.h.t.Helper()
	w.super.must(201, "POST", "/api/v1/tenants/alpha/users", map[string]any{"email": email, "name": email,
		"password": testPassword, "organization_id": orgID, "roles": roles})
	return email
}

// passwordOnly logs in with the password and keeps what the answer gives (a session,
// or a pending cookie), answering no second factor.
func (h *harness) passwordOnly(email string) (*client, loginResult) {
	h.t.Helper()
	c := h.anonymous()
	r := c.passwordStep(email, testPassword)
	if r.Code != http.StatusOK {
		h.t.Fatalf("login %s: %d %s", email, r.Code, r.Body)
	}
	var body loginResult
	r.json(h.t, &body)
	if !body.SecondFactorRequired {
		c.takeSession(r)
	}
	return c, body
}

func code(t *testing.T, r response) string {
	t.Helper()
	p := r.problem(t)
	s, _ := p["code"].(string)
	return s
}

// readyToApprove makes alpha's settings dispatch-ready, so that approving the fixture's
// submission succeeds.
func readyToApprove(w *world) {
	w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
}

// TestPolicyRequiresEnrolment: under the default policy a reviewer without a second
// factor gets a session that may only add one; nothing else, approving least of all.
// The policy is per tenant (none, all_members), and a superadmin always needs one.
func TestPolicyRequiresEnrolment(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		readyToApprove(w)
		rev := w.member("rev2@alpha.test", w.orgA1.ID, "reviewer")
		c, body := h.passwordOnly(rev)
		if !body.SecondFactorEnrolmentRequired || body.User == nil || body.CSRFToken == "" {
			t.Fatalf("login of a reviewer without a factor: %+v", body)
		}
		approve := map[string]string{"action": "approve"}
		if r := c.do("POST", subPath(w.submissionA.ID, "/transitions"), approve); r.Code != 403 || code(t, r) != "second_factor_enrolment_required" {
			t.Fatalf("approving without a factor: %d %s", r.Code, r.Body)
		}
		for _, path := range []string{"/api/v1/tenants/alpha", "/api/v1/tenants", "/api/v1/me/tokens", "/api/v1/tenants/alpha/submissions"} {
			if r := c.do("GET", path, nil); r.Code != 403 || code(t, r) != "second_factor_enrolment_required" {
				t.Errorf("GET %s without a factor: %d", path, r.Code)
			}
		}
		var me meResponse
		c.must(200, "GET", "/api/v1/me", nil).json(t, &me)
		if !me.SecondFactor.Required || me.SecondFactor.Enrolled || !slices.Equal(me.SecondFactor.Methods, []string{"password"}) {
			t.Errorf("/me before enrolment: %+v", me.SecondFactor)
		}
		c.must(200, "GET", "/api/v1/me/factors", nil)
		// Once enrolled, the same session works, and counts as stepped up.
		if a := c.enrolApp(rev); len(a.RecoveryCodes) != 10 || !a.Active {
			t.Fatalf("first factor: %+v", a)
		}
		c.must(200, "POST", subPath(w.submissionA.ID, "/transitions"), approve)

		// A role given later requires the factor from the next request on.
		ed := w.member("ed2@alpha.test", w.orgA1.ID, "editor")
		e, body := h.passwordOnly(ed)
		if body.SecondFactorEnrolmentRequired {
			t.Fatal("an editor must enrol under privileged_roles")
		}
		e.must(200, "GET", "/api/v1/tenants/alpha", nil)
		var m auth.Member
		for _, u := range listMembers(t, w.adminA) {
			if u.Email == ed {
				m = u
			}
		}
		w.adminA.must(200, "PATCH", "/api/v1/tenants/alpha/users/"+m.ID, map[string]any{"roles": []string{"editor", "signatory"}})
		if r := e.do("GET", "/api/v1/tenants/alpha", nil); r.Code != 403 || code(t, r) != "second_factor_enrolment_required" {
			t.Errorf("a new signatory without a factor: %d", r.Code)
		}

		// all_members: editors too; none: nobody but superadmins.
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/security", map[string]string{"second_factor_required_for": "all_members"})
		if _, body := h.passwordOnly("editor@alpha.test"); !body.SecondFactorEnrolmentRequired {
			t.Error("all_members: an editor without a factor has a full session")
		}
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/security", map[string]string{"second_factor_required_for": "none"})
		e.must(200, "GET", "/api/v1/tenants/alpha", nil)
		var pol auth.SecurityPolicy
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/security", nil).json(t, &pol)
		if pol.SecondFactorRequiredFor != "none" {
			t.Errorf("policy %+v", pol)
		}
		if r := w.adminA.do("PUT", "/api/v1/tenants/alpha/security", map[string]string{"second_factor_required_for": "sometimes"}); r.Code != 422 {
			t.Errorf("an unknown policy: %d", r.Code)
		}
		if _, err := h.auth.CreateSuperadmin(context.Background(), "root2@platform.test", "Root 2", testPassword); err != nil {
			t.Fatal(err)
		}
		if _, body := h.passwordOnly("root2@platform.test"); !body.SecondFactorEnrolmentRequired {
			t.Error("a superadmin without a factor has a full session")
		}
	})
}

func listMembers(t *testing.T, c *client) []auth.Member {
	t.Helper()
	var l list[auth.Member]
	c.must(200, "GET", "/api/v1/tenants/alpha/users?limit=100", nil).json(t, &l)
	return l.Items
}

// TestTOTPCodeIsAcceptedOnce: a code that completed a login (or activated the factor)
// is refused when replayed within its window; the next step's code works.
func TestTOTPCodeIsAcceptedOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		h.world()
		app := h.apps.byID["reviewer@alpha.test"]
		// The step the activation used is spent: wait for the next one.
		h.clock.Advance(30 * time.Second)
		now := h.clock.Now()
		c, body := h.passwordOnly("reviewer@alpha.test")
		if !body.SecondFactorRequired || !slices.Equal(body.Methods, []string{"totp", "recovery"}) || body.User != nil || body.CSRFToken != "" || c.pending == nil {
			t.Fatalf("password step: %+v", body)
		}
		code0 := auth.TOTPCode(app.secret, now)
		r := c.must(200, "POST", "/api/v1/auth/second-factor", map[string]string{"method": "totp", "code": code0})
		c.takeSession(r)
		c.must(200, "GET", "/api/v1/tenants/alpha", nil)
		if c.pending != nil {
			t.Error("the pending cookie outlived the login")
		}
		// The same code again, in the same window: refused, at login and at step-up.
		again, _ := h.passwordOnly("reviewer@alpha.test")
		if r := again.do("POST", "/api/v1/auth/second-factor", map[string]string{"method": "totp", "code": code0}); r.Code != 401 || code(t, r) != "invalid_second_factor" {
			t.Fatalf("replayed code at login: %d %s", r.Code, r.Body)
		}
		if r := c.do("POST", "/api/v1/auth/second-factor", map[string]string{"method": "totp", "code": code0}); r.Code != 401 || code(t, r) != "invalid_second_factor" {
			t.Fatalf("replayed code at step-up: %d %s", r.Code, r.Body)
		}
		// An earlier step's code is refused too; the next step's is accepted.
		if r := again.do("POST", "/api/v1/auth/second-factor", map[string]string{"method": "totp", "code": auth.TOTPCode(app.secret, now.Add(-30*time.Second))}); r.Code != 401 {
			t.Fatalf("an earlier code: %d", r.Code)
		}
		h.clock.Advance(30 * time.Second)
		again.must(200, "POST", "/api/v1/auth/second-factor", map[string]string{"method": "totp", "code": auth.TOTPCode(app.secret, h.clock.Now())})
	})
}

// TestRecoveryCodeWorksOnce: each recovery code completes one login, in any case and
// with or without dashes; /me counts those left.
func TestRecoveryCodeWorksOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		a := w.editorA1.enrolApp("editor@alpha.test")
		if len(a.RecoveryCodes) != 10 {
			t.Fatalf("recovery codes %v", a.RecoveryCodes)
		}
		first := a.RecoveryCodes[0]
		c, _ := h.passwordOnly("editor@alpha.test")
		c.takeSession(c.must(200, "POST", "/api/v1/auth/second-factor", map[string]string{"method": "recovery", "code": first}))
		var me meResponse
		c.must(200, "GET", "/api/v1/me", nil).json(t, &me)
		if me.SecondFactor.RecoveryCodesLeft != 9 || !me.SecondFactor.Enrolled {
			t.Errorf("after one recovery code: %+v", me.SecondFactor)
		}
		d, _ := h.passwordOnly("editor@alpha.test")
		if r := d.do("POST", "/api/v1/auth/second-factor", map[string]string{"method": "recovery", "code": first}); r.Code != 401 || code(t, r) != "invalid_second_factor" {
			t.Fatalf("a recovery code used twice: %d %s", r.Code, r.Body)
		}
		d.must(200, "POST", "/api/v1/auth/second-factor", map[string]string{"method": "recovery",
			"code": strings.ToUpper(strings.ReplaceAll(a.RecoveryCodes[1], "-", ""))})
		// The codes are stored as keyed hashes only.
		var stored []string
		db.Conn(context.Background()).Raw("SELECT code_hash FROM auth_recovery_codes").Scan(&stored)
		for _, s := range stored {
			for _, c := range a.RecoveryCodes {
				if strings.Contains(s, strings.ReplaceAll(c, "-", "")) {
					t.Fatal("a recovery code is stored in clear")
				}
			}
		}
		// New codes replace the old ones (a step-up act).
		var fresh recoveryCodes
		c.must(200, "POST", "/api/v1/me/recovery-codes", nil).json(t, &fresh)
		e, _ := h.passwordOnly("editor@alpha.test")
		if r := e.do("POST", "/api/v1/auth/second-factor", map[string]string{"method": "recovery", "code": a.RecoveryCodes[2]}); r.Code != 401 {
			t.Errorf("an old recovery code after new ones: %d", r.Code)
		}
		e.must(200, "POST", "/api/v1/auth/second-factor", map[string]string{"method": "recovery", "code": fresh.RecoveryCodes[0]})
	})
}

// TestStepUpWindow: an approval 11 minutes after the last second factor is refused
// with reauthentication_required, and accepted after a step-up; a user without a
// factor steps up with the password.
func TestStepUpWindow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		readyToApprove(w)
		approve := map[string]string{"action": "approve"}
		h.clock.Advance(11 * time.Minute)
		r := w.reviewerA.do("POST", subPath(w.submissionA.ID, "/transitions"), approve)
		p := r.problem(t)
		if r.Code != 401 || p["code"] != "reauthentication_required" || len(p["methods"].([]any)) != 2 {
			t.Fatalf("approval 11 minutes after the factor: %d %v", r.Code, p)
		}
		// Reading and commenting need no step-up.
		w.reviewerA.must(200, "GET", subPath(w.submissionA.ID), nil)
		code, _ := h.nextCode("reviewer@alpha.test")
		w.reviewerA.must(200, "POST", "/api/v1/auth/second-factor", map[string]string{"method": "totp", "code": code})
		var me meResponse
		w.reviewerA.must(200, "GET", "/api/v1/me", nil).json(t, &me)
		if me.SecondFactor.StepUpUntil == nil || !me.SecondFactor.StepUpUntil.Equal(h.clock.Now().Add(10*time.Minute).Truncate(time.Microsecond)) {
			t.Errorf("step_up_until %v", me.SecondFactor.StepUpUntil)
		}
		w.reviewerA.must(200, "POST", subPath(w.submissionA.ID, "/transitions"), approve)

		// Settings, members and tokens are acts that matter too; a user without a factor
		// confirms with the password, and a password is no answer for one with a factor.
		h.clock.Advance(11 * time.Minute)
		if r := w.adminA.do("PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false)); r.Code != 401 {
			t.Errorf("settings after 11 minutes: %d", r.Code)
		}
		r = w.editorA1.do("POST", "/api/v1/me/tokens", map[string]string{"name": "late"})
		if p := r.problem(t); r.Code != 401 || p["code"] != "reauthentication_required" || p["methods"].([]any)[0] != "password" {
			t.Fatalf("a token 11 minutes after the password: %d %v", r.Code, p)
		}
		if r := w.editorA1.do("POST", "/api/v1/auth/second-factor", map[string]string{"method": "password", "password": "wrong password!!"}); r.Code != 401 {
			t.Errorf("step-up with a wrong password: %d", r.Code)
		}
		w.editorA1.must(200, "POST", "/api/v1/auth/second-factor", map[string]string{"method": "password", "password": testPassword})
		w.editorA1.must(201, "POST", "/api/v1/me/tokens", map[string]string{"name": "late"})
		if r := w.reviewerA.do("POST", "/api/v1/auth/second-factor", map[string]string{"method": "password", "password": testPassword}); r.Code != 422 {
			t.Errorf("a password as the step-up of a user with a factor: %d", r.Code)
		}
		// A step-up needs the CSRF token like any change.
		noCSRF := &client{h: h, ip: w.editorA1.ip, cookie: w.editorA1.cookie}
		if r := noCSRF.do("POST", "/api/v1/auth/second-factor", map[string]string{"method": "password", "password": testPassword}); r.Code != 403 {
			t.Errorf("a step-up without CSRF: %d", r.Code)
		}
		// Without a session or pending login there is nothing to complete.
		if r := h.anonymous().do("POST", "/api/v1/auth/second-factor", map[string]string{"method": "totp", "code": "123456"}); r.Code != 401 {
			t.Errorf("second factor from nowhere: %d", r.Code)
		}
	})
}

// TestWrongPasswordAnswersTheSame: before the password is right nothing tells whether
// an account has a second factor.
func TestWrongPasswordAnswersTheSame(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		h.world() // the reviewer has a factor, the editor none
		answer := func(email string) (int, string, []*http.Cookie) {
			r := h.anonymous().passwordStep(email, "not the password at all")
			p := r.problem(t)
			delete(p, "request_id")
			b, _ := json.Marshal(p)
			return r.Code, string(b), r.Result().Cookies()
		}
		s1, b1, c1 := answer("reviewer@alpha.test")
		s2, b2, c2 := answer("editor@alpha.test")
		s3, b3, _ := answer("nobody@alpha.test")
		if s1 != 401 || s1 != s2 || s2 != s3 || b1 != b2 || b2 != b3 || len(c1) != 0 || len(c2) != 0 {
			t.Errorf("wrong password answers differ:\n%d %s\n%d %s\n%d %s", s1, b1, s2, b2, s3, b3)
		}
	})
}

// TestPendingLogin: the pending cookie is bound to its user, lives 5 minutes, is used
// once, is no session, and its wrong codes count as failed logins.
func TestPendingLogin(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		h.world()
		c, _ := h.passwordOnly("reviewer@alpha.test")
		if c.pending.MaxAge != 300 || !c.pending.HttpOnly || c.pending.SameSite != http.SameSiteStrictMode {
			t.Errorf("pending cookie %+v", c.pending)
		}
		onlyPending := &client{h: h, ip: c.ip, pending: c.pending}
		if r := onlyPending.do("GET", "/api/v1/me", nil); r.Code != 401 {
			t.Errorf("the pending cookie as a session: %d", r.Code)
		}
		// Expired after 5 minutes.
		h.clock.Advance(5*time.Minute + time.Second)
		c6, _ := h.nextCode("reviewer@alpha.test")
		if r := c.do("POST", "/api/v1/auth/second-factor", map[string]string{"method": "totp", "code": c6}); r.Code != 401 || code(t, r) != "pending_login_expired" {
			t.Fatalf("after 5 minutes: %d %s", r.Code, r.Body)
		}
		// Used once.
		c, _ = h.passwordOnly("reviewer@alpha.test")
		used := c.pending
		c6, _ = h.nextCode("reviewer@alpha.test")
		c.must(200, "POST", "/api/v1/auth/second-factor", map[string]string{"method": "totp", "code": c6})
		replay := &client{h: h, ip: c.ip, pending: used}
		c6, _ = h.nextCode("reviewer@alpha.test")
		if r := replay.do("POST", "/api/v1/auth/second-factor", map[string]string{"method": "totp", "code": c6}); r.Code != 401 || code(t, r) != "pending_login_expired" {
			t.Fatalf("a pending login used twice: %d %s", r.Code, r.Body)
		}
		// Wrong codes are failed logins: the limits of ADR 0017 hold (the password step
		// counted one attempt).
		c6, _ = h.nextCode("reviewer@alpha.test") // the right code, kept for the end
		c, _ = h.passwordOnly("reviewer@alpha.test")
		for i := 0; i < 4; i++ {
			if r := c.do("POST", "/api/v1/auth/second-factor", map[string]string{"method": "totp", "code": "000000"}); r.Code != 401 {
				t.Fatalf("wrong code %d: %d", i, r.Code)
			}
		}
		if r := c.do("POST", "/api/v1/auth/second-factor", map[string]string{"method": "totp", "code": c6}); r.Code != 429 || code(t, r) != "too_many_attempts" {
			t.Fatalf("after 5 failed attempts: %d %s", r.Code, r.Body)
		}
		var failed int64
		db.Conn(context.Background()).Table("events").Where("action = ?", "login.failed").Count(&failed)
		if failed < 4 {
			t.Errorf("%d failed logins recorded", failed)
		}
	})
}

// pk is WebAuthn options as the browser is given them.
func pk(o *auth.WebAuthnOptions) map[string]any {
	if o == nil {
		return nil
	}
	return map[string]any{"publicKey": o.PublicKey}
}

// TestFactorRemoval: removing a factor is a step-up act, and the last one cannot go
// while the policy requires one.
func TestFactorRemoval(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		var fs list[auth.Factor]
		w.reviewerA.must(200, "GET", "/api/v1/me/factors", nil).json(t, &fs)
		if len(fs.Items) != 1 || !fs.Items[0].Active || fs.Items[0].Type != "totp" {
			t.Fatalf("factors %+v", fs.Items)
		}
		first := fs.Items[0].ID
		w.reviewerA.must(200, "PATCH", "/api/v1/me/factors/"+first, map[string]string{"name": "Old phone"})
		h.clock.Advance(11 * time.Minute)
		if r := w.reviewerA.do("DELETE", "/api/v1/me/factors/"+first, nil); r.Code != 401 || code(t, r) != "reauthentication_required" {
			t.Fatalf("removal without step-up: %d", r.Code)
		}
		c, _ := h.nextCode("reviewer@alpha.test")
		w.reviewerA.must(200, "POST", "/api/v1/auth/second-factor", map[string]string{"method": "totp", "code": c})
		if r := w.reviewerA.do("DELETE", "/api/v1/me/factors/"+first, nil); r.Code != 409 || code(t, r) != "last_second_factor" {
			t.Fatalf("removing the last factor under the policy: %d %s", r.Code, r.Body)
		}
		// A second factor (a security key), then the first may go.
		key := newSoftKey(t)
		var nf auth.NewFactor
		w.reviewerA.must(201, "POST", "/api/v1/me/factors", map[string]string{"type": "webauthn", "name": "Key"}).json(t, &nf)
		var act auth.ActivatedFactor
		w.reviewerA.must(200, "POST", "/api/v1/me/factors/"+nf.ID+"/activate", map[string]any{"credential": key.create(pk(nf.WebAuthn))}).json(t, &act)
		if len(act.RecoveryCodes) != 0 {
			t.Error("a second factor came with new recovery codes")
		}
		w.reviewerA.must(204, "DELETE", "/api/v1/me/factors/"+first, nil)
		// Another user's factor is not found.
		if r := w.adminA.do("PATCH", "/api/v1/me/factors/"+nf.ID, map[string]string{"name": "mine"}); r.Code != 404 {
			t.Errorf("another user's factor: %d", r.Code)
		}
		// Without a policy requiring one, the last factor goes, with the recovery codes.
		w.editorA1.must(200, "POST", "/api/v1/auth/second-factor", map[string]string{"method": "password", "password": testPassword})
		w.editorA1.enrolApp("editor@alpha.test")
		var mine list[auth.Factor]
		w.editorA1.must(200, "GET", "/api/v1/me/factors", nil).json(t, &mine)
		w.editorA1.must(204, "DELETE", "/api/v1/me/factors/"+mine.Items[0].ID, nil)
		var me meResponse
		w.editorA1.must(200, "GET", "/api/v1/me", nil).json(t, &me)
		if me.SecondFactor.Enrolled || me.SecondFactor.RecoveryCodesLeft != 0 {
			t.Errorf("after removing the only factor: %+v", me.SecondFactor)
		}
		// A pending TOTP factor does not activate with a wrong code.
		var p auth.NewFactor
		w.editorA1.must(201, "POST", "/api/v1/me/factors", map[string]string{"type": "totp"}).json(t, &p)
		if p.Secret == "" || !strings.HasPrefix(p.OTPAuthURI, "otpauth://totp/") || p.Active {
			t.Errorf("new TOTP factor %+v", p)
		}
		if r := w.editorA1.do("POST", "/api/v1/me/factors/"+p.ID+"/activate", map[string]string{"code": "000000"}); r.Code != 422 {
			t.Errorf("activation with a wrong code: %d", r.Code)
		}
		// The secret is stored sealed.
		var secrets []string
		db.Conn(context.Background()).Raw("SELECT totp_secret FROM auth_factors WHERE totp_secret IS NOT NULL").Scan(&secrets)
		for _, s := range secrets {
			if !strings.HasPrefix(s, "enc1:") || strings.Contains(s, p.Secret) {
				t.Errorf("a TOTP secret stored as %q", s)
			}
		}
	})
}

// TestStepUpTokens: a token performs acts that matter only with the step_up scope,
// which a session gives within 10 minutes of a second factor, for 24 hours at most.
func TestStepUpTokens(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		readyToApprove(w)
		plain, _ := tokenClient(t, w.reviewerA, map[string]any{"name": "plain"})
		if r := plain.do("POST", subPath(w.submissionA.ID, "/transitions"), map[string]string{"action": "approve"}); r.Code != 401 || code(t, r) != "reauthentication_required" {
			t.Fatalf("approval by a token without step_up: %d %s", r.Code, r.Body)
		}
		plain.must(200, "POST", subPath(w.submissionA.ID, "/transitions"), map[string]string{"action": "start_review"})
		// 11 minutes after the factor: no step_up token.
		h.clock.Advance(11 * time.Minute)
		if r := w.reviewerA.do("POST", "/api/v1/me/tokens", map[string]any{"name": "late", "scopes": []string{"read", "write", "step_up"}}); r.Code != 401 || code(t, r) != "reauthentication_required" {
			t.Fatalf("a step_up token 11 minutes after the factor: %d %s", r.Code, r.Body)
		}
		c, _ := h.nextCode("reviewer@alpha.test")
		w.reviewerA.must(200, "POST", "/api/v1/auth/second-factor", map[string]string{"method": "totp", "code": c})
		if r := w.reviewerA.do("POST", "/api/v1/me/tokens", map[string]any{"name": "long", "scopes": []string{"write", "step_up"},
			"expires_at": h.clock.Now().Add(48 * time.Hour).Format(time.RFC3339)}); r.Code != 422 || !slices.Equal(fieldNames(r.problem(t)), []string{"expires_at"}) {
			t.Errorf("a step_up token for 48 hours: %d %s", r.Code, r.Body)
		}
		strong, tok := tokenClient(t, w.reviewerA, map[string]any{"name": "signing robot", "scopes": []string{"read", "write", "step_up"}})
		if tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(h.clock.Now().Add(24*time.Hour).Truncate(time.Microsecond)) {
			t.Errorf("a step_up token's expiry: %v", tok.ExpiresAt)
		}
		strong.must(200, "POST", subPath(w.submissionA.ID, "/transitions"), map[string]string{"action": "approve"})
		// The command line gives no step_up.
		if _, err := h.auth.ProvisionToken(context.Background(), "alpha", "reviewer@alpha.test", auth.TokenInput{Name: "cli", Scopes: []string{"read", "step_up"}}); err == nil {
			t.Error("admin create-token gave step_up")
		}
	})
}

// TestStepUpRoutes lists, from the route table, the routes that need a recent second
// factor: the acts of issue 15 (approve, sign, reject; settings; members, roles and
// invitations; sender domains; webhooks; tokens) and the account's own factors.
// Every change under an administrative permission must be among them.
func TestStepUpRoutes(t *testing.T) {
	h := newDispatchHarness(t, dbtest.New(t, database.SQLite), nil)
	var got []string
	for key, a := range h.srv.RouteAccess() {
		method, _, _ := strings.Cut(key, " ")
		switch a.stepUp {
		case stepUpAlways:
			got = append(got, key)
		case stepUpActions:
			got = append(got, key+" (approve, reject, sign)")
		}
		if method != "GET" && a.kind == accessTenant && slices.Contains([]auth.Permission{auth.PermSettingsWrite, auth.PermUserManage, auth.PermWebhookManage}, a.perm) && a.stepUp != stepUpAlways {
			t.Errorf("%s changes administration without a step-up", key)
		}
	}
	slices.Sort(got)
	want := []string{
		"DELETE /api/v1/me/factors/:id",
		"DELETE /api/v1/tenants/:tenant/cfa-sessions/:id",
		"DELETE /api/v1/tenants/:tenant/invitations/:id",
		"DELETE /api/v1/tenants/:tenant/sender-domains/:domain",
		"DELETE /api/v1/tenants/:tenant/users/:id",
		"DELETE /api/v1/tenants/:tenant/webhooks/:id",
		"PATCH /api/v1/tenants/:tenant/users/:id",
		"PATCH /api/v1/tenants/:tenant/webhooks/:id",
		"POST /api/v1/me/factors",
		"POST /api/v1/me/recovery-codes",
		"POST /api/v1/me/tokens",
		"POST /api/v1/tenants/:tenant/cfa-sessions",
		"POST /api/v1/tenants/:tenant/sender-domains",
		"POST /api/v1/tenants/:tenant/submissions/:id/transitions (approve, reject, sign)",
		"POST /api/v1/tenants/:tenant/users",
		"POST /api/v1/tenants/:tenant/webhooks",
		"POST /api/v1/tenants/:tenant/webhooks/:id/deliveries/:delivery/redeliver",
		"PUT /api/v1/tenants/:tenant/cfa-sessions/:id",
		"PUT /api/v1/tenants/:tenant/mailbox",
		"PUT /api/v1/tenants/:tenant/security",
		"PUT /api/v1/tenants/:tenant/settings",
	}
	if !slices.Equal(got, want) {
		t.Errorf("step-up routes:\n got %q\nwant %q", got, want)
	}
	var actions []string
	for _, a := range workflow.StepUpActions() {
		actions = append(actions, string(a))
	}
	slices.Sort(actions)
	if !slices.Equal(actions, []string{"approve", "reject", "sign"}) {
		t.Errorf("step-up actions %v", actions)
	}
}

// TestResetSecondFactors: an operator removes the factors of someone who lost them all
// (admin reset-second-factors): their sessions end, and their next login enrols again.
func TestResetSecondFactors(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		if n, err := h.auth.ResetSecondFactors(context.Background(), "Reviewer@alpha.test"); err != nil || n != 1 {
			t.Fatalf("reset: %d %v", n, err)
		}
		w.reviewerA.must(401, "GET", "/api/v1/me", nil)
		if _, body := h.passwordOnly("reviewer@alpha.test"); body.SecondFactorRequired || !body.SecondFactorEnrolmentRequired {
			t.Errorf("login after the reset: %+v", body)
		}
		if _, err := h.auth.ResetSecondFactors(context.Background(), "nobody@alpha.test"); err == nil {
			t.Error("reset of an unknown user")
		}
	})
}
