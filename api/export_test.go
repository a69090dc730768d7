package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/portal"
	"github.com/unionportal/unionportal/webhook"
	"github.com/unionportal/unionportal/workflow"
)

// TestTenantExportImportRoundTrip moves a tenant with its whole Case 3386 history (a
// dispatched submission with evidence, the letter and manifest sent, comments, a
// pending invitation, a webhook with its deliveries, the event feed, the audit chain)
// from SQLite to PostgreSQL and back, encrypted to an age recipient, into an
// installation with another master key, and compares everything its users see through
// the API, byte for byte for files (so every sealed text and file opens there); the
// audit chain verifies after import, and the webhook still signs with the secret shown
// at its creation. No text of the tenant's can be found in the export file. A damaged
// export, and one for a tenant that exists, are refused before anything is written.
func TestTenantExportImportRoundTrip(t *testing.T) {
	for _, c := range []struct{ from, to database.Dialect }{{database.SQLite, database.Postgres}, {database.Postgres, database.SQLite}} {
		t.Run(string(c.from)+"-to-"+string(c.to), func(t *testing.T) {
			srcDB, dstDB := dbtest.New(t, c.from), dbtest.New(t, c.to)
			src := newDispatchHarness(t, srcDB, dispatch.Outbox{Dir: t.TempDir()})
			w := src.world()
			rcv, rsrv := newReceiver(t)
			var ep struct{ ID, Secret string }
			w.adminA.must(201, "POST", "/api/v1/tenants/alpha/webhooks", map[string]any{"url": rsrv.URL, "events": []string{"*"}}).json(t, &ep)
			rcv.mu.Lock()
			rcv.secret = ep.Secret
			rcv.mu.Unlock()
			w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
			approveAndWait(t, w, w.submissionA.ID, workflow.Dispatched)
			// The ILO's answer, and the mailbox it came from.
			if _, ok, err := src.wf.ImportCorrespondence(context.Background(), workflow.IncomingMessage{TenantID: w.tenantA.ID, CaseID: w.caseA.ID,
				MatchedBy: "case_number", MessageID: "<rt-3386@ilo.org>", FromAddress: "cfa@ilo.org", FromName: "CFA " + secretMarker,
				Subject: "Case No. 3386 " + secretMarker, Body: "The Committee requests further information " + secretMarker,
				Auth:  workflow.MessageAuth{Source: "verified", DMARC: "fail", Warning: true},
				Files: []workflow.IncomingFile{{Name: "note " + secretMarker + ".txt", ContentType: "text/plain", Body: strings.NewReader("note " + secretMarker)}}}); err != nil || !ok {
				t.Fatalf("import: %v %v", ok, err)
			}
			w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/mailbox", map[string]any{"enabled": false, "host": "imap.alpha.test", "port": 993,
				"tls": "implicit", "username": "cfa", "password": "mailbox " + secretMarker})
			w.adminA.must(201, "POST", "/api/v1/tenants/alpha/users", map[string]any{"email": "newcomer@alpha.test", "name": "Newcomer",
				"password": testPassword, "organization_id": w.orgA2.ID, "roles": []string{"viewer"}})
			for deadline := time.Now().Add(30 * time.Second); len(rcv.accepted()) < 2; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d webhook events accepted", len(rcv.accepted()))
				}
			}

			operator, err := age.GenerateX25519Identity()
			if err != nil {
				t.Fatal(err)
			}
			archive := filepath.Join(t.TempDir(), "alpha.tar.gz.age")
			f, err := os.Create(archive)
			if err != nil {
				t.Fatal(err)
			}
			m, err := src.services.Export(context.Background(), "alpha", f, []age.Recipient{operator.Recipient()}, nil)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			if len(m.Files) < 3 || len(m.Tables) < 20 {
				t.Fatalf("the export holds %d files and %d tables", len(m.Files), len(m.Tables))
			}
			raw, err := os.ReadFile(archive)
			if err != nil {
				t.Fatal(err)
			}
			assertNothingInClear(t, raw, operator, secretMarker, ep.Secret)

			// Another installation, with its own master key and superadmin.
			dst := newPortalHarnessMaster(t, dstDB, dispatch.Options{}, testWebhookOptions, true, nil, keys.NewMaster(), testInboundOptions)
			dst.superadmin()
			in, err := os.Open(archive)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			if _, err := dst.services.Import(context.Background(), in, []age.Identity{operator}, nil); err != nil {
				t.Fatal(err)
			}
			if err := dst.keys.Check(context.Background()); err != nil {
				t.Fatalf("the target's master key after import: %v", err)
			}
			if brk, n, err := audit.Verify(context.Background(), dstDB, w.tenantA.ID); err != nil || brk != nil || n < 10 {
				t.Fatalf("audit verify after import: %v, %+v, %d events", err, brk, n)
			}
			// Imported again: refused (the tenant exists), and nothing changes.
			if _, err := dst.services.Import(context.Background(), in, []age.Identity{operator}, nil); !errors.Is(err, portal.ErrBadExport) {
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

			// The target delivers the webhook again, signed with the secret shown at its
			// creation (the receiver refuses anything else).
			admin := dst.login("admin@alpha.test")
			var attempts struct{ Items []webhook.Attempt }
			admin.must(200, "GET", "/api/v1/tenants/alpha/webhooks/"+ep.ID+"/deliveries", nil).json(t, &attempts)
			var delivered *webhook.Attempt
			for i := range attempts.Items {
				if attempts.Items[i].Status == webhook.StatusDelivered {
					delivered = &attempts.Items[i]
				}
			}
			if delivered == nil {
				t.Fatalf("no delivered attempt among %d imported", len(attempts.Items))
			}
			admin.must(202, "POST", "/api/v1/tenants/alpha/webhooks/"+ep.ID+"/deliveries/"+delivered.ID+"/redeliver", nil)
			waitUntil(t, "the redelivery from the target", func() bool {
				rcv.mu.Lock()
				defer rcv.mu.Unlock()
				return rcv.dups[delivered.EventID] > 0
			})
		})
	}
}

