package auth

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/clientip"
)

// DefaultStepUpWindow is how long a use of a second factor (or of the password, for a
// user without one) lets a session perform acts that matter: approving, signing,
// rejecting, administration, creating tokens. Options.StepUpWindow may shorten it.
const DefaultStepUpWindow = 10 * time.Minute

// PendingLoginTTL is how long a login whose password was right waits for its second
// factor.
const PendingLoginTTL = 5 * time.Minute

// StepUpTokenMaxLifetime is the longest an API token with the step_up scope may live.
const StepUpTokenMaxLifetime = 24 * time.Hour

// Tenant second-factor policies: who among a tenant's members must have a second
// factor. Superadmins always must.
const (
	PolicyPrivilegedRoles = "privileged_roles"
	PolicyAllMembers      = "all_members"
	PolicyNone            = "none"
)

// SecondFactorPolicies lists the policies.
func SecondFactorPolicies() []string {
	return []string{PolicyPrivilegedRoles, PolicyAllMembers, PolicyNone}
}

// PrivilegedRoles are the roles PolicyPrivilegedRoles covers.
func PrivilegedRoles() []string { return []string{RoleTenantAdmin, RoleReviewer, RoleSignatory} }

// hasFactorSQL is true when the user of the row (users.id) has an active factor.
const hasFactorSQL = "EXISTS (SELECT 1 FROM auth_factors f WHERE f.user_id = users.id AND f.activated_at IS NOT NULL)"

// factorRequiredSQL is true when the user of the row must have a second factor: a
// superadmin, or an active member of a tenant whose policy covers them there. Roles are
// read from casbin_rule, which every role change writes in its own transaction, so a
// role given a moment ago counts at once in every process.
const factorRequiredSQL = `(users.is_superadmin OR EXISTS (SELECT 1 FROM memberships m JOIN tenants t ON t.id = m.tenant_id
	WHERE m.user_id = users.id AND m.active AND (t.second_factor_required_for = 'all_members'
	OR (t.second_factor_required_for = 'privileged_roles' AND EXISTS (SELECT 1 FROM casbin_rule c
		WHERE c.ptype = 'g' AND c.v0 = CAST(users.id AS TEXT) AND c.v2 = CAST(t.id AS TEXT)
		AND c.v1 IN ('tenant_admin', 'reviewer', 'signatory'))))))`

// SecondFactorRequired reports whether a policy requires the user to have a second
// factor.
func (s *Service) SecondFactorRequired(ctx context.Context, userID string) (bool, error) {
	var rows []struct{ Required bool }
	err := s.db.Conn(ctx).Table("users").Select(factorRequiredSQL+" AS required").Where("users.id = ?", userID).Find(&rows).Error
	return len(rows) == 1 && rows[0].Required, err
}

// Errors of the second step.
var (
	errInvalidSecondFactor = &apperr.Error{Kind: apperr.KindUnauthenticated, Code: apperr.CodeInvalidSecondFactor,
		Message: "the code, recovery code or security key's answer is wrong, or was used already"}
	errPendingLoginExpired = &apperr.Error{Kind: apperr.KindUnauthenticated, Code: apperr.CodePendingLoginExpired,
		Message: "the login waited too long for its second factor, or was completed already: log in again with your password"}
	errEnrolmentRequired = &apperr.Error{Kind: apperr.KindForbidden, Code: apperr.CodeSecondFactorEnrolmentRequired,
		Message: "your roles require a second factor: add one (POST /api/v1/me/factors) before anything else"}
)

// EnrolmentRequired refuses anything but enrolment to a session whose user must have
// a second factor and has none.
func EnrolmentRequired() *apperr.Error { return errEnrolmentRequired }

// MustEnrol reports whether the principal is a session whose user must add a second
// factor before anything else.
func (p *Principal) MustEnrol() bool {
	return p.Via == ViaSession && p.SecondFactorRequired && !p.HasSecondFactor
}

// PendingLogin is a login whose password was right, waiting for the second factor:
// Token goes into the pending cookie, Methods say what the user may answer with, and
// WebAuthn is the challenge for a security key (when the user has one).
type PendingLogin struct {
	Token     string
	Methods   []string
	WebAuthn  *WebAuthnOptions
	ExpiresAt time.Time
}

