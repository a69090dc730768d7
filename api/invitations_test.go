package api

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

// shape lists the keys of a JSON object and of the objects inside it, and the values
// of "status", so that two answers can be compared without their ids and times.
func shape(t *testing.T, body []byte) string {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("not a JSON object: %s", body)
	}
	var parts []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			parts = append(parts, prefix+k)
			if k == "status" {
				parts = append(parts, prefix+"status="+m[k].(string))
			}
			if inner, ok := m[k].(map[string]any); ok {
				walk(prefix+k+".", inner)
			}
		}
	}
	walk("", v)
	return strings.Join(parts, " ")
}

// TestInvitations: a tenant admin adding an e-mail gets the same answer whether or not
// it has an account, and an existing account joins only when its owner accepts.
func TestInvitations(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		// Someone of beta with a name that alpha must not learn.
		var secret auth.Member
		w.super.must(201, "POST", "/api/v1/tenants/beta/users", map[string]any{"email": "zhyldyz@beta.test", "name": "Zhyldyz Secret-Name",
			"password": testPassword, "organization_id": w.orgB.ID, "roles": []string{"editor"}}).json(t, &secret)

		invite := func(email string) response {
			return w.adminA.must(201, "POST", "/api/v1/tenants/alpha/users", map[string]any{"email": email, "name": "Invited Person",
				"password": "a password the admin chose", "organization_id": w.orgA2.ID, "roles": []string{"editor"}})
		}
		existing, fresh := invite("zhyldyz@beta.test"), invite("new.person@alpha.test")
		if a, b := shape(t, existing.Body.Bytes()), shape(t, fresh.Body.Bytes()); a != b {
			t.Errorf("the answers differ:\nexisting account: %s\nnew e-mail:       %s", a, b)
		}
		for _, leak := range []string{secret.ID, "Zhyldyz Secret-Name"} {
			if strings.Contains(existing.Body.String(), leak) {
				t.Errorf("the answer reveals the existing account (%q): %s", leak, existing.Body)
			}
		}
		var answer memberAdded
		existing.json(t, &answer)
		if answer.Status != "invited" || answer.Invitation == nil || answer.Invitation.Status != "pending" {
			t.Fatalf("answer %s", existing.Body)
		}
		// Without a password, or with a bad one, both are refused alike.
		for _, email := range []string{"zhyldyz@beta.test", "another.new@alpha.test"} {
			r := w.adminA.must(422, "POST", "/api/v1/tenants/alpha/users", map[string]any{"email": email, "name": "X",
				"organization_id": w.orgA2.ID, "roles": []string{"editor"}})
			if !slices.Equal(fieldNames(r.problem(t)), []string{"password"}) {
				t.Errorf("no password for %s: %s", email, r.Body)
			}
		}

		// Nobody joined yet: the tenant lists two pending invitations and no new members.
		var members list[auth.Member]
		w.adminA.must(200, "GET", "/api/v1/tenants/alpha/users", nil).json(t, &members)
		for _, m := range members.Items {
			if m.Email == "zhyldyz@beta.test" || m.Email == "new.person@alpha.test" {
				t.Errorf("%s is a member before accepting", m.Email)
			}
		}
		var invs list[auth.Invitation]
		w.adminA.must(200, "GET", "/api/v1/tenants/alpha/invitations", nil).json(t, &invs)
		if len(invs.Items) != 2 || invs.Items[0].Status != "pending" || invs.Items[1].Status != "pending" {
			t.Fatalf("invitations %+v", invs.Items)
		}

		// The existing account keeps its password; the admin's does not open it.
		if r := h.anonymous().loginAs("zhyldyz@beta.test", "a password the admin chose"); r.Code != 401 {
			t.Errorf("the inviting admin's password opened an existing account: %d", r.Code)
		}
		// Its owner sees the invitation, and a token may not answer it.
		zhyldyz := h.login("zhyldyz@beta.test")
		var mine list[auth.MyInvitation]
		zhyldyz.must(200, "GET", "/api/v1/me/invitations", nil).json(t, &mine)
		if len(mine.Items) != 1 || mine.Items[0].Tenant.Slug != "alpha" || mine.Items[0].Organization.ID != w.orgA2.ID ||
			!slices.Equal(mine.Items[0].Roles, []string{"editor"}) {
			t.Fatalf("my invitations %+v", mine.Items)
		}
		id := mine.Items[0].ID
		var tok auth.NewToken
		zhyldyz.must(201, "POST", "/api/v1/me/tokens", map[string]string{"name": "script"}).json(t, &tok)
		rest := &client{h: h, ip: "203.0.113.9", bearer: tok.Token}
		if p := rest.must(403, "POST", "/api/v1/me/invitations/"+id+"/accept", nil).problem(t); p["code"] != "session_required" {
			t.Errorf("accepting by token: %v", p)
		}
		// Someone else cannot answer it.
		w.editorA1.must(404, "POST", "/api/v1/me/invitations/"+id+"/accept", nil)
		zhyldyz.must(404, "GET", "/api/v1/tenants/alpha", nil)
		zhyldyz.must(204, "POST", "/api/v1/me/invitations/"+id+"/accept", nil)
		zhyldyz.must(200, "GET", "/api/v1/tenants/alpha", nil)
		zhyldyz.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID, "kind": "follow_up",
			"title": "From beta's Zhyldyz", "body": "b", "language": "en"})
		zhyldyz.must(404, "POST", "/api/v1/me/invitations/"+id+"/accept", nil)
		var me meResponse
		zhyldyz.must(200, "GET", "/api/v1/me", nil).json(t, &me)
		if len(me.Memberships) != 2 {
			t.Errorf("memberships %+v, want alpha and beta", me.Memberships)
		}

		// The new e-mail got an account with the admin's password: its first login accepts.
		newcomer := h.anonymous()
		if r := newcomer.loginAs("new.person@alpha.test", "a password the admin chose"); r.Code != 200 {
			t.Fatalf("the newcomer's first login: %d %s", r.Code, r.Body)
		}
		newcomer.must(200, "GET", "/api/v1/tenants/alpha", nil)
		newcomer.must(200, "GET", "/api/v1/me", nil).json(t, &me)
		if len(me.Memberships) != 1 || me.Memberships[0].Organization.ID != w.orgA2.ID {
			t.Errorf("newcomer's memberships %+v", me.Memberships)
		}
		w.adminA.must(200, "GET", "/api/v1/tenants/alpha/invitations", nil).json(t, &invs)
		for _, inv := range invs.Items {
			if inv.Status != "accepted" {
				t.Errorf("invitation %s is %s, want accepted", inv.Email, inv.Status)
			}
		}

		// Declining, and revoking.
		w.adminB.must(201, "POST", "/api/v1/tenants/beta/users", map[string]any{"email": "reviewer@alpha.test", "name": "R",
			"password": testPassword, "organization_id": w.orgB.ID, "roles": []string{"viewer"}})
		w.adminB.must(201, "POST", "/api/v1/tenants/beta/users", map[string]any{"email": "viewer@alpha.test", "name": "V",
			"password": testPassword, "organization_id": w.orgB.ID, "roles": []string{"viewer"}})
		w.reviewerA.must(200, "GET", "/api/v1/me/invitations", nil).json(t, &mine)
		w.reviewerA.must(204, "POST", "/api/v1/me/invitations/"+mine.Items[0].ID+"/decline", nil)
		w.reviewerA.must(404, "GET", "/api/v1/tenants/beta", nil)
		w.viewerA2.must(200, "GET", "/api/v1/me/invitations", nil).json(t, &mine)
		var betaInvs list[auth.Invitation]
		w.adminB.must(200, "GET", "/api/v1/tenants/beta/invitations", nil).json(t, &betaInvs)
		for _, inv := range betaInvs.Items {
			if inv.Email == "viewer@alpha.test" {
				w.adminB.must(204, "DELETE", "/api/v1/tenants/beta/invitations/"+inv.ID, nil)
				w.adminB.must(409, "DELETE", "/api/v1/tenants/beta/invitations/"+inv.ID, nil)
			}
			if inv.Email == "reviewer@alpha.test" && inv.Status != "declined" {
				t.Errorf("declined invitation shows %s", inv.Status)
			}
		}
		w.viewerA2.must(404, "POST", "/api/v1/me/invitations/"+mine.Items[0].ID+"/accept", nil)
		w.adminA.must(404, "DELETE", "/api/v1/tenants/beta/invitations/"+mine.Items[0].ID, nil)
		// A declined person may be invited again.
		w.adminB.must(201, "POST", "/api/v1/tenants/beta/users", map[string]any{"email": "reviewer@alpha.test", "name": "R",
			"password": testPassword, "organization_id": w.orgB.ID, "roles": []string{"viewer"}})
	})
}

