package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unionportal/unionportal/clamd"
	"github.com/unionportal/unionportal/clamd/clamdtest"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/internal/testrig"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

// Small real files of each kind, built in code.
var (
	pdfFile  = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	pngFile  = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), make([]byte, 64)...)
	htmlFile = []byte("<!DOCTYPE html><html><script>alert(1)</script></html>")
	exeFile  = append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00"), make([]byte, 200)...)
)

// eachStore runs fn with local storage and with a fresh bucket on the rig's MinIO.
func eachStore(t *testing.T, fn func(t *testing.T, store storage.Store)) {
	t.Run("local", func(t *testing.T) {
		s, err := storage.NewLocal(filepath.Join(t.TempDir(), "files"))
		if err != nil {
			t.Fatal(err)
		}
		fn(t, s)
	})
	t.Run("s3", func(t *testing.T) {
		endpoint := testrig.SkipOrFail(t, testrig.EnvS3Endpoint, "MinIO")
		s, err := storage.NewS3(context.Background(), storage.S3Config{Endpoint: endpoint,
			Bucket: "t-" + strings.ToLower(rand.Text()[:16]), AccessKey: os.Getenv(testrig.EnvS3AccessKey), SecretKey: os.Getenv(testrig.EnvS3SecretKey)})
		if err != nil {
			t.Fatal(err)
		}
		fn(t, s)
	})
}

func newHarnessWithStore(t testing.TB, db *database.DB, store storage.Store) *harness {
	h := newHarness(t, db)
	h.wf = workflow.NewService(db, workflow.Options{Now: h.clock.Now, Storage: store, Keys: h.keys,
		Limits: workflow.Limits{MaxFileBytes: 1 << 20, MaxSubmissionBytes: 3 << 20}})
	h.store = store
	h.srv = New(Options{Auth: h.auth, Workflow: h.wf})
	return h
}

