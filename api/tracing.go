package api

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// tracer is the portal's; without a configured tracer provider (see cmd's tracing) it
// is OpenTelemetry's no-op, and tracing costs nothing.
var tracer = otel.Tracer("github.com/unionportal/unionportal/api")

// traceRequests starts a server span per request, named by its route ("GET
// /api/v1/tenants/:tenant/submissions/:id"), continuing a trace the caller propagated
// (traceparent). It records the method, route and status only: never the path's ids,
// the query (search terms), the user or the tenant.
func traceRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		ctx := otel.GetTextMapPropagator().Extract(req.Context(), propagation.HeaderCarrier(req.Header))
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		ctx, span := tracer.Start(ctx, req.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", req.Method), attribute.String("http.route", route)))
		defer span.End()
		c.SetRequest(req.WithContext(ctx))
		err := next(c)
		status := c.Response().Status
		if err != nil {
			if he, ok := err.(*echo.HTTPError); ok {
				status = he.Code
			} else if p, _ := problemFor(err); p.Status != 0 {
				status = p.Status
			}
		}
		span.SetAttributes(attribute.String("http.response.status_code", strconv.Itoa(status)))
		if status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		return err
	}
}
