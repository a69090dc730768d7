package auth

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	gormadapter "github.com/casbin/gorm-adapter/v3"
	"gorm.io/gorm"

	"github.com/unionportal/unionportal/database"
)

// Role names. A user holds roles per tenant.
const (
	RoleTenantAdmin = "tenant_admin"
	RoleReviewer    = "reviewer"
	RoleSignatory   = "signatory"
	RoleEditor      = "editor"
	RoleViewer      = "viewer"
)

// Roles lists every role, in the order the UI shows them.
func Roles() []string {
	return []string{RoleTenantAdmin, RoleReviewer, RoleSignatory, RoleEditor, RoleViewer}
}

// Permission names one thing a role may do in its tenant. The role -> permission policy
// is seeded by a migration (database/migrations/*/00002_role_permissions.sql).
type Permission string

// Permissions the portal checks.
const (
	PermTenantRead         Permission = "tenant:read"
	PermSettingsRead       Permission = "settings:read"
	PermSettingsWrite      Permission = "settings:write"
	PermOrganizationRead   Permission = "organization:read"
	PermOrganizationManage Permission = "organization:manage"
	PermUserRead           Permission = "user:read"
	PermUserManage         Permission = "user:manage"
	PermCaseRead           Permission = "case:read"
	PermCaseCreate         Permission = "case:create"
	PermCaseUpdate         Permission = "case:update"
	// PermSubmissionReadAll and PermSubmissionReadOwn decide the scope of submission
	// queries: the whole tenant, or the caller's own organization.
	PermSubmissionReadAll  Permission = "submission:read_all"
	PermSubmissionReadOwn  Permission = "submission:read_own"
	PermSubmissionWriteOwn Permission = "submission:write_own"
	PermSubmissionReview   Permission = "submission:review"
	PermSubmissionSign     Permission = "submission:sign"
	PermSubmissionResend   Permission = "submission:resend"
	PermCommentRead        Permission = "comment:read"
	PermCommentCreate      Permission = "comment:create"
	PermEventRead          Permission = "event:read"
	// PermWebhookManage: register, change and remove the tenant's webhook endpoints and
	// read their delivery logs (tenant admins; migration 00009).
	PermWebhookManage Permission = "webhook:manage"
	// PermAuditRead: read the tenant's audit trail (tenant admins; migration 00016).
	PermAuditRead Permission = "audit:read"
)

// casbinModel is RBAC with domains: r.sub is a user id (or a role), r.dom a tenant id,
// r.obj a permission. Policies (p) are role -> permission and hold in every tenant;
// grouping rules (g) give a user a role in one tenant.
const casbinModel = `
[request_definition]
r = sub, dom, obj

[policy_definition]
p = sub, obj

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.obj == p.obj
`

// PolicyVersionColumn selects the policy version as a column of a query that a request
// makes anyway (ResolveTenant's, Memberships'), so that every request compares it with
// the loaded policy without a round trip of its own: a role changed through one process
// holds in every other from their next request on (ADR 0027).
const PolicyVersionColumn = "(SELECT version FROM authz_state WHERE id = 1) AS policy_version"

// Authorizer answers "may user U do P in tenant T". It wraps casbin's synced cached
// enforcer, loads the policy through the gorm adapter, and reloads it when the policy
// version in the database moves, whichever process moved it.
type Authorizer struct {
	db  *database.DB
	log *slog.Logger

	// adapter reads the policy from the database.
	adapter *gormadapter.Adapter

	// policy is the loaded policy. A reload builds a new enforcer aside, with a cache of
	// its own, and swaps it in: decisions take no lock and never wait for a reload (with
	// 10,000 rules a reload takes a few hundred milliseconds), each uses one policy from
	// start to end, and no decision of an older policy lands in the new one's cache.
	policy atomic.Pointer[loadedPolicy]

	// checkMu lets one request at a time reload the policy.
	checkMu sync.Mutex

	// afterLoad, when set (by tests), runs in a reload between loading the new policy
	// and swapping it in.
	afterLoad func()
}

// loadedPolicy is an enforcer and the policy version it was loaded at.
type loadedPolicy struct {
	enforcer *casbin.SyncedCachedEnforcer
	version  int64
}

