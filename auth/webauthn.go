package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/unionportal/unionportal/apperr"
)

// DefaultOrigin is the portal's origin when Options.Origin is empty.
const DefaultOrigin = "http://localhost:8080"

// ceremonyTTL is how long the answer to a WebAuthn challenge may take.
const ceremonyTTL = 5 * time.Minute

var errNoSecret = errors.New("auth: a TOTP factor without its secret")

// WebAuthnOptions are what the browser passes to navigator.credentials.create() (a
// registration) or .get() (a login or step-up): {"publicKey": {...}}, as
// PublicKeyCredential.parseCreationOptionsFromJSON / parseRequestOptionsFromJSON read
// them.
type WebAuthnOptions struct {
	PublicKey map[string]any `json:"publicKey"`
}

// newWebAuthn configures the relying party from the portal's origin: its host name is
// the RP ID, and the origin the only one accepted.
func newWebAuthn(origin string) (*webauthn.WebAuthn, error) {
	u, err := url.Parse(origin)
	if err != nil || u.Hostname() == "" {
		return nil, errors.New("the origin must be a URL such as https://portal.example.org")
	}
	if net.ParseIP(u.Hostname()) != nil {
		return nil, errors.New("the base URL's host is an IP address; security keys are bound to a domain name")
	}
	return webauthn.New(&webauthn.Config{
		RPID:          u.Hostname(),
		RPDisplayName: "unionportal",
		RPOrigins:     []string{u.Scheme + "://" + u.Host},
		// A second factor: presence is enough; a PIN or biometric where the key has one.
		AuthenticatorSelection: protocol.AuthenticatorSelection{UserVerification: protocol.VerificationPreferred,
			ResidentKey: protocol.ResidentKeyRequirementDiscouraged},
		AttestationPreference: protocol.PreferNoAttestation,
	})
}

// issuer names the portal in authenticator apps.
func (s *Service) issuer() string {
	if u, err := url.Parse(s.opts.Origin); err == nil && u.Hostname() != "" {
		return "unionportal (" + u.Hostname() + ")"
	}
	return "unionportal"
}

// webauthnUser is a user as the WebAuthn library sees them: the user handle is the
// user's id, the credentials their active WebAuthn factors.
type webauthnUser struct {
	user        User
	credentials []webauthn.Credential
}

func (u webauthnUser) WebAuthnID() []byte {
	id, err := uuid.Parse(u.user.ID)
	if err != nil {
		return []byte(u.user.ID)
	}
	return id[:]
}
func (u webauthnUser) WebAuthnName() string                       { return u.user.Email }
func (u webauthnUser) WebAuthnDisplayName() string                { return u.user.Name }
func (u webauthnUser) WebAuthnCredentials() []webauthn.Credential { return u.credentials }

// ceremony is a WebAuthn challenge as stored between the challenge and its answer,
// with its end on the service's clock.
type ceremony struct {
	Session webauthn.SessionData `json:"session"`
	Expires time.Time            `json:"expires"`
}

func (s *Service) storeCeremony(sd *webauthn.SessionData) (string, error) {
	b, err := json.Marshal(ceremony{Session: *sd, Expires: s.now().Add(ceremonyTTL)})
	return string(b), err
}

// openCeremony reads a stored challenge that has not expired.
func (s *Service) openCeremony(stored *string) (*webauthn.SessionData, bool) {
	if stored == nil {
		return nil, false
	}
	var c ceremony
	if json.Unmarshal([]byte(*stored), &c) != nil || !s.now().Before(c.Expires) {
		return nil, false
	}
	return &c.Session, true
}

// credentialsOf reads the WebAuthn credentials of factors, by factor.
func credentialsOf(factors []Factor) ([]webauthn.Credential, map[string]*Factor) {
	var creds []webauthn.Credential
	byID := map[string]*Factor{}
	for i := range factors {
		f := &factors[i]
		if f.Type != FactorWebAuthn || f.Credential == nil || f.CredentialID == nil {
			continue
		}
		var c webauthn.Credential
		if json.Unmarshal([]byte(*f.Credential), &c) != nil {
			continue
		}
		creds = append(creds, c)
		byID[*f.CredentialID] = f
	}
	return creds, byID
}

func optionsOf(v any) (*WebAuthnOptions, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var o WebAuthnOptions
	return &o, json.Unmarshal(b, &o)
}

