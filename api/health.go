package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/apperr"
)

// Check is one dependency that /readyz verifies.
type Check struct {
	Name string
	// Fn returns nil when the dependency answers within ctx.
	Fn func(ctx context.Context) error
}

// readyTimeout keeps /readyz well inside the 2 seconds orchestrators expect.
const readyTimeout = 1500 * time.Millisecond

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "version": s.opts.Version})
}

// readyz runs every check at once and answers 200 when all pass. On failure it names
// the failing checks but not why: the reason (host names, errors) goes to the log only.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
	defer cancel()
	results := make(map[string]string, len(s.opts.Checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, chk := range s.opts.Checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status := "ok"
			if err := chk.Fn(ctx); err != nil {
				status = "unavailable"
				s.log.Warn("readiness check failed", "check", chk.Name, "error", err.Error())
			}
			mu.Lock()
			results[chk.Name] = status
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, status := range results {
		if status != "ok" {
			return apperr.New(apperr.KindUnavailable, "not_ready", "A service the portal needs is unavailable.").
				With("checks", results)
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ready", "checks": results})
}