func objects(t *testing.T, s storage.Store) []string {
	t.Helper()
	var keys []string
	if err := s.List(context.Background(), "", func(i storage.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return keys
}

func rowCount(t *testing.T, db *database.DB, table string) int64 {
	t.Helper()
	var n int64
	db.Conn(context.Background()).Table(table).Count(&n)
	return n
}

func TestAttachments(t *testing.T) {
	eachStore(t, func(t *testing.T, store storage.Store) {
		dbtest.Each(t, func(t *testing.T, db *database.DB) {
			h := newHarnessWithStore(t, db, store)
			w := h.world()
			var draft workflow.SubmissionView
			w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
				"kind": "additional_information", "title": "With evidence", "body": "See the files.", "language": "en"}).json(t, &draft)
			baseObjects, baseRows := len(objects(t, store)), rowCount(t, db, "attachments")

			// Upload, with the name kept for display only.
			var att workflow.Attachment
			w.editorA1.upload(201, draft.ID, `..\\..\\Заявление профсоюза.pdf`, "application/pdf", pdfFile).json(t, &att)
			sum := sha256.Sum256(pdfFile)
			if att.FileName != "Заявление профсоюза.pdf" || att.Size != int64(len(pdfFile)) ||
				att.SHA256 != hex.EncodeToString(sum[:]) || att.ContentType != "application/pdf" {
				t.Fatalf("attachment %+v", att)
			}
			keys := objects(t, store)
			wantKey := "tenants/" + w.tenantA.ID + "/submissions/" + draft.ID + "/" + att.ID
			if len(keys) != baseObjects+1 || !strings.Contains(strings.Join(keys, " "), wantKey) {
				t.Errorf("objects %v, want one more with key %s", keys, wantKey)
			}

			// Download: whole, ranged, as an attachment with an RFC 6266 name.
			r := w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/attachments/"+att.ID+"/content", nil)
			if !bytes.Equal(r.Body.Bytes(), pdfFile) || r.Header().Get("Content-Type") != "application/pdf" ||
				!strings.HasPrefix(r.Header().Get("Content-Disposition"), "attachment; filename=") ||
				!strings.Contains(r.Header().Get("Content-Disposition"), "filename*=UTF-8''%D0%97") ||
				r.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("download: %q %v", r.Body.String()[:10], r.Header())
			}
			rr := w.reviewerA.doWithHeaders("GET", "/api/v1/tenants/alpha/attachments/"+att.ID+"/content", nil, map[string]string{"Range": "bytes=5-9"})
			if rr.Code != http.StatusPartialContent || rr.Body.String() != string(pdfFile[5:10]) {
				t.Errorf("range: %d %q", rr.Code, rr.Body)
			}
			w.editorA2.must(404, "GET", "/api/v1/tenants/alpha/attachments/"+att.ID+"/content", nil)
			w.adminB.must(404, "GET", "/api/v1/tenants/alpha/attachments/"+att.ID+"/content", nil)
			if redirect := w.reviewerA.do("GET", "/api/v1/tenants/alpha/attachments/"+att.ID+"/content?redirect=1", nil); redirect.Code == http.StatusFound {
				resp, err := http.Get(redirect.Header().Get("Location"))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !bytes.Equal(b, pdfFile) {
					t.Errorf("presigned download differs")
				}
			} else if redirect.Code != 200 {
				t.Errorf("?redirect=1: %d", redirect.Code)
			}

			// Refusals, each leaving nothing behind.
			before, beforeRows := len(objects(t, store)), rowCount(t, db, "attachments")
			refuse := func(name string, status int, code string, send func() response) {
				t.Helper()
				r := send()
				if r.Code != status {
					t.Errorf("%s: %d, want %d: %s", name, r.Code, status, r.Body)
					return
				}
				if p := r.problem(t); code != "" && p["code"] != code {
					t.Errorf("%s: code %v, want %s", name, p["code"], code)
				}
			}
			big := make([]byte, 1<<20+1)
			copy(big, pdfFile)
			refuse("too large", 413, "file_too_large", func() response { return w.editorA1.upload(0, draft.ID, "big.pdf", "application/pdf", big) })
			refuse("html", 415, "file_type_refused", func() response { return w.editorA1.upload(0, draft.ID, "page.html", "text/html", htmlFile) })
			refuse("exe", 415, "file_type_refused", func() response { return w.editorA1.upload(0, draft.ID, "x.pdf", "", exeFile) })
			refuse("declared type contradicts", 415, "file_type_mismatch", func() response { return w.editorA1.upload(0, draft.ID, "x.png", "image/png", pdfFile) })
			refuse("empty", 400, "malformed_request", func() response { return w.editorA1.upload(0, draft.ID, "e.txt", "text/plain", nil) })
			refuse("no file field", 400, "malformed_request", func() response {
				var buf bytes.Buffer
				mw := multipart.NewWriter(&buf)
				mw.WriteField("note", "x")
				mw.Close()
				return w.editorA1.rawPost(subPath(draft.ID, "/attachments"), mw.FormDataContentType(), &buf)
			})
			refuse("missing file", 400, "malformed_request", func() response {
				var buf bytes.Buffer
				mw := multipart.NewWriter(&buf)
				mw.Close()
				return w.editorA1.rawPost(subPath(draft.ID, "/attachments"), mw.FormDataContentType(), &buf)
			})
			refuse("two files", 400, "malformed_request", func() response {
				var buf bytes.Buffer
				mw := multipart.NewWriter(&buf)
				for i := 0; i < 2; i++ {
					fw, _ := mw.CreateFormFile("file", fmt.Sprintf("f%d.pdf", i))
					fw.Write(pdfFile)
				}
				mw.Close()
				return w.editorA1.rawPost(subPath(draft.ID, "/attachments"), mw.FormDataContentType(), &buf)
			})
			refuse("wrong boundary", 400, "malformed_request", func() response {
				var buf bytes.Buffer
				mw := multipart.NewWriter(&buf)
				fw, _ := mw.CreateFormFile("file", "a.pdf")
				fw.Write(pdfFile)
				mw.Close()
				return w.editorA1.rawPost(subPath(draft.ID, "/attachments"), "multipart/form-data; boundary=not-the-one", &buf)
			})
			refuse("raw body without a name", 400, "malformed_request", func() response {
				return w.editorA1.rawPost(subPath(draft.ID, "/attachments"), "application/pdf", bytes.NewReader(pdfFile))
			})
			refuse("a viewer", 403, "", func() response { return w.viewerA2.upload(0, draft.ID, "v.pdf", "", pdfFile) })
			refuse("submitted submission", 409, "not_editable", func() response { return w.editorA1.upload(0, w.submissionA.ID, "late.pdf", "", pdfFile) })
			if after := len(objects(t, store)); after != before || rowCount(t, db, "attachments") != beforeRows {
				t.Errorf("refused uploads left %d objects, %d rows", after-before, rowCount(t, db, "attachments")-beforeRows)
			}

			// The submission limit (3 MiB here) counts every file.
			chunk := make([]byte, 1<<20-6) // three of them and the first file pass 3 MiB
			copy(chunk, pdfFile)
			w.editorA1.upload(201, draft.ID, "2.pdf", "", chunk)
			w.editorA1.upload(201, draft.ID, "3.pdf", "", chunk)
			refuse("submission full", 413, "file_too_large", func() response { return w.editorA1.upload(0, draft.ID, "4.pdf", "", chunk) })

			// Submit: the revision lists the files with hashes; they can no longer change.
			w.editorA1.must(200, "POST", subPath(draft.ID, "/transitions"), map[string]string{"action": "submit"})
			var rev workflow.Revision
			w.reviewerA.must(200, "GET", subPath(draft.ID, "/revisions/1"), nil).json(t, &rev)
			if len(rev.Attachments) != 3 || rev.Attachments[0].SHA256 != att.SHA256 {
				t.Fatalf("revision lists %+v", rev.Attachments)
			}
			w.editorA1.must(409, "DELETE", "/api/v1/tenants/alpha/attachments/"+att.ID, nil)
			// Sent back for changes, the editor removes a listed file: the row stays for the
			// revision, the object stays in storage, and it still downloads.
			w.reviewerA.must(200, "POST", subPath(draft.ID, "/transitions"), map[string]string{"action": "request_changes", "comment": "fewer files"})
			w.editorA1.must(204, "DELETE", "/api/v1/tenants/alpha/attachments/"+att.ID, nil)
			var list struct{ Items []workflow.Attachment }
			w.editorA1.must(200, "GET", subPath(draft.ID, "/attachments"), nil).json(t, &list)
			if len(list.Items) != 2 {
				t.Errorf("live attachments %d, want 2", len(list.Items))
			}
			w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/attachments/"+att.ID+"/content", nil)
			// A file added and removed between revisions goes for good.
			var tmp workflow.Attachment
			w.editorA1.upload(201, draft.ID, "tmp.png", "image/png", pngFile).json(t, &tmp)
			n := len(objects(t, store))
			w.editorA1.must(204, "DELETE", "/api/v1/tenants/alpha/attachments/"+tmp.ID, nil)
			if len(objects(t, store)) != n-1 {
				t.Errorf("the removed file's object remains")
			}
			w.reviewerA.must(404, "GET", "/api/v1/tenants/alpha/attachments/"+tmp.ID, nil)
			_ = baseRows
		})
	})
}

