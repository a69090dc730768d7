package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/unionportal/unionportal/auth"
)

// Refused requests (403, 404 on a route that exists, CSRF failures, 429) are audited,
// but a principal probing ids must not be able to flood the log: each principal (a user,
// or an address when nobody is logged in) may cause refusalBurst events at once and
// then one every refusalEvery; what is dropped is counted in its next event. A global
// limit bounds the writes whoever causes them.
const (
	refusalBurst       = 10
	refusalEvery       = 6 * time.Second
	refusalGlobalBurst = 100
	refusalGlobalRate  = 50 // per second
	// refusalPrincipals bounds the memory of the per-principal limiters; when full the
	// table starts afresh (a prober then gets a new burst, which the global limit bounds).
	refusalPrincipals = 10000
)

type refusalLimiter struct {
	mu         sync.Mutex
	global     *rate.Limiter
	principals map[string]*principalLimit
}

type principalLimit struct {
	lim        *rate.Limiter
	suppressed int
}

func newRefusalLimiter() *refusalLimiter {
	return &refusalLimiter{global: rate.NewLimiter(refusalGlobalRate, refusalGlobalBurst), principals: map[string]*principalLimit{}}
}

// allow says whether key may cause an event now and how many of its refusals were not
// recorded since its last event.
func (l *refusalLimiter) allow(key string) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.principals[key]
	if p == nil {
		if len(l.principals) >= refusalPrincipals {
			l.principals = map[string]*principalLimit{}
		}
		p = &principalLimit{lim: rate.NewLimiter(rate.Every(refusalEvery), refusalBurst)}
		l.principals[key] = p
	}
	if !p.lim.Allow() || !l.global.Allow() {
		p.suppressed++
		return false, 0
	}
	n := p.suppressed
	p.suppressed = 0
	return true, n
}

// audited reports whether a refusal with this status is audited.
func audited(status int) bool {
	return status == http.StatusForbidden || status == http.StatusNotFound || status == http.StatusTooManyRequests
}

// auditRefusal records a refused request on a registered /api/v1 route.
func (s *Server) auditRefusal(c echo.Context, status int, code string) {
	if s.opts.Auth == nil || !audited(status) {
		return
	}
	req := c.Request()
	route := c.Path()
	if _, ok := s.access[req.Method+" "+route]; !ok {
		return // no such route: nothing was refused, nothing exists here
	}
	actor := auth.Actor{IP: c.RealIP()}
	key := "ip:" + actor.IP
	if p, ok := c.Get(principalKey).(*auth.Principal); ok && p != nil {
		actor = p.Actor()
		key = "user:" + p.User.ID
	}
	tenantID := ""
	if ta, ok := c.Get(tenantKey).(*auth.TenantAccess); ok && ta != nil {
		tenantID = ta.Tenant.ID
	}
	ok, suppressed := s.refusals.allow(key)
	if !ok {
		return
	}
	details := map[string]any{"status": status, "code": code}
	if suppressed > 0 {
		details["suppressed_since_last"] = suppressed
	}
	// The request may have timed out; the record must not be lost with it, nor wait long.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), 2*time.Second)
	defer cancel()
	if err := s.opts.Auth.RecordRefusal(ctx, actor, tenantID, req.Method, route, details); err != nil {
		s.log.WarnContext(c.Request().Context(), "could not record a refused request", "error", err)
	}
}
