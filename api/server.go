// Package api is the portal's HTTP interface: the echo server, its middleware, the
// routes of /api/v1 with the permission each requires, request and response types, and
// the one place where domain errors become RFC 9457 problem documents. Nothing imports
// it but cmd/unionportal.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/unionportal/unionportal/auth"
)

// Options configure a Server. The zero value serves with safe defaults.
type Options struct {
	Logger *slog.Logger
	// HTTPS is true when the portal is reached over TLS (its base URL is https):
	// responses then carry Strict-Transport-Security.
	HTTPS bool
	// MaxBodyBytes bounds request bodies; 0 means 4 MiB.
	MaxBodyBytes int64
	// RequestTimeout bounds how long a request may work before it fails with 503; 0 means
	// 30 seconds. It keeps a request from hanging on a database that stopped answering.
	RequestTimeout time.Duration
	// TrustedProxies are the networks whose X-Forwarded-For header is believed when
	// finding a client's address. Without any, the connection's address is used.
	TrustedProxies []*net.IPNet
	// Checks are what /readyz verifies, such as the database and the storage.
	Checks []Check
	// Version is reported by /healthz.
	Version string
	// Auth serves /api/v1; without it only the health routes exist.
	Auth *auth.Service
	// SessionAbsolute is the lifetime of the session cookie (default 12 h).
	SessionAbsolute time.Duration
}

// Server is the portal's HTTP server.
type Server struct {
	echo *echo.Echo
	log  *slog.Logger
	opts Options
	// access records what each route requires, by "METHOD /path".
	access map[string]Access
}

// New builds the server and registers every route.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 4 << 20
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	if opts.SessionAbsolute <= 0 {
		opts.SessionAbsolute = 12 * time.Hour
	}
	s := &Server{echo: e, log: opts.Logger, opts: opts, access: map[string]Access{}}
	e.HTTPErrorHandler = s.errorHandler
	e.IPExtractor = ipExtractor(opts.TrustedProxies)

	e.Pre(dropInvalidRequestID)
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{Generator: newRequestID}))
	e.Use(s.accessLog())
	e.Use(s.recoverPanics())
	e.Use(s.securityHeaders())
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: byteLimit(opts.MaxBodyBytes)}))
	e.Use(middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{Timeout: opts.RequestTimeout}))

	s.routes()
	return s
}

func (s *Server) routes() {
	s.echo.GET("/healthz", s.healthz)
	s.echo.GET("/readyz", s.readyz)
	if s.opts.Auth == nil {
		return
	}
	const v1 = "/api/v1"
	s.route(http.MethodPost, v1+"/auth/login", Public(), s.login)
	s.route(http.MethodPost, v1+"/auth/logout", Authenticated(), s.logout)
	s.route(http.MethodGet, v1+"/me", Authenticated(), s.me)
	s.route(http.MethodGet, v1+"/me/tokens", Authenticated(), s.listTokens)
	s.route(http.MethodPost, v1+"/me/tokens", Authenticated(), s.createToken)
	s.route(http.MethodDelete, v1+"/me/tokens/:id", Authenticated(), s.revokeToken)

	s.route(http.MethodGet, v1+"/tenants", Authenticated(), s.listTenants)
	s.route(http.MethodPost, v1+"/tenants", Platform(), s.createTenant)
	s.route(http.MethodGet, v1+"/tenants/:tenant", Tenant(auth.PermTenantRead), s.getTenant)
	s.route(http.MethodGet, v1+"/tenants/:tenant/organizations", Tenant(auth.PermOrganizationRead), s.listOrganizations)
	s.route(http.MethodPost, v1+"/tenants/:tenant/organizations", Tenant(auth.PermOrganizationManage), s.createOrganization)
	s.route(http.MethodGet, v1+"/tenants/:tenant/users", Tenant(auth.PermUserRead), s.listUsers)
	s.route(http.MethodPost, v1+"/tenants/:tenant/users", Tenant(auth.PermUserManage), s.createUser)
	s.route(http.MethodPatch, v1+"/tenants/:tenant/users/:id", Tenant(auth.PermUserManage), s.updateUser)
	s.route(http.MethodDelete, v1+"/tenants/:tenant/users/:id", Tenant(auth.PermUserManage), s.deactivateUser)
}

// Handler returns the server as an http.Handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.echo }

// Echo returns the underlying router, for tests that add routes or walk the table.
func (s *Server) Echo() *echo.Echo { return s.echo }

// Serve accepts connections on ln until ctx is cancelled, then stops accepting and
// lets in-flight requests finish for up to drain before closing what remains.
func (s *Server) Serve(ctx context.Context, ln net.Listener, drain time.Duration) error {
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: no new connections; draining requests", "timeout", drain)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("requests still running after the drain timeout; closing them")
		err = srv.Close()
	}
	if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

// ipExtractor finds the client address: the direct peer, unless the peer is a trusted
// proxy, in which case the nearest untrusted address in X-Forwarded-For.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

func byteLimit(n int64) string { return strconv.FormatInt(n, 10) + "B" }
