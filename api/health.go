package api

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/storage"
)

// Check is one dependency that /readyz verifies.
type Check struct {
	Name string
	// Fn returns nil when the dependency answers within ctx.
	Fn func(ctx context.Context) error
}

// readyTimeout keeps /readyz well inside the 2 seconds orchestrators expect.
const readyTimeout = 1500 * time.Millisecond

// Health is /healthz's answer.
type Health struct {
	Status  string `json:"status" doc:"always ok"`
	Version string `json:"version"`
}

// Readiness is /readyz's answer when every check passed.
type Readiness struct {
	Status string            `json:"status" doc:"always ready"`
	Checks map[string]string `json:"checks" doc:"each check's result (ok)"`
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, Health{Status: "ok", Version: s.opts.Version})
}

// readyz runs every check at once and answers 200 when all pass. On failure it names
// the failing checks, each with a reason in a few words (the storage is full, the
// bucket does not exist, the server did not answer in time); the error itself, which
// may name hosts and paths, goes to the log only.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
	defer cancel()
	results := make(map[string]string, len(s.opts.Checks))
	reasons := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, chk := range s.opts.Checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, why := "ok", ""
			if err := chk.Fn(ctx); err != nil {
				status, why = "unavailable", checkReason(err)
				s.log.WarnContext(ctx, "readiness check failed", "check", chk.Name, "error", err.Error())
			}
			mu.Lock()
			results[chk.Name] = status
			if why != "" {
				reasons[chk.Name] = why
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, status := range results {
		if status != "ok" {
			return apperr.New(apperr.KindUnavailable, apperr.CodeNotReady, "A service the portal needs is unavailable.").
				With("checks", results).With("reasons", reasons)
		}
	}
	return c.JSON(http.StatusOK, Readiness{Status: "ready", Checks: results})
}

// checkReason says why a check failed in words safe to show anyone: the reason a
// storage check gives, or whether the dependency did not answer in time.
func checkReason(err error) string {
	var ce *storage.CheckError
	switch {
	case errors.As(err, &ce):
		return ce.Reason
	case storage.IsFull(err), database.IsFull(err):
		return "no space left"
	case errors.Is(err, context.DeadlineExceeded):
		return "did not answer in time"
	}
	return "unreachable"
}
