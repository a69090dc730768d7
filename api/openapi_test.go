package api

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/workflow"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
)

// TestOpenAPIDescribesEveryRoute fetches the document and compares it with echo's
// route table in both directions.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	h := newDispatchHarness(t, dbtest.New(t, database.SQLite), dispatch.Outbox{Dir: t.TempDir()})
	r := h.anonymous().must(200, "GET", "/api/v1/openapi.json", nil)
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
		Comps   struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
			if op["summary"] == "" || op["x-permission"] == nil {
				t.Errorf("%s %s lacks a summary or permission", method, path)
			}
		}
	}
	n := 0
	for _, rt := range h.srv.Echo().Routes() {
		if !strings.HasPrefix(rt.Path, "/api/v1/") {
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
	for _, name := range []string{"SubmissionView", "Settings", "Problem", "Member"} {
		if _, ok := doc.Comps.Schemas[name]; !ok {
			t.Errorf("no schema %s", name)
		}
	}
	// References all resolve.
	for _, ref := range strings.Split(r.Body.String(), `"$ref":"#/components/schemas/`)[1:] {
		name := ref[:strings.Index(ref, `"`)]
		if _, ok := doc.Comps.Schemas[name]; !ok {
			t.Errorf("dangling $ref %s", name)
		}
	}
	if n < 30 {
		t.Errorf("only %d routes", n)
	}
}

// TestOpenAPIEnums: states, actions, capabilities, roles, kinds and problem codes are
// published as the server enforces them.
func TestOpenAPIEnums(t *testing.T) {
	h := newDispatchHarness(t, dbtest.New(t, database.SQLite), dispatch.Outbox{Dir: t.TempDir()})
	var doc struct {
		Comps struct {
			Schemas map[string]struct {
				Properties map[string]map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	h.anonymous().must(200, "GET", "/api/v1/openapi.json", nil).json(t, &doc)
	enum := func(schema, prop string, items bool) []string {
		t.Helper()
		p := doc.Comps.Schemas[schema].Properties[prop]
		if items {
			p, _ = p["items"].(map[string]any)
		}
		var out []string
		for _, v := range p["enum"].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	states := make([]string, 0)
	for _, st := range workflow.States() {
		states = append(states, string(st))
	}
	actions := make([]string, 0)
	for _, a := range workflow.Actions() {
		actions = append(actions, string(a))
	}
	for _, c := range []struct {
		schema, prop string
		items        bool
		want         []string
	}{
		{"SubmissionView", "state", false, states},
		{"SubmissionView", "allowed_actions", true, actions},
		{"SubmissionView", "kind", false, workflow.Kinds()},
		{"Member", "roles", true, auth.Roles()},
		{"Problem", "code", false, apperr.Codes()},
	} {
		if got := enum(c.schema, c.prop, c.items); !slices.Equal(got, c.want) {
			t.Errorf("%s.%s enum %v, want %v", c.schema, c.prop, got, c.want)
		}
	}
	caps := doc.Comps.Schemas["Capabilities"].Properties
	for _, name := range []string{"edit", "upload", "delete", "comment"} {
		if caps[name]["type"] != "boolean" {
			t.Errorf("capabilities.%s: %v", name, caps[name])
		}
	}
	if _, ok := doc.Comps.Schemas["SubmissionView"].Properties["capabilities"]; !ok {
		t.Error("SubmissionView has no capabilities")
	}
}
