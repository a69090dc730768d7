package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/portal"
	"github.com/unionportal/unionportal/workflow"
)

// TestTenantExportImportRoundTrip moves a tenant with its whole Case 3386 history (a
// dispatched submission with evidence, the letter and manifest sent, comments, a
// pending invitation, a webhook with its deliveries, the event feed, the audit chain)
// from SQLite to PostgreSQL and back, and compares everything its users see through
// the API, byte for byte for files; the audit chain verifies after import. A damaged
// export, and one for a tenant that exists, are refused before anything is written.
func TestTenantExportImportRoundTrip(t *testing.T) {
	for _, c := range []struct{ from, to database.Dialect }{{database.SQLite, database.Postgres}, {database.Postgres, database.SQLite}} {
		t.Run(string(c.from)+"-to-"+string(c.to), func(t *testing.T) {
			srcDB, dstDB := dbtest.New(t, c.from), dbtest.New(t, c.to)
			src := newDispatchHarness(t, srcDB, dispatch.Outbox{Dir: t.TempDir()})
			w := src.world()
			rcv, rsrv := newReceiver(t)
			var ep struct{ Secret string }
			w.adminA.must(201, "POST", "/api/v1/tenants/alpha/webhooks", map[string]any{"url": rsrv.URL, "events": []string{"*"}}).json(t, &ep)
			rcv.mu.Lock()
			rcv.secret = ep.Secret
			rcv.mu.Unlock()
			w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
			approveAndWait(t, w, w.submissionA.ID, workflow.Dispatched)
			w.adminA.must(201, "POST", "/api/v1/tenants/alpha/users", map[string]any{"email": "newcomer@alpha.test", "name": "Newcomer",
				"password": testPassword, "organization_id": w.orgA2.ID, "roles": []string{"viewer"}})
			for deadline := time.Now().Add(30 * time.Second); len(rcv.accepted()) < 2; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d webhook events accepted", len(rcv.accepted()))
				}
			}

			archive := filepath.Join(t.TempDir(), "alpha.tar.gz")
			f, err := os.Create(archive)
			if err != nil {
				t.Fatal(err)
			}
			m, err := src.services.Export(context.Background(), "alpha", f, nil)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			if len(m.Files) < 3 || len(m.Tables) < 20 {
				t.Fatalf("the export holds %d files and %d tables", len(m.Files), len(m.Tables))
			}

			dst := newPortalHarness(t, dstDB, dispatch.Options{}, false)
			dst.superadmin() // another installation, with its own superadmin
			in, err := os.Open(archive)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			if _, err := dst.services.Import(context.Background(), in, nil); err != nil {
				t.Fatal(err)
			}
			if brk, n, err := audit.Verify(context.Background(), dstDB, w.tenantA.ID); err != nil || brk != nil || n < 10 {
				t.Fatalf("audit verify after import: %v, %+v, %d events", err, brk, n)
			}
			// Imported again: refused (the tenant exists), and nothing changes.
			if _, err := dst.services.Import(context.Background(), in, nil); !errors.Is(err, portal.ErrBadExport) {
				t.Errorf("a second import: %v", err)
			}

			compared := 0
			for _, email := range []string{"admin@alpha.test", "reviewer@alpha.test", "editor@alpha.test", "viewer@alpha.test"} {
				before, after := src.login(email), dst.login(email)
				for _, path := range visiblePaths(t, before) {
					a, b := before.do("GET", path, nil), after.do("GET", path, nil)
					if a.Code == http.StatusOK {
						compared++
					}
					if a.Code != b.Code || normalizeTimes(a.Body.String(), path) != normalizeTimes(b.Body.String(), path) {
						t.Errorf("%s GET %s differs after import:\n before %d %s\n after  %d %s", email, path, a.Code, clip(a.Body.String()), b.Code, clip(b.Body.String()))
					}
				}
			}
			if compared < 60 {
				t.Errorf("only %d answers compared", compared)
			}
			// The root of the other installation cannot be imported into it.
			var supers int64
			dstDB.Conn(context.Background()).Raw("SELECT COUNT(*) FROM users WHERE is_superadmin").Scan(&supers)
			if supers != 1 {
				t.Errorf("%d superadmins after import, want the target's own", supers)
			}
		})
	}
}

