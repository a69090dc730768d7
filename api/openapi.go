package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/inbound"
	"github.com/unionportal/unionportal/webhook"
	"github.com/unionportal/unionportal/workflow"
)

// Doc describes a route for the OpenAPI document, next to the route's registration so
// the two cannot drift apart (and the API tests validate every exchange against it).
type Doc struct {
	// ID is the operationId: short, stable, verbNoun ("listSubmissions").
	ID          string
	Summary     string
	Description string
	// Request and Response are zero values of the body types; nil means no body.
	Request any
	// Required names the request body's fields this operation requires (the same type
	// may serve a create, which requires fields, and a change, which does not).
	Required []string
	Response any
	// List: the response is {"items": [Response...], "next_cursor": "..."}; Paged: the
	// list takes cursor and limit, and answers a Link header to its next page.
	List, Paged bool
	// MaxLimit, when set, is a Paged answer's largest limit and its default (a file of
	// many rows); otherwise limit is 1-100, 50 by default.
	MaxLimit int
	// Multipart: the request is multipart/form-data with one file in the field "file".
	Multipart bool
	// RawBody is the media type of a request body that is a file's bytes ("*/*": any).
	RawBody string
	// ResponseHeaders are the headers of the success answer beyond those its shape implies.
	ResponseHeaders []Param
	// Status is the success status; 0 means 200.
	Status int
	// Content is the media type of a file response (the body is the file's bytes):
	// "application/pdf", or "*/*" for evidence of any type.
	Content string
	// Query and Headers are the query parameters and request headers the route reads.
	Query   []Param
	Headers []Param
	// Errors are the statuses this operation may answer beyond those its shape implies
	// (see errorStatuses).
	Errors []int
	// ETag: the answer carries an ETag, and If-None-Match with it answers 304.
	ETag bool
	// Ranges: the file answer honours Range (206, 416) and may redirect (302).
	Ranges bool
	// RateLimited: the route answers RateLimit headers and 429 beyond its policy.
	RateLimited bool

	access Access
}

// Param is a query parameter or request header.
type Param struct {
	Name        string
	Description string
	Required    bool
	Schema      map[string]any
}

func queryString(name, description string) Param {
	return Param{Name: name, Description: description, Schema: map[string]any{"type": "string"}}
}

func queryUUID(name, description string) Param {
	return Param{Name: name, Description: description, Schema: uuidSchema()}
}

func uuidSchema() map[string]any { return map[string]any{"type": "string", "format": "uuid"} }

// tags group operations by the resource their path names.
var tags = []struct{ name, segment, description string }{
	{"auth", "auth", "Signing in and out, second factors at login, step-up"},
	{"me", "me", "The signed-in user: profile, password, language, invitations, API tokens, second factors and recovery codes"},
	{"tenants", "", "Tenants (federations), their organizations, members and invitations"},
	{"settings", "settings", "A tenant's workflow and dispatch settings and verified sender domains"},
	{"cases", "cases", "ILO Committee on Freedom of Association cases"},
	{"submissions", "submissions", "Complaints and updates: drafts, revisions, the workflow, comments"},
	{"evidence", "attachments", "Evidence files"},
	{"dispatch", "dispatches", "Letters and their dispatch to the ILO"},
	{"operations", "", "Health, readiness and metrics (outside /api/v1)"},
	{"meta", "openapi.json", "This document"},
	{"webhooks", "webhooks", "Webhook endpoints, their delivery log, and the tenant event feed; what the portal sends is under webhooks"},
	{"events", "events", "The tenant event feed"},
	{"audit", "audit-events", "The tenant's audit trail, for its admins"},
}

