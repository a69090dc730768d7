package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
)

// factorRoutes registers second factors (ADR 0032): the second step of a login and
// step-ups, and the user's own factors and recovery codes.
func (s *Server) factorRoutes(v1 string) {
	s.route(http.MethodPost, v1+"/auth/second-factor", Public(), s.secondFactor, Doc{ID: "completeSecondFactor",
		Summary: "Answer with a second factor: completes a login waiting for one (pending cookie), or steps up the current session",
		Description: "With the pending cookie that POST /auth/login set, completes the login and answers as a login does (the session cookie). " +
			"Without it, on a browser session (with X-CSRF-Token): records a step-up, which acts that matter need within 10 minutes; a user without a " +
			"second factor steps up with method password. A wrong answer is a failed login (401 invalid_second_factor) and counts against the login limits.",
		Request: secondFactorRequest{}, Required: []string{"method"}, Response: loginResult{}, RateLimited: true,
		Errors: []int{http.StatusUnauthorized, http.StatusForbidden}})
	s.route(http.MethodPost, v1+"/auth/second-factor/challenge", Public(), s.webauthnChallenge, Doc{ID: "getWebAuthnChallenge",
		Summary:     "A new security-key challenge, for the pending login (pending cookie) or a step-up of the current session",
		Description: "Pass the answer to navigator.credentials.get(); then POST /auth/second-factor with method webauthn. 409 no_second_factor: you have no security key.",
		Response:    auth.WebAuthnOptions{}, Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict}})
	s.route(http.MethodGet, v1+"/me/factors", Authenticated().DuringEnrolment(), s.listFactors,
		Doc{ID: "listFactors", Summary: "Your second factors, oldest first (pending ones included)", Response: auth.Factor{}, List: true})
	s.route(http.MethodPost, v1+"/me/factors", Authenticated().DuringEnrolment().StepUp(), s.createFactor, Doc{ID: "createFactor",
		Summary: "Add a second factor (browser session): pending until activated",
		Description: "totp: the answer carries the secret and its otpauth:// URI (for a QR code), shown once; webauthn: the options for " +
			"navigator.credentials.create(). Activate it with POST /me/factors/{id}/activate.",
		Request: factorRequest{}, Required: []string{"type"}, Response: auth.NewFactor{}, Status: http.StatusCreated,
		Errors: []int{http.StatusConflict}})
	s.route(http.MethodPost, v1+"/me/factors/:id/activate", Authenticated().DuringEnrolment(), s.activateFactor, Doc{ID: "activateFactor",
		Summary:     "Activate a pending factor with its current code (totp) or the authenticator's answer (webauthn)",
		Description: "Your first factor comes with recovery codes, shown this once. The session counts as stepped up.",
		Request:     activateRequest{}, Response: auth.ActivatedFactor{}, Errors: []int{http.StatusConflict}})
	s.route(http.MethodPatch, v1+"/me/factors/:id", Authenticated().DuringEnrolment(), s.renameFactor,
		Doc{ID: "renameFactor", Summary: "Name a second factor", Request: renameFactorRequest{}, Required: []string{"name"}, Response: auth.Factor{}})
	s.route(http.MethodDelete, v1+"/me/factors/:id", Authenticated().DuringEnrolment().StepUp(), s.removeFactor, Doc{ID: "removeFactor",
		Summary: "Remove a second factor; 409 last_second_factor when your roles require one and it is your last", Status: http.StatusNoContent,
		Errors: []int{http.StatusConflict}})
	s.route(http.MethodPost, v1+"/me/recovery-codes", Authenticated().StepUp(), s.regenerateRecoveryCodes, Doc{ID: "regenerateRecoveryCodes",
		Summary: "Replace your recovery codes with new ones, shown once", Response: recoveryCodes{}, Errors: []int{http.StatusConflict}})
}

type secondFactorRequest struct {
	Method string `json:"method" enum:"second_factor_method"`
	// Code is the authenticator app's code (totp) or a recovery code (recovery).
	Code string `json:"code,omitempty"`
	// Credential is the security key's answer (webauthn): the PublicKeyCredential as JSON.
	Credential map[string]any `json:"credential,omitempty"`
	// Password re-authenticates a session of a user without a second factor (password).
	Password string `json:"password,omitempty"`
}

type factorRequest struct {
	Type string `json:"type" enum:"factor_type"`
	Name string `json:"name,omitempty"`
}

type activateRequest struct {
	Code       string         `json:"code,omitempty"`
	Credential map[string]any `json:"credential,omitempty"`
}

