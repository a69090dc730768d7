package api

import (
	"context"
	"sync"
	"testing"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

// TestLastTenantAdminUnderConcurrency: the tenant's only two admins demote (or
// deactivate) each other at the same moment, many times over. Each time exactly one
// succeeds, the other is refused (409 last_tenant_admin, or 403/404 when its request
// arrived after it had lost the role or the membership), and the tenant keeps an
// active admin.
func TestLastTenantAdminUnderConcurrency(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		var admin2 auth.Member
		w.super.must(201, "POST", "/api/v1/tenants/alpha/users", map[string]any{"email": "admin2@alpha.test", "name": "Second admin",
			"password": testPassword, "organization_id": w.orgA1.ID, "roles": []string{"tenant_admin"}}).json(t, &admin2)
		var users list[auth.Member]
		w.super.must(200, "GET", "/api/v1/tenants/alpha/users", nil).json(t, &users)
		var admin1ID string
		for _, u := range users.Items {
			if u.Email == "admin@alpha.test" {
				admin1ID = u.ID
			}
		}
		token := func(c *client) *client {
			var tok auth.NewToken
			c.must(201, "POST", "/api/v1/me/tokens", map[string]any{"name": "race", "scopes": []string{"read", "write", "admin", "step_up"}}).json(t, &tok)
			return &client{h: h, ip: "203.0.113.30", bearer: tok.Token}
		}
		one, two := token(w.adminA), token(h.login("admin2@alpha.test"))
		activeAdmins := func() int64 {
			var n int64
			err := db.Conn(context.Background()).Table("memberships").
				Joins("JOIN casbin_rule ON casbin_rule.ptype = 'g' AND casbin_rule.v0 = "+db.AsText("memberships.user_id")+
					" AND casbin_rule.v1 = 'tenant_admin' AND casbin_rule.v2 = "+db.AsText("memberships.tenant_id")).
				Where("memberships.tenant_id = ? AND memberships.active", w.tenantA.ID).Count(&n).Error
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		restore := map[string]any{"active": true, "roles": []string{"tenant_admin"}}
		for i := range 40 {
			w.super.must(200, "PATCH", "/api/v1/tenants/alpha/users/"+admin1ID, restore)
			w.super.must(200, "PATCH", "/api/v1/tenants/alpha/users/"+admin2.ID, restore)
			method, body := "PATCH", any(map[string]any{"roles": []string{"viewer"}})
			if i%2 == 1 {
				method, body = "DELETE", nil
			}
			var wg sync.WaitGroup
			var r1, r2 response
			start := make(chan struct{})
			wg.Add(2)
			go func() { defer wg.Done(); <-start; r1 = one.do(method, "/api/v1/tenants/alpha/users/"+admin2.ID, body) }()
			go func() { defer wg.Done(); <-start; r2 = two.do(method, "/api/v1/tenants/alpha/users/"+admin1ID, body) }()
			close(start)
			wg.Wait()
			ok := 0
			for _, r := range []response{r1, r2} {
				switch r.Code {
				case 200, 204:
					ok++
				case 409:
					if p := r.problem(t); p["code"] != "last_tenant_admin" {
						t.Errorf("round %d: 409 %v, want last_tenant_admin", i, p)
					}
				case 403, 404: // its request came after it had lost the role or the membership
				default:
					t.Errorf("round %d (%s): %d %s", i, method, r.Code, r.Body)
				}
			}
			if n := activeAdmins(); ok != 1 || n != 1 {
				t.Fatalf("round %d (%s): %d of 2 succeeded (%d, %d), %d active admins left; want exactly 1 and 1", i, method, ok, r1.Code, r2.Code, n)
			}
		}
	})
}