// beginRegistration starts the registration of a security key for user: the options
// for the browser, and the ceremony to store on the pending factor. Keys the user has
// registered already are excluded.
func (s *Service) beginRegistration(ctx context.Context, user User) (*WebAuthnOptions, string, error) {
	if s.webauthn == nil {
		return nil, "", apperr.Invalid("security keys are not available here", apperr.FieldError{Field: "type",
			Message: "security keys need the portal to be reached at a domain name (UNIONPORTAL_BASE_URL); use totp"})
	}
	factors, err := s.activeFactors(ctx, user.ID)
	if err != nil {
		return nil, "", err
	}
	creds, _ := credentialsOf(factors)
	wu := webauthnUser{user: user, credentials: creds}
	creation, sd, err := s.webauthn.BeginRegistration(wu, webauthn.WithExclusions(webauthn.Credentials(creds).CredentialDescriptors()))
	if err != nil {
		return nil, "", err
	}
	stored, err := s.storeCeremony(sd)
	if err != nil {
		return nil, "", err
	}
	opts, err := optionsOf(creation)
	return opts, stored, err
}

// errBadCredential refuses an authenticator's answer that does not verify.
func errBadCredential(detail string) *apperr.Error {
	return apperr.Invalid("the security key's answer does not verify", apperr.FieldError{Field: "credential", Message: detail})
}

// finishRegistration verifies the authenticator's answer to the registration of f and
// returns the columns that record the credential.
func (s *Service) finishRegistration(ctx context.Context, user User, f *Factor, answer []byte) (map[string]any, error) {
	if len(answer) == 0 || s.webauthn == nil {
		return nil, errBadCredential("required: the answer of navigator.credentials.create(), on a portal reached at a domain name")
	}
	sd, ok := s.openCeremony(f.WebAuthnChallenge)
	if !ok {
		return nil, &apperr.Error{Kind: apperr.KindConflict, Code: apperr.CodeChallengeExpired,
			Message: "the registration took too long: remove this factor and start again"}
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(answer)
	if err != nil {
		return nil, errBadCredential("not a registration answer: " + protocolDetail(err))
	}
	factors, err := s.activeFactors(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	creds, _ := credentialsOf(factors)
	cred, err := s.webauthn.CreateCredential(webauthnUser{user: user, credentials: creds}, *sd, parsed)
	if err != nil {
		return nil, errBadCredential(protocolDetail(err))
	}
	record, err := json.Marshal(cred)
	if err != nil {
		return nil, err
	}
	return map[string]any{"credential_id": base64.RawURLEncoding.EncodeToString(cred.ID), "credential": string(record)}, nil
}

// beginAssertion starts a login or step-up with one of the user's security keys: the
// options for the browser and the ceremony to store.
func (s *Service) beginAssertion(user User, factors []Factor) (*WebAuthnOptions, string, error) {
	creds, _ := credentialsOf(factors)
	if len(creds) == 0 || s.webauthn == nil {
		return nil, "", nil
	}
	assertion, sd, err := s.webauthn.BeginLogin(webauthnUser{user: user, credentials: creds})
	if err != nil {
		return nil, "", err
	}
	stored, err := s.storeCeremony(sd)
	if err != nil {
		return nil, "", err
	}
	opts, err := optionsOf(assertion)
	return opts, stored, err
}

// useWebAuthn verifies an authenticator's answer to the stored challenge against the
// user's security keys and records the new signature counter. An answer whose counter
// did not move forward (a cloned key) is refused.
func (s *Service) useWebAuthn(ctx context.Context, user User, factors []Factor, stored *string, answer []byte) (*Factor, bool, error) {
	sd, ok := s.openCeremony(stored)
	if !ok || len(answer) == 0 || s.webauthn == nil {
		return nil, false, nil
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(answer)
	if err != nil {
		return nil, false, nil
	}
	creds, byID := credentialsOf(factors)
	cred, err := s.webauthn.ValidateLogin(webauthnUser{user: user, credentials: creds}, *sd, parsed)
	if err != nil {
		return nil, false, nil
	}
	f := byID[base64.RawURLEncoding.EncodeToString(cred.ID)]
	if f == nil {
		return nil, false, nil
	}
	if cred.Authenticator.CloneWarning {
		s.log.Warn("a security key's signature counter went back: refused as a possible clone", "factor", f.ID, "user_id", user.ID)
		return f, false, s.recordEvent(ctx, "", Actor{UserID: user.ID}, "second_factor.clone_suspected", "second_factor", f.ID, nil)
	}
	record, err := json.Marshal(cred)
	if err != nil {
		return nil, false, err
	}
	// Compare and set on the record: of two answers with the same counter, one wins.
	res := s.db.Conn(ctx).Model(&Factor{}).Where("id = ? AND credential = ?", f.ID, *f.Credential).
		Updates(map[string]any{"credential": string(record), "last_used_at": s.now()})
	if res.Error != nil {
		return nil, false, res.Error
	}
	return f, res.RowsAffected == 1, nil
}

// protocolDetail is what the WebAuthn library says went wrong, for a field message.
func protocolDetail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		return pe.Details
	}
	return "it does not verify"
}
