package auth

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/database"
)

// APITokenPrefix starts every API token, so that scanners can recognise leaked ones.
const APITokenPrefix = "up_"

// NewToken is a token as created: Token is shown once and never stored.
type NewToken struct {
	APIToken
	Token string `json:"token"`
	// RefusedBy lists the tenants (slugs) of the holder whose maximum token lifetime
	// this token exceeds: their routes will refuse it.
	RefusedBy []string `json:"refused_by,omitempty"`
}

// TokenInput is what creates an API token.
type TokenInput struct {
	Name string
	// ExpiresAt may be nil (no expiry, or for a token made by a token, the expiry of
	// that token) and must otherwise lie in the future.
	ExpiresAt *time.Time
	// CanCreateTokens lets the new token create tokens in turn. Only a session, or a
	// token that has it, may give it.
	CanCreateTokens bool
	// Scopes are the new token's scopes; nil means DefaultScopes. A token creating a
	// token cannot give a scope it lacks.
	Scopes []string
}

// errTokenCannotCreate refuses a token that was not made to create tokens.
var errTokenCannotCreate = &apperr.Error{Kind: apperr.KindForbidden, Code: apperr.CodeTokenCannotCreateTokens,
	Message: "this API token may not create tokens; create it from a browser session with can_create_tokens"}

// CreateToken makes an API token for the principal's user. A request authenticated by
// a token may do so only when that token has CanCreateTokens, and the new token never
// outlives it nor gets a scope it lacks: its expiry defaults to, and may not be later
// than, the creator's; its scopes default to those of read and write it has.
func (s *Service) CreateToken(ctx context.Context, p *Principal, in TokenInput) (*NewToken, error) {
	var parent *APIToken
	if p.Via == ViaToken {
		if p.Token == nil || !p.Token.CanCreateTokens {
			return nil, errTokenCannotCreate
		}
		parent = p.Token
	} else if slices.Contains(in.Scopes, ScopeStepUp) {
		// The route asks for a step-up already; the rule is the token's, so it is kept here.
		if err := s.RequireStepUp(ctx, p); err != nil {
			return nil, err
		}
	}
	t, err := s.newToken(p.User.ID, parent, in, TokenPolicy{})
	if err != nil {
		return nil, err
	}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.Conn(ctx).Create(&t.APIToken).Error; err != nil {
			return err
		}
		return s.recordEvent(ctx, "", p.Actor(), "token.created", "api_token", t.ID,
			map[string]any{"name": t.Name, "can_create_tokens": t.CanCreateTokens, "scopes": t.Scopes, "created_by_token": p.TokenID})
	})
	if err != nil {
		return nil, err
	}
	if t.RefusedBy, err = s.refusingTenants(ctx, p.User.ID, t.CreatedAt, t.ExpiresAt); err != nil {
		return nil, err
	}
	return t, nil
}

// newToken validates in and builds the token of userID (made by parent, if a token made
// it), within policy when the tenant it is made for has one.
func (s *Service) newToken(userID string, parent *APIToken, in TokenInput, policy TokenPolicy) (*NewToken, error) {
	name := strings.TrimSpace(in.Name)
	var fields []apperr.FieldError
	if name == "" || utf8.RuneCountInString(name) > 100 {
		fields = append(fields, apperr.FieldError{Field: "name", Message: "required, at most 100 characters"})
	}
	now := s.now()
	expiresAt := in.ExpiresAt
	if expiresAt != nil {
		t := expiresAt.UTC()
		expiresAt = &t
		if !t.After(now) {
			fields = append(fields, apperr.FieldError{Field: "expires_at", Message: "must lie in the future"})
		}
	}
	if parent != nil && parent.ExpiresAt != nil {
		switch {
		case expiresAt == nil:
			t := parent.ExpiresAt.UTC()
			expiresAt = &t
		case expiresAt.After(*parent.ExpiresAt):
			fields = append(fields, apperr.FieldError{Field: "expires_at",
				Message: "must not be later than " + parent.ExpiresAt.UTC().Format(time.RFC3339) + ", when the token creating it expires"})
		}
	}
	if !policy.Allows(now, expiresAt) {
		fields = append(fields, apperr.FieldError{Field: "expires_at",
			Message: fmt.Sprintf("the tenant accepts only tokens that expire within %d days", policy.MaxLifetimeDays)})
	}
	scopes := in.Scopes
	if scopes == nil {
		scopes = DefaultScopes()
		if parent != nil {
			scopes = slices.DeleteFunc(scopes, func(sc string) bool { return !parent.Scopes.Has(sc) })
			if len(scopes) == 0 {
				scopes = slices.Clone(parent.Scopes)
			}
		}
	}
	scopes, fe := normalizeScopes(scopes)
	if fe != nil {
		fields = append(fields, *fe)
	}
	if slices.Contains(scopes, ScopeStepUp) {
		if parent != nil {
			return nil, (&apperr.Error{Kind: apperr.KindForbidden, Code: apperr.CodeInsufficientScope,
				Message: "only a browser session, within 10 minutes of a second factor, gives the scope \"step_up\""}).With("scope", ScopeStepUp)
		}
		// A token that may do what needs a second factor lives a day at most.
		latest := now.Add(StepUpTokenMaxLifetime)
		switch {
		case expiresAt == nil:
			expiresAt = &latest
		case expiresAt.After(latest):
			fields = append(fields, apperr.FieldError{Field: "expires_at", Message: "a token with the scope step_up expires within 24 hours"})
		}
	}
	if len(fields) > 0 {
		return nil, apperr.Invalid("the token is invalid", fields...)
	}
	if parent != nil {
		for _, sc := range scopes {
			if !parent.Scopes.Has(sc) {
				return nil, (&apperr.Error{Kind: apperr.KindForbidden, Code: apperr.CodeInsufficientScope,
					Message: "a token cannot give a scope it lacks: " + strconv.Quote(sc)}).With("scope", sc)
			}
		}
	}
	token := APITokenPrefix + randomToken(32)
	t := &NewToken{Token: token, APIToken: APIToken{ID: newID(), UserID: userID, Name: name, TokenHash: hashToken(token),
		Prefix: token[:len(APITokenPrefix)+6], CreatedAt: now, ExpiresAt: expiresAt, CanCreateTokens: in.CanCreateTokens, Scopes: scopes}}
	if parent != nil {
		t.ParentID = &parent.ID
	}
	return t, nil
}

