package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/apperr"
)

// syncBuffer is a log sink that tests may read while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestServer(t *testing.T, opts Options) (*Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return New(opts), logs
}

func do(t *testing.T, h http.Handler, method, target string, body io.Reader) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, body)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decodeProblem(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != ProblemContentType {
		t.Fatalf("Content-Type = %q, want %s; body %s", ct, ProblemContentType, rec.Body)
	}
	var p map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body is not JSON: %v: %s", err, rec.Body)
	}
	for _, k := range []string{"type", "title", "status", "code", "request_id"} {
		if _, ok := p[k]; !ok {
			t.Errorf("problem lacks %q: %s", k, rec.Body)
		}
	}
	if int(p["status"].(float64)) != rec.Code {
		t.Errorf("problem status %v differs from the response status %d", p["status"], rec.Code)
	}
	return p
}

func TestProblems(t *testing.T) {
	s, logs := newTestServer(t, Options{MaxBodyBytes: 1024})
	e := s.Echo()
	e.POST("/test/echo-body", func(c echo.Context) error {
		b, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, "text/plain", b)
	})
	e.GET("/test/panic", func(c echo.Context) error { panic("secret detail 42") })
	e.GET("/test/error", func(c echo.Context) error { return errors.New("pq: relation users does not exist") })
	e.GET("/test/invalid", func(c echo.Context) error {
		return apperr.Invalid("the request is invalid", apperr.FieldError{Field: "country", Message: "expected an ISO 3166-1 alpha-2 code"})
	})
	e.GET("/test/stale", func(c echo.Context) error {
		return apperr.New(apperr.KindPreconditionFailed, "version_mismatch", "stale").With("current_version", 7)
	})

	tests := []struct {
		name       string
		method     string
		target     string
		body       string
		wantStatus int
		wantCode   string
	}{
		{"unknown route", http.MethodGet, "/api/v1/nothing-here", "", 404, "not_found"},
		{"wrong method", http.MethodDelete, "/healthz", "", 405, "method_not_allowed"},
		{"body too large", http.MethodPost, "/test/echo-body", strings.Repeat("x", 2048), 413, "request_too_large"},
		{"panic", http.MethodGet, "/test/panic", "", 500, "internal_error"},
		{"plain error", http.MethodGet, "/test/error", "", 500, "internal_error"},
		{"validation", http.MethodGet, "/test/invalid", "", 422, "validation_failed"},
		{"precondition", http.MethodGet, "/test/stale", "", 412, "version_mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			rec := do(t, s.Handler(), tt.method, tt.target, body)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			p := decodeProblem(t, rec)
			if p["code"] != tt.wantCode {
				t.Errorf("code = %v, want %s", p["code"], tt.wantCode)
			}
			if p["request_id"] != rec.Header().Get(echo.HeaderXRequestID) {
				t.Errorf("problem request_id %v differs from X-Request-Id %q", p["request_id"], rec.Header().Get(echo.HeaderXRequestID))
			}
		})
	}

	t.Run("500 hides the cause and logs it", func(t *testing.T) {
		rec := do(t, s.Handler(), http.MethodGet, "/test/error", nil)
		if strings.Contains(rec.Body.String(), "relation users") {
			t.Errorf("the database error reached the client: %s", rec.Body)
		}
		if !strings.Contains(logs.String(), "relation users does not exist") {
			t.Errorf("the cause was not logged")
		}
	})
	t.Run("panic logs the stack", func(t *testing.T) {
		rec := do(t, s.Handler(), http.MethodGet, "/test/panic", nil)
		if strings.Contains(rec.Body.String(), "secret detail") {
			t.Errorf("the panic value reached the client: %s", rec.Body)
		}
		l := logs.String()
		if !strings.Contains(l, "panic recovered") || !strings.Contains(l, "server_test.go") {
			t.Errorf("the panic and its stack were not logged:\n%s", l)
		}
	})
	t.Run("field errors and extra members", func(t *testing.T) {
		p := decodeProblem(t, do(t, s.Handler(), http.MethodGet, "/test/invalid", nil))
		errs, _ := p["errors"].([]any)
		if len(errs) != 1 || errs[0].(map[string]any)["field"] != "country" {
			t.Errorf("errors = %v, want one naming country", p["errors"])
		}
		p = decodeProblem(t, do(t, s.Handler(), http.MethodGet, "/test/stale", nil))
		if p["current_version"] != float64(7) {
			t.Errorf("current_version = %v, want 7", p["current_version"])
		}
	})
	t.Run("405 names the allowed methods", func(t *testing.T) {
		rec := do(t, s.Handler(), http.MethodPost, "/healthz", nil)
		if !strings.Contains(rec.Header().Get("Allow"), http.MethodGet) {
			t.Errorf("Allow = %q, want it to list GET", rec.Header().Get("Allow"))
		}
	})
}

