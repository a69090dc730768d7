package auth

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/unionportal/unionportal/apperr"
)

// API token scopes (ADR 0022). A scope never adds a right: a request made with a token
// needs the scope of the route and the holder's own permission.
const (
	// ScopeRead covers reading (GET and HEAD).
	ScopeRead = "read"
	// ScopeWrite covers every other request, except administration.
	ScopeWrite = "write"
	// ScopeAdmin covers administration: the writes whose permission writeScopes
	// classifies as administrative, and the platform superadmin's routes.
	ScopeAdmin = "admin"
	// ScopeStepUp lets a token perform the acts that need a recent second factor
	// (approve, sign, reject, administration, creating tokens; ADR 0032). Only a
	// browser session with a step-up in the last Options.StepUpWindow gives it, to a token that
	// lives at most StepUpTokenMaxLifetime.
	ScopeStepUp = "step_up"
)

// AllScopes lists the scopes in their canonical order.
func AllScopes() []string { return []string{ScopeRead, ScopeWrite, ScopeAdmin, ScopeStepUp} }

// DefaultScopes are a new token's scopes when none are asked for: read and write
// (for a token made by a token, those of them its creator has).
func DefaultScopes() []string { return []string{ScopeRead, ScopeWrite} }

// writeScopes is the one table that classifies permissions for tokens: the scope a
// token needs to change something under each permission (reading needs ScopeRead).
// A permission missing here counts as administrative, so that a new one is refused to
// read/write tokens until it is classified (a test lists the unclassified).
var writeScopes = map[Permission]string{
	PermTenantRead:         ScopeWrite, // submission routes: the workflow decides
	PermSettingsRead:       ScopeWrite,
	PermSettingsWrite:      ScopeAdmin,
	PermOrganizationRead:   ScopeWrite,
	PermOrganizationManage: ScopeAdmin,
	PermUserRead:           ScopeWrite,
	PermUserManage:         ScopeAdmin, // members, roles and invitations
	PermWebhookManage:      ScopeAdmin,
	PermAuditRead:          ScopeAdmin, // only read: a token needs read
	PermCaseRead:           ScopeWrite,
	PermCaseCreate:         ScopeWrite,
	PermCaseUpdate:         ScopeWrite,
	PermSubmissionReadAll:  ScopeWrite,
	PermSubmissionReadOwn:  ScopeWrite,
	PermSubmissionWriteOwn: ScopeWrite,
	PermSubmissionReview:   ScopeWrite,
	PermSubmissionSign:     ScopeWrite,
	PermSubmissionResend:   ScopeWrite,
	PermCommentRead:        ScopeWrite,
	PermCommentCreate:      ScopeWrite,
	PermEventRead:          ScopeWrite,
}

// WriteScope is the scope a token needs for a change guarded by perm.
func WriteScope(perm Permission) string {
	if s, ok := writeScopes[perm]; ok {
		return s
	}
	return ScopeAdmin
}

// ClassifiedPermission reports whether writeScopes names perm, for the test that
// keeps the table complete.
func ClassifiedPermission(perm Permission) bool {
	_, ok := writeScopes[perm]
	return ok
}

// Scopes are a token's scopes; the database keeps them space-separated.
type Scopes []string

// Has reports whether the scopes include scope.
func (s Scopes) Has(scope string) bool { return slices.Contains(s, scope) }

// Value stores the scopes space-separated.
func (s Scopes) Value() (driver.Value, error) { return strings.Join(s, " "), nil }

// Scan reads space-separated scopes.
func (s *Scopes) Scan(v any) error {
	var raw string
	switch v := v.(type) {
	case string:
		raw = v
	case []byte:
		raw = string(v)
	case nil:
	default:
		return fmt.Errorf("auth: scopes stored as %T", v)
	}
	*s = strings.Fields(raw)
	return nil
}

// InsufficientScope refuses a token without scope.
func InsufficientScope(scope string) *apperr.Error {
	return &apperr.Error{Kind: apperr.KindForbidden, Code: apperr.CodeInsufficientScope,
		Message: "this API token lacks the scope " + strconv.Quote(scope) + " that this request needs"}
}

// normalizeScopes checks asked-for scopes and returns them in canonical order.
func normalizeScopes(asked []string) ([]string, *apperr.FieldError) {
	if len(asked) == 0 {
		return nil, &apperr.FieldError{Field: "scopes", Message: "at least one of read, write, admin, step_up"}
	}
	for _, s := range asked {
		if !slices.Contains(AllScopes(), s) {
			return nil, &apperr.FieldError{Field: "scopes", Message: "unknown scope " + strconv.Quote(s) + "; expected read, write, admin or step_up"}
		}
	}
	var out []string
	for _, s := range AllScopes() {
		if slices.Contains(asked, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// TokenPolicy is a tenant's rule for API tokens, kept in its settings document under
// "tokens" (the rest of the document is the workflow's; this part is auth's, which
// enforces it).
type TokenPolicy struct {
	// MaxLifetimeDays, when above 0, refuses on the tenant's routes every token that
	// may live longer: one without expiry, or expiring more than this many days after
	// its creation. Tokens belong to users, not tenants, so the rule applies where a
	// token is used.
	MaxLifetimeDays int `json:"max_lifetime_days"`
}

// maxPolicyDays bounds max_lifetime_days (ten years).
const maxPolicyDays = 3650

// Validate names what is wrong with the policy, under prefix ("tokens").
func (p TokenPolicy) Validate(prefix string) []apperr.FieldError {
	if p.MaxLifetimeDays < 0 || p.MaxLifetimeDays > maxPolicyDays {
		return []apperr.FieldError{{Field: prefix + ".max_lifetime_days", Message: "expected 0 (no limit) to 3650 days"}}
	}
	return nil
}

// MaxLifetime is the longest a token may live, or 0 for no limit.
func (p TokenPolicy) MaxLifetime() time.Duration {
	return time.Duration(p.MaxLifetimeDays) * 24 * time.Hour
}

// Allows reports whether a token created at created and expiring at expires (nil:
// never) is within the policy.
func (p TokenPolicy) Allows(created time.Time, expires *time.Time) bool {
	if p.MaxLifetimeDays <= 0 {
		return true
	}
	return expires != nil && !expires.After(created.Add(p.MaxLifetime()))
}

// refusal is the 403 of a token outside the policy.
func (p TokenPolicy) refusal() *apperr.Error {
	return (&apperr.Error{Kind: apperr.KindForbidden, Code: apperr.CodeTokenLifetimeExceedsPolicy,
		Message: fmt.Sprintf("this tenant accepts only API tokens that expire within %d days of their creation; create one with expires_at", p.MaxLifetimeDays)}).
		With("max_lifetime_days", p.MaxLifetimeDays)
}

// tokenPolicyOf reads the policy from a stored settings document; a document that
// cannot be read has none (the workflow validates what is stored).
func tokenPolicyOf(settings string) TokenPolicy {
	var doc struct {
		Tokens TokenPolicy `json:"tokens"`
	}
	if settings == "" || json.Unmarshal([]byte(settings), &doc) != nil {
		return TokenPolicy{}
	}
	return doc.Tokens
}
