package api

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

// TestPasswordPolicy: blank, control-character and common passwords are refused with a
// 422 naming the field, wherever a password is set.
func TestPasswordPolicy(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		for _, pw := range []string{strings.Repeat(" ", 12), strings.Repeat("\x00", 12), strings.Repeat("\t", 12),
			"password1234", "Password2024!", "passwordpassword", "1qaz2wsx3edc", "new.member@alpha.test"} {
			r := w.super.do("POST", "/api/v1/tenants/alpha/users", map[string]any{"email": "new.member@alpha.test", "name": "New Member",
				"password": pw, "organization_id": w.orgA1.ID, "roles": []string{"viewer"}})
			// NUL is refused with every other text field's NUL, as 400.
			if (r.Code != 422 && !(r.Code == 400 && strings.Contains(pw, "\x00"))) || !slices.Equal(fieldNames(r.problem(t)), []string{"password"}) {
				t.Errorf("password %q: %d %s, want 422 (400 for NUL) naming password", pw, r.Code, r.Body)
			}
		}
		var n int64
		db.Conn(context.Background()).Table("users").Where("email = ?", "new.member@alpha.test").Count(&n)
		if n != 0 {
			t.Error("a user was created with a refused password")
		}
	})
}

// TestChangeOwnPassword: the current password is required, the new one must pass the
// policy, the other sessions end and this one stays; API tokens may not do it.
func TestChangeOwnPassword(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		h.world()
		c := h.login("editor@alpha.test")
		other := h.login("editor@alpha.test")
		var tok auth.NewToken
		c.must(201, "POST", "/api/v1/me/tokens", map[string]string{"name": "script"}).json(t, &tok)
		rest := &client{h: h, ip: "203.0.113.9", bearer: tok.Token}
		const newPassword = "seven lanterns over the river"

		if p := rest.must(403, "POST", "/api/v1/me/password", map[string]string{"current_password": testPassword, "new_password": newPassword}).problem(t); p["code"] != "session_required" {
			t.Errorf("by API token: %v", p)
		}
		r := c.must(422, "POST", "/api/v1/me/password", map[string]string{"current_password": "not my password at all", "new_password": newPassword})
		if !slices.Equal(fieldNames(r.problem(t)), []string{"current_password"}) {
			t.Errorf("wrong current password: %s", r.Body)
		}
		r = c.must(422, "POST", "/api/v1/me/password", map[string]string{"new_password": newPassword})
		if !slices.Equal(fieldNames(r.problem(t)), []string{"current_password"}) {
			t.Errorf("no current password: %s", r.Body)
		}
		for _, weak := range []string{strings.Repeat(" ", 12), "password1234", testPassword} {
			r = c.must(422, "POST", "/api/v1/me/password", map[string]string{"current_password": testPassword, "new_password": weak})
			if !slices.Equal(fieldNames(r.problem(t)), []string{"new_password"}) {
				t.Errorf("new password %q: %s", weak, r.Body)
			}
		}
		c.must(204, "POST", "/api/v1/me/password", map[string]string{"current_password": testPassword, "new_password": newPassword})
		c.must(200, "GET", "/api/v1/me", nil)
		other.must(401, "GET", "/api/v1/me", nil)
		rest.must(200, "GET", "/api/v1/me", nil)
		if r := h.anonymous().loginAs("editor@alpha.test", testPassword); r.Code != 401 {
			t.Errorf("the old password still logs in: %d", r.Code)
		}
		if r := h.anonymous().loginAs("editor@alpha.test", newPassword); r.Code != 200 {
			t.Errorf("the new password: %d %s", r.Code, r.Body)
		}
		var actions []string
		db.Conn(context.Background()).Table("events").Order("id").Pluck("action", &actions)
		if !slices.Contains(actions, "password.changed") {
			t.Errorf("no password.changed event among %v", actions)
		}
		// Guessing the current password through this route is limited like logins.
		codes := []int{}
		for range 6 {
			codes = append(codes, c.do("POST", "/api/v1/me/password", map[string]string{"current_password": "a wrong guess here", "new_password": "another fine long phrase"}).Code)
		}
		if codes[5] != 429 {
			t.Errorf("six wrong current passwords: %v, want the sixth refused with 429", codes)
		}
	})
}
