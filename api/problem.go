package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/storage"
)

// ProblemContentType is the media type of every error response (RFC 9457).
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem document. Code is a stable machine-readable name that
// clients switch on; Title and Detail are for people.
type Problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail,omitempty"`
	Instance  string              `json:"instance,omitempty"`
	Code      string              `json:"code" enum:"problem_code"`
	RequestID string              `json:"request_id,omitempty"`
	Errors    []apperr.FieldError `json:"errors,omitempty"`
	Extra     map[string]any      `json:"-"`
}

// MarshalJSON inlines Extra beside the standard members.
func (p Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	b, err := json.Marshal(plain(p))
	if err != nil || len(p.Extra) == 0 {
		return b, err
	}
	extra, err := json.Marshal(p.Extra)
	if err != nil {
		return nil, err
	}
	// Both are JSON objects: join them, with the standard members first.
	return append(append(b[:len(b)-1:len(b)-1], ','), extra[1:]...), nil
}

var kindStatus = map[apperr.Kind]int{
	apperr.KindInternal:             http.StatusInternalServerError,
	apperr.KindMalformed:            http.StatusBadRequest,
	apperr.KindInvalid:              http.StatusUnprocessableEntity,
	apperr.KindNotFound:             http.StatusNotFound,
	apperr.KindConflict:             http.StatusConflict,
	apperr.KindUnauthenticated:      http.StatusUnauthorized,
	apperr.KindForbidden:            http.StatusForbidden,
	apperr.KindPreconditionFailed:   http.StatusPreconditionFailed,
	apperr.KindPreconditionRequired: http.StatusPreconditionRequired,
	apperr.KindTooLarge:             http.StatusRequestEntityTooLarge,
	apperr.KindUnsupportedMedia:     http.StatusUnsupportedMediaType,
	apperr.KindRateLimited:          http.StatusTooManyRequests,
	apperr.KindUnavailable:          http.StatusServiceUnavailable,
	apperr.KindRequestTimeout:       http.StatusRequestTimeout,
	apperr.KindGone:                 http.StatusGone,
	apperr.KindLengthRequired:       http.StatusLengthRequired,
}

// statusCodes names the problems that echo itself raises (routing, body limit, timeout).
var statusCodes = map[int]string{
	http.StatusBadRequest:            apperr.CodeBadRequest,
	http.StatusUnauthorized:          apperr.CodeUnauthenticated,
	http.StatusForbidden:             apperr.CodeForbidden,
	http.StatusNotFound:              apperr.CodeNotFound,
	http.StatusMethodNotAllowed:      apperr.CodeMethodNotAllowed,
	http.StatusRequestEntityTooLarge: apperr.CodeRequestTooLarge,
	http.StatusUnsupportedMediaType:  apperr.CodeUnsupportedMediaType,
	http.StatusTooManyRequests:       apperr.CodeRateLimited,
	http.StatusServiceUnavailable:    apperr.CodeServiceUnavailable,
}

// problemFor turns any error into the problem to send and says whether it is a server
// fault whose cause must be logged.
func problemFor(err error) (p Problem, serverFault bool) {
	var he *echo.HTTPError
	switch {
	case database.IsUnavailable(err):
		return Problem{Status: http.StatusServiceUnavailable, Code: apperr.CodeDatabaseUnavailable,
			Detail: "The database is temporarily unavailable. Try again shortly."}, true
	case database.IsFull(err), storage.IsFull(err):
		// However the domain wrapped it (an upload reports storage_unavailable).
		return Problem{Status: http.StatusServiceUnavailable, Code: apperr.CodeStorageFull,
			Detail: "The server has no storage space left. Try again later."}, true
	case errors.As(err, &he):
		p := Problem{Status: he.Code, Code: statusCodes[he.Code]}
		if p.Code == "" {
			p.Code = strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "_"))
		}
		switch he.Code {
		case http.StatusNotFound:
			p.Detail = "No resource exists at this address."
		case http.StatusMethodNotAllowed:
			p.Detail = "This resource does not support this method."
		case http.StatusRequestEntityTooLarge:
			p.Detail = "The request body is larger than the server accepts."
		case http.StatusServiceUnavailable:
			p.Detail = "The request took too long. Try again shortly."
		default:
			if msg, ok := he.Message.(string); ok && he.Code < 500 {
				p.Detail = msg
			}
		}
		return p, he.Code >= 500
	}
	if e, ok := apperr.As(err); ok {
		status := kindStatus[e.Kind]
		if status == 0 || status == http.StatusInternalServerError {
			return internalProblem(), true
		}
		return Problem{Status: status, Code: e.Code, Detail: e.Message, Errors: e.Fields, Extra: e.Extra}, status >= 500
	}
	return internalProblem(), true
}

func internalProblem() Problem {
	return Problem{Status: http.StatusInternalServerError, Code: apperr.CodeInternalError,
		Detail: "An internal error occurred. It has been logged with this request's ID."}
}

const handledErrorKey = "unionportal.handled_error"

// errorHandler is echo's central error handler: every error a handler or middleware
// returns leaves the server as a problem document, and server faults are logged with
// their cause, which the client never sees.
func (s *Server) errorHandler(err error, c echo.Context) {
	// The access log hands each error to this handler before logging the response, and
	// echo hands it over again afterwards: handle each error once.
	if handled, _ := c.Get(handledErrorKey).(error); handled == err {
		return
	}
	c.Set(handledErrorKey, err)
	req := c.Request()
	if errors.Is(err, context.Canceled) && req.Context().Err() != nil {
		s.log.DebugContext(req.Context(), "client went away", "path", req.URL.Path)
		return
	}
	p, fault := problemFor(err)
	p.Type = "about:blank"
	p.Title = http.StatusText(p.Status)
	p.Instance = req.URL.Path
	p.RequestID = requestID(c)
	if fault {
		level := slog.LevelError
		if p.Status == http.StatusServiceUnavailable {
			level = slog.LevelWarn // a service is down: not a bug, and it repeats
		}
		s.log.Log(req.Context(), level, "request failed", "method", req.Method,
			"path", req.URL.Path, "status", p.Status, "error", err.Error())
	}
	s.auditRefusal(c, p.Status, p.Code)
	if c.Response().Committed {
		return
	}
	switch p.Status {
	case http.StatusServiceUnavailable:
		c.Response().Header().Set("Retry-After", "5")
	case http.StatusTooManyRequests:
		if secs, ok := p.Extra["retry_after"].(int); ok {
			c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
		}
	case http.StatusUnauthorized:
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="unionportal"`)
	}
	if req.Method == http.MethodHead {
		_ = c.NoContent(p.Status)
		return
	}
	body, mErr := json.Marshal(p)
	if mErr != nil {
		body = []byte(fmt.Sprintf(`{"type":"about:blank","status":%d,"code":"internal_error"}`, p.Status))
	}
	if werr := c.Blob(p.Status, ProblemContentType, body); werr != nil {
		s.log.DebugContext(req.Context(), "writing the error response failed", "error", werr)
	}
}
