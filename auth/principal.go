package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/database"
)

// How a request authenticated.
const (
	ViaSession = "session"
	ViaToken   = "token"
)

// Principal is an authenticated user for the length of one request.
type Principal struct {
	User User
	// Via says whether a session cookie or an API token authenticated the request.
	Via       string
	SessionID string
	TokenID   string
	IP        string
	// Token is the API token that authenticated the request (Via == ViaToken).
	Token *APIToken
	// ReauthenticatedAt is the session's last use of a second factor (or of the
	// password, for a user without one); nil for tokens.
	ReauthenticatedAt *time.Time
	// HasSecondFactor and SecondFactorRequired (sessions only): the user has an active
	// second factor; a policy requires one (see MustEnrol).
	HasSecondFactor, SecondFactorRequired bool
	// tenant is the tenant the request names, read with its credentials (AuthenticateIn)
	// for ResolveTenant; nil when the request names none.
	tenant *prefetchedTenant
}

// Actor returns who the principal is for the audit trail.
func (p *Principal) Actor() Actor { return Actor{UserID: p.User.ID, IP: p.IP} }

// TenantAccess is a principal acting in one tenant: the tenant, the membership (nil for
// a superadmin who is not a member) and the roles held there.
type TenantAccess struct {
	Principal  *Principal
	Tenant     Tenant
	Membership *Membership
	Roles      []string
	authz      *Authorizer
	// settings is the tenant's settings document as ResolveTenant read it with the
	// tenant (settingsRead says it did): the request's views need not read it again.
	settings     string
	settingsRead bool
}

// TenantSettings returns the tenant's settings document as read with the tenant at the
// start of the request, and whether it was (a TenantAccess built otherwise has none).
// It is for answers that show the settings' effect, not for changing them.
func (a *TenantAccess) TenantSettings() (string, bool) { return a.settings, a.settingsRead }

// Can reports whether the principal holds perm in this tenant. A superadmin holds a
// tenant admin's permissions in every tenant, so that a new tenant can be set up.
func (a *TenantAccess) Can(perm Permission) bool {
	if a.Membership != nil && a.Membership.Active && a.authz.Can(a.Principal.User.ID, a.Tenant.ID, perm) {
		return true
	}
	return a.Principal.User.IsSuperadmin && a.authz.Can(RoleTenantAdmin, a.Tenant.ID, perm)
}

// Require returns a 403 unless the principal holds perm.
func (a *TenantAccess) Require(perm Permission) error {
	if a.Can(perm) {
		return nil
	}
	return &apperr.Error{Kind: apperr.KindForbidden, Code: apperr.CodeForbidden, Message: "your roles in this tenant do not allow this"}
}

// HasRole reports whether the principal holds role in this tenant.
func (a *TenantAccess) HasRole(role string) bool { return slices.Contains(a.Roles, role) }

// Actor returns who acts, for the audit trail.
func (a *TenantAccess) Actor() Actor { return a.Principal.Actor() }

// Scope limits queries to what a caller may see in one tenant: always the tenant, and
// for organization-scoped roles (editor, viewer) their own organization. Every
// tenant-scoped query is built through a Scope; there is no other way to get one than
// from a TenantAccess, so a handler cannot forget the conditions.
type Scope struct {
	tenantID       string
	organizationID string // empty: the whole tenant
}

// TenantScope is the whole tenant, for objects every member may see (organizations,
// cases) or that are already guarded by a permission (users).
func (a *TenantAccess) TenantScope() Scope { return Scope{tenantID: a.Tenant.ID} }

// ScopeFor is the scope of objects owned by organizations (submissions and what hangs
// off them): the whole tenant with readAll, the caller's organization with readOwn, and
// a 404 without either, so that the caller learns nothing.
func (a *TenantAccess) ScopeFor(readAll, readOwn Permission) (Scope, error) {
	switch {
	case a.Can(readAll):
		return Scope{tenantID: a.Tenant.ID}, nil
	case a.Can(readOwn) && a.Membership != nil:
		return Scope{tenantID: a.Tenant.ID, organizationID: a.Membership.OrganizationID}, nil
	}
	return Scope{}, apperr.NotFound("resource")
}

// TenantID is the scope's tenant.
func (s Scope) TenantID() string { return s.tenantID }

// OrganizationID is the organization the scope is limited to, or "" for the whole tenant.
func (s Scope) OrganizationID() string { return s.organizationID }

// Apply adds the scope's conditions on table to q. Tables with an organization_id
// column get the organization condition when the scope has one; pass owned=false for
// tables without one.
func (s Scope) Apply(q *gorm.DB, table string, owned bool) *gorm.DB {
	if s.tenantID == "" {
		// A zero Scope is a programming error: refuse rather than query every tenant.
		panic("auth: query with a zero Scope")
	}
	q = q.Where(table+".tenant_id = ?", s.tenantID)
	if owned && s.organizationID != "" {
		q = q.Where(table+".organization_id = ?", s.organizationID)
	}
	return q
}

