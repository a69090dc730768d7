package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHealthcheck: the probe of the container image's HEALTHCHECK exits 0 only on a 200
// answer, and says why otherwise in one line.
func TestHealthcheck(t *testing.T) {
	var slow = make(chan struct{})
	t.Cleanup(func() { close(slow) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte(`{"status":"ok"}`))
		case "/moved":
			http.Redirect(w, r, "/healthz", http.StatusFound)
		case "/slow":
			select {
			case <-slow:
			case <-r.Context().Done():
			}
		default:
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	dataDir := t.TempDir()

	tests := []struct {
		name       string
		env        []string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"200 at the given URL", nil, []string{"--url", srv.URL + "/healthz"}, 0, "/healthz: ok", ""},
		{"503", nil, []string{"--url", srv.URL + "/down"}, 1, "", "answered 503 Service Unavailable, want 200"},
		{"a redirect is not followed", nil, []string{"--url", srv.URL + "/moved"}, 1, "", "answered 302 Found, want 200"},
		{"nothing listening", nil, []string{"--url", "http://" + closedAddr(t) + "/healthz"}, 1, "", "connection refused"},
		{"timeout", nil, []string{"--url", srv.URL + "/slow", "--timeout", "200ms"}, 1, "", "/slow: "},
		{"URL from UNIONPORTAL_ADDR", []string{"UNIONPORTAL_ADDR=:" + port}, nil, 0, "http://127.0.0.1:" + port + "/healthz: ok", ""},
		{"URL from UNIONPORTAL_ADDR with a host", []string{"UNIONPORTAL_ADDR=127.0.0.1:" + port}, nil, 0, "http://127.0.0.1:" + port + "/healthz: ok", ""},
		{"a given URL ignores a bad setting", []string{"UNIONPORTAL_LOG_LEVEL=loud"}, []string{"--url", srv.URL + "/healthz"}, 0, "ok", ""},
		{"database answers", []string{"UNIONPORTAL_DATA_DIR=" + dataDir}, []string{"--database"}, 0, "sqlite " + filepath.Join(dataDir, "unionportal.db") + ": ok", ""},
		{"database unreachable", []string{"UNIONPORTAL_DATA_DIR=" + dataDir, "UNIONPORTAL_DATABASE_URL=postgres://up:hunter2hunter2@127.0.0.1:1/up"}, []string{"--database", "--timeout", "3s"}, 1, "", "UNIONPORTAL_DATABASE_URL: cannot connect to PostgreSQL"},
		{"stray argument", nil, []string{"now"}, 2, "", `unexpected argument "now"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			code, stdout, stderr := runCLI(t, tt.env, append([]string{"healthcheck"}, tt.args...)...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stdout %q, stderr %q", code, tt.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("stdout %q, want it to contain %q", stdout, tt.wantStdout)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.wantStderr)
			}
			if strings.Contains(stderr, "hunter2") || (code == 1 && strings.Count(stderr, "\n") > 1) {
				t.Errorf("stderr should be one line without secrets: %q", stderr)
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

func TestHealthURL(t *testing.T) {
	for addr, want := range map[string]string{
		":8080":          "http://127.0.0.1:8080/healthz",
		"0.0.0.0:9000":   "http://127.0.0.1:9000/healthz",
		"[::]:8080":      "http://127.0.0.1:8080/healthz",
		"10.1.2.3:8080":  "http://10.1.2.3:8080/healthz",
		"[::1]:8080":     "http://[::1]:8080/healthz",
		"portal.lan:80":  "http://portal.lan:80/healthz",
		"127.0.0.1:8443": "http://127.0.0.1:8443/healthz",
	} {
		if got, err := healthURL(addr); err != nil || got != want {
			t.Errorf("healthURL(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
