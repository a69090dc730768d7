package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/keys"
)

// Second-factor types.
const (
	FactorTOTP     = "totp"
	FactorWebAuthn = "webauthn"
)

// FactorTypes lists the types of second factor.
func FactorTypes() []string { return []string{FactorTOTP, FactorWebAuthn} }

// Methods of the second step of a login, or of a step-up: a factor, a recovery code, or
// (for a step-up of a user without a factor) the password.
const (
	MethodTOTP     = "totp"
	MethodWebAuthn = "webauthn"
	MethodRecovery = "recovery"
	MethodPassword = "password"
)

// Methods lists every method, for the API's enumeration.
func Methods() []string { return []string{MethodWebAuthn, MethodTOTP, MethodRecovery, MethodPassword} }

// maxFactors bounds a user's factors, pending ones included.
const maxFactors = 10

// recoveryCodeCount is how many recovery codes a user gets at once.
const recoveryCodeCount = 10

// Factor is a user's second factor: an authenticator app (TOTP) or a security key or
// passkey (WebAuthn). It is pending until activated with a code or the
// authenticator's answer; only active factors count.
type Factor struct {
	ID          string     `json:"id"`
	UserID      string     `json:"-"`
	Type        string     `json:"type" enum:"factor_type"`
	Name        string     `json:"name"`
	Active      bool       `json:"active" gorm:"-"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	// TOTPSecret is the secret sealed under the installation's key, bound to the user,
	// the table, the column and the factor.
	TOTPSecret *string `json:"-" gorm:"column:totp_secret"`
	// TOTPLastStep is the last time step whose code was accepted: that step and earlier
	// ones are refused, so a code is accepted once.
	TOTPLastStep *int64 `json:"-" gorm:"column:totp_last_step"`
	// CredentialID (base64url) and Credential (the record as JSON) are a WebAuthn
	// factor's; WebAuthnChallenge holds its registration ceremony until activation.
	CredentialID      *string `json:"-" gorm:"column:credential_id"`
	Credential        *string `json:"-" gorm:"column:credential"`
	WebAuthnChallenge *string `json:"-" gorm:"column:webauthn_challenge"`
}

// TableName is auth's table of second factors.
func (Factor) TableName() string { return "auth_factors" }

func (f *Factor) fill() *Factor {
	f.Active = f.ActivatedAt != nil
	return f
}

// NewFactor is a factor as created, with what its owner needs to activate it: a TOTP
// factor's secret and otpauth URI (shown once), or a WebAuthn factor's creation options
// for navigator.credentials.create().
type NewFactor struct {
	Factor
	Secret     string           `json:"secret,omitempty"`
	OTPAuthURI string           `json:"otpauth_uri,omitempty"`
	WebAuthn   *WebAuthnOptions `json:"webauthn,omitempty"`
}

// ActivatedFactor is a factor just activated; the first factor of an account comes
// with its recovery codes, shown this once.
type ActivatedFactor struct {
	Factor
	RecoveryCodes []string `json:"recovery_codes,omitempty"`
}

// FactorInput creates a factor.
type FactorInput struct {
	Type string
	Name string
}

// ActivationInput activates a factor: a TOTP code, or the authenticator's answer to a
// WebAuthn registration (JSON).
type ActivationInput struct {
	Code       string
	Credential []byte
}

// recoveryCode is one single-use recovery code, stored as a keyed hash.
type recoveryCode struct {
	UserID    string `gorm:"primaryKey"`
	CodeHash  string `gorm:"primaryKey"`
	CreatedAt time.Time
	UsedAt    *time.Time
}

func (recoveryCode) TableName() string { return "auth_recovery_codes" }

var errNoKeys = errors.New("auth: no key service was given: second factors need the installation's key")

// platformKey is the installation's key, under which TOTP secrets are sealed and from
// which the recovery codes' HMAC key is derived.
func (s *Service) platformKey(ctx context.Context) (keys.Key, error) {
	if s.opts.Keys == nil {
		return keys.Key{}, errNoKeys
	}
	return s.opts.Keys.PlatformKey(ctx)
}

// CreateFactor starts a second factor for the principal's user: it is pending until
// ActivateFactor proves the user holds it.
func (s *Service) CreateFactor(ctx context.Context, p *Principal, in FactorInput) (*NewFactor, error) {
	if p.Via != ViaSession {
		return nil, errSessionRequired
	}
	name := strings.TrimSpace(in.Name)
	var fields []apperr.FieldError
	switch in.Type {
	case FactorTOTP, FactorWebAuthn:
	default:
		fields = append(fields, apperr.FieldError{Field: "type", Message: "expected totp or webauthn"})
	}
	if name == "" {
		name = map[string]string{FactorTOTP: "Authenticator app", FactorWebAuthn: "Security key"}[in.Type]
	}
	if utf8.RuneCountInString(name) > 100 {
		fields = append(fields, apperr.FieldError{Field: "name", Message: "at most 100 characters"})
	}
	if len(fields) > 0 {
		return nil, apperr.Invalid("the factor is invalid", fields...)
	}
	var n int64
	if err := s.db.Conn(ctx).Model(&Factor{}).Where("user_id = ?", p.User.ID).Count(&n).Error; err != nil {
		return nil, err
	}
	if n >= maxFactors {
		return nil, &apperr.Error{Kind: apperr.KindConflict, Code: apperr.CodeTooManyFactors,
			Message: "you have as many second factors as an account may have; remove one first"}
	}
	now := s.now()
	f := Factor{ID: newID(), UserID: p.User.ID, Type: in.Type, Name: name, CreatedAt: now}
	out := &NewFactor{}
	switch in.Type {
	case FactorTOTP:
		pk, err := s.platformKey(ctx)
		if err != nil {
			return nil, err
		}
		secret, uri := s.newTOTPSecret(p.User.Email)
		sealed := keys.SealField(pk, secret, p.User.ID, "auth_factors", "totp_secret", f.ID)
		f.TOTPSecret = &sealed
		out.Secret, out.OTPAuthURI = secret, uri
	case FactorWebAuthn:
		opts, challenge, err := s.beginRegistration(ctx, p.User)
		if err != nil {
			return nil, err
		}
		f.WebAuthnChallenge = &challenge
		out.WebAuthn = opts
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.Conn(ctx).Create(&f).Error; err != nil {
			return err
		}
		return s.recordEvent(ctx, "", p.Actor(), "second_factor.created", "second_factor", f.ID, map[string]any{"type": f.Type})
	})
	if err != nil {
		return nil, err
	}
	out.Factor = *f.fill()
	return out, nil
}

// ActivateFactor activates a pending factor with a code it generated (TOTP) or the
// authenticator's answer to its registration (WebAuthn). The session counts as
// re-authenticated. The account's first factor comes with new recovery codes, shown
// once.
func (s *Service) ActivateFactor(ctx context.Context, p *Principal, id string, in ActivationInput) (*ActivatedFactor, error) {
	if p.Via != ViaSession {
		return nil, errSessionRequired
	}
	f, err := s.ownFactor(ctx, p.User.ID, id)
	if err != nil {
		return nil, err
	}
	if f.Active {
		return nil, &apperr.Error{Kind: apperr.KindConflict, Code: apperr.CodeFactorAlreadyActive, Message: "this factor is active already"}
	}
	now := s.now()
	update := map[string]any{"activated_at": now, "last_used_at": now}
	switch f.Type {
	case FactorTOTP:
		secret, err := s.openTOTPSecret(ctx, f)
		if err != nil {
			return nil, err
		}
		step, ok := matchTOTP(secret, in.Code, now)
		if !ok {
			return nil, apperr.Invalid("the code is wrong", apperr.FieldError{Field: "code",
				Message: "not the current code of this authenticator (check the device's clock)"})
		}
		update["totp_last_step"] = step
	case FactorWebAuthn:
		cred, err := s.finishRegistration(ctx, p.User, f, in.Credential)
		if err != nil {
			return nil, err
		}
		for k, v := range cred {
			update[k] = v
		}
		update["webauthn_challenge"] = nil
	}
	out := &ActivatedFactor{}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		var others int64
		if err := s.db.Conn(ctx).Model(&Factor{}).Where("user_id = ? AND activated_at IS NOT NULL", p.User.ID).Count(&others).Error; err != nil {
			return err
		}
		res := s.db.Conn(ctx).Model(&Factor{}).Where("id = ? AND activated_at IS NULL", f.ID).Updates(update)
		if res.Error != nil {
			return duplicate(res.Error, "credential", "this security key is registered already")
		}
		if res.RowsAffected == 0 {
			return &apperr.Error{Kind: apperr.KindConflict, Code: apperr.CodeFactorAlreadyActive, Message: "this factor is active already"}
		}
		if others == 0 {
			codes, err := s.replaceRecoveryCodes(ctx, p.User.ID)
			if err != nil {
				return err
			}
			out.RecoveryCodes = codes
		}
		if err := s.markReauthenticated(ctx, p.SessionID); err != nil {
			return err
		}
		return s.recordEvent(ctx, "", p.Actor(), "second_factor.activated", "second_factor", f.ID,
			map[string]any{"type": f.Type, "first": others == 0})
	})
	if err != nil {
		return nil, err
	}
	g, err := s.ownFactor(ctx, p.User.ID, id)
	if err != nil {
		return nil, err
	}
	out.Factor = *g
	return out, nil
}

// ownFactor reads one of the user's factors; anyone else's answers 404.
func (s *Service) ownFactor(ctx context.Context, userID, id string) (*Factor, error) {
	if !database.ValidID(id) {
		return nil, apperr.NotFound("factor")
	}
	var f Factor
	if err := s.db.Conn(ctx).Where("id = ? AND user_id = ?", id, userID).First(&f).Error; err != nil {
		return nil, notFound(err, "factor")
	}
	return f.fill(), nil
}

// ListFactors lists the user's factors, oldest first, pending ones included.
func (s *Service) ListFactors(ctx context.Context, p *Principal) ([]Factor, error) {
	var rows []Factor
	if err := s.db.Conn(ctx).Where("user_id = ?", p.User.ID).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	for i := range rows {
		rows[i].fill()
	}
	return rows, nil
}

// RenameFactor names one of the user's factors.
func (s *Service) RenameFactor(ctx context.Context, p *Principal, id, name string) (*Factor, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return nil, apperr.Invalid("the name is invalid", apperr.FieldError{Field: "name", Message: "required, at most 100 characters"})
	}
	if _, err := s.ownFactor(ctx, p.User.ID, id); err != nil {
		return nil, err
	}
	if err := s.db.Conn(ctx).Model(&Factor{}).Where("id = ? AND user_id = ?", id, p.User.ID).Update("name", name).Error; err != nil {
		return nil, err
	}
	return s.ownFactor(ctx, p.User.ID, id)
}

// RemoveFactor removes one of the user's factors. The last active one cannot be
// removed while a policy requires the user to have one (409 last_second_factor);
// removing it otherwise removes the recovery codes too.
func (s *Service) RemoveFactor(ctx context.Context, p *Principal, id string) error {
	f, err := s.ownFactor(ctx, p.User.ID, id)
	if err != nil {
		return err
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		var active int64
		if err := s.db.Conn(ctx).Model(&Factor{}).Where("user_id = ? AND activated_at IS NOT NULL AND id <> ?", p.User.ID, f.ID).
			Count(&active).Error; err != nil {
			return err
		}
		if f.Active && active == 0 {
			required, err := s.SecondFactorRequired(ctx, p.User.ID)
			if err != nil {
				return err
			}
			if required {
				return &apperr.Error{Kind: apperr.KindConflict, Code: apperr.CodeLastSecondFactor,
					Message: "your roles require a second factor: add another before removing this one"}
			}
			if err := s.db.Conn(ctx).Where("user_id = ?", p.User.ID).Delete(&recoveryCode{}).Error; err != nil {
				return err
			}
		}
		if err := s.db.Conn(ctx).Where("id = ?", f.ID).Delete(&Factor{}).Error; err != nil {
			return err
		}
		return s.recordEvent(ctx, "", p.Actor(), "second_factor.removed", "second_factor", f.ID, map[string]any{"type": f.Type, "was_active": f.Active})
	})
}

// RegenerateRecoveryCodes replaces the user's recovery codes with new ones, shown
// once. Only an account with an active factor has recovery codes.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, p *Principal) ([]string, error) {
	var codes []string
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var active int64
		if err := s.db.Conn(ctx).Model(&Factor{}).Where("user_id = ? AND activated_at IS NOT NULL", p.User.ID).Count(&active).Error; err != nil {
			return err
		}
		if active == 0 {
			return &apperr.Error{Kind: apperr.KindConflict, Code: apperr.CodeNoSecondFactor, Message: "add a second factor first: recovery codes stand in for one"}
		}
		var err error
		if codes, err = s.replaceRecoveryCodes(ctx, p.User.ID); err != nil {
			return err
		}
		return s.recordEvent(ctx, "", p.Actor(), "recovery_codes.generated", "user", p.User.ID, nil)
	})
	return codes, err
}

// replaceRecoveryCodes deletes the user's recovery codes and stores new ones, in the
// transaction carried by ctx, returning them as the user will type them.
func (s *Service) replaceRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	key, err := s.recoveryKey(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.db.Conn(ctx).Where("user_id = ?", userID).Delete(&recoveryCode{}).Error; err != nil {
		return nil, err
	}
	now := s.now()
	codes := make([]string, recoveryCodeCount)
	rows := make([]recoveryCode, recoveryCodeCount)
	for i := range codes {
		codes[i] = newRecoveryCode()
		rows[i] = recoveryCode{UserID: userID, CodeHash: hashRecoveryCode(key, userID, codes[i]), CreatedAt: now}
	}
	return codes, s.db.Conn(ctx).Create(&rows).Error
}

// recoveryKey keys the recovery codes' HMAC: derived from the installation's key, so a
// copy of the database alone does not let anyone test guesses.
func (s *Service) recoveryKey(ctx context.Context) (keys.Key, error) {
	pk, err := s.platformKey(ctx)
	if err != nil {
		return keys.Key{}, err
	}
	return keys.Derive(pk, "recovery codes"), nil
}

// recoveryAlphabet is base32 in lower case: no 0/1/8/9, nothing to mistake.
var recoveryAlphabet = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newRecoveryCode returns 80 random bits as xxxx-xxxx-xxxx-xxxx.
func newRecoveryCode() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	c := recoveryAlphabet.EncodeToString(b)
	return c[0:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:16]
}

// normalizeRecoveryCode ignores case, spaces and dashes.
func normalizeRecoveryCode(code string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(code)))
}

func hashRecoveryCode(key keys.Key, userID, code string) string {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(userID + ":" + normalizeRecoveryCode(code)))
	return hex.EncodeToString(m.Sum(nil))
}

// useRecoveryCode spends one of the user's recovery codes: true once per code.
func (s *Service) useRecoveryCode(ctx context.Context, userID, code string) (bool, error) {
	if len(normalizeRecoveryCode(code)) != 16 {
		return false, nil
	}
	key, err := s.recoveryKey(ctx)
	if err != nil {
		return false, err
	}
	res := s.db.Conn(ctx).Model(&recoveryCode{}).Where("user_id = ? AND code_hash = ? AND used_at IS NULL", userID, hashRecoveryCode(key, userID, code)).
		Update("used_at", s.now())
	return res.RowsAffected == 1, res.Error
}

// recoveryCodesLeft counts the user's unused recovery codes.
func (s *Service) recoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	var n int64
	err := s.db.Conn(ctx).Model(&recoveryCode{}).Where("user_id = ? AND used_at IS NULL", userID).Count(&n).Error
	return int(n), err
}

// activeFactors reads the user's active factors.
func (s *Service) activeFactors(ctx context.Context, userID string) ([]Factor, error) {
	var rows []Factor
	err := s.db.Conn(ctx).Where("user_id = ? AND activated_at IS NOT NULL", userID).Order("created_at, id").Find(&rows).Error
	for i := range rows {
		rows[i].fill()
	}
	return rows, err
}

// methodsOf lists how a user with these active factors completes a login or a
// step-up: WebAuthn and TOTP if they have them, and recovery codes.
func methodsOf(factors []Factor) []string {
	var webauthn, totp bool
	for _, f := range factors {
		webauthn = webauthn || f.Type == FactorWebAuthn
		totp = totp || f.Type == FactorTOTP
	}
	var out []string
	if webauthn {
		out = append(out, MethodWebAuthn)
	}
	if totp {
		out = append(out, MethodTOTP)
	}
	if len(factors) > 0 {
		out = append(out, MethodRecovery)
	}
	return out
}

// touchFactor records the use of a factor, in the transaction carried by ctx.
func (s *Service) touchFactor(ctx context.Context, id string) error {
	return s.db.Conn(ctx).Model(&Factor{}).Where("id = ?", id).Update("last_used_at", s.now()).Error
}

// ResetSecondFactors removes every factor, recovery code and pending login of the user
// with email and ends their sessions, for an operator on the server (unionportal admin
// reset-second-factors) when someone lost every factor and recovery code. It returns
// how many factors were removed.
func (s *Service) ResetSecondFactors(ctx context.Context, email string) (int64, error) {
	var u User
	if err := s.db.Conn(ctx).Where("email = ?", NormalizeEmail(email)).First(&u).Error; err != nil {
		return 0, notFound(err, "user")
	}
	var n int64
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		res := s.db.Conn(ctx).Where("user_id = ?", u.ID).Delete(&Factor{})
		if res.Error != nil {
			return res.Error
		}
		n = res.RowsAffected
		for _, m := range []any{&recoveryCode{}, &pendingLogin{}} {
			if err := s.db.Conn(ctx).Where("user_id = ?", u.ID).Delete(m).Error; err != nil {
				return err
			}
		}
		if err := s.endSessions(ctx, u.ID); err != nil {
			return err
		}
		return s.recordEvent(ctx, "", Actor{UserID: u.ID, IP: "cli"}, "second_factor.reset", "user", u.ID,
			map[string]any{"removed": n, "created_by": "command line"})
	})
	return n, err
}
