package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/webhook"
	"github.com/unionportal/unionportal/workflow"
)

// Doc describes a route for the OpenAPI document, next to the route's registration so
// the two cannot drift apart.
type Doc struct {
	Summary string
	// Request and Response are zero values of the body types; nil means no body.
	Request  any
	Response any
	// List: the response is {"items": [Response...], "next_cursor": "..."}.
	List bool
	// Multipart: the request is multipart/form-data with one file in the field "file".
	Multipart bool
	// Status is the success status; 0 means 200.
	Status int
	// Query and Headers name the query parameters and request headers the route reads.
	Query   []string
	Headers []string

	access Access
}

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
		oaPath, params := openAPIPath(path)
		for _, q := range d.Query {
			params = append(params, map[string]any{"name": q, "in": "query", "required": false, "schema": map[string]any{"type": "string"}})
		}
		if d.List {
			params = append(params,
				map[string]any{"name": "cursor", "in": "query", "required": false, "schema": map[string]any{"type": "string"}},
				map[string]any{"name": "limit", "in": "query", "required": false, "schema": map[string]any{"type": "integer", "minimum": 1, "maximum": 100}})
		}
		for _, h := range d.Headers {
			params = append(params, map[string]any{"name": h, "in": "header", "required": true, "schema": map[string]any{"type": "string"}})
		}
		status := d.Status
		if status == 0 {
			status = http.StatusOK
		}
		ok := map[string]any{"description": http.StatusText(status)}
		if d.Response != nil {
			schema := g.schema(reflect.TypeOf(d.Response))
			if d.List {
				schema = map[string]any{"type": "object", "required": []string{"items", "next_cursor"}, "properties": map[string]any{
					"items": map[string]any{"type": "array", "items": schema}, "next_cursor": map[string]any{"type": "string"}}}
			}
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": schema}}
		}
		op := map[string]any{
			"summary":      d.Summary,
			"operationId":  operationID(method, path),
			"x-permission": d.access.String(),
			"responses": map[string]any{
				strconv.Itoa(status): ok,
				"default": map[string]any{"description": "An RFC 9457 problem", "content": map[string]any{
					ProblemContentType: map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}},
			},
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if d.Multipart {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"multipart/form-data": map[string]any{
				"schema": map[string]any{"type": "object", "required": []string{"file"},
					"properties": map[string]any{"file": map[string]any{"type": "string", "format": "binary"}}}}}}
		}
		if d.Request != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(d.Request))}}}
		}
		if d.access.kind != accessPublic {
			op["security"] = []map[string][]string{{"session": {}}, {"bearer": {}}}
		}
		if paths[oaPath] == nil {
			paths[oaPath] = map[string]any{}
		}
		paths[oaPath][strings.ToLower(method)] = op
	}
	g.schema(reflect.TypeOf(Problem{})) // registers the component
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "unionportal API", "version": "v1",
			"description": "Complaints and updates to the ILO Committee on Freedom of Association, from draft to dispatch."},
		"servers": []map[string]any{{"url": "/api/v1"}},
		"paths":   paths,
		"components": map[string]any{
			"schemas": g.components,
			"securitySchemes": map[string]any{
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": s.cookieName(),
					"description": "Browser session; mutating requests also need the X-CSRF-Token header."},
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "API token (up_…)"},
			},
		},
	}
}

// openAPIPath turns /api/v1/tenants/:tenant into /tenants/{tenant} and its parameters.
func openAPIPath(path string) (string, []map[string]any) {
	var params []map[string]any
	parts := strings.Split(strings.TrimPrefix(path, "/api/v1"), "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") {
			name := p[1:]
			parts[i] = "{" + name + "}"
			params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
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

// schemaGen derives JSON schemas from Go types, following encoding/json's rules.
type schemaGen struct {
	components map[string]any
}

var timeType = reflect.TypeOf(time.Time{})

// typeEnums are the values of string types that the server enforces.
var typeEnums = map[reflect.Type]func() []string{
	reflect.TypeOf(workflow.State("")):  func() []string { return stringsOf(workflow.States()) },
	reflect.TypeOf(workflow.Action("")): func() []string { return stringsOf(workflow.Actions()) },
}

// tagEnums are the values of string fields tagged enum:"name" (or of their items).
var tagEnums = map[string]func() []string{
	"role":                    auth.Roles,
	"organization_kind":       func() []string { return []string{auth.KindAffiliate, auth.KindSecretariat} },
	"submission_kind":         workflow.Kinds,
	"case_status":             func() []string { return []string{"open", "closed"} },
	"recipient_kind":          func() []string { return []string{"to", "cc", "bcc"} },
	"diff_op":                 func() []string { return []string{"equal", "insert", "delete"} },
	"problem_code":            apperr.Codes,
	"event_type":              func() []string { return stringsOf(workflow.EventTypes()) },
	"webhook_event":           func() []string { return append([]string{webhook.AllEvents}, stringsOf(workflow.EventTypes())...) },
	"webhook_delivery_status": func() []string { return []string{webhook.StatusDelivered, webhook.StatusFailed} },
}

func stringsOf[S ~string](xs []S) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// withEnum adds values as the enum of s, or of its items when s is an array (through
// a nullable wrapper).
func withEnum(s map[string]any, values []string) map[string]any {
	if one, ok := s["oneOf"].([]any); ok {
		one[0] = withEnum(one[0].(map[string]any), values)
		return s
	}
	if s["type"] == "array" {
		s["items"] = withEnum(s["items"].(map[string]any), values)
		return s
	}
	s["enum"] = values
	return s
}

func (g *schemaGen) schema(t reflect.Type) map[string]any {
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
			s["enum"] = values()
		}
	case t.Kind() == reflect.Bool:
		s = map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		s = map[string]any{"type": "integer"}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		s = map[string]any{"type": "number"}
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		s = map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case t.Kind() == reflect.Map:
		s = map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case t.Kind() == reflect.Struct:
		name := t.Name()
		if _, done := g.components[name]; !done {
			g.components[name] = map[string]any{} // placeholder against recursion
			g.components[name] = g.object(t)
		}
		s = map[string]any{"$ref": "#/components/schemas/" + name}
	default:
		s = map[string]any{}
	}
	if nullable {
		return map[string]any{"oneOf": []any{s, map[string]any{"type": "null"}}}
	}
	return s
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
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
			props[name] = g.schema(f.Type)
			if enum, ok := tagEnums[f.Tag.Get("enum")]; ok {
				props[name] = withEnum(props[name].(map[string]any), enum())
			}
			if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
				required = append(required, name)
			}
		}
	}
	walk(t)
	sort.Strings(required)
	out := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

// requestFields lists the JSON fields of a route's request body, for tests that build
// bodies for every route.
func requestFields(doc Doc) []string {
	if doc.Request == nil {
		return nil
	}
	g := &schemaGen{components: map[string]any{}}
	obj := g.object(reflect.TypeOf(doc.Request))
	var out []string
	for k := range obj["properties"].(map[string]any) {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *Server) serveOpenAPI(c echo.Context) error {
	s.openapiOnce.Do(func() { s.openapiDoc = s.openAPI() })
	return c.JSON(http.StatusOK, s.openapiDoc)
}

// OpenAPIDocument returns the API's OpenAPI document as JSON, without a running portal:
// the web UI's build generates its types from it.
func OpenAPIDocument() ([]byte, error) {
	s := New(Options{Auth: &auth.Service{}, Workflow: &workflow.Service{}, Dispatch: &dispatch.Service{}})
	return json.MarshalIndent(s.openAPI(), "", "  ")
}
