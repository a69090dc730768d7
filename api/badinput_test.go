package api

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

func TestBadInput(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		long := strings.Repeat("x", 201)
		user := func(overrides map[string]any) map[string]any {
			b := map[string]any{"email": "new@alpha.test", "name": "New", "password": testPassword,
				"organization_id": w.orgA1.ID, "roles": []string{"editor"}}
			for k, v := range overrides {
				if v == nil {
					delete(b, k)
				} else {
					b[k] = v
				}
			}
			return b
		}
		tests := []struct {
			name       string
			c          *client
			method     string
			path       string
			body       any
			wantStatus int
			wantCode   string
			wantFields []string
		}{
			{"malformed JSON", w.super, "POST", "/api/v1/tenants", `{"slug": "x",`, 400, "malformed_request", nil},
			{"syntax error", w.super, "POST", "/api/v1/tenants", `{"slug" "x"}`, 400, "malformed_request", nil},
			{"not an object", w.super, "POST", "/api/v1/tenants", `["x"]`, 400, "malformed_request", nil},
			{"empty body", w.super, "POST", "/api/v1/tenants", ` `, 400, "malformed_request", nil},
			{"trailing data", w.super, "POST", "/api/v1/tenants", `{"slug":"abc","name":"A"} {}`, 400, "malformed_request", nil},
			{"invalid UTF-8", w.super, "POST", "/api/v1/tenants", []byte("{\"slug\":\"ab\xff\",\"name\":\"A\"}"), 400, "malformed_request", nil},
			{"unknown field", w.super, "POST", "/api/v1/tenants", `{"slug":"abc","name":"A","owner":"me"}`, 400, "malformed_request", []string{"owner"}},
			{"wrong type", w.super, "POST", "/api/v1/tenants", `{"slug":42,"name":"A"}`, 400, "malformed_request", []string{"slug"}},
			{"missing fields", w.super, "POST", "/api/v1/tenants", `{}`, 422, "validation_failed", []string{"slug", "name"}},
			{"bad slug", w.super, "POST", "/api/v1/tenants", map[string]string{"slug": "Has Spaces", "name": "A"}, 422, "validation_failed", []string{"slug"}},
			{"too long name", w.super, "POST", "/api/v1/tenants", map[string]string{"slug": "okay", "name": long}, 422, "validation_failed", []string{"name"}},
			{"duplicate slug", w.super, "POST", "/api/v1/tenants", map[string]string{"slug": "alpha", "name": "Again"}, 409, "duplicate", []string{"slug"}},
			{"invalid country", w.adminA, "POST", "/api/v1/tenants/alpha/organizations", map[string]string{"name": "X", "country": "XX", "kind": "affiliate"}, 422, "validation_failed", []string{"country"}},
			{"lower-case country", w.adminA, "POST", "/api/v1/tenants/alpha/organizations", map[string]string{"name": "X", "country": "kg", "kind": "affiliate"}, 422, "validation_failed", []string{"country"}},
			{"three-letter country", w.adminA, "POST", "/api/v1/tenants/alpha/organizations", map[string]string{"name": "X", "country": "KGZ", "kind": "affiliate"}, 422, "validation_failed", []string{"country"}},
			{"bad kind", w.adminA, "POST", "/api/v1/tenants/alpha/organizations", map[string]string{"name": "X", "country": "KG", "kind": "union"}, 422, "validation_failed", []string{"kind"}},
			{"duplicate organization", w.adminA, "POST", "/api/v1/tenants/alpha/organizations", map[string]string{"name": w.orgA2.Name, "country": "KG", "kind": "affiliate"}, 409, "duplicate", []string{"name"}},
			{"bad e-mail", w.adminA, "POST", "/api/v1/tenants/alpha/users", user(map[string]any{"email": "not-an-address"}), 422, "validation_failed", []string{"email"}},
			{"e-mail with a name", w.adminA, "POST", "/api/v1/tenants/alpha/users", user(map[string]any{"email": "Eve <eve@x.test>"}), 422, "validation_failed", []string{"email"}},
			{"short password", w.adminA, "POST", "/api/v1/tenants/alpha/users", user(map[string]any{"password": "short"}), 422, "validation_failed", []string{"password"}},
			{"new user without password", w.adminA, "POST", "/api/v1/tenants/alpha/users", user(map[string]any{"password": nil}), 422, "validation_failed", []string{"password"}},
			{"unknown role", w.adminA, "POST", "/api/v1/tenants/alpha/users", user(map[string]any{"roles": []string{"owner"}}), 422, "validation_failed", []string{"roles"}},
			{"no roles", w.adminA, "POST", "/api/v1/tenants/alpha/users", user(map[string]any{"roles": []string{}}), 422, "validation_failed", []string{"roles"}},
			{"roles not an array", w.adminA, "POST", "/api/v1/tenants/alpha/users", user(map[string]any{"roles": "editor"}), 400, "malformed_request", []string{"roles"}},
			{"organization of another tenant", w.adminA, "POST", "/api/v1/tenants/alpha/users", user(map[string]any{"organization_id": w.orgB.ID}), 422, "validation_failed", []string{"organization_id"}},
			{"organization id not a UUID", w.adminA, "POST", "/api/v1/tenants/alpha/users", user(map[string]any{"organization_id": "1 OR 1=1"}), 422, "validation_failed", []string{"organization_id"}},
			{"duplicate e-mail in tenant", w.adminA, "POST", "/api/v1/tenants/alpha/users", user(map[string]any{"email": "editor@alpha.test", "password": nil}), 409, "duplicate", []string{"email"}},
			{"patch user not a UUID", w.adminA, "PATCH", "/api/v1/tenants/alpha/users/42", map[string]any{"roles": []string{"viewer"}}, 404, "not_found", nil},
			{"patch unknown field", w.adminA, "PATCH", "/api/v1/tenants/alpha/users/" + w.editorA1ID, `{"is_superadmin": true}`, 400, "malformed_request", []string{"is_superadmin"}},
			{"token name too long", w.adminA, "POST", "/api/v1/me/tokens", map[string]string{"name": long}, 422, "validation_failed", []string{"name"}},
			{"token expiry in the past", w.adminA, "POST", "/api/v1/me/tokens", map[string]string{"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, 422, "validation_failed", []string{"expires_at"}},
			{"token expiry not a time", w.adminA, "POST", "/api/v1/me/tokens", map[string]string{"name": "x", "expires_at": "tomorrow"}, 422, "validation_failed", []string{"expires_at"}},
			{"limit out of range", w.adminA, "GET", "/api/v1/tenants/alpha/organizations?limit=1000", nil, 400, "malformed_request", []string{"limit"}},
			{"limit not a number", w.adminA, "GET", "/api/v1/tenants/alpha/users?limit=ten", nil, 400, "malformed_request", []string{"limit"}},
			{"tampered cursor", w.adminA, "GET", "/api/v1/tenants/alpha/organizations?cursor=bm9wZQ", nil, 400, "malformed_request", []string{"cursor"}},
			{"unknown tenant", w.adminA, "GET", "/api/v1/tenants/nope/organizations", nil, 404, "not_found", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := tt.c.do(tt.method, tt.path, tt.body)
				if r.Code != tt.wantStatus {
					t.Fatalf("status %d, want %d; body %s", r.Code, tt.wantStatus, r.Body)
				}
				p := r.problem(t)
				if p["code"] != tt.wantCode {
					t.Errorf("code %v, want %s", p["code"], tt.wantCode)
				}
				if tt.wantFields != nil && !slices.Equal(fieldNames(p), tt.wantFields) {
					t.Errorf("fields %v, want %v", fieldNames(p), tt.wantFields)
				}
			})
		}

		t.Run("wrong content type", func(t *testing.T) {
			body := `{"email":"a@b.c","password":"x"}`
			req := httptest.NewRequest(http.MethodPost, "/api/v1/auth/login", strings.NewReader(body))
			req.Header.Set("Content-Type", "text/plain")
			rec := httptest.NewRecorder()
			h.srv.Handler().ServeHTTP(rec, req)
			h.checkExchange(req, []byte(body), rec)
			if rec.Code != http.StatusUnsupportedMediaType {
				t.Errorf("status %d, want 415", rec.Code)
			}
		})
	})
}

// FuzzDecodeBody checks that no request body makes the decoder panic or return
// anything but a typed 4xx error.
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{`{"email":"a@b.c","password":"x"}`, `{`, `[]`, `{"roles":["a"]}`, "\xff", `{"a":1}{}`, `null`, `{"organization_id":null}`,
		`{"email":"a\u0000"}`, "{\"roles\":[\"\xff\"]}"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v struct {
			Email string   `json:"email"`
			Roles []string `json:"roles"`
			N     *int     `json:"n"`
		}
		err := decodeBody(body, &v)
		if err == nil {
			return
		}
		p, fault := problemFor(err)
		if fault || p.Status != http.StatusBadRequest {
			t.Fatalf("body %q: status %d fault %v (%v)", body, p.Status, fault, err)
		}
	})
}
