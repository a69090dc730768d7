package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/internal/testrig"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

// restMarker is put in everything that must be encrypted at rest: a body, an evidence
// file, comments; never in a title, which stays in clear.
const restMarker = "ARRESTED-ORGANISER-4417"

// atRestDB opens a fresh database of dialect d that the test can dump whole.
func atRestDB(t *testing.T, d database.Dialect) (*database.DB, database.Target) {
	t.Helper()
	target := dbtest.Target(t, d)
	db, err := database.Open(context.Background(), target, database.Options{MaxOpenConns: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return db, target
}

// dumpDatabase returns a full dump of the database: pg_dump's, or the SQLite file
// with its write-ahead log folded in.
func dumpDatabase(t *testing.T, db *database.DB, target database.Target) []byte {
	t.Helper()
	if target.Dialect == database.Postgres {
		bin := testrig.SkipOrFail(t, testrig.EnvPostgresBin, "PostgreSQL binaries")
		out, err := exec.Command(filepath.Join(bin, "pg_dump"), "--format=plain", target.DSN).Output()
		if err != nil || len(out) < 10000 {
			t.Fatalf("pg_dump: %v (%d bytes)", err, len(out))
		}
		return out
	}
	if err := db.Conn(context.Background()).Exec("PRAGMA wal_checkpoint(TRUNCATE)").Error; err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(target.DSN + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// dumpStore returns every stored object's bytes as stored.
func dumpStore(t *testing.T, store storage.Store) (all []byte, n int) {
	t.Helper()
	ctx := context.Background()
	var infos []storage.Info
	if err := store.List(ctx, "", func(i storage.Info) error { infos = append(infos, i); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, i := range infos {
		obj, err := store.Open(ctx, i.Key)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(obj)
		obj.Close()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all, len(infos)
}

// TestNothingReadableAtRest follows the Case 3386 path (a draft with evidence, a
// comment, approval, dispatch) with restMarker in the text, the evidence and the
// comments, then dumps the database and the store whole: the marker is nowhere, while
// the portal still shows it to those who may read it.
func TestNothingReadableAtRest(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, d database.Dialect) {
		eachStore(t, func(t *testing.T, store storage.Store) {
			db, target := atRestDB(t, d)
			h := newPortalHarnessStore(t, db, dispatch.Options{Sender: dispatch.Outbox{Dir: t.TempDir()},
				PollInterval: 50 * time.Millisecond, RetryBase: 200 * time.Millisecond}, testWebhookOptions, true, use(store))
			w := h.world()
			w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
			var sub workflow.SubmissionView
			w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{
				"case_id": w.caseA.ID, "kind": "additional_information", "title": "Update on Case No. 3386",
				"body": "The organiser " + restMarker + " was arrested on 3 March.", "language": "en"}).json(t, &sub)
			w.editorA1.upload(201, sub.ID, "statement of "+restMarker+".txt", "text/plain", []byte("Statement of "+restMarker+"\n"))
			pdf := bytes.Replace(pdfFile, []byte("%%EOF"), []byte("% "+restMarker+"\n%%EOF"), 1)
			w.editorA1.upload(201, sub.ID, "statement.pdf", "application/pdf", pdf)
			w.editorA1.must(200, "POST", subPath(sub.ID, "/transitions"), map[string]string{"action": "submit"})
			w.reviewerA.must(201, "POST", subPath(sub.ID, "/comments"), map[string]any{"body": "Confirm the date for " + restMarker})
			w.reviewerA.must(200, "POST", subPath(sub.ID, "/transitions"), map[string]string{"action": "start_review"})
			approveAndWait(t, w, sub.ID, workflow.Dispatched)

			// Those who may read it still do.
			for _, path := range []string{subPath(sub.ID), subPath(sub.ID, "/comments"), subPath(sub.ID, "/revisions/1")} {
				if r := w.reviewerA.must(200, "GET", path, nil); !strings.Contains(r.Body.String(), restMarker) {
					t.Errorf("GET %s lacks the marker: %s", path, clip(r.Body.String()))
				}
			}
			var atts struct{ Items []workflow.Attachment }
			w.editorA1.must(200, "GET", subPath(sub.ID, "/attachments"), nil).json(t, &atts)
			for _, a := range atts.Items {
				if r := w.editorA1.must(200, "GET", "/api/v1/tenants/alpha/attachments/"+a.ID+"/content", nil); !strings.Contains(r.Body.String(), restMarker) {
					t.Errorf("%s downloaded lacks the marker", a.FileName)
				}
			}

			dump := dumpDatabase(t, db, target)
			if !bytes.Contains(dump, []byte("Update on Case No. 3386")) {
				t.Fatal("the dump lacks the title, which stays in clear: it is not a dump of this database")
			}
			if i := bytes.Index(dump, []byte(restMarker)); i >= 0 {
				t.Errorf("the database dump contains the marker: …%q…", dump[max(0, i-200):i+len(restMarker)])
			}
			objects, n := dumpStore(t, store)
			if n < 5 { // two files, the letter, the manifest, the fixture's file
				t.Errorf("%d objects stored", n)
			}
			if i := bytes.Index(objects, []byte(restMarker)); i >= 0 {
				t.Errorf("the store contains the marker: …%q…", objects[max(0, i-100):i+len(restMarker)])
			}
		})
	})
}

// TestMovedCiphertextFails: a sealed text copied to another row, submission or tenant,
// or a file copied under another key, does not decrypt. The client gets a bare 500; the
// log and the tenant's audit trail say what failed.
func TestMovedCiphertextFails(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		h := newHarness(t, db)
		w := h.world()
		var other, beta workflow.SubmissionView
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{
			"case_id": w.caseA.ID, "kind": "additional_information", "title": "Other", "body": "other text", "language": "en"}).json(t, &other)
		w.super.must(201, "POST", "/api/v1/tenants/beta/users", map[string]any{"email": "editor@beta.test", "name": "Editor B",
			"password": testPassword, "organization_id": w.orgB.ID, "roles": []string{"editor"}})
		editorB := h.login("editor@beta.test")
		editorB.must(201, "POST", "/api/v1/tenants/beta/submissions", map[string]any{
			"case_id": w.caseB(t, h), "kind": "additional_information", "title": "Beta", "body": "beta text", "language": "en"}).json(t, &beta)
		body := func(table, id string) string {
			var s string
			if err := db.Conn(ctx).Table(table).Where("id = ?", id).Pluck("body", &s).Error; err != nil {
				t.Fatal(err)
			}
			return s
		}
		setBody := func(table, id, v string) {
			if err := db.Conn(ctx).Table(table).Where("id = ?", id).Update("body", v).Error; err != nil {
				t.Fatal(err)
			}
		}
		events := func() int64 {
			var n int64
			db.Conn(ctx).Table("events").Where("action = 'data.undecryptable' AND tenant_id = ?", w.tenantA.ID).Count(&n)
			return n
		}
		expect500 := func(what string, c *client, path string) {
			t.Helper()
			before := events()
			r := c.do("GET", path, nil)
			if r.Code != 500 || strings.Contains(r.Body.String(), "decrypt") || strings.Contains(r.Body.String(), "enc1") {
				t.Errorf("%s: %d %s", what, r.Code, r.Body.String())
			}
			if events() != before+1 {
				t.Errorf("%s: not audited", what)
			}
		}
		// A body moved to another submission of the same tenant.
		sealed := body("submissions", w.submissionA.ID)
		if !keys.IsSealed(sealed) {
			t.Fatalf("stored body %q", sealed)
		}
		original := body("submissions", other.ID)
		setBody("submissions", other.ID, sealed)
		expect500("a body moved to another submission", w.editorA1, subPath(other.ID))
		setBody("submissions", other.ID, original)
		w.editorA1.must(200, "GET", subPath(other.ID), nil)

		// A comment moved to another row of the same submission.
		w.reviewerA.must(201, "POST", subPath(w.submissionA.ID, "/comments"), map[string]any{"body": "second"})
		var cs struct{ Items []workflow.Comment }
		w.reviewerA.must(200, "GET", subPath(w.submissionA.ID, "/comments"), nil).json(t, &cs)
		if len(cs.Items) < 2 {
			t.Fatalf("%d comments", len(cs.Items))
		}
		first := body("comments", cs.Items[0].ID)
		setBody("comments", cs.Items[1].ID, first)
		expect500("a comment moved to another row", w.reviewerA, subPath(w.submissionA.ID, "/comments"))

		// A body moved to another tenant's submission.
		setBody("submissions", beta.ID, sealed)
		before := events()
		if r := editorB.do("GET", "/api/v1/tenants/beta/submissions/"+beta.ID, nil); r.Code != 500 {
			t.Errorf("a body moved to another tenant: %d %s", r.Code, r.Body.String())
		}
		var n int64
		db.Conn(ctx).Table("events").Where("action = 'data.undecryptable' AND tenant_id = ?", w.tenantB.ID).Count(&n)
		if n != 1 || events() != before {
			t.Errorf("a body moved to another tenant: audited %d times in its tenant's trail", n)
		}

		// A file copied over another submission's file.
		var atts struct{ Items []workflow.Attachment }
		w.editorA1.must(200, "GET", subPath(w.submissionA.ID, "/attachments"), nil).json(t, &atts)
		w.editorA1.upload(201, other.ID, "other.txt", "text/plain", []byte("other file\n"))
		var otherAtts struct{ Items []workflow.Attachment }
		w.editorA1.must(200, "GET", subPath(other.ID, "/attachments"), nil).json(t, &otherAtts)
		var srcKey, dstKey string
		db.Conn(ctx).Table("attachments").Where("id = ?", atts.Items[0].ID).Pluck("object_key", &srcKey)
		db.Conn(ctx).Table("attachments").Where("id = ?", otherAtts.Items[0].ID).Pluck("object_key", &dstKey)
		obj, err := h.store.Open(ctx, srcKey)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(obj)
		obj.Close()
		if err := h.store.Put(ctx, dstKey, bytes.NewReader(raw), int64(len(raw)), ""); err != nil {
			t.Fatal(err)
		}
		expect500("a file copied over another submission's", w.editorA1, "/api/v1/tenants/alpha/attachments/"+otherAtts.Items[0].ID+"/content")
	})
}

// TestEncryptExisting: what an installation stored before encryption at rest (texts
// and files in clear) is read as it is, and `admin encrypt-existing` (the workflow's
// and the dispatch's EncryptExisting) encrypts it, resuming after an interruption,
// without changing what anyone reads.
func TestEncryptExisting(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, d database.Dialect) {
		eachStore(t, func(t *testing.T, store storage.Store) {
			ctx := context.Background()
			db, target := atRestDB(t, d)
			h := newPortalHarnessStore(t, db, dispatch.Options{Sender: dispatch.Outbox{Dir: t.TempDir()},
				PollInterval: 50 * time.Millisecond, RetryBase: 200 * time.Millisecond}, testWebhookOptions, true, use(store))
			w := h.world()
			w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
			d := approveAndWait(t, w, w.submissionA.ID, workflow.Dispatched)
			paths := []string{subPath(w.submissionA.ID), subPath(w.submissionA.ID, "/comments"), subPath(w.submissionA.ID, "/revisions/1"),
				"/api/v1/tenants/alpha/dispatches/" + d.ID + "/letter.pdf", "/api/v1/tenants/alpha/dispatches/" + d.ID + "/manifest.json"}
			var atts struct{ Items []workflow.Attachment }
			w.editorA1.must(200, "GET", subPath(w.submissionA.ID, "/attachments"), nil).json(t, &atts)
			for _, a := range atts.Items {
				paths = append(paths, "/api/v1/tenants/alpha/attachments/"+a.ID+"/content")
			}
			answers := func() []string {
				var out []string
				for _, p := range paths {
					out = append(out, normalizeTimes(w.reviewerA.must(200, "GET", p, nil).Body.String(), p))
				}
				return out
			}
			want := answers()

			// Turn the installation back into one from before encryption at rest.
			files := h.keys.Files(store)
			open := func(tenantID, submissionID, sealed, table, column, rowID string) string {
				k, err := h.keys.ExistingSubmissionKey(ctx, tenantID, submissionID)
				if err != nil {
					t.Fatal(err)
				}
				plain, err := keys.OpenField(k, sealed, tenantID, table, column, rowID)
				if err != nil {
					t.Fatalf("%s.%s of %s: %v", table, column, rowID, err)
				}
				return plain
			}
			for _, tc := range [][2]string{{"submissions", "body"}, {"revisions", "body"}, {"comments", "body"},
				{"attachments", "file_name"}, {"attachments", "metadata_found"}} {
				table, column := tc[0], tc[1]
				var rows []struct{ ID, TenantID, SubmissionID, Body string }
				col := "submission_id"
				if table == "submissions" {
					col = "id"
				}
				db.Conn(ctx).Table(table).Select("id, tenant_id, " + col + " AS submission_id, " + column + " AS body").Where(column + " <> ''").Scan(&rows)
				for _, r := range rows {
					db.Conn(ctx).Table(table).Where("id = ?", r.ID).Update(column, open(r.TenantID, r.SubmissionID, r.Body, table, column, r.ID))
				}
			}
			var revs []struct{ ID, TenantID, SubmissionID, Attachments string }
			db.Conn(ctx).Table("revisions").Select("id, tenant_id, submission_id, attachments").Scan(&revs)
			for _, r := range revs {
				var snaps []workflow.AttachmentSnap
				if err := json.Unmarshal([]byte(r.Attachments), &snaps); err != nil {
					t.Fatal(err)
				}
				for i := range snaps {
					snaps[i].FileName = open(r.TenantID, r.SubmissionID, snaps[i].FileName, "attachments", "file_name", snaps[i].ID)
				}
				db.Conn(ctx).Table("revisions").Where("id = ?", r.ID).Update("attachments", string(mustJSON(t, snaps)))
			}
			inClear := func(table, idCol, tenantCol, subCol, keyCol string) {
				var rows []struct{ ID, TenantID, SubmissionID, Key string }
				db.Conn(ctx).Table(table).Select(idCol + " AS id, " + tenantCol + " AS tenant_id, " + subCol + " AS submission_id, " + keyCol + " AS key").
					Where(keyCol + " <> ''").Scan(&rows)
				for _, r := range rows {
					obj, err := files.Open(ctx, r.TenantID, r.SubmissionID, r.Key)
					if err != nil {
						t.Fatal(err)
					}
					b, _ := io.ReadAll(obj)
					obj.Close()
					plainKey := strings.TrimSuffix(r.Key, keys.SealedSuffix)
					if err := store.Put(ctx, plainKey, bytes.NewReader(b), int64(len(b)), ""); err != nil {
						t.Fatal(err)
					}
					db.Conn(ctx).Table(table).Where(idCol+" = ?", r.ID).Update(keyCol, plainKey)
					store.Delete(ctx, r.Key)
				}
			}
			inClear("attachments", "id", "tenant_id", "submission_id", "object_key")
			inClear("dispatches", "id", "tenant_id", "submission_id", "letter_key")
			inClear("dispatches", "id", "tenant_id", "submission_id", "manifest_key")
			if texts, n, _ := h.wf.PlaintextLeft(ctx); texts < 6 || n < 1 {
				t.Fatalf("legacy installation: %d texts, %d files in clear", texts, n)
			}
			if got := answers(); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("texts and files in clear read differently:\n%v\n%v", got, want)
			}

			// Interrupted after its first batch of texts, then run again.
			cut, cancel := context.WithCancel(ctx)
			if _, err := h.wf.EncryptExisting(cut, func(workflow.EncryptProgress) { cancel() }); err == nil {
				t.Fatal("the interrupted run reported no error")
			}
			p, err := h.wf.EncryptExisting(ctx, func(workflow.EncryptProgress) {})
			if err != nil || p.Files < 1 || len(p.Mismatched) != 0 {
				t.Fatalf("encrypt-existing: %+v %v", p, err)
			}
			if n, err := h.services.Dispatch.EncryptExisting(ctx, func(int) {}); err != nil || n != 2 {
				t.Fatalf("dispatch encrypt-existing: %d %v", n, err)
			}
			texts, n, err := h.wf.PlaintextLeft(ctx)
			sent, err2 := h.services.Dispatch.PlaintextLeft(ctx)
			if texts+n+sent != 0 || err != nil || err2 != nil {
				t.Errorf("left in clear: %d texts, %d files, %d dispatches (%v %v)", texts, n, sent, err, err2)
			}
			if got := answers(); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("encrypted texts and files read differently:\n%v\n%v", got, want)
			}
			// Nothing in clear stays behind.
			store.List(ctx, "", func(i storage.Info) error {
				if !keys.IsSealedObject(i.Key) {
					t.Errorf("an object in clear remains: %s", i.Key)
				}
				return nil
			})
			if dump := dumpDatabase(t, db, target); bytes.Contains(dump, []byte("The union leader")) || bytes.Contains(dump, []byte("date of the arrest")) ||
				bytes.Contains(dump, []byte("witness statement")) {
				t.Error("the database still holds a text in clear")
			}
			if objects, _ := dumpStore(t, store); bytes.Contains(objects, []byte("Statement of")) {
				t.Error("the store still holds a file in clear")
			}
		})
	})
}