func tagOf(path string) string {
	p := strings.TrimPrefix(path, "/api/v1/")
	if !strings.HasPrefix(path, "/api/v1/") {
		return "operations"
	}
	segs := strings.Split(p, "/")
	if segs[0] == "tenants" && len(segs) > 2 {
		seg := segs[2]
		switch {
		case seg == "sender-domains":
			return "settings"
		case seg == "audit-events.csv":
			return "audit"
		case seg == "submissions" && len(segs) > 4 && (segs[4] == "attachments" || segs[4] == "uploads"):
			return "evidence"
		case seg == "submissions" && len(segs) > 4 && (segs[4] == "letter.pdf" || segs[4] == "dispatches" || segs[4] == "snapshot"):
			return "dispatch"
		}
		for _, t := range tags {
			if t.segment == seg {
				return t.name
			}
		}
		return "tenants"
	}
	for _, t := range tags {
		if t.segment == segs[0] {
			return t.name
		}
	}
	return "tenants"
}

// errorStatuses are the problem statuses an operation may answer: those its shape
// implies (every route checks its path and query text; a body is decoded and
// validated; a caller is authenticated and authorized; an addressed resource may not
// exist; anything may fail or be unavailable) and its own.
func errorStatuses(method, path string, d Doc) []int {
	codes := []int{http.StatusBadRequest, http.StatusInternalServerError, http.StatusServiceUnavailable}
	if d.access.kind != accessPublic {
		codes = append(codes, http.StatusUnauthorized, http.StatusForbidden)
	} else {
		codes = append(codes, http.StatusTooManyRequests) // connections per address
	}
	if strings.Contains(path, ":") {
		codes = append(codes, http.StatusNotFound)
	}
	if d.Request != nil || d.Multipart || d.RawBody != "" {
		codes = append(codes, http.StatusRequestTimeout, http.StatusRequestEntityTooLarge,
			http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity)
	}
	if d.Paged || len(d.Query) > 0 {
		codes = append(codes, http.StatusUnprocessableEntity)
	}
	if d.RateLimited {
		codes = append(codes, http.StatusTooManyRequests)
	}
	if method == http.MethodPost && d.access.kind != accessPublic {
		codes = append(codes, http.StatusConflict, http.StatusUnprocessableEntity) // Idempotency-Key
	}
	codes = append(codes, d.Errors...)
	slices.Sort(codes)
	return slices.Compact(codes)
}

// problemResponses are the shared error responses, by status.
func problemResponses() map[string]any {
	out := map[string]any{}
	for _, status := range []int{400, 401, 403, 404, 408, 409, 410, 411, 412, 413, 415, 416, 422, 428, 429, 500, 503, 507} {
		r := map[string]any{"description": http.StatusText(status) + " (an RFC 9457 problem; see its code)",
			"content": map[string]any{ProblemContentType: map[string]any{"schema": ref("Problem")}}}
		switch status {
		case 401:
			r["headers"] = map[string]any{"WWW-Authenticate": header("Bearer realm=\"unionportal\"", false)}
		case 409, 429, 503:
			r["headers"] = map[string]any{"Retry-After": map[string]any{"description": "Seconds to wait before trying again",
				"required": status != 409, "schema": map[string]any{"type": "integer", "minimum": 0}}}
		case 416:
			r["headers"] = map[string]any{"Content-Range": header("bytes */<size>: the file's size", false)}
		}
		if status == 429 {
			h := r["headers"].(map[string]any)
			h["RateLimit-Policy"] = header("The route's limit, as in draft-ietf-httpapi-ratelimit-headers", false)
			h["RateLimit"] = header("What is left of the limit", false)
		}
		out[strconv.Itoa(status)] = r
	}
	return out
}