func TestSecurityHeaders(t *testing.T) {
	for _, https := range []bool{false, true} {
		s, _ := newTestServer(t, Options{HTTPS: https})
		for _, target := range []string{"/healthz", "/no-such-page"} {
			rec := do(t, s.Handler(), http.MethodGet, target, nil)
			h := rec.Header()
			want := map[string]string{
				"X-Content-Type-Options": "nosniff",
				"X-Frame-Options":        "DENY",
				"Referrer-Policy":        "no-referrer",
				"Cache-Control":          "no-store",
			}
			for k, v := range want {
				if h.Get(k) != v {
					t.Errorf("%s %s: %s = %q, want %q", target, map[bool]string{true: "https", false: "http"}[https], k, h.Get(k), v)
				}
			}
			if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Errorf("%s: CSP = %q", target, h.Get("Content-Security-Policy"))
			}
			if got := h.Get("Strict-Transport-Security") != ""; got != https {
				t.Errorf("%s: HSTS present = %v, want %v", target, got, https)
			}
		}
	}
}

func TestRequestID(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	for _, tt := range []struct{ sent, want string }{
		{"", ""},
		{"abc-123", "abc-123"},
		{"bad\nvalue", ""},
		{strings.Repeat("a", 65), ""},
	} {
		req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		if tt.sent != "" {
			req.Header.Set(echo.HeaderXRequestID, tt.sent)
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		got := rec.Header().Get(echo.HeaderXRequestID)
		if tt.want != "" && got != tt.want {
			t.Errorf("sent %q: got %q, want it kept", tt.sent, got)
		}
		if tt.want == "" && (got == "" || got == tt.sent) {
			t.Errorf("sent %q: got %q, want a fresh ID", tt.sent, got)
		}
	}
}

func TestAccessLogOmitsQuery(t *testing.T) {
	s, logs := newTestServer(t, Options{})
	do(t, s.Handler(), http.MethodGet, "/healthz?q=name+of+a+witness", nil)
	l := logs.String()
	if !strings.Contains(l, `"path":"/healthz"`) || !strings.Contains(l, `"status":200`) {
		t.Errorf("access log lacks the request:\n%s", l)
	}
	if strings.Contains(l, "witness") {
		t.Errorf("access log contains the query string:\n%s", l)
	}
}

func TestReadiness(t *testing.T) {
	var mu sync.Mutex
	var failing error
	s, _ := newTestServer(t, Options{Checks: []Check{{Name: "database", Fn: func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		return failing
	}}}})
	if rec := do(t, s.Handler(), http.MethodGet, "/readyz", nil); rec.Code != 200 {
		t.Fatalf("ready: %d %s", rec.Code, rec.Body)
	}
	mu.Lock()
	failing = errors.New("dial tcp 10.0.0.7:5432: connection refused")
	mu.Unlock()
	rec := do(t, s.Handler(), http.MethodGet, "/readyz", nil)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", rec.Code)
	}
	p := decodeProblem(t, rec)
	if p["code"] != "not_ready" || p["checks"].(map[string]any)["database"] != "unavailable" {
		t.Errorf("problem = %v", p)
	}
	if strings.Contains(rec.Body.String(), "10.0.0.7") {
		t.Errorf("readiness leaks the cause: %s", rec.Body)
	}
	if rec.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	// A check that hangs still gives an answer in time.
	s2, _ := newTestServer(t, Options{Checks: []Check{{Name: "slow", Fn: func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}}}})
	start := time.Now()
	if rec := do(t, s2.Handler(), http.MethodGet, "/readyz", nil); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("hanging check: status %d", rec.Code)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("readiness took %s with a hanging check, want under 2s", d)
	}
}

func TestGracefulShutdownDrainsInFlightRequest(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	entered := make(chan struct{})
	release := make(chan struct{})
	s.Echo().GET("/test/slow", func(c echo.Context) error {
		close(entered)
		<-release
		return c.String(http.StatusOK, "finished")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, 10*time.Second) }()

	type result struct {
		status int
		body   string
		err    error
	}
	inFlight := make(chan result, 1)
	go func() {
		resp, err := http.Get(addr + "/test/slow")
		if err != nil {
			inFlight <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		inFlight <- result{status: resp.StatusCode, body: string(b)}
	}()
	<-entered
	cancel() // as SIGTERM does in main

	// New connections are refused once shutdown has begun.
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", ln.Addr().String(), 200*time.Millisecond)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts connections during shutdown")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) before the in-flight request finished", err)
	default:
	}
	close(release)
	r := <-inFlight
	if r.err != nil || r.status != http.StatusOK || r.body != "finished" {
		t.Fatalf("in-flight request: %+v, want 200 finished", r)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestShutdownGivesUpAfterDrainTimeout(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	entered := make(chan struct{})
	s.Echo().GET("/test/stuck", func(c echo.Context) error {
		close(entered)
		<-c.Request().Context().Done()
		return c.Request().Context().Err()
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, 300*time.Millisecond) }()
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/test/stuck")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	cancel()
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the drain timeout")
	}
}