// refusingTenants lists the slugs of userID's tenants whose token policy refuses a
// token created at created and expiring at expires.
func (s *Service) refusingTenants(ctx context.Context, userID string, created time.Time, expires *time.Time) ([]string, error) {
	var rows []struct {
		Slug     string
		Settings string
	}
	err := s.db.Conn(ctx).Table("tenants").Select("tenants.slug, tenants.settings").
		Joins("JOIN memberships ON memberships.tenant_id = tenants.id AND memberships.user_id = ? AND memberships.active", userID).
		Order("tenants.slug").Find(&rows).Error
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rows {
		if !tokenPolicyOf(r.Settings).Allows(created, expires) {
			out = append(out, r.Slug)
		}
	}
	return out, nil
}

// ProvisionToken makes an API token for the member with email of the tenant with slug,
// without a browser (unionportal admin create-token). The user must be an active member
// of the tenant; the tenant's maximum lifetime applies, and is the expiry when none is
// asked for. The audit trail records it as made from the command line.
func (s *Service) ProvisionToken(ctx context.Context, slug, email string, in TokenInput) (*NewToken, error) {
	var rows []struct {
		UserID   string
		Settings string
	}
	err := s.db.Conn(ctx).Table("tenants").Select("users.id AS user_id, tenants.settings").
		Joins("JOIN memberships ON memberships.tenant_id = tenants.id AND memberships.active").
		Joins("JOIN users ON users.id = memberships.user_id AND users.active").
		Where("tenants.slug = ? AND users.email = ?", slug, NormalizeEmail(email)).Limit(1).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, &apperr.Error{Kind: apperr.KindNotFound, Code: apperr.CodeNotFound,
			Message: "no active member " + email + " in tenant " + slug}
	}
	if slices.Contains(in.Scopes, ScopeStepUp) {
		return nil, apperr.Invalid("the token is invalid", apperr.FieldError{Field: "scopes",
			Message: "a token with step_up is created from a browser session, within 10 minutes of a second factor"})
	}
	policy := tokenPolicyOf(rows[0].Settings)
	if in.ExpiresAt == nil && policy.MaxLifetimeDays > 0 {
		t := s.now().Add(policy.MaxLifetime())
		in.ExpiresAt = &t
	}
	t, err := s.newToken(rows[0].UserID, nil, in, policy)
	if err != nil {
		return nil, err
	}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.Conn(ctx).Create(&t.APIToken).Error; err != nil {
			return err
		}
		return s.recordEvent(ctx, "", Actor{UserID: t.UserID, IP: "cli"}, "token.created", "api_token", t.ID,
			map[string]any{"name": t.Name, "can_create_tokens": t.CanCreateTokens, "scopes": t.Scopes, "created_by": "command line", "tenant": slug})
	})
	if err != nil {
		return nil, err
	}
	if t.RefusedBy, err = s.refusingTenants(ctx, t.UserID, t.CreatedAt, t.ExpiresAt); err != nil {
		return nil, err
	}
	return t, nil
}

