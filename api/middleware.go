package api

import (
	"log/slog"
	"regexp"
	"strconv"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/unionportal/unionportal/clientip"
	"github.com/unionportal/unionportal/logctx"
)

// validRequestID bounds what a client may send as X-Request-Id; anything else is
// replaced, so a request ID is always safe to log and to echo back.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// dropInvalidRequestID removes a client-supplied request ID that is not safe to keep;
// echo's RequestID middleware then generates one.
func dropInvalidRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header
		if id := h.Get(echo.HeaderXRequestID); id != "" && !validRequestID.MatchString(id) {
			h.Del(echo.HeaderXRequestID)
		}
		return next(c)
	}
}

// logContext gives the request a bag of log attributes, with its id: every line logged
// with the request's context carries them, and the user and tenant once known. The
// context also carries the address retention, which the writers of addresses (the
// audit trail, sessions) apply.
func (s *Server) logContext(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := logctx.With(c.Request().Context(), slog.String("request_id", requestID(c)))
		ctx = clientip.With(ctx, s.opts.IPRetention)
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// accessLog writes one structured line per request. It logs the path without the query
// string: queries carry search terms, and what people search for here can be sensitive.
// Of the client's address it logs what UNIONPORTAL_IP_RETENTION keeps (nothing with
// none).
func (s *Server) accessLog() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus:       true,
		LogMethod:       true,
		LogURIPath:      true,
		LogRoutePath:    true,
		LogLatency:      true,
		LogRemoteIP:     true,
		LogRequestID:    true,
		LogError:        true,
		LogResponseSize: true,
		// Let the error handler write the response first, so that the line records
		// what the client really received.
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			route := v.RoutePath
			if route == "" {
				route = "unmatched"
			}
			s.requests.WithLabelValues(route, strconv.Itoa(v.Status/100)+"xx").Inc()
			s.latency.WithLabelValues(route, v.Method).Observe(v.Latency.Seconds())
			level := slog.LevelInfo
			if v.Status >= 500 {
				level = slog.LevelWarn
			}
			attrs := []slog.Attr{
				slog.String("method", v.Method),
				slog.String("path", v.URIPath),
				slog.String("route", v.RoutePath),
				slog.Int("status", v.Status),
				slog.Float64("duration_ms", float64(v.Latency.Microseconds())/1000),
				slog.Int64("bytes_out", v.ResponseSize),
			}
			if ip := s.opts.IPRetention.Keep(v.RemoteIP); ip != "" {
				attrs = append(attrs, slog.String("remote_ip", ip))
			}
			// The request id, user and tenant come from the request's log context.
			s.log.LogAttrs(c.Request().Context(), level, "request", attrs...)
			return nil
		},
	})
}

// recoverPanics turns a panic in a handler into a 500 problem and logs its stack.
func (s *Server) recoverPanics() echo.MiddlewareFunc {
	return middleware.RecoverWithConfig(middleware.RecoverConfig{
		StackSize:       16 << 10,
		DisableStackAll: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.ErrorContext(c.Request().Context(), "panic recovered", "path", c.Request().URL.Path,
				"panic", err.Error(), "stack", string(stack))
			return err
		},
	})
}

// contentSecurityPolicy allows the portal's own scripts, styles and images and nothing
// else; no page may be framed.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries. API responses are never
// cached: they hold drafts that may endanger the people they name.
func (s *Server) securityHeaders() echo.MiddlewareFunc {
	secure := middleware.SecureWithConfig(middleware.SecureConfig{
		ContentTypeNosniff:    "nosniff",
		XFrameOptions:         "DENY",
		ContentSecurityPolicy: contentSecurityPolicy,
		ReferrerPolicy:        "no-referrer",
	})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return secure(func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Cross-Origin-Resource-Policy", "same-origin")
			h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
			h.Set(echo.HeaderCacheControl, "no-store")
			// TLS usually ends at a proxy in front of the portal, so the base URL, not the
			// connection, says whether to ask browsers to insist on HTTPS.
			if s.opts.HTTPS {
				h.Set(echo.HeaderStrictTransportSecurity, "max-age=31536000; includeSubDomains")
			}
			return next(c)
		})
	}
}

func newRequestID() string { return uuid.NewString() }
