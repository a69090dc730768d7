package api

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/workflow"
)

// evidenceLinkPath finds a download link's path in an e-mail's text.
var evidenceLinkPath = regexp.MustCompile(`/api/v1/evidence/[A-Za-z0-9_.-]+`)

// TestEvidenceLinks: evidence too large for the e-mail goes as the portal's own
// download links, which work without an account for 7 days, serve the decrypted copy
// with Range, are audited, and cannot be forged or stretched.
func TestEvidenceLinks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		outbox := t.TempDir()
		h := newPortalHarness(t, db, dispatch.Options{Sender: dispatch.Outbox{Dir: outbox}, PollInterval: 50 * time.Millisecond}, true)
		w := h.world()
		st := dispatchReady(1, false)
		st["dispatch"].(map[string]any)["max_email_bytes"] = 1 << 20
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", st)
		var v workflow.SubmissionView
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
			"kind": "follow_up", "title": "Big", "body": "Text.", "language": "en"}).json(t, &v)
		big := []byte(strings.Repeat("scan ", (1<<20)/5))
		w.editorA1.upload(201, v.ID, "scan.txt", "text/plain", big)
		w.editorA1.must(200, "POST", subPath(v.ID, "/transitions"), map[string]string{"action": "submit"})
		approveAndWait(t, w, v.ID, workflow.Dispatched)

		emls, _ := filepath.Glob(filepath.Join(outbox, "*.eml"))
		var link string
		for _, f := range emls {
			b, _ := os.ReadFile(f)
			// Undo quoted-printable's soft line breaks.
			text := strings.NewReplacer("=\r\n", "", "=\n", "").Replace(string(b))
			if l := evidenceLinkPath.FindString(text); l != "" {
				link = l
			}
		}
		if link == "" {
			t.Fatalf("no download link in %d e-mails", len(emls))
		}
		anyone := h.anonymous()
		r := anyone.must(200, "GET", link, nil)
		if r.Body.String() != string(big) || !strings.Contains(r.Header().Get("Content-Disposition"), "scan.txt") {
			t.Errorf("the link gave %d bytes, %s", r.Body.Len(), r.Header())
		}
		var n int64
		db.Conn(t.Context()).Table("events").Where("action = 'evidence.link_downloaded' AND tenant_id = ?", w.tenantA.ID).Count(&n)
		if n != 1 {
			t.Errorf("%d downloads audited, want 1", n)
		}
		// Range.
		if r := anyone.doWithHeaders("GET", link, nil, map[string]string{"Range": "bytes=5-9"}); r.Code != 206 || r.Body.String() != "scan " {
			t.Errorf("range: %d %q", r.Code, r.Body.String())
		}
		// Forged, altered or stretched tokens open nothing.
		token := strings.TrimPrefix(link, "/api/v1/evidence/")
		payload, _, _ := strings.Cut(token, ".")
		for _, bad := range []string{payload, payload + ".", token[:len(token)-2] + "AA", "x" + token, payload + "." + payload} {
			if r := anyone.do("GET", "/api/v1/evidence/"+bad, nil); r.Code != 404 {
				t.Errorf("token %q: %d", bad, r.Code)
			}
		}
		// After 7 days, gone.
		h.clock.Advance(7*24*time.Hour + time.Minute)
		if p := anyone.must(410, "GET", link, nil).problem(t); p["code"] != "link_expired" {
			t.Errorf("expired: %v", p)
		}
	})
}
