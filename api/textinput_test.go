package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/workflow"
)

// badTexts are what the sweep puts into every text input: a NUL character, which
// PostgreSQL cannot store in text, and a byte that is not UTF-8.
var badTexts = []struct{ name, raw string }{
	{"NUL", "a\x00b"},
	{"invalid UTF-8", "a\xffb"},
}

// badUserAgent is sent with every request of the sweep.
const badUserAgent = "Mozilla/5.0 \x00\xff\xfe (sweep)"

// TestTextInputSweep is generated from the route table: for every route and method, a
// caller allowed to use it sends NUL and invalid UTF-8 in every string field of the
// request body (found by reflection on the route's documented request type, nested
// fields included), every query parameter, every path parameter and every documented
// header, with a garbled User-Agent, and forged cursors to every list. No answer may be
// a 5xx; bad text is refused with a 4xx that names the field. A route added later is
// swept without editing this test.
func TestTextInputSweep(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newDispatchHarness(t, db, dispatch.Outbox{Dir: t.TempDir()})
		w := h.world()
		// A dispatched submission, so that the dispatch routes have a target, and an API
		// token, so that /me/tokens/:id has one.
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
		hookLogged := fixtureWebhook(t, w)
		var sent workflow.SubmissionView
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
			"kind": "follow_up", "title": "Sent", "body": "b", "language": "en"}).json(t, &sent)
		w.editorA1.upload(201, sent.ID, "sent.txt", "text/plain", []byte("evidence\n"))
		w.editorA1.must(200, "POST", subPath(sent.ID, "/transitions"), map[string]string{"action": "submit"})
		w.reviewerA.must(201, "POST", subPath(sent.ID, "/comments"), map[string]any{"body": "Fine."})
		approveAndWait(t, w, sent.ID, workflow.Dispatched)
		hookLogged()
		fixtureCorrespondence(t, h, w)
		w.editorA1.must(201, "POST", "/api/v1/me/tokens", map[string]string{"name": "sweep"})
		w.editorA1.must(201, "POST", "/api/v1/me/factors", map[string]string{"type": "totp"}) // for /me/factors/:id
		// Pending invitations, for the invitation routes (tenant's and /me's).
		w.adminA.must(201, "POST", "/api/v1/tenants/alpha/users", map[string]any{"email": "guest@elsewhere.test", "name": "Guest",
			"password": testPassword, "organization_id": w.orgA2.ID, "roles": []string{"viewer"}})
		w.adminB.must(201, "POST", "/api/v1/tenants/beta/users", map[string]any{"email": "editor@alpha.test", "name": "Editor",
			"password": testPassword, "organization_id": w.orgB.ID, "roles": []string{"viewer"}})

		samples := map[string]any{"email": "sweep@alpha.test", "password": testPassword, "case_id": w.caseA.ID,
			"organization_id": w.orgA1.ID, "language": "en", "country": "KG", "slug": "sweep"}
		routes := h.srv.RouteAccess()
		keys := make([]string, 0, len(routes))
		for k := range routes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		swept := 0
		for _, key := range keys {
			method, path, _ := strings.Cut(key, " ")
			if !strings.HasPrefix(path, "/api/v1") {
				continue
			}
			doc := h.srv.docs[key]
			caller, owner := sweepCaller(h, w, routes[key])
			target := path
			if strings.Contains(path, "/:") {
				target = fillPath(t, h, path, "alpha", owner)
			}
			s := sweep{t: t, c: caller, method: method, key: key}
			swept++

			// Every string in the request body, one at a time.
			if doc.Request != nil {
				for _, field := range textFields(reflect.TypeOf(doc.Request)) {
					for _, bad := range badTexts {
						body := jsonBody(reflect.TypeOf(doc.Request), samples, field, bad.raw)
						s.refused(bad.name+" in body field "+field, target, body, nil, field)
					}
				}
			}
			if doc.Multipart {
				for _, bad := range badTexts {
					s.upload(bad.name+" in the file name and type", target, bad.raw)
				}
			}
			// Every query parameter, one at a time.
			var query []string
			for _, q := range doc.Query {
				query = append(query, q.Name)
			}
			if doc.Paged {
				query = append(query, "cursor", "limit")
			}
			if method == http.MethodGet {
				query = append(query, "undocumented")
			}
			for _, q := range query {
				for _, bad := range badTexts {
					u := target + "?" + url.Values{q: {bad.raw}}.Encode()
					s.refused(bad.name+" in query parameter "+q, u, s.validBody(doc, samples), nil, q)
				}
			}
			// Every path parameter, one at a time, the others valid.
			filled := strings.Split(target, "/")
			for i, p := range strings.Split(path, "/") {
				if !strings.HasPrefix(p, ":") {
					continue
				}
				for _, bad := range badTexts {
					parts := slices.Clone(filled)
					parts[i] = url.PathEscape(bad.raw)
					s.refused(bad.name+" in path parameter "+p, strings.Join(parts, "/"), s.validBody(doc, samples), nil, p[1:])
				}
			}
			// Documented headers are not user text: refused or ignored, never a 5xx.
			for _, hdr := range doc.Headers {
				for _, bad := range badTexts {
					s.noServerError(bad.name+" in header "+hdr.Name, target, s.validBody(doc, samples), map[string]string{hdr.Name: bad.raw})
				}
			}
			// Forged cursors: refused naming cursor, or ignored by lists that do not page.
			if doc.List {
				for _, cur := range forgedCursors() {
					r := s.send(target+"?cursor="+url.QueryEscape(cur), nil, nil)
					if r.Code != http.StatusOK && !namesField(r, "cursor") {
						t.Errorf("%s with the forged cursor %q: %d %s, want 400 naming cursor", key, cur, r.Code, r.Body)
					}
				}
			}
			// A garbled User-Agent on an otherwise good read.
			if method == http.MethodGet {
				s.noServerError("garbled User-Agent", target, nil, nil)
			}
		}
		if swept < 20 {
			t.Fatalf("only %d routes swept", swept)
		}

		// The User-Agent is not user text: a login with a garbled one works (sessions no
		// longer record it at all: TestSessionKeepsNoUserAgent).
		anon := h.anonymous()
		r := anon.doWithHeaders("POST", "/api/v1/auth/login", map[string]string{"email": "editor@alpha.test", "password": testPassword},
			map[string]string{"User-Agent": badUserAgent})
		if r.Code != http.StatusOK {
			t.Fatalf("login with a garbled User-Agent: %d %s", r.Code, r.Body)
		}
	})
}