func TestDraftDeletionRemovesObjects(t *testing.T) {
	eachStore(t, func(t *testing.T, store storage.Store) {
		db := dbtest.New(t, database.SQLite)
		h := newHarnessWithStore(t, db, store)
		w := h.world()
		var draft workflow.SubmissionView
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
			"kind": "complaint", "title": "Doomed", "body": "b", "language": "en"}).json(t, &draft)
		n := len(objects(t, store))
		w.editorA1.upload(201, draft.ID, "a.pdf", "", pdfFile)
		w.editorA1.upload(201, draft.ID, "b.png", "", pngFile)
		w.editorA1.must(204, "DELETE", subPath(draft.ID), nil)
		if got := len(objects(t, store)); got != n {
			t.Errorf("%d objects after deleting the draft, want %d", got, n)
		}
	})
}

func TestSweepRemovesOrphans(t *testing.T) {
	eachStore(t, func(t *testing.T, store storage.Store) {
		db := dbtest.New(t, database.SQLite)
		h := newHarnessWithStore(t, db, store)
		w := h.world()
		ctx := context.Background()
		// An object whose row was never written (the process died in between).
		orphan := "tenants/" + w.tenantA.ID + "/submissions/" + w.submissionA.ID + "/0190aaaa-0000-7000-8000-000000000000"
		if err := store.Put(ctx, orphan, bytes.NewReader(pdfFile), int64(len(pdfFile)), "application/pdf"); err != nil {
			t.Fatal(err)
		}
		// Too young: an upload may be between object and row.
		if n, err := h.wf.SweepOrphans(ctx, time.Hour); err != nil || n != 0 {
			t.Fatalf("sweep of a young orphan: %d %v", n, err)
		}
		n, err := h.wf.SweepOrphans(ctx, -time.Minute)
		if err != nil || n != 1 {
			t.Fatalf("sweep: %d %v", n, err)
		}
		if _, err := store.Stat(ctx, orphan); err == nil {
			t.Error("the orphan remains")
		}
		// The fixture's real attachment is untouched.
		var l struct{ Items []workflow.Attachment }
		w.reviewerA.must(200, "GET", subPath(w.submissionA.ID, "/attachments"), nil).json(t, &l)
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/attachments/"+l.Items[0].ID+"/content", nil)
	})
}

