// Package auth owns who may do what: tenants, organizations, users and their
// memberships, sessions, API tokens, the login rate limit, second factors (TOTP,
// WebAuthn, recovery codes), pending logins, the tenants' second-factor policy and
// step-up, and authorization (casbin RBAC with one domain per tenant, plus the
// organization scoping of every tenant-scoped query). It knows nothing of HTTP.
package auth

import "time"

// Tenant is one global union federation; nothing ever crosses from one to another.
type Tenant struct {
	ID        string    `json:"id"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Organization kinds.
const (
	KindAffiliate   = "affiliate"
	KindSecretariat = "secretariat"
)

// Organization is an affiliate union or the tenant's secretariat.
type Organization struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	Name      string    `json:"name"`
	Country   string    `json:"country"`
	Kind      string    `json:"kind" enum:"organization_kind"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// User is a person who logs in. Email is stored lower-cased and is unique platform-wide.
type User struct {
	ID           string `json:"id"`
	Email        string `json:"email"`
	Name         string `json:"name"`
	PasswordHash string `json:"-"`
	IsSuperadmin bool   `json:"is_superadmin"`
	Active       bool   `json:"active"`
	// Language is the interface language the user chose ("" for the browser's).
	Language  string    `json:"language"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Membership places a user in one organization of a tenant. Roles are casbin grouping
// rules, not columns: see Authorizer.
type Membership struct {
	ID             string    `json:"id"`
	UserID         string    `json:"user_id"`
	TenantID       string    `json:"tenant_id"`
	OrganizationID string    `json:"organization_id"`
	Active         bool      `json:"active"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// Session is a browser login. Only the SHA-256 of its token is stored, and of the
// address it came from what UNIONPORTAL_IP_RETENTION keeps; no user agent (migration
// 00016).
type Session struct {
	ID         string
	TokenHash  string
	UserID     string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	IP         string
	// ReauthenticatedAt is the session's last use of a second factor, or of the password
	// for a user without one: acts that matter need one within Options.StepUpWindow.
	ReauthenticatedAt *time.Time
}

// APIToken is a bearer token for REST clients. Only the SHA-256 of the token is stored;
// Prefix (the first characters) lets its owner recognise it in a list.
type APIToken struct {
	ID        string    `json:"id"`
	UserID    string    `json:"-"`
	Name      string    `json:"name"`
	TokenHash string    `json:"-"`
	Prefix    string    `json:"prefix"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is nil for a token without expiry. A token made by a token never
	// outlives it.
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"-"`
	// CanCreateTokens lets requests authenticated by this token create tokens.
	CanCreateTokens bool `json:"can_create_tokens"`
	// Scopes are what requests made with the token may do, within the holder's rights:
	// read, write, admin.
	Scopes Scopes `json:"scopes" enum:"scope"`
	// ParentID is the token that created this one (nil when a session did); revoking
	// it revokes this one.
	ParentID *string `json:"-"`
}

// authzState holds the policy version that every portal process compares with its own.
type authzState struct {
	ID      int
	Version int64
}

func (authzState) TableName() string { return "authz_state" }