// TestImportRefusesDamagedExports: a flipped byte anywhere, or a missing entry, is
// refused before anything is written.
func TestImportRefusesDamagedExports(t *testing.T) {
	db := dbtest.New(t, database.SQLite)
	src := newPortalHarness(t, db, dispatch.Options{}, false)
	src.world()
	var buf bytes.Buffer
	if _, err := src.services.Export(context.Background(), "alpha", &buf, nil); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	dst := newPortalHarness(t, dbtest.New(t, database.SQLite), dispatch.Options{}, false)
	for _, at := range []int{len(good) / 3, len(good) / 2, len(good) - 40} {
		bad := bytes.Clone(good)
		bad[at] ^= 0x20
		if _, err := dst.services.Import(context.Background(), bytes.NewReader(bad), nil); !errors.Is(err, portal.ErrBadExport) {
			t.Errorf("a byte flipped at %d of %d: %v", at, len(good), err)
		}
	}
	if _, err := dst.services.Import(context.Background(), bytes.NewReader(good[:len(good)/2]), nil); !errors.Is(err, portal.ErrBadExport) {
		t.Errorf("half an export: %v", err)
	}
	if n := rowCount(t, dst.db, "tenants"); n != 0 {
		t.Errorf("%d tenants after refused imports", n)
	}
	if _, err := dst.services.Import(context.Background(), bytes.NewReader(good), nil); err != nil {
		t.Fatalf("the intact export: %v", err)
	}
}

// visiblePaths lists what a user may read of tenant alpha: every list, every item in it,
// and the files.
func visiblePaths(t *testing.T, c *client) []string {
	t.Helper()
	const a = "/api/v1/tenants/alpha"
	paths := []string{"/api/v1/me", a, a + "/organizations", a + "/users", a + "/invitations", a + "/settings", a + "/sender-domains",
		a + "/cases", a + "/submissions", a + "/events", a + "/webhooks"}
	var subs struct{ Items []struct{ ID string } }
	c.must(200, "GET", a+"/submissions", nil).json(t, &subs)
	for _, s := range subs.Items {
		p := a + "/submissions/" + s.ID
		paths = append(paths, p, p+"/revisions", p+"/revisions/1", p+"/comments", p+"/attachments", p+"/dispatches", p+"/events", p+"/snapshot", p+"/receivability")
		var atts struct{ Items []struct{ ID string } }
		if r := c.do("GET", p+"/attachments", nil); r.Code == http.StatusOK {
			r.json(t, &atts)
		}
		for _, at := range atts.Items {
			paths = append(paths, a+"/attachments/"+at.ID, a+"/attachments/"+at.ID+"/content")
		}
		var ds struct{ Items []struct{ ID string } }
		if r := c.do("GET", p+"/dispatches", nil); r.Code == http.StatusOK {
			r.json(t, &ds)
		}
		for _, d := range ds.Items {
			paths = append(paths, a+"/dispatches/"+d.ID+"/letter.pdf", a+"/dispatches/"+d.ID+"/manifest.json")
		}
	}
	var hooks struct{ Items []struct{ ID string } }
	if r := c.do("GET", a+"/webhooks", nil); r.Code == http.StatusOK {
		r.json(t, &hooks)
	}
	for _, h := range hooks.Items {
		paths = append(paths, a+"/webhooks/"+h.ID, a+"/webhooks/"+h.ID+"/deliveries")
	}
	return paths
}

var (
	subMicro = regexp.MustCompile(`(\.\d{1,6})\d*Z"`)
	// What differs between two installations by design: sessions, logins, and the row
	// ids of audit events (their sequence numbers and hashes are kept).
	volatile = regexp.MustCompile(`"(csrf_token|last_login_at|last_used_at|request_id)":("[^"]*"|null),?`)
	eventID  = regexp.MustCompile(`\{"id":\d+,`)
)

// normalizeTimes compares times to the microsecond PostgreSQL keeps, without what
// differs by design.
func normalizeTimes(body, path string) string {
	body = subMicro.ReplaceAllStringFunc(body, func(s string) string {
		frac := strings.TrimRight(subMicro.FindStringSubmatch(s)[1], "0")
		if frac == "." {
			frac = ""
		}
		return frac + `Z"`
	})
	body = volatile.ReplaceAllString(body, "")
	if strings.HasSuffix(path, "/events") {
		body = eventID.ReplaceAllString(body, "{")
	}
	var v any
	if json.Unmarshal([]byte(body), &v) == nil {
		b, _ := json.Marshal(v)
		return string(b)
	}
	return body
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + fmt.Sprintf("… (%d bytes)", len(s))
	}
	return s
}
