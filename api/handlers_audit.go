package api

import (
	"encoding/csv"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/database"
)

// auditCSVRows bounds one CSV file of the audit view: a longer view continues in the
// file its Link header names, so that every answer is bounded in time and memory.
const auditCSVRows = 10000

// auditAction is an action (settings.updated) or a prefix of actions (submission.).
var auditAction = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*\.?$`)

// auditQuery documents the audit view's filters, for both answers.
func auditQuery() []Param {
	dateTime := map[string]any{"type": "string", "format": "date-time"}
	return []Param{
		queryUUID("actor_id", "Only what this user did"),
		{Name: "action", Description: "Only this action (settings.updated), or, ending in a dot, every action it begins (submission.)",
			Schema: map[string]any{"type": "string", "maxLength": 100, "pattern": auditAction.String()}},
		queryUUID("submission_id", "Only events about this submission"),
		{Name: "since", Description: "Only events at or after this time (RFC 3339)", Schema: dateTime},
		{Name: "until", Description: "Only events before this time (RFC 3339)", Schema: dateTime},
	}
}

// auditFilter reads the audit view's filters, naming each bad value.
func auditFilter(c echo.Context) (audit.Filter, error) {
	f := audit.Filter{ActorID: c.QueryParam("actor_id"), Action: c.QueryParam("action"), SubmissionID: c.QueryParam("submission_id")}
	var fields []apperr.FieldError
	for name, v := range map[string]string{"actor_id": f.ActorID, "submission_id": f.SubmissionID} {
		if v != "" && !database.ValidID(v) {
			fields = append(fields, apperr.FieldError{Field: name, Message: "expected a UUID"})
		}
	}
	if f.Action != "" && (len(f.Action) > 100 || !auditAction.MatchString(f.Action)) {
		fields = append(fields, apperr.FieldError{Field: "action", Message: "expected an action such as settings.updated, or a prefix ending in a dot such as submission."})
	}
	for name, into := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := c.QueryParam(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				fields = append(fields, apperr.FieldError{Field: name, Message: "expected an RFC 3339 time such as 2026-03-01T00:00:00Z"})
				continue
			}
			*into = t
		}
	}
	if len(fields) == 0 && !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		fields = append(fields, apperr.FieldError{Field: "until", Message: "must be after since"})
	}
	if len(fields) > 0 {
		// In the order of the names, so that an answer does not depend on map order.
		slices.SortFunc(fields, func(a, b apperr.FieldError) int { return strings.Compare(a.Field, b.Field) })
		return f, apperr.Malformed("invalid filter", fields...)
	}
	return f, nil
}

func (s *Server) listAuditEvents(c echo.Context) error {
	page, err := pageParams(c, database.KeyInt)
	if err != nil {
		return err
	}
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	items, next, err := s.opts.Auth.AuditEvents(c.Request().Context(), tenantAccess(c), f, page)
	if err != nil {
		return err
	}
	return paged(c, items, next)
}

// auditCSVHeader names the columns of the CSV export.
var auditCSVHeader = []string{"id", "seq", "created_at", "tenant_id", "actor_id", "action", "object_type", "object_id", "ip", "details", "hash"}

// exportAuditEvents streams the audit view as CSV, at most auditCSVRows rows (or limit)
// per answer, read from the database in batches as they are written. A failure after
// the first bytes went out aborts the connection, so that a client never takes a cut
// file for a whole one.
func (s *Server) exportAuditEvents(c echo.Context) error {
	page, err := parsePageSized(c.QueryParam("cursor"), c.QueryParam("limit"), auditCSVRows, auditCSVRows, database.KeyInt)
	if err != nil {
		return err
	}
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ta := tenantAccess(c)
	x, err := s.opts.Auth.AuditExport(ctx, ta, f, page.After, page.Limit)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, contentDisposition("audit-events-"+ta.Tenant.Slug+".csv"))
	if x.Next != "" {
		u := *c.Request().URL
		q := u.Query()
		q.Set("cursor", x.Next)
		u.RawQuery = q.Encode()
		h.Set("Link", "<"+u.Path+"?"+u.RawQuery+`>; rel="next"`)
	}
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	_ = w.Write(auditCSVHeader)
	err = x.Each(ctx, func(e audit.Event) error {
		tenant, actor := "", ""
		if e.TenantID != nil {
			tenant = *e.TenantID
		}
		if e.ActorID != nil {
			actor = *e.ActorID
		}
		return w.Write(csvCells(strconv.FormatInt(e.ID, 10), strconv.FormatInt(e.Seq, 10), e.CreatedAt.UTC().Format(time.RFC3339Nano),
			tenant, actor, e.Action, e.ObjectType, e.ObjectID, e.IP, e.Details, e.Hash))
	})
	w.Flush()
	if err == nil {
		err = w.Error()
	}
	if err != nil {
		s.log.ErrorContext(ctx, "the audit export stopped part-way; the connection is cut", "error", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// csvCells makes cells safe to open in a spreadsheet: one that begins with =, +, -, @,
// a tab or a carriage return would be taken for a formula (CSV injection), so it gets
// a leading apostrophe.
func csvCells(cells ...string) []string {
	for i, v := range cells {
		if v != "" {
			switch v[0] {
			case '=', '+', '-', '@', '\t', '\r':
				cells[i] = "'" + v
			}
		}
	}
	return cells
}