// sweep sends one route's requests and checks the answers.
type sweep struct {
	t      *testing.T
	c      *client
	method string
	key    string
}

func (s sweep) send(target string, body any, headers map[string]string) response {
	s.t.Helper()
	hdr := map[string]string{"User-Agent": badUserAgent}
	for k, v := range headers {
		hdr[k] = v
	}
	return s.c.doWithHeaders(s.method, target, body, hdr)
}

// refused expects a 4xx naming field (or a refusal before the field was looked at).
func (s sweep) refused(what, target string, body any, headers map[string]string, field string) {
	s.t.Helper()
	r := s.send(target, body, headers)
	switch {
	case r.Code >= 500:
		s.t.Errorf("%s, %s: %d %s", s.key, what, r.Code, r.Body)
	case r.Code < 400:
		s.t.Errorf("%s, %s: %d, want a 4xx: the bad text was accepted", s.key, what, r.Code)
	// An answer to HEAD has no body to name the field in.
	case (r.Code == http.StatusBadRequest || r.Code == http.StatusUnprocessableEntity) && s.method != http.MethodHead && !namesField(r, field):
		s.t.Errorf("%s, %s: %d %s, want the problem to name %q", s.key, what, r.Code, r.Body, field)
	}
}

func (s sweep) noServerError(what, target string, body any, headers map[string]string) {
	s.t.Helper()
	if r := s.send(target, body, headers); r.Code >= 500 {
		s.t.Errorf("%s, %s: %d %s", s.key, what, r.Code, r.Body)
	}
}

// upload sends a multipart file whose name, type and form field carry bad text.
func (s sweep) upload(what, target, bad string) {
	s.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	hdr := textproto.MIMEHeader{}
	hdr.Set("Content-Disposition", `form-data; name="file"; filename="`+bad+`.txt"`)
	hdr.Set("Content-Type", "text/plain; charset="+bad)
	pw, _ := mw.CreatePart(hdr)
	pw.Write([]byte("evidence\n"))
	mw.Close()
	if r := s.c.rawPost(target, mw.FormDataContentType(), &buf); r.Code >= 500 {
		s.t.Errorf("%s, %s: %d %s", s.key, what, r.Code, r.Body)
	}
}

// validBody is the route's request body with sample values, for requests whose bad
// text is elsewhere.
func (s sweep) validBody(doc Doc, samples map[string]any) any {
	if doc.Request == nil {
		return nil
	}
	return jsonBody(reflect.TypeOf(doc.Request), samples, "", "")
}

// sweepCaller picks who calls a route in the sweep (someone allowed to) and whose
// objects fill its path.
func sweepCaller(h *harness, w *world, a Access) (caller, owner *client) {
	switch a.kind {
	case accessPublic:
		return h.anonymous(), w.editorA1
	case accessAuthenticated:
		return w.editorA1, w.editorA1
	case accessPlatform:
		return w.super, w.super
	}
	for _, c := range []struct {
		role string
		c    *client
	}{{auth.RoleEditor, w.editorA1}, {auth.RoleReviewer, w.reviewerA}} {
		if slices.Contains(h.auth.Authorizer().RolePermissions(c.role), a.perm) {
			return c.c, w.super
		}
	}
	return w.adminA, w.super
}

