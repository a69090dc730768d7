package auth

import (
	"context"
	"crypto/subtle"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/unionportal/unionportal/keys"
)

// TOTP as every authenticator app does it (RFC 6238): SHA-1, 6 digits, 30-second steps.
// A code is accepted from the step before to the step after the current one (clocks
// drift), and once: the step it matched becomes the factor's last, and a code of that
// step or an earlier one is refused afterwards.
const (
	totpPeriod = 30
	totpSkew   = 1
)

var totpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// newTOTPSecret returns a new secret (160 bits, base32) and its otpauth:// URI, which
// authenticator apps read from a QR code.
func (s *Service) newTOTPSecret(account string) (secret, uri string) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: s.issuer(), AccountName: account, Period: totpPeriod,
		SecretSize: 20, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		panic("auth: TOTP: " + err.Error()) // only for a missing issuer or account
	}
	return k.Secret(), k.URL()
}

// totpStep is the time step of t.
func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// TOTPCode is the code of secret at t, as an authenticator app shows it (for tests and
// software that enrols on behalf of a person).
func TOTPCode(secret string, t time.Time) string {
	code, err := hotp.GenerateCodeCustom(secret, uint64(totpStep(t)), totpOpts)
	if err != nil {
		return ""
	}
	return code
}

// matchTOTP finds the step within the skew whose code is code, if any.
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != 6 {
		return 0, false
	}
	step := totpStep(now)
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		want, err := hotp.GenerateCodeCustom(secret, uint64(step+d), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step + d, true
		}
	}
	return 0, false
}

// openTOTPSecret opens a TOTP factor's sealed secret.
func (s *Service) openTOTPSecret(ctx context.Context, f *Factor) (string, error) {
	if f.TOTPSecret == nil {
		return "", errNoSecret
	}
	pk, err := s.platformKey(ctx)
	if err != nil {
		return "", err
	}
	return keys.OpenField(pk, *f.TOTPSecret, f.UserID, "auth_factors", "totp_secret", f.ID)
}

// useTOTP checks code against the user's active TOTP factors and, when one matches,
// records its step so that the code is never accepted again. A code that matches a
// step already used (a replay) is refused.
func (s *Service) useTOTP(ctx context.Context, factors []Factor, code string) (*Factor, bool, error) {
	now := s.now()
	for i := range factors {
		f := &factors[i]
		if f.Type != FactorTOTP {
			continue
		}
		secret, err := s.openTOTPSecret(ctx, f)
		if err != nil {
			return nil, false, err
		}
		step, ok := matchTOTP(secret, code, now)
		if !ok {
			continue
		}
		// Compare and set: of two requests with the same code, one wins.
		res := s.db.Conn(ctx).Model(&Factor{}).Where("id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)", f.ID, step).
			Updates(map[string]any{"totp_last_step": step, "last_used_at": now})
		if res.Error != nil {
			return nil, false, res.Error
		}
		return f, res.RowsAffected == 1, nil
	}
	return nil, false, nil
}