// NewAuthorizer loads the policy from db.
func NewAuthorizer(ctx context.Context, db *database.DB, log *slog.Logger) (*Authorizer, error) {
	g := db.Conn(context.Background())
	// The table comes from our migrations; the adapter must not AutoMigrate it.
	gormadapter.TurnOffAutoMigrate(g)
	adapter, err := gormadapter.NewAdapterByDB(g)
	if err != nil {
		return nil, fmt.Errorf("casbin adapter: %w", err)
	}
	a := &Authorizer{db: db, log: log, adapter: adapter}
	if err := a.reload(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// reload reads the version, then the policy into a new enforcer, and swaps it in. A
// change committed in between makes the version read older than the policy, and so
// only causes one more reload. Callers hold checkMu (NewAuthorizer has a to itself),
// so swaps happen in order.
func (a *Authorizer) reload(ctx context.Context) error {
	var st authzState
	if err := a.db.Conn(ctx).First(&st, 1).Error; err != nil {
		return err
	}
	m, err := model.NewModelFromString(casbinModel)
	if err != nil {
		return err
	}
	e, err := casbin.NewSyncedCachedEnforcer(m, a.adapter) // loads the policy
	if err != nil {
		return fmt.Errorf("load policy: %w", err)
	}
	if a.afterLoad != nil {
		a.afterLoad()
	}
	a.policy.Store(&loadedPolicy{enforcer: e, version: st.Version})
	return nil
}

// Refresh reloads the policy if another process (or this one) changed it since the
// last load: after a change made here, and when a request has no query to carry
// PolicyVersionColumn.
func (a *Authorizer) Refresh(ctx context.Context) error {
	a.checkMu.Lock()
	defer a.checkMu.Unlock()
	var st authzState
	if err := a.db.Conn(ctx).First(&st, 1).Error; err != nil {
		return err
	}
	if st.Version == a.loadedVersion() {
		return nil
	}
	a.log.Debug("authorization policy changed; reloading", "to", st.Version)
	return a.reload(ctx)
}

// AtLeast makes sure the loaded policy is at least version, which the caller read from
// the database (PolicyVersionColumn) during this request, reloading it if not.
func (a *Authorizer) AtLeast(ctx context.Context, version int64) error {
	if version <= a.loadedVersion() {
		return nil
	}
	a.checkMu.Lock()
	defer a.checkMu.Unlock()
	if version <= a.loadedVersion() {
		return nil // another request reloaded it meanwhile
	}
	a.log.Debug("authorization policy changed; reloading", "to", version)
	return a.reload(ctx)
}

func (a *Authorizer) loadedVersion() int64 { return a.policy.Load().version }

// enforcer is the loaded policy's enforcer.
func (a *Authorizer) enforcer() *casbin.SyncedCachedEnforcer { return a.policy.Load().enforcer }

// Can reports whether subject (a user id, or a role name) holds perm in tenantID.
func (a *Authorizer) Can(subject, tenantID string, perm Permission) bool {
	ok, err := a.enforcer().Enforce(subject, tenantID, string(perm))
	if err != nil {
		a.log.Error("casbin enforce failed", "error", err)
		return false
	}
	return ok
}

// RolesOf lists the roles userID holds in tenantID.
func (a *Authorizer) RolesOf(userID, tenantID string) []string {
	return a.enforcer().GetRolesForUserInDomain(userID, tenantID)
}

// RolePermissions lists the permissions of role, for documentation and tests.
func (a *Authorizer) RolePermissions(role string) []Permission {
	rules, _ := a.enforcer().GetFilteredPolicy(0, role)
	out := make([]Permission, 0, len(rules))
	for _, r := range rules {
		out = append(out, Permission(r[1]))
	}
	return out
}

// setRoles replaces userID's roles in tenantID inside the transaction carried by ctx
// and bumps the policy version, so that every process reloads. The caller reloads this
// process's enforcer after commit (Refresh).
func (a *Authorizer) setRoles(ctx context.Context, userID, tenantID string, roles []string) error {
	tx := a.db.Conn(ctx)
	if err := tx.Where("ptype = 'g' AND v0 = ? AND v2 = ?", userID, tenantID).Delete(&gormadapter.CasbinRule{}).Error; err != nil {
		return err
	}
	for _, r := range roles {
		if err := tx.Create(&gormadapter.CasbinRule{Ptype: "g", V0: userID, V1: r, V2: tenantID}).Error; err != nil {
			return err
		}
	}
	return tx.Model(&authzState{}).Where("id = 1").Update("version", gorm.Expr("version + 1")).Error
}

// storedRoles reads userID's roles in tenantID from the database, in the transaction
// carried by ctx: what a check inside a transaction must rely on, rather than this
// process's cached policy.
func (a *Authorizer) storedRoles(ctx context.Context, userID, tenantID string) ([]string, error) {
	var roles []string
	err := a.db.Conn(ctx).Model(&gormadapter.CasbinRule{}).Where("ptype = 'g' AND v0 = ? AND v2 = ?", userID, tenantID).
		Order("id").Pluck("v1", &roles).Error
	return roles, err
}