// TestUploadClientDisconnects cuts the connection half-way through an upload: nothing
// remains, neither row nor object nor temporary file.
func TestUploadClientDisconnects(t *testing.T) {
	eachStore(t, func(t *testing.T, store storage.Store) {
		db := dbtest.New(t, database.SQLite)
		h := newHarnessWithStore(t, db, store)
		w := h.world()
		var draft workflow.SubmissionView
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
			"kind": "complaint", "title": "T", "body": "b", "language": "en"}).json(t, &draft)
		var inflight atomic.Int32
		var reached atomic.Bool
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			inflight.Add(1)
			defer inflight.Add(-1)
			reached.Store(true)
			h.srv.Handler().ServeHTTP(rw, r)
		}))
		defer srv.Close()
		n, rows := len(objects(t, store)), rowCount(t, db, "attachments")

		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		boundary := "b0undary"
		head := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\nCookie: %s=%s\r\nX-CSRF-Token: %s\r\n\r\n",
			subPath(draft.ID, "/attachments"), boundary, 900_000, w.editorA1.cookie.Name, w.editorA1.cookie.Value, w.editorA1.csrf)
		conn.Write([]byte(head))
		conn.Write(pdfFile)
		conn.Write(make([]byte, 200_000))
		time.Sleep(200 * time.Millisecond)
		conn.Close()
		// The handler notices, gives up and cleans up.
		deadline := time.Now().Add(10 * time.Second)
		for !reached.Load() || inflight.Load() > 0 {
			if time.Now().After(deadline) {
				t.Fatal("the upload handler did not finish after the disconnect")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(objects(t, store)) != n || rowCount(t, db, "attachments") != rows {
			t.Fatalf("after a disconnect: %v objects, %d rows", objects(t, store), rowCount(t, db, "attachments"))
		}
		if local, ok := store.(*storage.Local); ok {
			filepath.WalkDir(local.Root(), func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), ".upload-") {
					t.Errorf("a temporary file remains: %s", p)
				}
				return nil
			})
		}
	})
}