func header(description string, required bool) map[string]any {
	return map[string]any{"description": description, "required": required, "schema": map[string]any{"type": "string"}}
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

// openAPI builds the OpenAPI 3.1 document from the route table.
func (s *Server) openAPI() map[string]any {
	g := &schemaGen{components: map[string]any{}}
	paths := map[string]map[string]any{}
	keys := make([]string, 0, len(s.docs))
	for k := range s.docs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		d := s.docs[key]
		method, path, _ := strings.Cut(key, " ")
		oaPath, op := g.operation(method, path, d)
		if paths[oaPath] == nil {
			paths[oaPath] = map[string]any{}
		}
		paths[oaPath][strings.ToLower(method)] = op
	}
	for path, op := range s.operationsRoutes() {
		paths[path] = map[string]any{"get": op, "servers": []map[string]any{{"url": "/"}}}
	}
	g.named("Problem", reflect.TypeOf(problemSchema{}), false)
	g.named("Manifest", reflect.TypeOf(dispatch.Manifest{}), false)
	g.named("Health", reflect.TypeOf(Health{}), false)
	g.named("Readiness", reflect.TypeOf(Readiness{}), false)
	tagList := make([]map[string]any, 0, len(tags))
	for _, t := range tags {
		tagList = append(tagList, map[string]any{"name": t.name, "description": t.description})
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "unionportal API", "version": "v1",
			"description": "Complaints and updates to the ILO Committee on Freedom of Association, from draft to dispatch. " +
				"Errors are RFC 9457 problem documents whose `code` is stable. Lists are paged with `cursor` and `limit`; " +
				"the next page's address is in `next_cursor` and the `Link` header.",
			"license": map[string]any{"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"}},
		"servers":  []map[string]any{{"url": "/api/v1"}},
		"tags":     tagList,
		"security": []map[string][]string{{"session": {}}, {"bearer": {}}},
		"paths":    paths,
		"webhooks": g.webhooks(),
		"components": map[string]any{
			"schemas":   g.components,
			"responses": problemResponses(),
			"securitySchemes": map[string]any{
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": s.cookieName(),
					"description": "Browser session; mutating requests also need the X-CSRF-Token header."},
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "API token (up_…)"},
			},
		},
	}
}

// operation documents one route.
func (g *schemaGen) operation(method, path string, d Doc) (string, map[string]any) {
	oaPath, params := openAPIPath(path)
	for _, q := range d.Query {
		params = append(params, param(q, "query"))
	}
	if d.Paged {
		params = append(params,
			param(Param{Name: "cursor", Description: "Where the page starts: the previous page's next_cursor", Schema: map[string]any{"type": "string"}}, "query"),
			limitParam(d.MaxLimit))
	}
	for _, h := range d.Headers {
		params = append(params, param(h, "header"))
	}
	if d.ETag && method == http.MethodGet {
		params = append(params, param(Param{Name: "If-None-Match", Description: "An ETag from an earlier answer: 304 when it still matches",
			Schema: map[string]any{"type": "string"}}, "header"))
	}
	if method == http.MethodPost && d.access.kind != accessPublic {
		params = append(params, param(Param{Name: "Idempotency-Key", Description: "Makes a retry safe: the same key with the same request " +
			"within 24 hours answers the first answer again (Idempotent-Replayed: true) and does nothing more; with another request, 422 " +
			"idempotency_key_reused; while the first still runs, 409 idempotency_in_progress",
			Schema: map[string]any{"type": "string", "minLength": 1, "maxLength": 255}}, "header"))
	}
	if d.Ranges {
		params = append(params, param(Param{Name: "Range", Description: "A byte range (RFC 9110)", Schema: map[string]any{"type": "string"}}, "header"))
	}
	status := d.Status
	if status == 0 {
		status = http.StatusOK
	}
	responses := map[string]any{strconv.Itoa(status): g.success(method, status, d)}
	if d.ETag && method == http.MethodGet {
		responses["304"] = map[string]any{"description": "Not modified: the If-None-Match ETag still matches",
			"headers": map[string]any{"ETag": header("The current version", true)}}
	}
	if d.Ranges {
		ok := responses["200"].(map[string]any)
		part := map[string]any{"description": "The requested byte range", "content": ok["content"],
			"headers": map[string]any{"Content-Range": header("bytes first-last/size", true)}}
		for k, v := range ok["headers"].(map[string]any) {
			part["headers"].(map[string]any)[k] = v
		}
		responses["206"] = part
		if slices.ContainsFunc(d.Query, func(p Param) bool { return p.Name == "redirect" }) {
			responses["302"] = map[string]any{"description": "With ?redirect=1, for a file stored in clear on S3 (before encryption at rest): a short-lived presigned URL",
				"headers": map[string]any{"Location": header("The presigned URL", true)}}
		}
		responses["416"] = map[string]any{"$ref": "#/components/responses/416"}
	}
	for _, code := range errorStatuses(method, path, d) {
		responses[strconv.Itoa(code)] = map[string]any{"$ref": "#/components/responses/" + strconv.Itoa(code)}
	}
	id := d.ID
	if id == "" {
		id = operationID(method, path)
	}
	op := map[string]any{
		"summary":      d.Summary,
		"operationId":  id,
		"tags":         []string{tagOf(path)},
		"x-permission": d.access.String(),
		"responses":    responses,
	}
	if d.Description != "" {
		op["description"] = d.Description
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if d.Multipart {
		op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"multipart/form-data": map[string]any{
			"schema": map[string]any{"type": "object", "required": []string{"file"},
				"properties": map[string]any{"file": map[string]any{"description": "The file, with its name and media type in the part's headers"}}},
			"encoding": map[string]any{"file": map[string]any{"contentType": "*/*"}}}}}
	}
	if d.RawBody != "" {
		// The body is the file's bytes: a media type without a schema (OpenAPI 3.1).
		if op["requestBody"] == nil {
			// Bytes alone may be none: tus's PATCH that asks again to complete a file.
			op["requestBody"] = map[string]any{"required": false, "content": map[string]any{}}
		}
		op["requestBody"].(map[string]any)["content"].(map[string]any)[d.RawBody] = map[string]any{}
	}
	if d.Request != nil {
		op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
			"application/json": map[string]any{"schema": g.request(id, reflect.TypeOf(d.Request), d.Required)}}}
	}
	if d.access.kind == accessPublic {
		op["security"] = []map[string][]string{}
	}
	return oaPath, op
}