// ListTokens lists the user's live tokens, newest first.
func (s *Service) ListTokens(ctx context.Context, p *Principal, page database.Page) ([]APIToken, string, error) {
	q := s.db.Conn(ctx).Where("user_id = ? AND revoked_at IS NULL", p.User.ID)
	if len(page.After) == 2 {
		after, err := time.Parse(time.RFC3339Nano, page.After[0])
		if err != nil {
			return nil, "", apperr.Malformed("invalid cursor", apperr.FieldError{Field: "cursor", Message: "not a cursor this list returned"})
		}
		q = q.Where("(created_at < ? OR (created_at = ? AND id < ?))", after, after, page.After[1])
	}
	var rows []APIToken
	if err := q.Order("created_at DESC, id DESC").Limit(page.Limit + 1).Find(&rows).Error; err != nil {
		return nil, "", err
	}
	items, next := database.Trim(rows, page, func(t APIToken) []string {
		return []string{t.CreatedAt.UTC().Format(time.RFC3339Nano), t.ID}
	})
	return items, next, nil
}

// RevokeToken revokes one of the principal's own tokens, and every token it created,
// directly or through others; anyone else's answers 404.
func (s *Service) RevokeToken(ctx context.Context, p *Principal, id string) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		now := s.now()
		res := s.db.Conn(ctx).Model(&APIToken{}).Where("id = ? AND user_id = ? AND revoked_at IS NULL", id, p.User.ID).
			Update("revoked_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return apperr.NotFound("token")
		}
		var descendants []string
		for frontier := []string{id}; len(frontier) > 0; {
			var children []string
			if err := s.db.Conn(ctx).Model(&APIToken{}).Where("parent_id IN ? AND revoked_at IS NULL", frontier).
				Pluck("id", &children).Error; err != nil {
				return err
			}
			if len(children) > 0 {
				if err := s.db.Conn(ctx).Model(&APIToken{}).Where("id IN ?", children).Update("revoked_at", now).Error; err != nil {
					return err
				}
			}
			descendants = append(descendants, children...)
			frontier = children
		}
		return s.recordEvent(ctx, "", p.Actor(), "token.revoked", "api_token", id, map[string]any{"also_revoked": descendants})
	})
}

// tokenRow is an API token with its user, read in one query.
type tokenRow struct {
	User           User `gorm:"embedded"`
	TokenID        string
	TokenName      string
	TokenCreated   time.Time
	TokenExpires   *time.Time
	TokenUsed      *time.Time
	TokenCanCreate bool
	TokenParent    *string
	TokenScopes    Scopes
	Tenant         tenantRow `gorm:"embedded"`
}

func (s *Service) authenticateToken(ctx context.Context, token, ip, slug string) (*Principal, error) {
	if !strings.HasPrefix(token, APITokenPrefix) {
		return nil, errUnauthenticated
	}
	var rows []tokenRow
	err := s.db.Conn(ctx).Table("api_tokens").
		Select("users.*, api_tokens.id AS token_id, api_tokens.name AS token_name, api_tokens.created_at AS token_created, "+
			"api_tokens.expires_at AS token_expires, api_tokens.last_used_at AS token_used, "+
			"api_tokens.can_create_tokens AS token_can_create, api_tokens.parent_id AS token_parent, api_tokens.scopes AS token_scopes, "+
			tenantColumns).
		Joins("JOIN users ON users.id = api_tokens.user_id").
		Joins(tenantJoin, slug).
		Where("api_tokens.token_hash = ? AND api_tokens.revoked_at IS NULL AND users.active", hashToken(token)).
		Limit(1).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, errUnauthenticated
	}
	t := rows[0]
	now := s.now()
	if t.TokenExpires != nil && !now.Before(*t.TokenExpires) {
		return nil, &apperr.Error{Kind: apperr.KindUnauthenticated, Code: apperr.CodeTokenExpired, Message: "the API token has expired"}
	}
	if t.TokenUsed == nil || now.Sub(*t.TokenUsed) > touchInterval {
		if err := s.db.Conn(ctx).Model(&APIToken{}).Where("id = ?", t.TokenID).Update("last_used_at", now).Error; err != nil {
			return nil, err
		}
	}
	tok := &APIToken{ID: t.TokenID, UserID: t.User.ID, Name: t.TokenName, CreatedAt: t.TokenCreated, ExpiresAt: t.TokenExpires,
		LastUsedAt: t.TokenUsed, CanCreateTokens: t.TokenCanCreate, ParentID: t.TokenParent, Scopes: t.TokenScopes}
	p := &Principal{User: t.User, Via: ViaToken, TokenID: t.TokenID, Token: tok, IP: ip}
	p.prefetch(slug, t.Tenant)
	return p, nil
}