// TestUploadWhileMinIOStops stops a private MinIO in the middle of an upload: the
// upload fails with 503 and leaves no row; once MinIO is back, uploads work again.
func TestUploadWhileMinIOStops(t *testing.T) {
	bin := testrig.SkipOrFail(t, testrig.EnvMinIOBin, "the MinIO binary")
	minio, err := testrig.StartMinIO(context.Background(), bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer minio.Stop()
	store, err := storage.NewS3(context.Background(), storage.S3Config{Endpoint: minio.Endpoint, Bucket: "evidence",
		AccessKey: minio.AccessKey, SecretKey: minio.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	db := dbtest.New(t, database.SQLite)
	h := newHarnessWithStore(t, db, store)
	w := h.world()
	var draft workflow.SubmissionView
	w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
		"kind": "complaint", "title": "T", "body": "b", "language": "en"}).json(t, &draft)
	srv := httptest.NewServer(h.srv.Handler())
	defer srv.Close()
	rows := rowCount(t, db, "attachments")

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	req, _ := http.NewRequest("POST", srv.URL+subPath(draft.ID, "/attachments"), pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("X-CSRF-Token", w.editorA1.csrf)
	req.AddCookie(w.editorA1.cookie)
	type result struct {
		status int
		body   string
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{body: err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp.StatusCode, string(b)}
	}()
	fw, _ := mw.CreateFormFile("file", "evidence.pdf")
	fw.Write(pdfFile)
	fw.Write(make([]byte, 300_000))
	time.Sleep(300 * time.Millisecond) // the upload to MinIO has begun
	if err := minio.Stop(); err != nil {
		t.Fatal(err)
	}
	fw.Write(make([]byte, 300_000))
	mw.Close()
	pw.Close()
	select {
	case r := <-done:
		if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "storage_unavailable") {
			t.Errorf("upload with MinIO stopped: %d %s", r.status, r.body)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the upload hangs with MinIO stopped")
	}
	if rowCount(t, db, "attachments") != rows {
		t.Error("a failed upload left a row")
	}
	if err := minio.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.editorA1.upload(201, draft.ID, "evidence.pdf", "", pdfFile)
	var l struct{ Items []workflow.Attachment }
	w.editorA1.must(200, "GET", subPath(draft.ID, "/attachments"), nil).json(t, &l)
	if len(l.Items) != 1 {
		t.Errorf("%d attachments after the retry, want 1", len(l.Items))
	}
	var keys []string
	store.List(context.Background(), "tenants/"+w.tenantA.ID+"/submissions/"+draft.ID+"/", func(i storage.Info) error {
		keys = append(keys, i.Key)
		return nil
	})
	if len(keys) != 1 {
		t.Errorf("objects %v, want the one stored after the restart", keys)
	}
}

func clamdScanner(addr string) workflow.Scanner {
	c := &clamd.Client{Addr: addr}
	return func(ctx context.Context) (workflow.Scan, error) { return c.Start(ctx) }
}

func TestUploadsAreScanned(t *testing.T) {
	db := dbtest.New(t, database.SQLite)
	store, _ := storage.NewLocal(filepath.Join(t.TempDir(), "files"))
	h := newHarness(t, db)
	addr := clamdtest.NewServer(t)
	h.wf = workflow.NewService(db, workflow.Options{Now: h.clock.Now, Storage: store, Keys: h.keys, Scanner: clamdScanner(addr)})
	h.srv = New(Options{Auth: h.auth, Workflow: h.wf})
	w := h.world()
	var draft workflow.SubmissionView
	w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
		"kind": "complaint", "title": "T", "body": "b", "language": "en"}).json(t, &draft)
	n := len(objects(t, store))
	w.editorA1.upload(201, draft.ID, "clean.txt", "text/plain", []byte("a clean statement\n"))
	p := w.editorA1.upload(422, draft.ID, "eicar.txt", "text/plain", []byte(clamdtest.EICAR)).problem(t)
	if p["code"] != "file_infected" {
		t.Errorf("infected upload: %v", p)
	}
	// The same through the raw body and through tus, whose upload the refusal ends.
	raw := w.editorA1.send(http.MethodPost, subPath(draft.ID, "/attachments"), []byte(clamdtest.EICAR),
		map[string]string{"Content-Type": "text/plain", "Content-Disposition": `attachment; filename="eicar.txt"`})
	if raw.Code != 422 || raw.problem(t)["code"] != "file_infected" {
		t.Errorf("infected raw upload: %d %s", raw.Code, raw.Body)
	}
	loc, _ := w.editorA1.createTus(201, draft.ID, len(clamdtest.EICAR), "eicar.txt", "text/plain")
	if r := w.editorA1.patchTus(loc, 0, []byte(clamdtest.EICAR)); r.Code != 422 || r.problem(t)["code"] != "file_infected" {
		t.Errorf("infected tus upload: %d %s", r.Code, r.Body)
	}
	if r := w.editorA1.send(http.MethodHead, loc, nil, tusHeaders()); r.Code != 404 {
		t.Errorf("the infected tus upload remains: %d", r.Code)
	}
	if got := len(objects(t, store)); got != n+1 {
		t.Errorf("%d objects, want only the clean one added", got-n)
	}
	var evs int64
	db.Conn(context.Background()).Table("events").Where("action = 'attachment.infected'").Count(&evs)
	if evs != 3 {
		t.Errorf("%d infected events, want 3", evs)
	}
	// Scanner down: fail closed. A tus upload complete but not scanned is kept, and
	// finished by an empty PATCH once the scanner is back.
	loc, _ = w.editorA1.createTus(201, draft.ID, len("a clean statement\n"), "later.txt", "text/plain")
	h.wf = workflow.NewService(db, workflow.Options{Storage: store, Keys: h.keys, Scanner: clamdScanner("127.0.0.1:1")})
	h.srv = New(Options{Auth: h.auth, Workflow: h.wf})
	if r := w.editorA1.upload(0, draft.ID, "clean.txt", "text/plain", []byte("text\n")); r.Code != 503 {
		t.Errorf("scanner down: %d", r.Code)
	}
	if r := w.editorA1.patchTus(loc, 0, []byte("a clean statement\n")); r.Code != 503 {
		t.Errorf("tus, scanner down: %d %s", r.Code, r.Body)
	}
	if got := w.editorA1.tusOffset(loc); got != len("a clean statement\n") {
		t.Errorf("tus, scanner down: offset %d, want the whole file kept", got)
	}
	h.wf = workflow.NewService(db, workflow.Options{Storage: store, Keys: h.keys, Scanner: clamdScanner(addr)})
	h.srv = New(Options{Auth: h.auth, Workflow: h.wf})
	if r := w.editorA1.patchTus(loc, len("a clean statement\n"), nil); r.Code != 204 || r.Header().Get("Upload-Attachment") == "" {
		t.Errorf("tus, scanner back: %d %s", r.Code, r.Body)
	}
}