// CSRFToken returns the token that mutating requests of sessionID must carry: an HMAC
// of the session id, so it needs no storage and can be handed out again after a reload.
func (s *Service) CSRFToken(sessionID string) string {
	m := hmac.New(sha256.New, s.opts.SecretKey)
	m.Write([]byte("csrf:" + sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCSRF reports whether token is the CSRF token of sessionID.
func (s *Service) CheckCSRF(sessionID, token string) bool {
	return token != "" && hmac.Equal([]byte(token), []byte(s.CSRFToken(sessionID)))
}

// ResolveTenant gives the principal's access to the tenant with this slug. A tenant the
// principal does not belong to answers 404, as if it did not exist. When the request
// was authenticated for this slug (AuthenticateIn), the tenant was read with the
// credentials, in the same statement, and is not read again.
func (s *Service) ResolveTenant(ctx context.Context, p *Principal, slug string) (*TenantAccess, error) {
	if p.tenant != nil && p.tenant.slug == slug {
		return s.tenantAccess(ctx, p, p.tenant.row)
	}
	// The tenant, the caller's membership and the policy version in one query.
	var userID any // NULL for the platform itself, which has no user id
	if database.ValidID(p.User.ID) {
		userID = p.User.ID
	}
	var rows []tenantRow
	err := s.db.Conn(ctx).Table("tenants").Select(tenantColumns).
		Joins("LEFT JOIN memberships ON memberships.tenant_id = tenants.id AND memberships.user_id = ? AND memberships.active", userID).
		Where("tenants.slug = ?", slug).Limit(1).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	var r *tenantRow
	if len(rows) > 0 {
		r = &rows[0]
	}
	return s.tenantAccess(ctx, p, r)
}

// tenantRow is a tenant with the caller's membership and the policy version, as
// ResolveTenant reads it, or as the authentication of a request that names the tenant
// reads it beside the credentials (tenantJoin). Its columns carry prefixes, so that they
// do not collide with the user's.
type tenantRow struct {
	TenantID, TenantSlug, TenantName string
	TenantCreatedAt, TenantUpdatedAt time.Time
	TenantSettings                   string
	MemberID                         *string
	MemberOrg                        *string
	MemberSince                      *time.Time
	// PolicyVersion is read with the membership, so that the roles come from a
	// policy at least as new as the request (a change through another process).
	PolicyVersion int64
}

// tenantColumns are tenantRow's columns, from tenants and memberships.
const tenantColumns = "tenants.id AS tenant_id, tenants.slug AS tenant_slug, tenants.name AS tenant_name, " +
	"tenants.created_at AS tenant_created_at, tenants.updated_at AS tenant_updated_at, tenants.settings AS tenant_settings, " +
	"memberships.id AS member_id, memberships.organization_id AS member_org, memberships.created_at AS member_since, " + PolicyVersionColumn

// tenantJoin joins, to a query on users, the tenant with the slug (bound to its one
// placeholder) and the user's active membership there: tenantColumns are then NULL
// when there is no such tenant.
const tenantJoin = "LEFT JOIN tenants ON tenants.slug = ? " +
	"LEFT JOIN memberships ON memberships.tenant_id = tenants.id AND memberships.user_id = users.id AND memberships.active"

// prefetchedTenant is the tenant named by a request, read with its credentials; row is
// nil when there is no tenant with that slug.
type prefetchedTenant struct {
	slug string
	row  *tenantRow
}

// prefetch keeps r, read for slug with the credentials, for ResolveTenant.
func (p *Principal) prefetch(slug string, r tenantRow) {
	if slug == "" {
		return
	}
	pt := &prefetchedTenant{slug: slug}
	if r.TenantID != "" {
		pt.row = &r
	}
	p.tenant = pt
}

// tenantAccess checks the caller's access to the tenant read in r (nil: no tenant).
func (s *Service) tenantAccess(ctx context.Context, p *Principal, r *tenantRow) (*TenantAccess, error) {
	if r == nil || (r.MemberID == nil && !p.User.IsSuperadmin) {
		return nil, apperr.NotFound("tenant")
	}
	if err := s.authz.AtLeast(ctx, r.PolicyVersion); err != nil {
		return nil, err
	}
	// The tenant's token policy applies where a token is used: tokens belong to users,
	// who may be members of tenants with different policies.
	if p.Via == ViaToken && p.Token != nil {
		if pol := tokenPolicyOf(r.TenantSettings); !pol.Allows(p.Token.CreatedAt, p.Token.ExpiresAt) {
			return nil, pol.refusal()
		}
	}
	t := Tenant{ID: r.TenantID, Slug: r.TenantSlug, Name: r.TenantName, CreatedAt: r.TenantCreatedAt, UpdatedAt: r.TenantUpdatedAt}
	a := &TenantAccess{Principal: p, Tenant: t, authz: s.authz, settings: r.TenantSettings, settingsRead: true}
	if r.MemberID != nil {
		a.Membership = &Membership{ID: *r.MemberID, UserID: p.User.ID, TenantID: t.ID, OrganizationID: *r.MemberOrg,
			Active: true, CreatedAt: *r.MemberSince}
		a.Roles = s.authz.RolesOf(p.User.ID, t.ID)
	}
	return a, nil
}
