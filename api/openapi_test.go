package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/workflow"
)

func init() {
	openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562))
	// Evidence parts of uploads are files of any type the tests send.
	for _, t := range append(slices.Clone(workflow.AllowedTypes), "text/plain", "text/html", "image/svg+xml",
		"application/x-msdownload", "application/zip", "application/x-sh", "image/gif") {
		openapi3filter.RegisterBodyDecoder(t, openapi3filter.FileBodyDecoder)
	}
}

var (
	specOnce sync.Once
	spec     *openapi3.T
	specErr  error
)

// loadSpec loads the published document once, validated with every option kin-openapi
// has.
func loadSpec(t testing.TB) *openapi3.T {
	t.Helper()
	specOnce.Do(func() {
		var raw []byte
		if raw, specErr = OpenAPIDocument(); specErr != nil {
			return
		}
		loader := openapi3.NewLoader()
		if spec, specErr = loader.LoadFromData(raw); specErr != nil {
			return
		}
		specErr = spec.Validate(loader.Context, openapi3.EnableSchemaFormatValidation(), openapi3.EnableSchemaPatternValidation(),
			openapi3.EnableSchemaDefaultsValidation(), openapi3.EnableExamplesValidation(), openapi3.ProhibitExtensionsWithRef(),
			openapi3.EnableMultiError())
	})
	if specErr != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", specErr)
	}
	return spec
}

// TestOpenAPIValid: the served document is the one validated, and it passes
// kin-openapi's validation with every option.
func TestOpenAPIValid(t *testing.T) {
	doc := loadSpec(t)
	h := newDispatchHarness(t, dbtest.New(t, database.SQLite), dispatch.Outbox{Dir: t.TempDir()})
	r := h.anonymous().must(200, "GET", "/api/v1/openapi.json", nil)
	served, err := openapi3.NewLoader().LoadFromData(r.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if served.Paths.Len() != doc.Paths.Len() || len(served.Components.Schemas) != len(doc.Components.Schemas) {
		t.Errorf("the served document differs from OpenAPIDocument: %d/%d paths, %d/%d schemas",
			served.Paths.Len(), doc.Paths.Len(), len(served.Components.Schemas), len(doc.Components.Schemas))
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			if op.Summary == "" || len(op.Tags) != 1 || op.OperationID == "" {
				t.Errorf("%s lacks a summary, tag or operationId", key)
			}
			if other, dup := ids[op.OperationID]; dup {
				t.Errorf("operationId %s names %s and %s", op.OperationID, other, key)
			}
			ids[op.OperationID] = key
			if op.Responses.Default() != nil {
				t.Errorf("%s has a default response: every status must be listed", key)
			}
			public := op.Security != nil && len(*op.Security) == 0
			if (op.Extensions["x-permission"] == "public") != public && strings.HasPrefix(path, "/") && op.Extensions["x-permission"] != nil {
				t.Errorf("%s: x-permission %v but security %v", key, op.Extensions["x-permission"], op.Security)
			}
		}
	}
	for _, id := range []string{"listSubmissions", "transitionSubmission", "createSubmission", "getSubmission", "login", "getHealth", "getReadiness", "getMetrics"} {
		if _, ok := ids[id]; !ok {
			t.Errorf("no operation %s", id)
		}
	}
}

// TestOpenAPIDescribesEveryRoute compares the document with echo's route table in both
// directions.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := loadSpec(t)
	h := newDispatchHarness(t, dbtest.New(t, database.SQLite), dispatch.Outbox{Dir: t.TempDir()})
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	n := 0
	for _, rt := range h.srv.Echo().Routes() {
		// /healthz and /readyz at the root are the same handlers as /api/v1/healthz and
		// /api/v1/readyz, which the document describes.
		if !strings.HasPrefix(rt.Path, "/api/v1/") && rt.Path != "/metrics" {
			continue
		}
		p, _ := openAPIPath(rt.Path)
		key := rt.Method + " " + p
		if !documented[key] {
			t.Errorf("%s is not in the OpenAPI document", key)
		}
		delete(documented, key)
		n++
	}
	for key := range documented {
		t.Errorf("the OpenAPI document describes %s, which is not a route", key)
	}
	if n < 40 {
		t.Errorf("only %d routes", n)
	}
}