// pendingLogin is a PendingLogin as stored: the SHA-256 of its token.
type pendingLogin struct {
	TokenHash         string `gorm:"primaryKey"`
	UserID            string
	CreatedAt         time.Time
	ExpiresAt         time.Time
	IP                string
	WebAuthnChallenge *string `gorm:"column:webauthn_challenge"`
}

func (pendingLogin) TableName() string { return "auth_pending_logins" }

// SecondFactorInput answers the second step of a login, or a step-up: Method is totp
// (Code), recovery (Code), webauthn (Credential: the authenticator's answer, JSON) or,
// for a step-up of a user without a factor, password (Password).
type SecondFactorInput struct {
	Method     string
	Code       string
	Credential []byte
	Password   string
}

func (in SecondFactorInput) validate(allowPassword bool) error {
	switch in.Method {
	case MethodTOTP, MethodRecovery:
		if in.Code == "" {
			return apperr.Invalid("the code is missing", apperr.FieldError{Field: "code", Message: "required for " + in.Method})
		}
	case MethodWebAuthn:
		if len(in.Credential) == 0 {
			return apperr.Invalid("the security key's answer is missing", apperr.FieldError{Field: "credential", Message: "required for webauthn"})
		}
	case MethodPassword:
		if !allowPassword {
			return apperr.Invalid("a password is not a second factor", apperr.FieldError{Field: "method",
				Message: "password only re-authenticates an existing session of a user without a second factor"})
		}
		if in.Password == "" {
			return apperr.Invalid("the password is missing", apperr.FieldError{Field: "password", Message: "required for password"})
		}
	default:
		return apperr.Invalid("unknown method", apperr.FieldError{Field: "method", Message: "expected totp, recovery, webauthn or password"})
	}
	return nil
}

