package api

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/logctx"
	"github.com/unionportal/unionportal/workflow"
)

// Access is what a route requires. Every /api/v1 route declares one where it is
// registered, so the route table reads as the access policy (a test enforces it).
type Access struct {
	kind accessKind
	perm auth.Permission
	// stepUp: the route is an act that matters, which needs a recent second factor
	// (ADR 0032): always, or for the workflow actions whose rule says so.
	stepUp stepUpKind
	// enrolment: a session that must first add a second factor may use the route.
	enrolment bool
}

type stepUpKind int

const (
	stepUpNever stepUpKind = iota
	stepUpAlways
	stepUpActions
)

// StepUp marks an act that matters: a session needs a second factor (or, for a user
// without one, the password) used within the last 10 minutes, and a token the step_up
// scope; otherwise 401 reauthentication_required. Checked after the permission, so
// that someone who may not act anyway is not asked to confirm.
func (a Access) StepUp() Access {
	a.stepUp = stepUpAlways
	return a
}

// StepUpForActions marks the route of workflow actions: the handler asks for a step-up
// for the actions whose rule says StepUp (approve, sign, reject).
func (a Access) StepUpForActions() Access {
	a.stepUp = stepUpActions
	return a
}

// DuringEnrolment lets a session whose user must first add a second factor use the
// route (its profile, its factors, logging out); every other route answers it 403
// second_factor_enrolment_required.
func (a Access) DuringEnrolment() Access {
	a.enrolment = true
	return a
}

type accessKind int

const (
	accessPublic accessKind = iota + 1
	accessAuthenticated
	accessPlatform
	accessTenant
)

// Public routes need no login.
func Public() Access { return Access{kind: accessPublic} }

// Authenticated routes need a logged-in user, in no particular tenant.
func Authenticated() Access { return Access{kind: accessAuthenticated} }

// Platform routes need a superadmin.
func Platform() Access { return Access{kind: accessPlatform} }

// Tenant routes act in the tenant named by the :tenant path parameter and need perm
// there. A tenant the caller does not belong to answers 404.
func Tenant(perm auth.Permission) Access { return Access{kind: accessTenant, perm: perm} }

func (a Access) String() string {
	s := a.kindString()
	switch a.stepUp {
	case stepUpAlways:
		s += ", step-up"
	case stepUpActions:
		s += ", step-up for " + strings.Join(stringsOf(workflow.StepUpActions()), ", ")
	}
	return s
}

func (a Access) kindString() string {
	switch a.kind {
	case accessPublic:
		return "public"
	case accessAuthenticated:
		return "authenticated"
	case accessPlatform:
		return "platform superadmin"
	case accessTenant:
		return "tenant:" + string(a.perm)
	}
	return "none"
}

// scope is what an API token needs for a request of method on the route: read for
// GET and HEAD; for other methods admin on the platform's routes and where auth
// classifies the route's permission as administration, else write.
func (a Access) scope(method string) string {
	switch {
	case safeMethod(method):
		return auth.ScopeRead
	case a.kind == accessPlatform:
		return auth.ScopeAdmin
	case a.kind == accessTenant:
		return auth.WriteScope(a.perm)
	}
	return auth.ScopeWrite
}

// Context keys of the authenticated principal and tenant access.
const (
	principalKey = "unionportal.principal"
	tenantKey    = "unionportal.tenant_access"
)

// cookieName is the session cookie; over https the __Host- prefix pins it to this host.
func (s *Server) cookieName() string {
	if s.opts.HTTPS {
		return "__Host-up_session"
	}
	return "up_session"
}

// route registers a handler with the access it requires and its documentation, from
// which the OpenAPI document is generated.
func (s *Server) route(method, path string, access Access, h echo.HandlerFunc, doc Doc) {
	key := method + " " + path
	s.access[key] = access
	doc.access = access
	s.docs[key] = doc
	if doc.RateLimited {
		h = loginLimited(h)
	}
	// Idempotency-Key is handled once for every route, after guard has found the
	// principal that scopes the key.
	s.echo.Add(method, path, h, s.guard(access), s.idempotency)
}

