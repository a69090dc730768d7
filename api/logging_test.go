package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

// lines parses and clears what was logged so far, one JSON object a line.
func (l *syncBuffer) lines(t *testing.T) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(l.buf.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		out = append(out, m)
	}
	l.buf.Reset()
	return out
}

// TestRequestLogLinesCarryWhoAndWhere: every line logged while serving a request
// carries the request's id, and the user and tenant once they are known, the access
// log line included; the e-mail address and the query string are never logged.
func TestRequestLogLinesCarryWhoAndWhere(t *testing.T) {
	h := newHarness(t, dbtest.New(t, database.SQLite))
	w := h.world()
	var buf syncBuffer
	h.srv = New(Options{Auth: h.auth, Workflow: h.wf, Logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	buf.lines(t)

	w.editorA1.must(200, "GET", "/api/v1/tenants/alpha/submissions?q="+secretMarker, nil)
	w.editorA1.must(404, "GET", subPath("01a2216e-ba4e-7c92-803e-8be730393a94"), nil)
	tenantLines := buf.lines(t)
	if len(tenantLines) < 2 {
		t.Fatalf("%d lines for two requests", len(tenantLines))
	}
	for _, l := range tenantLines {
		if l["request_id"] == nil || l["request_id"] == "" || l["user_id"] != w.editorA1.user.ID || l["tenant"] != "alpha" {
			t.Errorf("a tenant request's line lacks who or where: %v", l)
		}
		if strings.Contains(mustJSON(t, l), secretMarker) || strings.Contains(mustJSON(t, l), "editor@alpha.test") {
			t.Errorf("a line carries the query or the e-mail: %v", l)
		}
	}
	w.editorA1.must(200, "GET", "/api/v1/me", nil)
	lines := buf.lines(t)
	if len(lines) == 0 {
		t.Fatal("no access log line")
	}
	for _, l := range lines {
		if l["request_id"] == nil || l["user_id"] != w.editorA1.user.ID || l["tenant"] != nil {
			t.Errorf("/me's line: %v", l)
		}
	}
	h.anonymous().do("POST", "/api/v1/auth/login", map[string]string{"email": "editor@alpha.test", "password": "wrong"})
	anonymous := buf.lines(t)
	if len(anonymous) == 0 {
		t.Fatal("no line for the login")
	}
	for _, l := range anonymous {
		if l["request_id"] == nil || l["user_id"] != nil {
			t.Errorf("an anonymous request's line: %v", l)
		}
	}
}
