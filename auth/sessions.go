package auth

import (
	"context"
	"errors"
	"net/mail"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/clientip"
)

// touchInterval is how stale a session's last-seen time or a token's last-used time may
// be before a request updates it: one write a minute, not one per request.
const touchInterval = time.Minute

// errInvalidCredentials is the one answer for an unknown user, a wrong password and a
// deactivated account.
var errInvalidCredentials = &apperr.Error{Kind: apperr.KindUnauthenticated, Code: apperr.CodeInvalidCredentials, Message: "the e-mail or password is wrong"}

// errUnauthenticated asks the client to log in.
var errUnauthenticated = &apperr.Error{Kind: apperr.KindUnauthenticated, Code: apperr.CodeUnauthenticated, Message: "log in, or send an API token"}

// NormalizeEmail lower-cases and trims an e-mail address.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// validEmail accepts a bare address (no display name) of sensible length.
func validEmail(email string) bool {
	if len(email) > 254 {
		return false
	}
	a, err := mail.ParseAddress(email)
	return err == nil && a.Address == email && a.Name == ""
}

// LoginResult is what a right password leads to: a session (Principal, and
// SessionToken to set as a cookie), or, for an account with a second factor, a login
// waiting for it (SecondFactor), which CompleteLogin completes.
type LoginResult struct {
	Principal    *Principal
	SessionToken string
	SecondFactor *PendingLogin
}