// success documents the answer of an operation that succeeded.
func (g *schemaGen) success(method string, status int, d Doc) map[string]any {
	ok := map[string]any{"description": http.StatusText(status)}
	headers := map[string]any{}
	switch {
	case d.Content != "":
		// The body is the file's bytes: a media type without a schema (OpenAPI 3.1).
		ok["content"] = map[string]any{d.Content: map[string]any{}}
		headers["Content-Disposition"] = header("attachment, with the file's name", true)
	case d.Response != nil:
		schema := g.schema(reflect.TypeOf(d.Response))
		if d.List {
			schema = map[string]any{"type": "object", "required": []string{"items", "next_cursor"}, "properties": map[string]any{
				"items":       map[string]any{"type": "array", "items": schema},
				"next_cursor": map[string]any{"type": "string", "description": "The next page's cursor; empty on the last page"}}}
		}
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": schema}}
	}
	if status == http.StatusCreated {
		headers["Location"] = header("The address of what was created", true)
	}
	if d.ETag {
		headers["ETag"] = header("The version, for If-Match and If-None-Match", true)
	}
	if d.Paged {
		headers["Link"] = header("<…>; rel=\"next\": the next page, when there is one", false)
	}
	if method == http.MethodPost && d.access.kind != accessPublic {
		headers["Idempotent-Replayed"] = map[string]any{"description": "true when this is the stored answer to an earlier request with the same Idempotency-Key",
			"required": false, "schema": map[string]any{"type": "string", "enum": []string{"true"}}}
	}
	if d.RateLimited {
		headers["RateLimit-Policy"] = header("The route's limit, as in draft-ietf-httpapi-ratelimit-headers", false)
		headers["RateLimit"] = header("What is left of the limit", false)
	}
	for _, h := range d.ResponseHeaders {
		headers[h.Name] = header(h.Description, h.Required)
	}
	if len(headers) > 0 {
		ok["headers"] = headers
	}
	return ok
}

// limitParam documents the limit of a paged answer whose largest limit is max (0: the
// lists' 100, 50 by default).
func limitParam(max int) map[string]any {
	if max == 0 {
		return param(Param{Name: "limit", Description: "Items per page (default 50)", Schema: map[string]any{"type": "integer", "minimum": 1, "maximum": 100}}, "query")
	}
	return param(Param{Name: "limit", Description: "Rows per file (default " + strconv.Itoa(max) + ")", Schema: map[string]any{"type": "integer", "minimum": 1, "maximum": max}}, "query")
}