// startPendingLogin records a login that waits for its second factor.
func (s *Service) startPendingLogin(ctx context.Context, u User, factors []Factor, ip string) (*PendingLogin, error) {
	now := s.now()
	p := &PendingLogin{Token: randomToken(32), Methods: methodsOf(factors), ExpiresAt: now.Add(PendingLoginTTL)}
	row := pendingLogin{TokenHash: hashToken(p.Token), UserID: u.ID, CreatedAt: now, ExpiresAt: p.ExpiresAt, IP: clientip.KeepIn(ctx, ip)}
	opts, challenge, err := s.beginAssertion(u, factors)
	if err != nil {
		return nil, err
	}
	if opts != nil {
		p.WebAuthn, row.WebAuthnChallenge = opts, &challenge
	}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		// Expired pending logins are removed as new ones come.
		if err := s.db.Conn(ctx).Where("expires_at < ?", now).Delete(&pendingLogin{}).Error; err != nil {
			return err
		}
		if err := s.db.Conn(ctx).Create(&row).Error; err != nil {
			return err
		}
		return s.recordEvent(ctx, "", Actor{UserID: u.ID, IP: ip}, "login.password_accepted", "user", u.ID, map[string]any{"methods": p.Methods})
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// pending reads a pending login that has not expired.
func (s *Service) pending(ctx context.Context, token string) (*pendingLogin, error) {
	if token == "" {
		return nil, errPendingLoginExpired
	}
	var rows []pendingLogin
	if err := s.db.Conn(ctx).Where("token_hash = ?", hashToken(token)).Limit(1).Find(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) == 0 || !s.now().Before(rows[0].ExpiresAt) {
		return nil, errPendingLoginExpired
	}
	return &rows[0], nil
}

// CompleteLogin completes a pending login with its second factor and opens the
// session, as Login does for an account without one. The attempt counts against the
// login limits like a password (a wrong code is a failed login); the pending login is
// used once.
func (s *Service) CompleteLogin(ctx context.Context, pendingToken string, in SecondFactorInput, ip string) (*Principal, string, error) {
	pl, err := s.pending(ctx, pendingToken)
	if err != nil {
		return nil, "", err
	}
	if err := in.validate(false); err != nil {
		return nil, "", err
	}
	var u User
	if err := s.db.Conn(ctx).Where("id = ?", pl.UserID).First(&u).Error; err != nil {
		return nil, "", err
	}
	if err := s.reserveLogin(ctx, u.Email, ip); err != nil {
		return nil, "", err
	}
	actor := Actor{UserID: u.ID, IP: ip}
	f, ok, err := s.verify(ctx, u, in, pl.WebAuthnChallenge)
	if err != nil {
		return nil, "", err
	}
	if in.Method == MethodWebAuthn {
		// A challenge is answered once: a failed answer needs a new one.
		if err := s.db.Conn(ctx).Model(&pendingLogin{}).Where("token_hash = ?", pl.TokenHash).Update("webauthn_challenge", nil).Error; err != nil {
			return nil, "", err
		}
	}
	if !ok || !u.Active {
		if err := s.recordEvent(ctx, "", actor, "login.failed", "user", u.ID, map[string]any{"second_factor": in.Method}); err != nil {
			return nil, "", err
		}
		return nil, "", errInvalidSecondFactor
	}
	now := s.now()
	token := randomToken(32)
	sess := Session{ID: newID(), TokenHash: hashToken(token), UserID: u.ID, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(s.opts.SessionAbsolute), IP: clientip.KeepIn(ctx, ip), ReauthenticatedAt: &now}
	joined := false
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		res := s.db.Conn(ctx).Where("token_hash = ?", pl.TokenHash).Delete(&pendingLogin{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errPendingLoginExpired // completed meanwhile by another request
		}
		// Both attempts are given back: the password's (from the address it came from)
		// and this one's, so that people who log in with a second factor never use up
		// their office's attempts.
		if err := s.refundLogin(ctx, u.Email, pl.IP); err != nil {
			return err
		}
		if err := s.refundLogin(ctx, u.Email, ip); err != nil {
			return err
		}
		if err := s.db.Conn(ctx).Create(&sess).Error; err != nil {
			return err
		}
		details := map[string]any{"second_factor": in.Method}
		if f != nil {
			details["factor_id"] = f.ID
		}
		if in.Method == MethodRecovery {
			left, err := s.recoveryCodesLeft(ctx, u.ID)
			if err != nil {
				return err
			}
			details["recovery_codes_left"] = left
		}
		if err := s.recordEvent(ctx, "", actor, "login", "session", sess.ID, details); err != nil {
			return err
		}
		joined, err = s.acceptOwnInvitations(ctx, actor, u.ID)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	if joined {
		if err := s.authz.Refresh(ctx); err != nil {
			return nil, "", err
		}
	}
	return &Principal{User: u, Via: ViaSession, SessionID: sess.ID, IP: ip, ReauthenticatedAt: &now, HasSecondFactor: true}, token, nil
}

// verify checks a second factor of u: a TOTP code (once), a recovery code (once), or a
// security key's answer to the stored challenge. It returns the factor used (none for
// a recovery code).
func (s *Service) verify(ctx context.Context, u User, in SecondFactorInput, challenge *string) (*Factor, bool, error) {
	factors, err := s.activeFactors(ctx, u.ID)
	if err != nil || len(factors) == 0 {
		return nil, false, err
	}
	switch in.Method {
	case MethodTOTP:
		return s.useTOTP(ctx, factors, in.Code)
	case MethodRecovery:
		ok, err := s.useRecoveryCode(ctx, u.ID, in.Code)
		return nil, ok, err
	case MethodWebAuthn:
		return s.useWebAuthn(ctx, u, factors, challenge, in.Credential)
	}
	return nil, false, nil
}

// StepUp re-authenticates the principal's session with a second factor (or, for a user
// without one, the password): acts that matter are allowed for Options.StepUpWindow after it.
// A wrong answer counts as a failed login.
func (s *Service) StepUp(ctx context.Context, p *Principal, in SecondFactorInput) error {
	if p.Via != ViaSession {
		return errSessionRequired
	}
	if err := in.validate(true); err != nil {
		return err
	}
	factors, err := s.activeFactors(ctx, p.User.ID)
	if err != nil {
		return err
	}
	if in.Method == MethodPassword && len(factors) > 0 {
		return apperr.Invalid("use your second factor", apperr.FieldError{Field: "method", Message: "your account has a second factor: answer with it (" + joinMethods(methodsOf(factors)) + ")"})
	}
	if err := s.reserveLogin(ctx, p.User.Email, p.IP); err != nil {
		return err
	}
	var u User
	if err := s.db.Conn(ctx).Where("id = ?", p.User.ID).First(&u).Error; err != nil {
		return err
	}
	var ok bool
	var f *Factor
	if in.Method == MethodPassword {
		ok, err = s.checkPassword(ctx, in.Password, u.PasswordHash)
	} else {
		var challenge *string
		if in.Method == MethodWebAuthn {
			if challenge, err = s.sessionChallenge(ctx, p.SessionID); err != nil {
				return err
			}
		}
		f, ok, err = s.verify(ctx, u, in, challenge)
	}
	if err != nil {
		return err
	}
	if !ok {
		if err := s.recordEvent(ctx, "", p.Actor(), "step_up.failed", "session", p.SessionID, map[string]any{"method": in.Method}); err != nil {
			return err
		}
		return errInvalidSecondFactor
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.refundLogin(ctx, u.Email, p.IP); err != nil {
			return err
		}
		if err := s.markReauthenticated(ctx, p.SessionID); err != nil {
			return err
		}
		details := map[string]any{"method": in.Method}
		if f != nil {
			details["factor_id"] = f.ID
		}
		return s.recordEvent(ctx, "", p.Actor(), "step_up", "session", p.SessionID, details)
	})
}

// markReauthenticated records a use of a second factor (or password) on a session, in
// the transaction carried by ctx; its WebAuthn challenge, if any, is spent.
func (s *Service) markReauthenticated(ctx context.Context, sessionID string) error {
	if sessionID == "" {
		return nil
	}
	return s.db.Conn(ctx).Model(&Session{}).Where("id = ?", sessionID).
		Updates(map[string]any{"reauthenticated_at": s.now(), "webauthn_challenge": nil}).Error
}

// sessionChallenge takes the session's stored WebAuthn challenge: it is answered once.
func (s *Service) sessionChallenge(ctx context.Context, sessionID string) (*string, error) {
	var rows []struct{ WebauthnChallenge *string }
	if err := s.db.Conn(ctx).Table("sessions").Select("webauthn_challenge").Where("id = ?", sessionID).Find(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) == 0 || rows[0].WebauthnChallenge == nil {
		return nil, nil
	}
	err := s.db.Conn(ctx).Model(&Session{}).Where("id = ?", sessionID).Update("webauthn_challenge", nil).Error
	return rows[0].WebauthnChallenge, err
}

// WebAuthnChallenge gives a new security-key challenge: for the pending login named by
// pendingToken when there is one, else for a step-up of the principal's session. It
// replaces the previous challenge.
func (s *Service) WebAuthnChallenge(ctx context.Context, pendingToken string, p *Principal) (*WebAuthnOptions, error) {
	var userID string
	if p == nil {
		pl, err := s.pending(ctx, pendingToken)
		if err != nil {
			return nil, err
		}
		userID = pl.UserID
	} else {
		if p.Via != ViaSession {
			return nil, errSessionRequired
		}
		userID = p.User.ID
	}
	var u User
	if err := s.db.Conn(ctx).Where("id = ?", userID).First(&u).Error; err != nil {
		return nil, err
	}
	factors, err := s.activeFactors(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	opts, challenge, err := s.beginAssertion(u, factors)
	if err != nil {
		return nil, err
	}
	if opts == nil {
		return nil, &apperr.Error{Kind: apperr.KindConflict, Code: apperr.CodeNoSecondFactor, Message: "you have no security key: use another method"}
	}
	if p == nil {
		err = s.db.Conn(ctx).Model(&pendingLogin{}).Where("token_hash = ?", hashToken(pendingToken)).Update("webauthn_challenge", challenge).Error
	} else {
		err = s.db.Conn(ctx).Model(&Session{}).Where("id = ?", p.SessionID).Update("webauthn_challenge", challenge).Error
	}
	return opts, err
}

// RequireStepUp allows an act that matters: to a session whose last second factor (or
// password, for a user without one) is less than Options.StepUpWindow old, and to a token with
// the step_up scope. Anything else answers 401 reauthentication_required, with the
// methods the session may step up with.
func (s *Service) RequireStepUp(ctx context.Context, p *Principal) error {
	switch p.Via {
	case ViaToken:
		if p.Token != nil && p.Token.Scopes.Has(ScopeStepUp) {
			return nil
		}
		return &apperr.Error{Kind: apperr.KindUnauthenticated, Code: apperr.CodeReauthenticationRequired,
			Message: "this act needs an API token with the step_up scope, created from a browser session within 10 minutes of a second factor, or a browser session"}
	case ViaSession:
		if p.ReauthenticatedAt != nil && s.now().Sub(*p.ReauthenticatedAt) < s.opts.StepUpWindow {
			return nil
		}
	}
	factors, err := s.activeFactors(ctx, p.User.ID)
	if err != nil {
		return err
	}
	methods := methodsOf(factors)
	if len(methods) == 0 {
		methods = []string{MethodPassword}
	}
	return (&apperr.Error{Kind: apperr.KindUnauthenticated, Code: apperr.CodeReauthenticationRequired,
		Message: "confirm it is you: answer POST /api/v1/auth/second-factor with " + joinMethods(methods) + ", then try again"}).
		With("methods", methods)
}

// SecondFactorStatus is where the user stands with second factors, as /me shows it.
type SecondFactorStatus struct {
	// Required: a policy requires the user to have a second factor.
	Required bool `json:"required"`
	// Enrolled: the user has an active factor.
	Enrolled bool `json:"enrolled"`
	// Methods are what a login's second step or a step-up accepts from this user.
	Methods           []string `json:"methods" enum:"second_factor_method"`
	RecoveryCodesLeft int      `json:"recovery_codes_left"`
	// StepUpUntil is when this session's step-up ends (null: none, or an API token).
	StepUpUntil *time.Time `json:"step_up_until"`
}

// SecondFactorStatusOf describes the principal's second factors.
func (s *Service) SecondFactorStatusOf(ctx context.Context, p *Principal) (*SecondFactorStatus, error) {
	factors, err := s.activeFactors(ctx, p.User.ID)
	if err != nil {
		return nil, err
	}
	required, err := s.SecondFactorRequired(ctx, p.User.ID)
	if err != nil {
		return nil, err
	}
	left, err := s.recoveryCodesLeft(ctx, p.User.ID)
	if err != nil {
		return nil, err
	}
	st := &SecondFactorStatus{Required: required, Enrolled: len(factors) > 0, Methods: methodsOf(factors), RecoveryCodesLeft: left}
	if len(factors) == 0 {
		st.Methods = []string{MethodPassword}
	}
	if p.Via == ViaSession && p.ReauthenticatedAt != nil {
		if until := p.ReauthenticatedAt.Add(s.opts.StepUpWindow); until.After(s.now()) {
			st.StepUpUntil = &until
		}
	}
	return st, nil
}

func joinMethods(m []string) string { return strings.Join(m, ", ") }

// SecurityPolicy is a tenant's second-factor policy.
type SecurityPolicy struct {
	// SecondFactorRequiredFor: privileged_roles (tenant_admin, reviewer, signatory; the
	// default), all_members, or none. Superadmins always need one.
	SecondFactorRequiredFor string `json:"second_factor_required_for" enum:"second_factor_policy"`
}

// SecurityPolicyOf reads the tenant's policy.
func (s *Service) SecurityPolicyOf(ctx context.Context, a *TenantAccess) (*SecurityPolicy, error) {
	var rows []SecurityPolicy
	err := s.db.Conn(ctx).Table("tenants").Select("second_factor_required_for").Where("id = ?", a.Tenant.ID).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, apperr.NotFound("tenant")
	}
	return &rows[0], nil
}

// SetSecurityPolicy changes the tenant's policy (the caller's permission is checked
// where the route is declared). It holds from every member's next request.
func (s *Service) SetSecurityPolicy(ctx context.Context, a *TenantAccess, in SecurityPolicy) (*SecurityPolicy, error) {
	if !slices.Contains(SecondFactorPolicies(), in.SecondFactorRequiredFor) {
		return nil, apperr.Invalid("the policy is invalid", apperr.FieldError{Field: "second_factor_required_for",
			Message: "expected privileged_roles, all_members or none"})
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		old, err := s.SecurityPolicyOf(ctx, a)
		if err != nil {
			return err
		}
		if err := s.db.Conn(ctx).Table("tenants").Where("id = ?", a.Tenant.ID).
			Updates(map[string]any{"second_factor_required_for": in.SecondFactorRequiredFor, "updated_at": s.now()}).Error; err != nil {
			return err
		}
		return s.recordEvent(ctx, a.Tenant.ID, a.Actor(), "security_policy.changed", "tenant", a.Tenant.ID,
			map[string]any{"second_factor_required_for": in.SecondFactorRequiredFor, "was": old.SecondFactorRequiredFor})
	})
	if err != nil {
		return nil, err
	}
	return &in, nil
}