// textFields lists the paths of every string a request of type t can carry, named as
// the problem documents name them: "dispatch.recipients[0].address".
func textFields(t reflect.Type) []string {
	var out []string
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.String:
			out = append(out, path)
		case reflect.Slice, reflect.Array:
			walk(t.Elem(), path+"[0]")
		case reflect.Map:
			walk(t.Elem(), join(path, "key"))
		case reflect.Struct:
			if t == timeType {
				out = append(out, path)
				return
			}
			for _, f := range jsonFields(t) {
				walk(f.typ, join(path, f.name))
			}
		}
	}
	walk(t, "")
	return out
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

type jsonField struct {
	name string
	typ  reflect.Type
}

// jsonFields lists a struct's fields as encoding/json sees them.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name, f.Type})
	}
	return out
}

// jsonBody builds a request body of type t with sample values, and bad (raw bytes,
// which encoding/json would otherwise clean) at the field named target.
func jsonBody(t reflect.Type, samples map[string]any, target, bad string) []byte {
	const marker = "\ue000BAD\ue000"
	var build func(t reflect.Type, path string) any
	build = func(t reflect.Type, path string) any {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if path == target && target != "" {
			return marker
		}
		name := path[strings.LastIndexAny(path, ".]")+1:]
		if v, ok := samples[name]; ok {
			return v
		}
		switch t.Kind() {
		case reflect.String:
			return "x"
		case reflect.Bool:
			return false
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
			return 1
		case reflect.Slice, reflect.Array:
			return []any{build(t.Elem(), path+"[0]")}
		case reflect.Map:
			return map[string]any{"key": build(t.Elem(), join(path, "key"))}
		case reflect.Struct:
			if t == timeType {
				return "2030-01-01T00:00:00Z"
			}
			obj := map[string]any{}
			for _, f := range jsonFields(t) {
				obj[f.name] = build(f.typ, join(path, f.name))
			}
			return obj
		}
		return nil
	}
	b, err := json.Marshal(build(t, ""))
	if err != nil {
		panic(err)
	}
	if bad == "\x00" || strings.Contains(bad, "\x00") {
		esc, _ := json.Marshal(bad) // NUL travels as the escape \u0000
		return bytes.Replace(b, []byte(`"`+marker+`"`), esc, 1)
	}
	return bytes.Replace(b, []byte(marker), []byte(bad), 1)
}

// forgedCursors are cursors no list returned: garbage, wrong types, NUL, too many or
// too few values.
func forgedCursors() []string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	var out []string
	for n := 1; n <= 3; n++ {
		for _, v := range []string{"\x00", "x", "2020-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "00000000-0000-0000-0000-00000000000g", strings.Repeat("é", 5000)} {
			vals := make([]string, n)
			for i := range vals {
				vals[i] = v
			}
			out = append(out, enc(vals))
		}
		out = append(out, enc([]any{1, true, nil}[:n]))
	}
	return append(out, "not base64!", enc(map[string]string{"a": "b"}), base64.RawURLEncoding.EncodeToString([]byte("\xff\xfe")))
}

func namesField(r response, field string) bool {
	var p map[string]any
	if json.Unmarshal(r.Body.Bytes(), &p) != nil {
		return false
	}
	return slices.Contains(fieldNames(p), field)
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

func TestCheckJSONTextNamesTheField(t *testing.T) {
	tests := []struct {
		body  string
		field string // "" when the body is fine
	}{
		{`{"title":"ok","body":"line\nline \\u0000 is not a NUL"}`, ""},
		{`{"title":"a\u0000b"}`, "title"},
		{"{\"title\":\"ok\",\"body\":\"a\xffb\"}", "body"},
		{`{"dispatch":{"recipients":[{"name":"x"},{"name":"y","address":"\u0000"}]}}`, "dispatch.recipients[1].address"},
		{"{\"dispatch\":{\"letterhead\":{\"address_lines\":[\"a\",\"b\",\"\xc3\"]}}}", "dispatch.letterhead.address_lines[2]"},
		{`{"roles":["editor","\u0000"],"name":"x"}`, "roles[1]"},
		{`{"a":{"b":[[1,2],["x","\u0000"]]}}`, "a.b[1][1]"},
		{`{"ok":1,"bad\u0000key":"v"}`, "bad\uFFFDkey"},
		{`{"n":1,"m":null,"t":true,"s":"\u0000"}`, "s"},
	}
	for _, tt := range tests {
		err := checkJSONText([]byte(tt.body))
		if tt.field == "" {
			if err != nil {
				t.Errorf("%q: %v", tt.body, err)
			}
			continue
		}
		p, _ := problemFor(err)
		if p.Status != http.StatusBadRequest || len(p.Errors) != 1 || p.Errors[0].Field != tt.field {
			t.Errorf("%q: %d %+v, want 400 naming %s", tt.body, p.Status, p.Errors, tt.field)
		}
	}
}
