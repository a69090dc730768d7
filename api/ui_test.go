package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

// TestServesTheUI: files of the app, index.html for client routes but never for the
// API, health or metrics paths nor for a missing asset, cache headers by kind, and
// precompressed files for browsers that take them.
func TestServesTheUI(t *testing.T) {
	ui := fstest.MapFS{
		"index.html":            {Data: []byte("<!doctype html><title>app</title>")},
		"assets/app-1a2b.js":    {Data: []byte("console.log(1)")},
		"assets/app-1a2b.js.br": {Data: []byte("BROTLI")},
		"assets/app-1a2b.js.gz": {Data: []byte("GZIP")},
	}
	srv := New(Options{UI: ui})
	get := func(path, accept string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		return rec
	}
	for _, c := range []struct {
		path, accept string
		status       int
		body, cache  string
		encoding     string
	}{
		{"/", "", 200, "<!doctype html><title>app</title>", "no-cache", ""},
		{"/cases/123", "", 200, "<!doctype html><title>app</title>", "no-cache", ""},
		{"/assets/app-1a2b.js", "", 200, "console.log(1)", "public, max-age=31536000, immutable", ""},
		{"/assets/app-1a2b.js", "gzip, deflate, br", 200, "BROTLI", "public, max-age=31536000, immutable", "br"},
		{"/assets/app-1a2b.js", "gzip", 200, "GZIP", "public, max-age=31536000, immutable", "gzip"},
		{"/assets/app-1a2b.js", "br;q=0, gzip", 200, "GZIP", "public, max-age=31536000, immutable", "gzip"},
		{"/assets/missing-9z.js", "", 404, "", "", ""},
		{"/favicon.ico", "", 404, "", "", ""},
		{"/api/v1/nothing", "", 404, "", "", ""},
		{"/metricsx", "", 200, "<!doctype html><title>app</title>", "no-cache", ""},
	} {
		r := get(c.path, c.accept)
		if r.Code != c.status {
			t.Errorf("%s (%s): status %d, want %d", c.path, c.accept, r.Code, c.status)
			continue
		}
		if c.status != 200 {
			continue
		}
		if r.Body.String() != c.body || r.Header().Get("Cache-Control") != c.cache || r.Header().Get("Content-Encoding") != c.encoding {
			t.Errorf("%s (%s): body %q cache %q encoding %q", c.path, c.accept, r.Body, r.Header().Get("Cache-Control"), r.Header().Get("Content-Encoding"))
		}
		if csp := r.Header().Get("Content-Security-Policy"); csp == "" || !containsAll(csp, "script-src 'self'", "object-src 'none'") {
			t.Errorf("%s: CSP %q", c.path, csp)
		}
	}
	// Without a build, the placeholder says how to make one.
	bare := New(Options{UIPlaceholder: []byte("build the UI with make run")})
	rec := httptest.NewRecorder()
	bare.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/anything", nil))
	if rec.Code != 200 || rec.Body.String() != "build the UI with make run" {
		t.Errorf("placeholder: %d %q", rec.Code, rec.Body)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