func param(p Param, in string) map[string]any {
	out := map[string]any{"name": p.Name, "in": in, "required": p.Required, "schema": p.Schema}
	if p.Description != "" {
		out["description"] = p.Description
	}
	return out
}

// pathParams are the schemas of the path parameters, by name.
var pathParams = map[string]map[string]any{
	"tenant":   {"type": "string", "description": "The tenant's slug"},
	"id":       uuidSchema(),
	"n":        {"type": "integer", "minimum": 1, "description": "A revision number"},
	"domain":   {"type": "string", "description": "A DNS domain name"},
	"delivery": uuidSchema(),
	"upload":   uuidSchema(),
}

// openAPIPath turns /api/v1/tenants/:tenant into /tenants/{tenant} and its parameters.
func openAPIPath(path string) (string, []map[string]any) {
	var params []map[string]any
	parts := strings.Split(strings.TrimPrefix(path, "/api/v1"), "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") {
			name := p[1:]
			parts[i] = "{" + name + "}"
			schema, ok := pathParams[name]
			if !ok {
				schema = map[string]any{"type": "string"}
			}
			params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": schema})
		}
	}
	return strings.Join(parts, "/"), params
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, p := range strings.Split(strings.TrimPrefix(path, "/api/v1/"), "/") {
		p = strings.TrimPrefix(p, ":")
		if p == "" {
			continue
		}
		b.WriteString(strings.ToUpper(p[:1]) + strings.ReplaceAll(p[1:], "-", ""))
	}
	return b.String()
}

// operationsRoutes documents the routes outside /api/v1, for operators' tools.
func (s *Server) operationsRoutes() map[string]map[string]any {
	public := []map[string][]string{}
	text := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}}
	}
	return map[string]map[string]any{
		"/metrics": {"operationId": "getMetrics", "summary": "Prometheus metrics (outside /api/v1: scraped by Prometheus, kept off public proxies)", "tags": []string{"operations"},
			"security": public, "responses": map[string]any{"200": text("Metrics in the Prometheus text format")}},
	}
}

// webhooks documents what the portal POSTs to a tenant's webhook endpoints: one
// operation per event type, signed as Standard Webhooks says.
func (g *schemaGen) webhooks() map[string]any {
	event := g.schema(reflect.TypeOf(workflow.TenantEvent{}))
	headers := []map[string]any{
		{"name": "webhook-id", "in": "header", "required": true, "schema": uuidSchema(),
			"description": "The event's id: the same on every retry and redelivery; de-duplicate on it"},
		{"name": "webhook-timestamp", "in": "header", "required": true, "schema": map[string]any{"type": "string", "pattern": "^[0-9]+$"},
			"description": "Seconds since 1970 when this attempt was signed; refuse ones far from your clock (5 minutes)"},
		{"name": "webhook-signature", "in": "header", "required": true, "schema": map[string]any{"type": "string"},
			"description": "v1,<base64 HMAC-SHA256 of \"webhook-id.webhook-timestamp.body\" keyed with the endpoint's secret (whsec_ prefix removed, base64-decoded)>"},
	}
	out := map[string]any{}
	for _, t := range workflow.EventTypes() {
		out[string(t)] = map[string]any{"post": map[string]any{
			"operationId": "webhook" + camel(string(t)),
			"summary":     "The event " + string(t),
			"tags":        []string{"webhooks"},
			"parameters":  headers,
			"requestBody": map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": event}}},
			"responses": map[string]any{
				"2XX": map[string]any{"description": "Received: any 2xx ends the deliveries of this event to this endpoint"},
				"410": map[string]any{"description": "Gone: the endpoint is disabled"},
			},
			"security": []map[string][]string{},
		}}
	}
	return out
}

