package auth

import (
	"context"
	"slices"

	"github.com/unionportal/unionportal/database"
)

// ExportTables are auth's rows of one tenant, parents first: the tenant, the users it
// involves (members past and present, people invited, and extraUserIDs: whoever else
// acted in it, such as a superadmin), its organizations, memberships, invitations and
// role assignments. Sessions, API tokens, login counters, idempotency keys, second
// factors, recovery codes and pending logins stay behind: they belong to an
// installation, not to the tenant's record (a TOTP secret is sealed under the
// installation's own key), and imported members add a factor again. The tenant's
// second-factor policy travels in its row. Imported users
// are never superadmins, and those who are not members get no usable password.
func (s *Service) ExportTables(ctx context.Context, tenantID string, extraUserIDs []string) ([]database.TableExport, error) {
	var memberIDs, invited []string
	if err := s.db.Conn(ctx).Raw("SELECT user_id FROM memberships WHERE tenant_id = ?", tenantID).Find(&memberIDs).Error; err != nil {
		return nil, err
	}
	err := s.db.Conn(ctx).Raw(`SELECT invited_by FROM invitations WHERE tenant_id = ? AND invited_by IS NOT NULL
		UNION SELECT created_user_id FROM invitations WHERE tenant_id = ? AND created_user_id IS NOT NULL`,
		tenantID, tenantID).Find(&invited).Error
	if err != nil {
		return nil, err
	}
	members := map[string]bool{}
	for _, id := range memberIDs {
		members[id] = true
	}
	seen := map[string]bool{}
	var users []any
	for _, id := range slices.Concat(memberIDs, invited, extraUserIDs) {
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
		{Table: "users", Where: userWhere, Params: []any{users}, Order: "id", Transform: func(r database.Row) error {
			r["is_superadmin"] = false
			if id, _ := r["id"].(string); !members[id] {
				r["password_hash"] = ""
			}
			return nil
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

// otherAccount reports whether email belongs here to a user other than id.
func (s *Service) otherAccount(ctx context.Context, email, id string) (bool, error) {
	var n int64
	err := s.db.Conn(ctx).Model(&User{}).Where("email = ? AND id <> ?", email, id).Count(&n).Error
	return n > 0, err
}

// UserConflicts lists the e-mail addresses of people about to be imported (users who
// can sign in: the tenant's members) that belong here to another account: the import
// is refused rather than merge two people or give one the other's records.
func (s *Service) UserConflicts(ctx context.Context, users []database.Row) ([]string, error) {
	var out []string
	for _, u := range users {
		id, _ := u["id"].(string)
		email, _ := u["email"].(string)
		if hash, _ := u["password_hash"].(string); hash == "" {
			continue // not a member: see PrepareImportedUser
		}
		if other, err := s.otherAccount(ctx, email, id); err != nil {
			return nil, err
		} else if other {
			out = append(out, email)
		}
	}
	return out, nil
}

// PrepareImportedUser decides how an exported user row is imported: skipped when the
// user exists here (same id: the user as it is here is kept); a user who only acted in
// the tenant (a superadmin, a former member) and whose address belongs here to another
// account keeps its id, which the records and the audit chain name, under a
// placeholder address that cannot receive mail.
func (s *Service) PrepareImportedUser(ctx context.Context, row database.Row) (skip bool, err error) {
	id, _ := row["id"].(string)
	var n int64
	if err := s.db.Conn(ctx).Model(&User{}).Where("id = ?", id).Count(&n).Error; err != nil || n > 0 {
		return n > 0, err
	}
	email, _ := row["email"].(string)
	if hash, _ := row["password_hash"].(string); hash == "" {
		if other, err := s.otherAccount(ctx, email, id); err != nil {
			return false, err
		} else if other {
			row["email"] = "imported-" + id + "@users.invalid"
		}
	}
	return false, nil
}