type renameFactorRequest struct {
	Name string `json:"name"`
}

type recoveryCodes struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

// credentialBytes is the authenticator's answer as the WebAuthn library reads it.
func credentialBytes(v map[string]any) []byte {
	if v == nil {
		return nil
	}
	b, _ := json.Marshal(v)
	return b
}

// pendingCookieName is the cookie of a login waiting for its second factor.
func (s *Server) pendingCookieName() string {
	if s.opts.HTTPS {
		return "__Host-up_pending"
	}
	return "up_pending"
}

// pendingCookie holds a pending login for its 5 minutes, sent only by same-site
// requests.
func (s *Server) pendingCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: s.pendingCookieName(), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.opts.HTTPS, SameSite: http.SameSiteStrictMode}
}

func (s *Server) pendingToken(c echo.Context) string {
	if ck, err := c.Request().Cookie(s.pendingCookieName()); err == nil {
		return ck.Value
	}
	return ""
}

func (s *Server) secondFactor(c echo.Context) error {
	var req secondFactorRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	in := auth.SecondFactorInput{Method: req.Method, Code: req.Code, Credential: credentialBytes(req.Credential), Password: req.Password}
	ctx := c.Request().Context()
	if pending := s.pendingToken(c); pending != "" {
		p, token, err := s.opts.Auth.CompleteLogin(ctx, pending, in, c.RealIP())
		var ae *apperr.Error
		if errors.As(err, &ae) && ae.Code == apperr.CodePendingLoginExpired {
			c.SetCookie(s.pendingCookie("", -1))
		}
		if err != nil {
			return err
		}
		c.SetCookie(s.pendingCookie("", -1))
		return s.openSession(c, p, token)
	}
	p, err := s.authenticate(c)
	if err != nil {
		return err
	}
	if err := s.opts.Auth.StepUp(ctx, p, in); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, loginResult{User: &p.User, CSRFToken: s.opts.Auth.CSRFToken(p.SessionID)})
}

func (s *Server) webauthnChallenge(c echo.Context) error {
	ctx := c.Request().Context()
	pending := s.pendingToken(c)
	var p *auth.Principal
	if pending == "" {
		var err error
		if p, err = s.authenticate(c); err != nil {
			return err
		}
	}
	opts, err := s.opts.Auth.WebAuthnChallenge(ctx, pending, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, opts)
}

func (s *Server) listFactors(c echo.Context) error {
	items, err := s.opts.Auth.ListFactors(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(items, ""))
}

func (s *Server) createFactor(c echo.Context) error {
	var req factorRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	f, err := s.opts.Auth.CreateFactor(c.Request().Context(), principal(c), auth.FactorInput{Type: req.Type, Name: req.Name})
	if err != nil {
		return err
	}
	return created(c, "/api/v1/me/factors/"+f.ID, f)
}

func (s *Server) activateFactor(c echo.Context) error {
	var req activateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	f, err := s.opts.Auth.ActivateFactor(c.Request().Context(), principal(c), c.Param("id"),
		auth.ActivationInput{Code: req.Code, Credential: credentialBytes(req.Credential)})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, f)
}

func (s *Server) renameFactor(c echo.Context) error {
	var req renameFactorRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	f, err := s.opts.Auth.RenameFactor(c.Request().Context(), principal(c), c.Param("id"), req.Name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, f)
}

func (s *Server) removeFactor(c echo.Context) error {
	if err := s.opts.Auth.RemoveFactor(c.Request().Context(), principal(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) regenerateRecoveryCodes(c echo.Context) error {
	codes, err := s.opts.Auth.RegenerateRecoveryCodes(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, recoveryCodes{RecoveryCodes: codes})
}

func (s *Server) getSecurityPolicy(c echo.Context) error {
	p, err := s.opts.Auth.SecurityPolicyOf(c.Request().Context(), tenantAccess(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

func (s *Server) putSecurityPolicy(c echo.Context) error {
	var req auth.SecurityPolicy
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p, err := s.opts.Auth.SetSecurityPolicy(c.Request().Context(), tenantAccess(c), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// pendingAnswer is the answer to a right password of an account with a second factor.
func (s *Server) pendingAnswer(c echo.Context, pl *auth.PendingLogin) error {
	c.SetCookie(s.pendingCookie(pl.Token, int(auth.PendingLoginTTL.Seconds())))
	return c.JSON(http.StatusOK, loginResult{SecondFactorRequired: true, Methods: pl.Methods, WebAuthn: pl.WebAuthn, ExpiresAt: &pl.ExpiresAt})
}
