package auth

import (
	"context"

	"github.com/unionportal/unionportal/database"
)

// Entitlement says who may be told about an object of a tenant: holders of Perm in the
// tenant, and, when OrgPerm is set, holders of OrgPerm who are members of Organization.
type Entitlement struct {
	TenantID     string
	Perm         Permission
	OrgPerm      Permission
	Organization string
	// Users, when not nil, narrows the answer to these users.
	Users []string
}

// EntitledEmails returns the addresses of the users with an active account and an
// active membership in the tenant whom e entitles, for notifications: a deactivated
// member, or one whose roles no longer entitle them, is never told.
func EntitledEmails(ctx context.Context, db *database.DB, e Entitlement) ([]string, error) {
	return entitled(ctx, db, e, "users.email")
}

// EntitledUsers is EntitledEmails answering user ids, for what is recorded per person
// (the CFA deadline reminders, ADR 0034).
func EntitledUsers(ctx context.Context, db *database.DB, e Entitlement) ([]string, error) {
	return entitled(ctx, db, e, "users.id")
}

func entitled(ctx context.Context, db *database.DB, e Entitlement, column string) ([]string, error) {
	if e.Users != nil && len(e.Users) == 0 {
		return nil, nil
	}
	holds := func(perm string) string {
		return `EXISTS (SELECT 1 FROM casbin_rule g JOIN casbin_rule p ON p.ptype = 'p' AND p.v0 = g.v1 AND p.v1 = '` + perm + `'
			WHERE g.ptype = 'g' AND g.v0 = ` + db.AsText("users.id") + ` AND g.v2 = ` + db.AsText("m.tenant_id") + `)`
	}
	cond := holds(string(e.Perm))
	args := []any{}
	if e.OrgPerm != "" {
		cond = "(" + cond + " OR (" + db.AsText("m.organization_id") + " = ? AND " + holds(string(e.OrgPerm)) + "))"
		args = append(args, e.Organization)
	}
	q := db.Conn(ctx).Table("users").
		Joins("JOIN memberships m ON m.user_id = users.id AND m.active AND m.tenant_id = ?", e.TenantID).
		Where("users.active").Where(cond, args...)
	if e.Users != nil {
		q = q.Where("users.id IN ?", e.Users)
	}
	var out []string
	err := q.Order(column).Pluck(column, &out).Error
	return out, err
}