// TestMasterKeyRotationKeepsDataReadable: after admin rotate-master-key (RotateMaster
// under a new master key, the old one given as previous), a portal holding only the new
// key answers exactly as before, texts and files included; the old key alone no longer
// opens the installation.
func TestMasterKeyRotationKeepsDataReadable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		h := newHarness(t, db)
		w := h.world()
		var atts struct{ Items []workflow.Attachment }
		w.editorA1.must(200, "GET", subPath(w.submissionA.ID, "/attachments"), nil).json(t, &atts)
		paths := []string{subPath(w.submissionA.ID), subPath(w.submissionA.ID, "/comments"), subPath(w.submissionA.ID, "/revisions"),
			subPath(w.submissionA.ID, "/revisions/1"), subPath(w.submissionA.ID, "/attachments"),
			"/api/v1/tenants/alpha/attachments/" + atts.Items[0].ID + "/content"}
		answers := func() (out []string) {
			for _, p := range paths {
				out = append(out, w.editorA1.must(200, "GET", p, nil).Body.String())
			}
			return out
		}
		before := answers()
		next := keys.NewMaster()
		if n, err := keys.NewService(db, next, testMaster).RotateMaster(ctx); err != nil || n < 1 {
			t.Fatalf("rotate: %d %v", n, err)
		}
		rotated := keys.NewService(db, next)
		if err := rotated.Check(ctx); err != nil {
			t.Fatal(err)
		}
		h.wf = workflow.NewService(db, workflow.Options{Now: h.clock.Now, Storage: h.store, Keys: rotated})
		h.srv = New(Options{Auth: h.auth, Workflow: h.wf})
		if after := answers(); strings.Join(after, "\n") != strings.Join(before, "\n") {
			t.Errorf("after rotation:\n%v\nbefore:\n%v", after, before)
		}
		if err := keys.NewService(db, testMaster).Check(ctx); err == nil {
			t.Error("the former master key alone still opens the installation")
		}
	})
}