// camel turns submission.changes_requested into SubmissionChangesRequested.
func camel(s string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '_' || r == '-' }) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// problemSchema documents every member a problem document may carry: RFC 9457's and
// the extensions the server adds to some codes.
type problemSchema struct {
	Problem
	// Extensions, by code.
	CurrentVersion int               `json:"current_version,omitempty" doc:"version_mismatch, if_match_required: the submission's current version (the number its ETag starts with)"`
	AllowedActions []workflow.Action `json:"allowed_actions,omitempty" doc:"invalid_transition: the actions possible now"`
	State          workflow.State    `json:"state,omitempty" doc:"invalid_transition, not_editable: the submission's state"`
	RetryAfter     int               `json:"retry_after,omitempty" doc:"too_many_attempts: seconds before the next try (also in Retry-After)"`
	LimitBytes     int64             `json:"limit_bytes,omitempty" doc:"file_too_large: the limit that was exceeded"`
	Offset         int64             `json:"offset,omitempty" doc:"upload_offset_mismatch: where the resumable upload stands (also in Upload-Offset)"`
	TusVersion     string            `json:"tus_version,omitempty" doc:"tus_version_unsupported: the tus version the portal speaks (also in Tus-Version)"`
	DetectedType   string            `json:"detected_type,omitempty" doc:"file_type_refused, file_type_mismatch: the type the content has"`
	Checks         map[string]string `json:"checks,omitempty" doc:"not_ready: each readiness check's result (ok, unavailable)"`
	Reasons        map[string]string `json:"reasons,omitempty" doc:"not_ready: why each failed check failed, in a few words"`
	Scope          string            `json:"scope,omitempty" enum:"scope" doc:"insufficient_scope: the scope the request needed, or that a token may not give"`
	MaxLifetime    int               `json:"max_lifetime_days,omitempty" doc:"token_lifetime_exceeds_policy: the tenant's maximum token lifetime"`
	Methods        []string          `json:"methods,omitempty" enum:"second_factor_method" doc:"reauthentication_required: how this session may step up (POST /auth/second-factor)"`
}

// schemaGen derives JSON schemas from Go types, following encoding/json's rules.
type schemaGen struct {
	components map[string]any
	types      map[string]reflect.Type
}

var timeType = reflect.TypeOf(time.Time{})

// typeEnums are the values of string types that the server enforces.
var typeEnums = map[reflect.Type]func() []string{
	reflect.TypeOf(workflow.State("")):  func() []string { return stringsOf(workflow.States()) },
	reflect.TypeOf(workflow.Action("")): func() []string { return stringsOf(workflow.Actions()) },
}

// tagEnums are the values of string fields tagged enum:"name" (or of their items).
var tagEnums = map[string]func() []string{
	"role":                       auth.Roles,
	"organization_kind":          func() []string { return []string{auth.KindAffiliate, auth.KindSecretariat} },
	"submission_kind":            workflow.Kinds,
	"case_status":                func() []string { return []string{"open", "closed"} },
	"recipient_kind":             func() []string { return []string{"to", "cc", "bcc"} },
	"diff_operation":             func() []string { return []string{"equal", "insert", "delete"} },
	"problem_code":               apperr.Codes,
	"dispatch_state":             func() []string { return []string{"queued", "sent", "failed"} },
	"delivery_status":            func() []string { return []string{"accepted", "rejected"} },
	"scope":                      auth.AllScopes,
	"factor_type":                auth.FactorTypes,
	"second_factor_method":       auth.Methods,
	"second_factor_policy":       auth.SecondFactorPolicies,
	"invitation_status":          func() []string { return []string{"pending", "accepted", "declined", "revoked", "expired"} },
	"event_type":                 func() []string { return stringsOf(workflow.EventTypes()) },
	"webhook_event":              func() []string { return append([]string{webhook.AllEvents}, stringsOf(workflow.EventTypes())...) },
	"webhook_delivery_status":    func() []string { return []string{webhook.StatusDelivered, webhook.StatusFailed} },
	"clean_status":               workflow.CleanStatuses,
	"sent_file_role":             func() []string { return []string{dispatch.RoleLetter, dispatch.RoleEvidence} },
	"correspondence_kind":        workflow.CorrespondenceKinds,
	"correspondence_status":      workflow.CorrespondenceStatuses,
	"correspondence_match":       func() []string { return []string{"thread", "case_number"} },
	"correspondence_auth_source": func() []string { return []string{inbound.SourceVerified, inbound.SourceTrustedHeader} },
	"thread_entry_type":          func() []string { return []string{"dispatch", "correspondence"} },
	"mailbox_tls":                func() []string { return []string{inbound.TLSImplicit, inbound.TLSStartTLS} },
	"mailbox_after_import":       func() []string { return []string{inbound.AfterLeave, inbound.AfterFlag, inbound.AfterMove} },
}