// TestImportRefusesDamagedExports: a flipped byte anywhere, or a missing entry, is
// refused before anything is written.
func TestImportRefusesDamagedExports(t *testing.T) {
	db := dbtest.New(t, database.SQLite)
	src := newPortalHarness(t, db, dispatch.Options{}, false)
	src.world()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	with := []age.Identity{id}
	var buf bytes.Buffer
	if _, err := src.services.Export(context.Background(), "alpha", &buf, []age.Recipient{id.Recipient()}, nil); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	dst := newPortalHarness(t, dbtest.New(t, database.SQLite), dispatch.Options{}, false)
	for _, at := range []int{len(good) / 3, len(good) / 2, len(good) - 40, len(good) - 1} {
		bad := bytes.Clone(good)
		bad[at] ^= 0x20
		if _, err := dst.services.Import(context.Background(), bytes.NewReader(bad), with, nil); !errors.Is(err, portal.ErrBadExport) {
			t.Errorf("a byte flipped at %d of %d: %v", at, len(good), err)
		}
	}
	for _, n := range []int{len(good) / 2, len(good) - 17} {
		if _, err := dst.services.Import(context.Background(), bytes.NewReader(good[:n]), with, nil); !errors.Is(err, portal.ErrBadExport) {
			t.Errorf("the first %d bytes of %d: %v", n, len(good), err)
		}
	}
	if _, err := dst.services.Import(context.Background(), bytes.NewReader([]byte("\x1f\x8b\x08 a gzip file in clear")), with, nil); !errors.Is(err, portal.ErrBadExport) {
		t.Errorf("a file in clear: %v", err)
	}
	if n := rowCount(t, dst.db, "tenants"); n != 0 {
		t.Errorf("%d tenants after refused imports", n)
	}
	if _, err := dst.services.Import(context.Background(), bytes.NewReader(good), with, nil); err != nil {
		t.Fatalf("the intact export: %v", err)
	}
}