// TestOpenAPIEnums: states, actions, capabilities, roles, kinds and problem codes are
// published as the server enforces them.
func TestOpenAPIEnums(t *testing.T) {
	doc := loadSpec(t)
	enum := func(schema, prop string, items bool) []string {
		t.Helper()
		s := doc.Components.Schemas[schema]
		if s == nil || s.Value.Properties[prop] == nil {
			t.Fatalf("no %s.%s", schema, prop)
		}
		p := s.Value.Properties[prop].Value
		if items {
			p = p.Items.Value
		}
		var out []string
		for _, v := range p.Enum {
			out = append(out, v.(string))
		}
		return out
	}
	for _, c := range []struct {
		schema, prop string
		items        bool
		want         []string
	}{
		{"SubmissionView", "state", false, stringsOf(workflow.States())},
		{"SubmissionView", "allowed_actions", true, stringsOf(workflow.Actions())},
		{"SubmissionView", "kind", false, workflow.Kinds()},
		{"Member", "roles", true, auth.Roles()},
		{"Problem", "code", false, apperr.Codes()},
		{"Problem", "allowed_actions", true, stringsOf(workflow.Actions())},
		{"DiffOp", "op", false, []string{"equal", "insert", "delete"}},
	} {
		if got := enum(c.schema, c.prop, c.items); !slices.Equal(got, c.want) {
			t.Errorf("%s.%s enum %v, want %v", c.schema, c.prop, got, c.want)
		}
	}
	caps := doc.Components.Schemas["Capabilities"].Value.Properties
	for _, name := range []string{"edit", "upload", "delete", "comment"} {
		if !caps[name].Value.Type.Is("boolean") {
			t.Errorf("capabilities.%s: %v", name, caps[name].Value.Type)
		}
	}
	if f := doc.Components.Schemas["APIToken"].Value.Properties["expires_at"].Value; !strings.Contains(mustJSON(t, f), `"date-time"`) {
		t.Errorf("APIToken.expires_at is not a date-time: %s", mustJSON(t, f))
	}
	if f := doc.Components.Schemas["SubmissionView"].Value.Properties["id"].Value; f.Format != "uuid" {
		t.Errorf("SubmissionView.id format %q", f.Format)
	}
}

func mustJSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestProblemExtensionsDocumented: every extension member the server adds to a problem
// (apperr's With) is a property of the Problem schema.
func TestProblemExtensionsDocumented(t *testing.T) {
	doc := loadSpec(t)
	props := doc.Components.Schemas["Problem"].Value.Properties
	for _, key := range problemExtensionKeys(t) {
		if _, ok := props[key]; !ok {
			t.Errorf("problems carry %q, which the Problem schema does not describe", key)
		}
	}
}

// exchangeChecker validates the exchanges of the API tests against the document: a
// request the document calls valid must get an answer the document describes, and one
// it calls invalid must be refused with a 4xx.
type exchangeChecker struct {
	spec *openapi3.T
	srv  *Server
}

func (x exchangeChecker) check(t testing.TB, req *http.Request, body []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	e := x.srv.Echo()
	ec := e.NewContext(req, nil)
	e.Router().Find(req.Method, echoPath(req), ec)
	doc, ok := x.srv.docs[req.Method+" "+ec.Path()]
	if !ok || !strings.HasPrefix(ec.Path(), "/api/v1/") || doc.Summary == "" {
		return // not an API route, or one a test added (undocumented), or not this method: echo's own 404 and 405
	}
	oaPath, _ := openAPIPath(ec.Path())
	item := x.spec.Paths.Value(oaPath)
	if item == nil || item.GetOperation(req.Method) == nil {
		t.Errorf("%s %s is not in the document", req.Method, oaPath)
		return
	}
	params := map[string]string{}
	for i, name := range ec.ParamNames() {
		params[name] = ec.ParamValues()[i]
	}
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.URL.Path = strings.TrimPrefix(r.URL.Path, "/api/v1")
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, QueryParams: req.URL.Query(),
		Route:   &routers.Route{Spec: x.spec, Path: oaPath, PathItem: item, Method: req.Method, Operation: item.GetOperation(req.Method)},
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	if reqErr != nil && rec.Code < 400 {
		t.Errorf("%s %s: the document calls the request invalid, yet the server answered %d:\n%v", req.Method, req.URL, rec.Code, reqErr)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
		Body:    io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: doc.Content != "" && rec.Code < 300}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		body := rec.Body.String()
		if len(body) > 400 {
			body = body[:400] + "…"
		}
		t.Errorf("%s %s answered %d, which the document does not describe:\n%v\nbody: %s", req.Method, req.URL, rec.Code, err, body)
	}
}

// echoPath is the path echo routes on (the raw path when there is one).
func echoPath(r *http.Request) string {
	if r.URL.RawPath != "" {
		return r.URL.RawPath
	}
	return r.URL.Path
}

// problemExtensionKeys finds the members the code adds to problems: every With("key", …)
// on an apperr.Error in the module's non-test sources.
func problemExtensionKeys(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("../*/*.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`\)\.With\("([a-z_]+)"|\be\.With\("([a-z_]+)"|\bWith\("([a-z_]+)", `)
	seen := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(src, []byte("apperr")) {
			continue
		}
		for _, m := range re.FindAllSubmatch(src, -1) {
			for _, g := range m[1:] {
				if len(g) > 0 {
					seen[string(g)] = true
				}
			}
		}
	}
	delete(seen, "component") // slog's Logger.With, not a problem member
	keys := slices.Sorted(maps.Keys(seen))
	if len(keys) < 5 {
		t.Fatalf("found only %v: the scan is broken", keys)
	}
	return keys
}
