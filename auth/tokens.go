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

// CreateToken makes an API token for the principal's user. expiresAt may be nil (no
// expiry) and must otherwise lie in the future.
func (s *Service) CreateToken(ctx context.Context, p *Principal, name string, expiresAt *time.Time) (*NewToken, error) {
	name = strings.TrimSpace(name)
	var fields []apperr.FieldError
	if name == "" || utf8.RuneCountInString(name) > 100 {
		fields = append(fields, apperr.FieldError{Field: "name", Message: "required, at most 100 characters"})
	}
	now := s.now()
	if expiresAt != nil {
		t := expiresAt.UTC()
		expiresAt = &t
		if !t.After(now) {
			fields = append(fields, apperr.FieldError{Field: "expires_at", Message: "must lie in the future"})
		}
	}
	if len(fields) > 0 {
		return nil, apperr.Invalid("the token is invalid", fields...)
	}
	token := APITokenPrefix + randomToken(32)
	t := NewToken{Token: token, APIToken: APIToken{ID: newID(), UserID: p.User.ID, Name: name, TokenHash: hashToken(token),
		Prefix: token[:len(APITokenPrefix)+6], CreatedAt: now, ExpiresAt: expiresAt}}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.Conn(ctx).Create(&t.APIToken).Error; err != nil {
			return err
		}
		return s.recordEvent(ctx, "", p.Actor(), "token.created", "api_token", t.ID, map[string]any{"name": name})
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

// RevokeToken revokes one of the principal's own tokens; anyone else's answers 404.
func (s *Service) RevokeToken(ctx context.Context, p *Principal, id string) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		res := s.db.Conn(ctx).Model(&APIToken{}).Where("id = ? AND user_id = ? AND revoked_at IS NULL", id, p.User.ID).
			Update("revoked_at", s.now())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return apperr.NotFound("token")
		}
		return s.recordEvent(ctx, "", p.Actor(), "token.revoked", "api_token", id, nil)
	})
}

// tokenRow is an API token with its user, read in one query.
type tokenRow struct {
	User         User `gorm:"embedded"`
	TokenID      string
	TokenExpires *time.Time
	TokenUsed    *time.Time
}

func (s *Service) authenticateToken(ctx context.Context, token, ip string) (*Principal, error) {
	if !strings.HasPrefix(token, APITokenPrefix) {
		return nil, errUnauthenticated
	}
	var rows []tokenRow
	err := s.db.Conn(ctx).Table("api_tokens").
		Select("users.*, api_tokens.id AS token_id, api_tokens.expires_at AS token_expires, api_tokens.last_used_at AS token_used").
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
		return nil, &apperr.Error{Kind: apperr.KindUnauthenticated, Code: "token_expired", Message: "the API token has expired"}
	}
	if t.TokenUsed == nil || now.Sub(*t.TokenUsed) > touchInterval {
		if err := s.db.Conn(ctx).Model(&APIToken{}).Where("id = ?", t.TokenID).Update("last_used_at", now).Error; err != nil {
			return nil, err
		}
	}
	return &Principal{User: t.User, Via: ViaToken, TokenID: t.TokenID, IP: ip}, nil
}
