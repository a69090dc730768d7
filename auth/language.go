package auth

import (
	"context"

	"golang.org/x/text/language"

	"github.com/unionportal/unionportal/apperr"
)

// SetLanguage records the interface language the user chose, so that it follows them
// from browser to browser. tag is a BCP 47 tag ("" for the browser's own).
func (s *Service) SetLanguage(ctx context.Context, p *Principal, tag string) (string, error) {
	if tag != "" {
		t, err := language.Parse(tag)
		if err != nil || len(tag) > 35 {
			return "", apperr.Invalid("the language is invalid", apperr.FieldError{Field: "language", Message: "expected a language tag such as en, fr, es or ru"})
		}
		tag = t.String()
	}
	if err := s.db.Conn(ctx).Model(&User{}).Where("id = ?", p.User.ID).Updates(map[string]any{"language": tag, "updated_at": s.now()}).Error; err != nil {
		return "", err
	}
	return tag, nil
}