// TestEncryptedExport: an export is encrypted, here with a passphrase: the marker in a
// title, a body, a comment and an evidence file, and the webhook's secret, are nowhere
// in the file, raw or decompressed. Without a recipient nothing is exported; with a
// wrong passphrase or key nothing is imported; with the right passphrase, an
// installation with another master key reads every text and file back.
func TestEncryptedExport(t *testing.T) {
	ctx := context.Background()
	src := newPortalHarness(t, dbtest.New(t, database.SQLite), dispatch.Options{}, false)
	w := src.world()
	var ep struct{ ID, Secret string }
	w.adminA.must(201, "POST", "/api/v1/tenants/alpha/webhooks", map[string]any{"url": "https://93.184.215.14/hooks", "events": []string{"*"}}).json(t, &ep)
	var atts struct{ Items []workflow.Attachment }
	w.editorA1.must(200, "GET", subPath(w.submissionA.ID, "/attachments"), nil).json(t, &atts)
	if len(atts.Items) != 1 {
		t.Fatalf("%d attachments", len(atts.Items))
	}

	if _, err := src.services.Export(ctx, "alpha", io.Discard, nil, nil); !errors.Is(err, portal.ErrNoRecipient) {
		t.Errorf("an export without a recipient: %v", err)
	}
	const passphrase = "a passphrase for the move to PostgreSQL"
	to, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		t.Fatal(err)
	}
	to.SetWorkFactor(12) // fast, for the test
	var buf bytes.Buffer
	if _, err := src.services.Export(ctx, "alpha", &buf, []age.Recipient{to}, nil); err != nil {
		t.Fatal(err)
	}
	right, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		t.Fatal(err)
	}
	assertNothingInClear(t, buf.Bytes(), right, secretMarker, ep.Secret)

	dst := newPortalHarnessMaster(t, dbtest.New(t, database.SQLite), dispatch.Options{}, testWebhookOptions, false, nil, keys.NewMaster(), testInboundOptions)
	wrong, err := age.NewScryptIdentity(passphrase + "!")
	if err != nil {
		t.Fatal(err)
	}
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	for name, with := range map[string][]age.Identity{"a wrong passphrase": {wrong}, "an X25519 key": {other}, "nothing": nil} {
		if _, err := dst.services.Import(ctx, bytes.NewReader(buf.Bytes()), with, nil); !errors.Is(err, portal.ErrExportKey) || strings.Contains(err.Error(), "\n") {
			t.Errorf("imported with %s: %v", name, err)
		}
	}
	if n := rowCount(t, dst.db, "tenants") + rowCount(t, dst.db, "tenant_keys"); n != 0 {
		t.Errorf("%d rows after refused imports", n)
	}
	if _, err := dst.services.Import(ctx, bytes.NewReader(buf.Bytes()), []age.Identity{other, right}, nil); err != nil {
		t.Fatalf("with the passphrase: %v", err)
	}

	editor := dst.login("editor@alpha.test")
	var sub workflow.SubmissionView
	editor.must(200, "GET", subPath(w.submissionA.ID, ""), nil).json(t, &sub)
	if sub.Title != w.submissionA.Title || !strings.Contains(sub.Body, secretMarker) {
		t.Errorf("after import: %q, %q", sub.Title, sub.Body)
	}
	if b := editor.must(200, "GET", subPath(w.submissionA.ID, "/comments"), nil).Body.String(); !strings.Contains(b, "date of the arrest "+secretMarker) {
		t.Errorf("comments after import: %s", b)
	}
	if b := editor.must(200, "GET", "/api/v1/tenants/alpha/attachments/"+atts.Items[0].ID+"/content", nil).Body.String(); b != "Statement of "+secretMarker+"\n" {
		t.Errorf("the evidence after import: %q", b)
	}
}

// assertNothingInClear checks that none of markers is in an export file, raw or
// decompressed from wherever a gzip stream might start, and that they are in it once
// decrypted with id (so that the search could have found them).
func assertNothingInClear(t *testing.T, export []byte, id age.Identity, markers ...string) {
	t.Helper()
	views := [][]byte{export}
	for i := 0; i+3 <= len(export); i++ {
		if i == 0 || bytes.HasPrefix(export[i:], []byte{0x1f, 0x8b, 0x08}) {
			if gz, err := gzip.NewReader(bytes.NewReader(export[i:])); err == nil {
				b, _ := io.ReadAll(io.LimitReader(gz, 64<<20))
				views = append(views, b)
			}
		}
	}
	for _, v := range views {
		for _, m := range markers {
			if bytes.Contains(v, []byte(m)) {
				t.Errorf("%q is in the export in clear", m)
			}
		}
	}
	plain, err := age.Decrypt(bytes.NewReader(export), id)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(plain)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(gz); err != nil || !bytes.Contains(b, []byte(markers[0])) {
		t.Errorf("the decrypted export does not hold %q (%v): the search proves nothing", markers[0], err)
	}
}

// visiblePaths lists what a user may read of tenant alpha: every list, every item in it,
// and the files.
func visiblePaths(t *testing.T, c *client) []string {
	t.Helper()
	const a = "/api/v1/tenants/alpha"
	paths := []string{"/api/v1/me", a, a + "/organizations", a + "/users", a + "/invitations", a + "/settings", a + "/sender-domains",
		a + "/cases", a + "/submissions", a + "/events", a + "/webhooks", a + "/mailbox", a + "/due"}
	var cases struct{ Items []struct{ ID string } }
	c.must(200, "GET", a+"/cases", nil).json(t, &cases)
	for _, cs := range cases.Items {
		paths = append(paths, a+"/cases/"+cs.ID+"/correspondence")
		var thread struct {
			Items []struct {
				Correspondence *struct {
					ID    string
					Files []struct{ ID string }
				}
			}
		}
		c.must(200, "GET", a+"/cases/"+cs.ID+"/correspondence", nil).json(t, &thread)
		for _, e := range thread.Items {
			if it := e.Correspondence; it != nil {
				paths = append(paths, a+"/correspondence/"+it.ID)
				for _, f := range it.Files {
					paths = append(paths, a+"/correspondence/"+it.ID+"/files/"+f.ID)
				}
			}
		}
	}
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
	volatile = regexp.MustCompile(`"(csrf_token|last_login_at|last_used_at|request_id|step_up_until)":("[^"]*"|null),?`)
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