// notUUID are the string fields named like ids that are not UUIDs.
var notUUID = map[string]bool{"message_id": true, "request_id": true, "object_id": true, "trusted_authserv_id": true}

func stringsOf[S ~string](xs []S) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// enum registers a string enumeration as a component of its own, so that a generated
// client has one type for it wherever it is used, and refers to it.
func (g *schemaGen) enum(name string, values []string) map[string]any {
	if have, done := g.components[name]; !done {
		g.components[name] = map[string]any{"type": "string", "enum": values}
	} else if e, ok := have.(map[string]any)["enum"].([]string); !ok || !slices.Equal(e, values) {
		panic("openapi: two schemas named " + name)
	}
	return ref(name)
}

// withEnum makes s the enumeration e, or its items when s is an array (through a
// nullable wrapper).
func withEnum(s, e map[string]any) map[string]any {
	if one, ok := s["oneOf"].([]any); ok {
		one[0] = withEnum(one[0].(map[string]any), e)
		return s
	}
	if s["type"] == "array" {
		s["items"] = withEnum(s["items"].(map[string]any), e)
		return s
	}
	if desc, ok := s["description"]; ok {
		return map[string]any{"allOf": []any{e}, "description": desc}
	}
	return e
}

// withFormat sets the format of a string schema (through a nullable wrapper).
func withFormat(s map[string]any, format string) map[string]any {
	if one, ok := s["oneOf"].([]any); ok {
		one[0] = withFormat(one[0].(map[string]any), format)
		return s
	}
	if s["type"] == "string" && s["enum"] == nil {
		s["format"] = format
	}
	return s
}

func (g *schemaGen) schema(t reflect.Type) map[string]any { return g.schemaOf(t, false) }

// schemaOf is the schema of t in a response, or, when input, in a request: requests'
// objects refuse unknown members (the server does) and require nothing unless the
// operation says so; responses' objects require what is always present.
func (g *schemaGen) schemaOf(t reflect.Type, input bool) map[string]any {
	nullable := false
	for t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
	}
	var s map[string]any
	switch {
	case t == timeType:
		s = map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.String:
		s = map[string]any{"type": "string"}
		if values, ok := typeEnums[t]; ok {
			s = g.enum(t.Name(), values())
		}
	case t.Kind() == reflect.Bool:
		s = map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		s = map[string]any{"type": "integer"}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		s = map[string]any{"type": "number"}
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		s = map[string]any{"type": "array", "items": g.schemaOf(t.Elem(), input)}
	case t.Kind() == reflect.Map:
		s = map[string]any{"type": "object", "additionalProperties": g.schemaOf(t.Elem(), input)}
	case t.Kind() == reflect.Struct:
		s = g.named(componentName(t, input), t, input)
	default:
		s = map[string]any{}
	}
	if nullable {
		return map[string]any{"oneOf": []any{s, map[string]any{"type": "null"}}}
	}
	return s
}

// componentName names a struct's schema: its Go name, capitalised; a request's gets
// "Input" unless its name says it already.
func componentName(t reflect.Type, input bool) string {
	name := t.Name()
	name = strings.ToUpper(name[:1]) + name[1:]
	if input && !strings.HasSuffix(name, "Input") && !strings.HasSuffix(name, "Request") && !strings.HasSuffix(name, "Patch") {
		name += "Input"
	}
	return name
}

