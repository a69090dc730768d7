package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// loginResult answers a login: the user and the session's CSRF token, or, for an
// account with a second factor, second_factor_required with the methods it accepts
// (and a security-key challenge) while the pending cookie waits for POST
// /auth/second-factor.
type loginResult struct {
	User      *auth.User `json:"user,omitempty"`
	CSRFToken string     `json:"csrf_token,omitempty"`
	// SecondFactorRequired: the password was right; complete the login with a second
	// factor within 5 minutes.
	SecondFactorRequired bool                  `json:"second_factor_required,omitempty"`
	Methods              []string              `json:"methods,omitempty" enum:"second_factor_method"`
	WebAuthn             *auth.WebAuthnOptions `json:"webauthn,omitempty"`
	ExpiresAt            *time.Time            `json:"expires_at,omitempty"`
	// SecondFactorEnrolmentRequired: your roles require a second factor and you have
	// none: this session may only add one (POST /me/factors).
	SecondFactorEnrolmentRequired bool `json:"second_factor_enrolment_required,omitempty"`
}

func (s *Server) login(c echo.Context) error {
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var fields []apperr.FieldError
	if req.Email == "" {
		fields = append(fields, apperr.FieldError{Field: "email", Message: "required"})
	}
	if req.Password == "" {
		fields = append(fields, apperr.FieldError{Field: "password", Message: "required"})
	}
	if len(fields) > 0 {
		return apperr.Invalid("e-mail and password are required", fields...)
	}
	ctx := c.Request().Context()
	res, err := s.opts.Auth.Login(ctx, req.Email, req.Password, c.RealIP())
	if err != nil {
		return err
	}
	if res.SecondFactor != nil {
		return s.pendingAnswer(c, res.SecondFactor)
	}
	return s.openSession(c, res.Principal, res.SessionToken)
}

// openSession sets the cookie of a session just opened, replacing the one that came
// with the request (never reused), and answers as a login does.
func (s *Server) openSession(c echo.Context, p *auth.Principal, token string) error {
	ctx := c.Request().Context()
	if ck, err := c.Request().Cookie(s.cookieName()); err == nil && ck.Value != "" {
		if old, err := s.opts.Auth.Authenticate(ctx, ck.Value, "", c.RealIP()); err == nil {
			_ = s.opts.Auth.Logout(ctx, old)
		}
	}
	c.SetCookie(s.sessionCookie(token, int(s.opts.SessionAbsolute.Seconds())))
	return c.JSON(http.StatusOK, loginResult{User: &p.User, CSRFToken: s.opts.Auth.CSRFToken(p.SessionID),
		SecondFactorEnrolmentRequired: p.MustEnrol()})
}

func (s *Server) sessionCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: s.cookieName(), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.opts.HTTPS, SameSite: http.SameSiteLaxMode}
}

func (s *Server) logout(c echo.Context) error {
	if err := s.opts.Auth.Logout(c.Request().Context(), principal(c)); err != nil {
		return err
	}
	c.SetCookie(s.sessionCookie("", -1))
	return c.NoContent(http.StatusNoContent)
}

type meResponse struct {
	User        auth.User             `json:"user"`
	Memberships []auth.MembershipView `json:"memberships"`
	CSRFToken   string                `json:"csrf_token,omitempty"`
	// SecondFactor: whether you must have one, what you have, and until when this
	// session is stepped up.
	SecondFactor auth.SecondFactorStatus `json:"second_factor"`
}

func (s *Server) me(c echo.Context) error {
	p := principal(c)
	ms, err := s.opts.Auth.Memberships(c.Request().Context(), p)
	if err != nil {
		return err
	}
	sf, err := s.opts.Auth.SecondFactorStatusOf(c.Request().Context(), p)
	if err != nil {
		return err
	}
	resp := meResponse{User: p.User, Memberships: ms, SecondFactor: *sf}
	if p.Via == auth.ViaSession {
		resp.CSRFToken = s.opts.Auth.CSRFToken(p.SessionID)
	}
	return c.JSON(http.StatusOK, resp)
}

type passwordChangeRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (s *Server) changePassword(c echo.Context) error {
	var req passwordChangeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := s.opts.Auth.ChangePassword(c.Request().Context(), principal(c), req.CurrentPassword, req.NewPassword); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) myInvitations(c echo.Context) error {
	items, err := s.opts.Auth.MyInvitations(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(items, ""))
}

func (s *Server) acceptInvitation(c echo.Context) error {
	if err := s.opts.Auth.AcceptInvitation(c.Request().Context(), principal(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) declineInvitation(c echo.Context) error {
	if err := s.opts.Auth.DeclineInvitation(c.Request().Context(), principal(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// pageParams reads ?cursor= and ?limit= for a list whose cursors carry one value of
// each of keys, in order.
func pageParams(c echo.Context, keys ...database.Key) (database.Page, error) {
	return parsePage(c.QueryParam("cursor"), c.QueryParam("limit"), keys...)
}

func (s *Server) listTokens(c echo.Context) error {
	page, err := pageParams(c, database.KeyTime, database.KeyID)
	if err != nil {
		return err
	}
	items, next, err := s.opts.Auth.ListTokens(c.Request().Context(), principal(c), page)
	if err != nil {
		return err
	}
	return paged(c, items, next)
}

type tokenRequest struct {
	Name string `json:"name"`
	// ExpiresAt is an RFC 3339 time; left out, the token does not expire (or, created
	// by a token, expires with it, and it may not be later).
	ExpiresAt *string `json:"expires_at"`
	// CanCreateTokens lets the new token create tokens; only a browser session or a
	// token that has it may give it. Optional: false.
	CanCreateTokens bool `json:"can_create_tokens,omitempty"`
	// Scopes are read, write and admin; left out, read and write (for a token made by a
	// token, those of them it has). A token cannot give a scope it lacks.
	Scopes []string `json:"scopes,omitempty" enum:"scope"`
}

func (s *Server) createToken(c echo.Context) error {
	var req tokenRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var expires *time.Time
	if req.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339, *req.ExpiresAt)
		if err != nil {
			return apperr.Invalid("the token is invalid", apperr.FieldError{Field: "expires_at", Message: "expected an RFC 3339 time such as 2027-01-31T00:00:00Z"})
		}
		expires = &t
	}
	t, err := s.opts.Auth.CreateToken(c.Request().Context(), principal(c), auth.TokenInput{Name: req.Name, ExpiresAt: expires, CanCreateTokens: req.CanCreateTokens, Scopes: req.Scopes})
	if err != nil {
		return err
	}
	return created(c, "/api/v1/me/tokens/"+t.ID, t)
}

func (s *Server) revokeToken(c echo.Context) error {
	id := c.Param("id")
	if !database.ValidID(id) {
		return apperr.NotFound("token")
	}
	if err := s.opts.Auth.RevokeToken(c.Request().Context(), principal(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type languageRequest struct {
	Language string `json:"language"`
}

func (s *Server) setLanguage(c echo.Context) error {
	var req languageRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	tag, err := s.opts.Auth.SetLanguage(c.Request().Context(), principal(c), req.Language)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, languageRequest{Language: tag})
}
