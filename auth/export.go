package auth

import (
	"context"

	"github.com/unionportal/unionportal/database"
)

// ExportTables are auth's rows of one tenant, parents first: the tenant, the users it
// involves (members past and present, people invited, and extraUserIDs: whoever else
// acted in it, such as a superadmin), its organizations, memberships, invitations and
// role assignments. Sessions, API tokens, login counters and idempotency keys stay
// behind: they belong to an installation, not to the tenant's record. Imported users
// are never superadmins, and those who are not members get no usable password.
func (s *Service) ExportTables(ctx context.Context, tenantID string, extraUserIDs []string) ([]database.TableExport, error) {
	var ids []string
	err := s.db.Conn(ctx).Raw(`SELECT user_id FROM memberships WHERE tenant_id = ?
		UNION SELECT invited_by FROM invitations WHERE tenant_id = ? AND invited_by IS NOT NULL
		UNION SELECT created_user_id FROM invitations WHERE tenant_id = ? AND created_user_id IS NOT NULL`,
		tenantID, tenantID, tenantID).Scan(&ids).Error
	if err != nil {
		return nil, err
	}
	members := map[string]bool{}
	var memberIDs []string
	if err := s.db.Conn(ctx).Raw("SELECT user_id FROM memberships WHERE tenant_id = ?", tenantID).Scan(&memberIDs).Error; err != nil {
		return nil, err
	}
	for _, id := range memberIDs {
		members[id] = true
	}
	seen := map[string]bool{}
	var users []any
	for _, id := range append(ids, extraUserIDs...) {
		if id != "" && !seen[id] {
			seen[id] = true
			users = append(users, id)
		}
	}
	userWhere := "1 = 0"
	if len(users) > 0 {
		userWhere = "id IN ?"
	}
	return []database.TableExport{
		{Table: "tenants", Where: "id = ?"},
		{Table: "users", Where: userWhere, Params: []any{users}, Order: "id", Transform: func(r database.Row) {
			r["is_superadmin"] = false
			if id, _ := r["id"].(string); !members[id] {
				r["password_hash"] = ""
			}
		}},
		{Table: "organizations", Where: "tenant_id = ?", Order: "id"},
		{Table: "memberships", Where: "tenant_id = ?", Order: "id"},
		{Table: "invitations", Where: "tenant_id = ?", Order: "id"},
		// Role assignments (g, user, role, tenant); the role permissions are the
		// installation's own.
		{Table: "casbin_rule", Where: "ptype = 'g' AND v2 = ?", Order: "v0, v1", Skip: []string{"id"}},
	}, nil
}

// Imported tells every process of the installation that role assignments were added
// (by an import), in the transaction carried by ctx.
func (s *Service) Imported(ctx context.Context) error {
	return s.db.Conn(ctx).Exec("UPDATE authz_state SET version = version + 1 WHERE id = 1").Error
}

// TenantExists reports whether a tenant with this id or slug exists here.
func (s *Service) TenantExists(ctx context.Context, id, slug string) (bool, error) {
	var n int64
	err := s.db.Conn(ctx).Model(&Tenant{}).Where("id = ? OR slug = ?", id, slug).Count(&n).Error
	return n > 0, err
}

// UserConflicts lists the e-mail addresses of rows about to be imported that belong
// here to another user (another id): the import is refused rather than merge people.
func (s *Service) UserConflicts(ctx context.Context, users []database.Row) ([]string, error) {
	var out []string
	for _, u := range users {
		id, _ := u["id"].(string)
		email, _ := u["email"].(string)
		var other []string
		if err := s.db.Conn(ctx).Raw("SELECT id FROM users WHERE email = ? AND id <> ?", email, id).Scan(&other).Error; err != nil {
			return nil, err
		}
		if len(other) > 0 {
			out = append(out, email)
		}
	}
	return out, nil
}

// UserExists reports whether the user id exists here (an import then keeps the user
// as it is here, and only adds the tenant's rows).
func (s *Service) UserExists(ctx context.Context, id string) (bool, error) {
	var n int64
	err := s.db.Conn(ctx).Model(&User{}).Where("id = ?", id).Count(&n).Error
	return n > 0, err
}
