package auth

import (
	"context"
	_ "embed"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/unionportal/unionportal/apperr"
)

// commonPasswordList is the embedded list of common passwords (see the file's header
// for where it comes from).
//
//go:embed common-passwords.txt
var commonPasswordList string

var (
	commonOnce      sync.Once
	commonPasswords map[string]struct{}
)

func isCommonPassword(lower string) bool {
	commonOnce.Do(func() {
		commonPasswords = make(map[string]struct{}, 9000)
		for _, line := range strings.Split(commonPasswordList, "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				commonPasswords[line] = struct{}{}
			}
		}
	})
	_, ok := commonPasswords[lower]
	return ok
}

// minDistinctRunes is how many different characters a password needs, which refuses
// "aaaaaaaaaaaa" and "121212121212".
const minDistinctRunes = 5

// validatePassword applies the password policy: 12 to 1024 bytes, no control
// characters, not only white space, enough different characters, not a common password
// (whole, around digits and punctuation, or repeated), and none of avoid (the e-mail
// address and name of the account). It returns nil when pw is acceptable.
func validatePassword(field, pw string, avoid ...string) *apperr.FieldError {
	bad := func(msg string) *apperr.FieldError { return &apperr.FieldError{Field: field, Message: msg} }
	switch {
	case !utf8.ValidString(pw):
		return bad("must be valid UTF-8 text")
	case utf8.RuneCountInString(pw) < MinPasswordLength:
		return bad("must be at least 12 characters")
	case len(pw) > maxPasswordLength:
		return bad("must be at most 1024 bytes")
	}
	distinct := map[rune]bool{}
	blank := true
	for _, r := range pw {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return bad("must not contain control characters")
		}
		if !unicode.IsSpace(r) {
			blank = false
		}
		distinct[unicode.ToLower(r)] = true
	}
	if blank {
		return bad("must not be only spaces")
	}
	if len(distinct) < minDistinctRunes {
		return bad("uses too few different characters; a few unrelated words make a good password")
	}
	lower := strings.ToLower(pw)
	for _, a := range avoid {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" {
			continue
		}
		local, _, _ := strings.Cut(a, "@")
		if lower == a || (len(local) >= 4 && coreWord(lower) == local) {
			return bad("must not be your e-mail address or name")
		}
	}
	if commonPassword(lower) {
		return bad("is a commonly used password; choose another (a few unrelated words make a good password)")
	}
	return nil
}

// commonPassword reports whether lower (a lower-cased password) is on the list, is a
// listed word between digits and punctuation ("Password2024!"), or repeats a listed
// word or a short unit ("passwordpassword", "abc123abc123").
func commonPassword(lower string) bool {
	if isCommonPassword(lower) {
		return true
	}
	core := coreWord(lower)
	if core != lower && core != "" && isCommonPassword(core) {
		return true
	}
	for _, s := range []string{lower, core} {
		if unit, ok := repeatedUnit(s); ok && (utf8.RuneCountInString(unit) <= 4 || isCommonPassword(unit) || isCommonPassword(coreWord(unit))) {
			return true
		}
	}
	return false
}

// coreWord strips digits, punctuation, symbols and spaces from both ends of s.
func coreWord(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r)
	})
}

// repeatedUnit reports whether s is a shorter string repeated, and returns it.
func repeatedUnit(s string) (string, bool) {
	n := len(s)
	for size := 1; size <= n/2; size++ {
		if n%size != 0 || !utf8.RuneStart(s[size%n]) {
			continue
		}
		if strings.Repeat(s[:size], n/size) == s {
			return s[:size], true
		}
	}
	return "", false
}

// errSessionRequired refuses an act on the account itself (its password, its
// memberships, tokens that make tokens) to a REST client: those need the person, at a
// browser, logged in with their password.
var errSessionRequired = &apperr.Error{Kind: apperr.KindForbidden, Code: apperr.CodeSessionRequired,
	Message: "log in with your password to do this; an API token may not"}

// ChangePassword replaces the principal's password. The current password is required
// (and counted against the login limits, so a stolen session cannot guess it); every
// other session of the user ends, this one stays. API tokens stay valid.
func (s *Service) ChangePassword(ctx context.Context, p *Principal, current, next string) error {
	if p.Via != ViaSession {
		return errSessionRequired
	}
	var fields []apperr.FieldError
	if current == "" {
		fields = append(fields, apperr.FieldError{Field: "current_password", Message: "required"})
	}
	if fe := validatePassword("new_password", next, p.User.Email, p.User.Name); fe != nil {
		fields = append(fields, *fe)
	} else if next == current {
		fields = append(fields, apperr.FieldError{Field: "new_password", Message: "must differ from the current password"})
	}
	if len(fields) > 0 {
		return apperr.Invalid("the password change is invalid", fields...)
	}
	if err := s.reserveLogin(ctx, p.User.Email, p.IP); err != nil {
		return err
	}
	var u User
	if err := s.db.Conn(ctx).Where("id = ?", p.User.ID).First(&u).Error; err != nil {
		return err
	}
	ok, err := s.checkPassword(ctx, current, u.PasswordHash)
	if err != nil {
		return err
	}
	if !ok {
		if err := s.recordEvent(ctx, "", p.Actor(), "password.change_failed", "user", u.ID, nil); err != nil {
			return err
		}
		return apperr.Invalid("the current password is wrong",
			apperr.FieldError{Field: "current_password", Message: "is not your current password"})
	}
	hash, err := s.hashPassword(ctx, next)
	if err != nil {
		return err
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.refundLogin(ctx, u.Email, p.IP); err != nil {
			return err
		}
		if err := s.db.Conn(ctx).Model(&User{}).Where("id = ?", u.ID).
			Updates(map[string]any{"password_hash": hash, "updated_at": s.now()}).Error; err != nil {
			return err
		}
		res := s.db.Conn(ctx).Where("user_id = ? AND id <> ?", u.ID, p.SessionID).Delete(&Session{})
		if res.Error != nil {
			return res.Error
		}
		return s.recordEvent(ctx, "", p.Actor(), "password.changed", "user", u.ID,
			map[string]any{"other_sessions_ended": res.RowsAffected})
	})
}