// guard authenticates and authorizes a request before its handler runs.
func (s *Server) guard(access Access) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if access.kind == accessPublic {
				return s.publicSlot(c, next)
			}
			p, err := s.authenticate(c)
			if err != nil {
				return err
			}
			c.Set(principalKey, p)
			// A session whose user must have a second factor and has none may only add one.
			if p.MustEnrol() && !access.enrolment {
				return auth.EnrolmentRequired()
			}
			// A token acts only within its scopes, whatever its holder's roles; checked
			// before the tenant is looked at, so a refusal says nothing about it.
			if p.Via == auth.ViaToken && p.Token != nil {
				if need := access.scope(c.Request().Method); !p.Token.Scopes.Has(need) {
					return auth.InsufficientScope(need)
				}
			}
			ctx := c.Request().Context()
			switch access.kind {
			case accessPlatform:
				if !p.User.IsSuperadmin {
					return &apperr.Error{Kind: apperr.KindForbidden, Code: apperr.CodeForbidden, Message: "only a platform superadmin may do this"}
				}
			case accessTenant:
				ta, err := s.opts.Auth.ResolveTenant(ctx, p, c.Param("tenant"))
				if err != nil {
					return err
				}
				logctx.Add(ctx, slog.String("tenant", ta.Tenant.Slug))
				// Set before the permission check, so that a refusal is audited in the tenant.
				c.Set(tenantKey, ta)
				if err := ta.Require(access.perm); err != nil {
					return err
				}
			}
			if access.stepUp == stepUpAlways {
				if err := s.opts.Auth.RequireStepUp(ctx, p); err != nil {
					return err
				}
			}
			return next(c)
		}
	}
}

// authenticate finds the principal from a bearer token or the session cookie. Mutating
// requests authenticated by cookie must carry the session's CSRF token.
func (s *Server) authenticate(c echo.Context) (*auth.Principal, error) {
	req := c.Request()
	var bearer, session string
	if h := req.Header.Get(echo.HeaderAuthorization); h != "" {
		scheme, token, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			return nil, &apperr.Error{Kind: apperr.KindUnauthenticated, Code: apperr.CodeUnauthenticated, Message: "expected Authorization: Bearer <token>"}
		}
		bearer = strings.TrimSpace(token)
	} else if ck, err := req.Cookie(s.cookieName()); err == nil {
		session = ck.Value
	}
	// A request naming a tenant reads it with the credentials, in one statement.
	p, err := s.opts.Auth.AuthenticateIn(req.Context(), session, bearer, c.RealIP(), c.Param("tenant"))
	if err != nil {
		return nil, err
	}
	logctx.Add(req.Context(), slog.String("user_id", p.User.ID))
	// Known before the CSRF check, so that a CSRF failure is audited as this user's.
	c.Set(principalKey, p)
	if p.Via == auth.ViaSession && !safeMethod(req.Method) && !s.opts.Auth.CheckCSRF(p.SessionID, req.Header.Get("X-CSRF-Token")) {
		return nil, &apperr.Error{Kind: apperr.KindForbidden, Code: apperr.CodeCSRFFailed, Message: "send the X-CSRF-Token header given at login (or by GET /api/v1/me)"}
	}
	return p, nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func principal(c echo.Context) *auth.Principal { return c.Get(principalKey).(*auth.Principal) }

func tenantAccess(c echo.Context) *auth.TenantAccess { return c.Get(tenantKey).(*auth.TenantAccess) }

// RouteAccess lists every registered route ("METHOD /path") with what it requires.
func (s *Server) RouteAccess() map[string]Access {
	out := make(map[string]Access, len(s.access))
	for k, v := range s.access {
		out[k] = v
	}
	return out
}