// named registers t's object schema as the component name and refers to it.
func (g *schemaGen) named(name string, t reflect.Type, input bool) map[string]any {
	if g.types == nil {
		g.types = map[string]reflect.Type{}
	}
	if other, ok := g.types[name]; ok && other != t {
		panic("openapi: " + other.String() + " and " + t.String() + " would both be the schema " + name)
	}
	g.types[name] = t
	if _, done := g.components[name]; !done {
		g.components[name] = map[string]any{} // placeholder against recursion
		g.components[name] = g.object(t, input)
	}
	return ref(name)
}

// request is the schema of an operation's request body: the type's, with the fields
// the operation requires.
func (g *schemaGen) request(operationID string, t reflect.Type, required []string) map[string]any {
	if len(required) == 0 {
		return g.schemaOf(t, true)
	}
	base := g.object(t, true)
	props := base["properties"].(map[string]any)
	for _, f := range required {
		p, ok := props[f].(map[string]any)
		if !ok {
			panic("openapi: " + operationID + " requires " + f + ", which its request type lacks")
		}
		// A required field is refused as null too: it is its type, not nullable.
		if one, ok := p["oneOf"].([]any); ok && len(one) == 2 {
			props[f] = one[0]
		}
	}
	base["required"] = slices.Sorted(slices.Values(required))
	name := strings.ToUpper(operationID[:1]) + operationID[1:] + "Request"
	g.components[name] = base
	return ref(name)
}

func (g *schemaGen) object(t reflect.Type, input bool) map[string]any {
	props := map[string]any{}
	var required []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				walk(f.Type)
				continue
			}
			if name == "" {
				name = f.Name
			}
			p := g.schemaOf(f.Type, input)
			if tag := f.Tag.Get("enum"); tag != "" {
				enum, ok := tagEnums[tag]
				if !ok {
					panic("openapi: unknown enum tag " + tag)
				}
				p = withEnum(p, g.enum(camel(tag), enum()))
			}
			if format := f.Tag.Get("format"); format != "" {
				p = withFormat(p, format)
			} else if (name == "id" || name == "created_by" || strings.HasSuffix(name, "_id") || strings.HasSuffix(name, "_ids")) && !notUUID[name] {
				p = withUUID(p)
			}
			if d := f.Tag.Get("doc"); d != "" {
				p = withDescription(p, d)
			}
			props[name] = p
			if !input && !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
				required = append(required, name)
			}
		}
	}
	walk(t)
	sort.Strings(required)
	out := map[string]any{"type": "object", "properties": props}
	if input {
		out["additionalProperties"] = false
	}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

// withUUID marks a string, or the items of an array of strings, as UUIDs.
func withUUID(s map[string]any) map[string]any {
	if s["type"] == "array" {
		s["items"] = withUUID(s["items"].(map[string]any))
		return s
	}
	return withFormat(s, "uuid")
}

func withDescription(s map[string]any, d string) map[string]any {
	if _, isRef := s["$ref"]; isRef {
		return map[string]any{"allOf": []any{s}, "description": d}
	}
	s["description"] = d
	return s
}

// requestFields lists the JSON fields of a route's request body, for tests that build
// bodies for every route.
func requestFields(doc Doc) []string {
	if doc.Request == nil {
		return nil
	}
	g := &schemaGen{components: map[string]any{}}
	obj := g.object(reflect.TypeOf(doc.Request), true)
	var out []string
	for k := range obj["properties"].(map[string]any) {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *Server) serveOpenAPI(c echo.Context) error {
	s.openapiOnce.Do(func() {
		s.openapiDoc, _ = json.Marshal(s.openAPI())
	})
	return c.JSONBlob(http.StatusOK, s.openapiDoc)
}

// OpenAPIDocument returns the API's OpenAPI document as JSON, without a running portal:
// the web UI's build generates its types from it.
func OpenAPIDocument() ([]byte, error) {
	s := New(Options{Auth: &auth.Service{}, Workflow: &workflow.Service{}, Dispatch: &dispatch.Service{}, Webhooks: &webhook.Service{}, Inbound: &inbound.Service{}})
	return json.MarshalIndent(s.openAPI(), "", "  ")
}
