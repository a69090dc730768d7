package auth

import (
	"context"
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
}

// errTokenCannotCreate refuses a token that was not made to create tokens.
var errTokenCannotCreate = &apperr.Error{Kind: apperr.KindForbidden, Code: apperr.CodeTokenCannotCreateTokens,
	Message: "this API token may not create tokens; create it from a browser session with can_create_tokens"}

// CreateToken makes an API token for the principal's user. A request authenticated by
// a token may do so only when that token has CanCreateTokens, and the new token never
// outlives it: its expiry defaults to, and may not be later than, the creator's.
func (s *Service) CreateToken(ctx context.Context, p *Principal, in TokenInput) (*NewToken, error) {
	var parent *APIToken
	if p.Via == ViaToken {
		if p.Token == nil || !p.Token.CanCreateTokens {
			return nil, errTokenCannotCreate
		}
		parent = p.Token
	}
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
	if len(fields) > 0 {
		return nil, apperr.Invalid("the token is invalid", fields...)
	}
	token := APITokenPrefix + randomToken(32)
	t := NewToken{Token: token, APIToken: APIToken{ID: newID(), UserID: p.User.ID, Name: name, TokenHash: hashToken(token),
		Prefix: token[:len(APITokenPrefix)+6], CreatedAt: now, ExpiresAt: expiresAt, CanCreateTokens: in.CanCreateTokens}}
	if parent != nil {
		t.ParentID = &parent.ID
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.Conn(ctx).Create(&t.APIToken).Error; err != nil {
			return err
		}
		return s.recordEvent(ctx, "", p.Actor(), "token.created", "api_token", t.ID,
			map[string]any{"name": name, "can_create_tokens": in.CanCreateTokens, "created_by_token": p.TokenID})
	})
	if err != nil {
		return nil, err
	}
	return &t, nil
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
}

func (s *Service) authenticateToken(ctx context.Context, token, ip string) (*Principal, error) {
	if !strings.HasPrefix(token, APITokenPrefix) {
		return nil, errUnauthenticated
	}
	var rows []tokenRow
	err := s.db.Conn(ctx).Table("api_tokens").
		Select("users.*, api_tokens.id AS token_id, api_tokens.name AS token_name, api_tokens.created_at AS token_created, "+
			"api_tokens.expires_at AS token_expires, api_tokens.last_used_at AS token_used, "+
			"api_tokens.can_create_tokens AS token_can_create, api_tokens.parent_id AS token_parent").
		Joins("JOIN users ON users.id = api_tokens.user_id").
		Where("api_tokens.token_hash = ? AND api_tokens.revoked_at IS NULL AND users.active", hashToken(token)).
		Limit(1).Scan(&rows).Error
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
		LastUsedAt: t.TokenUsed, CanCreateTokens: t.TokenCanCreate, ParentID: t.TokenParent}
	return &Principal{User: t.User, Via: ViaToken, TokenID: t.TokenID, Token: tok, IP: ip}, nil
}
