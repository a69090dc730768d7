package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/go-webauthn/webauthn/webauthn"
	"golang.org/x/crypto/argon2"
	"gorm.io/gorm"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/keys"
)

// Options configure a Service. Zero values take the documented defaults.
type Options struct {
	Logger *slog.Logger
	// SecretKey derives the CSRF token of each session; at least 32 bytes.
	SecretKey []byte
	// SessionIdle ends a session unused for this long (default 2 h); SessionAbsolute
	// ends every session this long after login (default 12 h).
	SessionIdle     time.Duration
	SessionAbsolute time.Duration
	// PasswordParams tune argon2id; nil means DefaultPasswordParams.
	PasswordParams *argon2id.Params
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Keys is the installation's key hierarchy: TOTP secrets are sealed under its
	// platform key, and recovery codes hashed with a key derived from it. Without it no
	// second factor can be added.
	Keys *keys.Service
	// StepUpWindow is how long a second factor (or, for a user without one, the
	// password) lets a session perform acts that matter; zero means
	// DefaultStepUpWindow, the longest allowed.
	StepUpWindow time.Duration
	// Origin is the portal's origin (from UNIONPORTAL_BASE_URL): security keys are bound
	// to its host name, and authenticator apps show it. Default http://localhost:8080.
	Origin string
}

// DefaultPasswordParams follow OWASP's argon2id recommendation (46 MiB, 1 pass, 1 lane).
var DefaultPasswordParams = &argon2id.Params{Memory: 46 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// Service is the auth domain: every operation on tenants, organizations, users,
// sessions and tokens, with authorization and audit events.
type Service struct {
	db    *database.DB
	authz *Authorizer
	log   *slog.Logger
	opts  Options
	// hashing bounds concurrent argon2id work, which costs PasswordParams.Memory each.
	hashing chan struct{}
	// webauthn is the WebAuthn relying party (security keys and passkeys).
	webauthn *webauthn.WebAuthn
	// dummyHash is verified against when a login names no user, so that an unknown
	// e-mail costs the same time as a wrong password (see newDummyHash).
	dummyHash string
}

// NewService builds the auth service on db.
func NewService(ctx context.Context, db *database.DB, opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if len(opts.SecretKey) < 32 {
		return nil, errors.New("auth: the secret key must be at least 32 bytes")
	}
	if opts.SessionIdle <= 0 {
		opts.SessionIdle = 2 * time.Hour
	}
	if opts.SessionAbsolute <= 0 {
		opts.SessionAbsolute = 12 * time.Hour
	}
	if opts.StepUpWindow > DefaultStepUpWindow {
		return nil, errors.New("auth: the step-up window may be at most 10m")
	}
	if opts.StepUpWindow <= 0 {
		opts.StepUpWindow = DefaultStepUpWindow
	}
	if opts.PasswordParams == nil {
		opts.PasswordParams = DefaultPasswordParams
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Origin == "" {
		opts.Origin = DefaultOrigin
	}
	// Security keys need the portal at a domain name: a base URL with an IP address
	// (http://127.0.0.1:8080) leaves them out, with TOTP and recovery codes working.
	wa, err := newWebAuthn(opts.Origin)
	if err != nil {
		opts.Logger.Warn("security keys (WebAuthn) are unavailable: "+err.Error(), "origin", opts.Origin)
	}
	authz, err := NewAuthorizer(ctx, db, opts.Logger)
	if err != nil {
		return nil, err
	}
	s := &Service{db: db, authz: authz, log: opts.Logger, opts: opts, hashing: make(chan struct{}, 2), webauthn: wa,
		dummyHash: newDummyHash(opts.PasswordParams)}
	return s, nil
}

// newDummyHash returns an encoded argon2id hash with params and a random salt and key,
// without running argon2id: verifying a password against it costs exactly what
// verifying against a real hash with the same params costs (the key is derived from the
// password and the salt, then compared), and a password matches it only by producing
// KeyLength random bytes. Running argon2id here instead left every process, from its
// start, with PasswordParams.Memory (46 MiB by default) of garbage in its resident memory.
func newDummyHash(p *argon2id.Params) string {
	salt, key := make([]byte, p.SaltLength), make([]byte, p.KeyLength)
	_, _ = rand.Read(salt) // never fails (Go 1.24+)
	_, _ = rand.Read(key)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// Authorizer returns the service's authorizer.
func (s *Service) Authorizer() *Authorizer { return s.authz }

// now is the clock, to the microsecond that PostgreSQL keeps, so that an answer given
// when a row is written equals what later reads give.
func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

// maxPasswordLength bounds the work an attacker can ask of the hash function.
const maxPasswordLength = 1024

// hashPassword hashes pw with argon2id, waiting its turn so that a burst of logins
// cannot exhaust memory.
func (s *Service) hashPassword(ctx context.Context, pw string) (string, error) {
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer s.release()
	return argon2id.CreateHash(pw, s.opts.PasswordParams)
}

func (s *Service) checkPassword(ctx context.Context, pw, hash string) (bool, error) {
	if err := s.acquire(ctx); err != nil {
		return false, err
	}
	defer s.release()
	ok, err := argon2id.ComparePasswordAndHash(pw, hash)
	if err != nil {
		return false, err
	}
	return ok, nil
}

func (s *Service) acquire(ctx context.Context) error {
	select {
	case s.hashing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) release() { <-s.hashing }

// randomToken returns n random bytes from crypto/rand, base64url-encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is how session and API tokens are stored: they carry 256 random bits, so a
// fast hash suffices and a database leak does not reveal usable tokens.
func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// newID returns a UUIDv7: random enough to be unguessable (74 random bits), and ordered
// by creation time, which keeps indexes compact and breaks ties in time-ordered lists.
func newID() string { return database.NewID() }

// Actor is who does something, and from where, for the audit trail.
type Actor struct {
	UserID string
	IP     string
}

// recordEvent appends an audit event in the transaction carried by ctx (if any).
func (s *Service) recordEvent(ctx context.Context, tenantID string, actor Actor, action, objectType, objectID string, details map[string]any) error {
	_, err := audit.Record(ctx, s.db, audit.Entry{TenantID: tenantID, ActorID: actor.UserID, IP: actor.IP,
		Action: action, ObjectType: objectType, ObjectID: objectID, Details: details, At: s.now()})
	return err
}

// notFound maps gorm's not-found to a typed 404 and passes other errors on.
func notFound(err error, what string) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return apperr.NotFound(what)
	}
	return err
}

// duplicate maps a unique-constraint violation to a 409 naming field.
func duplicate(err error, field, message string) error {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return &apperr.Error{Kind: apperr.KindConflict, Code: apperr.CodeDuplicate, Message: message,
			Fields: []apperr.FieldError{{Field: field, Message: message}}}
	}
	return err
}