// TestLeavingATenantKeepsOtherSessions: ending a membership ends access to that tenant
// only; the person's sessions stay, in their other tenants, superadmin included.
func TestLeavingATenantKeepsOtherSessions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		w.super.must(201, "POST", "/api/v1/tenants/beta/users", map[string]any{"email": "editor@alpha.test", "name": "E",
			"organization_id": w.orgB.ID, "roles": []string{"editor"}})
		var root auth.Member
		w.super.must(201, "POST", "/api/v1/tenants/alpha/users", map[string]any{"email": "root@platform.test", "name": "Root",
			"organization_id": w.orgA1.ID, "roles": []string{"viewer"}}).json(t, &root)
		editor := h.login("editor@alpha.test")
		editor.must(200, "GET", "/api/v1/tenants/beta", nil)

		w.adminA.must(204, "DELETE", "/api/v1/tenants/alpha/users/"+w.editorA1ID, nil)
		editor.must(404, "GET", "/api/v1/tenants/alpha", nil)
		editor.must(404, "GET", "/api/v1/tenants/alpha/submissions/"+w.submissionA.ID, nil)
		editor.must(200, "GET", "/api/v1/tenants/beta", nil)
		editor.must(201, "POST", "/api/v1/tenants/beta/cases", map[string]any{"number": "1", "country": "FR", "title": "F", "complainants": []string{"B"}})

		// A tenant admin removing the superadmin's membership does not log them out.
		w.adminA.must(204, "DELETE", "/api/v1/tenants/alpha/users/"+root.ID, nil)
		w.super.must(200, "GET", "/api/v1/me", nil)
		w.super.must(200, "GET", "/api/v1/tenants/beta", nil)
	})
}