// Login checks an e-mail and password and opens a new session, or, for an account
// with a second factor, a pending login. Attempts are limited per (address, account)
// and per address, counted before the password is checked (see reserveLogin); the
// attempt of a pending login is given back only when its second factor completes it.
// Whether an account has a second factor is looked at only once the password is
// right: a wrong password answers the same for every account. The session keeps of ip
// what ctx's retention allows (clientip), and no user agent.
func (s *Service) Login(ctx context.Context, email, password, ip string) (*LoginResult, error) {
	email = NormalizeEmail(email)
	if err := s.reserveLogin(ctx, email, ip); err != nil {
		return nil, err
	}
	var u User
	err := s.db.Conn(ctx).Where("email = ?", email).First(&u).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, err
	}
	found := err == nil
	hash := s.dummyHash
	if found {
		hash = u.PasswordHash
	}
	ok, err := s.checkPassword(ctx, password, hash)
	if err != nil {
		return nil, err
	}
	success := found && ok && u.Active
	actor := Actor{IP: ip}
	if found {
		actor.UserID = u.ID
	}
	if !success {
		err := s.recordEvent(ctx, "", actor, "login.failed", "user", actor.UserID, map[string]any{"email": email})
		if err != nil {
			return nil, err
		}
		return nil, errInvalidCredentials
	}
	factors, err := s.activeFactors(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if len(factors) > 0 {
		pl, err := s.startPendingLogin(ctx, u, factors, ip)
		if err != nil {
			return nil, err
		}
		return &LoginResult{SecondFactor: pl}, nil
	}
	token := randomToken(32)
	now := s.now()
	// The password just given counts as this session's re-authentication.
	sess := Session{ID: newID(), TokenHash: hashToken(token), UserID: u.ID, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(s.opts.SessionAbsolute), IP: clientip.KeepIn(ctx, ip), ReauthenticatedAt: &now}
	joined := false
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.refundLogin(ctx, email, ip); err != nil {
			return err
		}
		if err := s.db.Conn(ctx).Create(&sess).Error; err != nil {
			return err
		}
		if err := s.recordEvent(ctx, "", actor, "login", "session", sess.ID, nil); err != nil {
			return err
		}
		var err error
		joined, err = s.acceptOwnInvitations(ctx, actor, u.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if joined {
		if err := s.authz.Refresh(ctx); err != nil {
			return nil, err
		}
	}
	required, err := s.SecondFactorRequired(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return &LoginResult{SessionToken: token, Principal: &Principal{User: u, Via: ViaSession, SessionID: sess.ID, IP: ip,
		ReauthenticatedAt: &now, SecondFactorRequired: required}}, nil
}

// Authenticate resolves a session token (from the cookie) or an API token (from the
// Authorization header) to a principal. Expired sessions are deleted on sight.
func (s *Service) Authenticate(ctx context.Context, sessionToken, apiToken, ip string) (*Principal, error) {
	return s.AuthenticateIn(ctx, sessionToken, apiToken, ip, "")
}

// AuthenticateIn is Authenticate for a request that names a tenant (its slug, "" for
// none): the tenant and the caller's membership are read in the same statement as the
// credentials, and ResolveTenant for that slug then reads nothing. Nothing is cached
// beyond the request: a revoked token or membership fails the next request.
func (s *Service) AuthenticateIn(ctx context.Context, sessionToken, apiToken, ip, tenantSlug string) (*Principal, error) {
	switch {
	case apiToken != "":
		return s.authenticateToken(ctx, apiToken, ip, tenantSlug)
	case sessionToken != "":
		return s.authenticateSession(ctx, sessionToken, ip, tenantSlug)
	}
	return nil, errUnauthenticated
}

// sessionRow is a session with its user, read in one query.
type sessionRow struct {
	User          User `gorm:"embedded"`
	SessionID     string
	SessionSeen   time.Time
	SessionEnds   time.Time
	SessionReauth *time.Time
	// HasFactor and FactorRequired decide whether the session may only add a factor.
	HasFactor      bool
	FactorRequired bool
	Tenant         tenantRow `gorm:"embedded"`
}

func (s *Service) authenticateSession(ctx context.Context, token, ip, slug string) (*Principal, error) {
	var rows []sessionRow
	err := s.db.Conn(ctx).Table("sessions").
		Select("users.*, sessions.id AS session_id, sessions.last_seen_at AS session_seen, sessions.expires_at AS session_ends, "+
			"sessions.reauthenticated_at AS session_reauth, "+hasFactorSQL+" AS has_factor, "+factorRequiredSQL+" AS factor_required, "+
			tenantColumns).
		Joins("JOIN users ON users.id = sessions.user_id").
		Joins(tenantJoin, slug).
		Where("sessions.token_hash = ?", hashToken(token)).Limit(1).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, errUnauthenticated
	}
	sess := rows[0]
	now := s.now()
	if !now.Before(sess.SessionEnds) || !now.Before(sess.SessionSeen.Add(s.opts.SessionIdle)) {
		if err := s.db.Conn(ctx).Delete(&Session{}, "id = ?", sess.SessionID).Error; err != nil {
			return nil, err
		}
		return nil, &apperr.Error{Kind: apperr.KindUnauthenticated, Code: apperr.CodeSessionExpired, Message: "the session has expired; log in again"}
	}
	if !sess.User.Active {
		return nil, errUnauthenticated
	}
	if now.Sub(sess.SessionSeen) > s.sessionTouchInterval() {
		if err := s.db.Conn(ctx).Model(&Session{}).Where("id = ?", sess.SessionID).Update("last_seen_at", now).Error; err != nil {
			return nil, err
		}
	}
	p := &Principal{User: sess.User, Via: ViaSession, SessionID: sess.SessionID, IP: ip, ReauthenticatedAt: sess.SessionReauth,
		HasSecondFactor: sess.HasFactor, SecondFactorRequired: sess.FactorRequired}
	p.prefetch(slug, sess.Tenant)
	return p, nil
}

// sessionTouchInterval is how stale a session's last-seen time may be before a request
// refreshes it: a quarter of the idle timeout, at most touchInterval. With a one-minute
// idle timeout a refresh every minute would let a session in steady use expire.
func (s *Service) sessionTouchInterval() time.Duration {
	return min(s.opts.SessionIdle/4, touchInterval)
}

// Logout ends the principal's session. A principal authenticated by API token has no
// session to end.
func (s *Service) Logout(ctx context.Context, p *Principal) error {
	if p.SessionID == "" {
		return nil
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.Conn(ctx).Delete(&Session{}, "id = ?", p.SessionID).Error; err != nil {
			return err
		}
		return s.recordEvent(ctx, "", p.Actor(), "logout", "session", p.SessionID, nil)
	})
}

// endSessions deletes every session of userID, in the transaction carried by ctx.
func (s *Service) endSessions(ctx context.Context, userID string) error {
	return s.db.Conn(ctx).Delete(&Session{}, "user_id = ?", userID).Error
}
