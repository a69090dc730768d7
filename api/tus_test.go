package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

// tusMarker is spread through the files of these tests: it must never be readable in
// the store, whole or in pieces.
const tusMarker = "DETAINED-SHOP-STEWARD-5521"

// evidencePDF is a PDF of about size bytes, tusMarker throughout.
func evidencePDF(size int) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	for i := 0; b.Len() < size-64; i++ {
		fmt.Fprintf(&b, "%% line %06d: statement of %s\n", i, tusMarker)
	}
	b.WriteString("trailer << /Root 1 0 R >>\n%%EOF\n")
	return b.Bytes()
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// tusHeaders are the headers of a tus request; kv adds more.
func tusHeaders(kv ...string) map[string]string {
	h := map[string]string{"Tus-Resumable": "1.0.0"}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	return h
}

func tusMeta(name, typ string) string {
	m := "filename " + base64.StdEncoding.EncodeToString([]byte(name))
	if typ != "" {
		m += ",filetype " + base64.StdEncoding.EncodeToString([]byte(typ))
	}
	return m
}

// createTus starts a resumable upload and returns its address.
func (c *client) createTus(status int, submissionID string, length int, name, typ string) (string, response) {
	c.h.t.Helper()
	r := c.send(http.MethodPost, subPath(submissionID, "/uploads"), nil,
		tusHeaders("Upload-Length", strconv.Itoa(length), "Upload-Metadata", tusMeta(name, typ)))
	if r.Code != status {
		c.h.t.Fatalf("create upload: status %d, want %d; %s", r.Code, status, r.Body)
	}
	return r.Header().Get("Location"), r
}

// patchTus sends piece at offset.
func (c *client) patchTus(location string, offset int, piece []byte) response {
	c.h.t.Helper()
	return c.send(http.MethodPatch, location, piece, tusHeaders("Content-Type", "application/offset+octet-stream", "Upload-Offset", strconv.Itoa(offset)))
}

func (c *client) tusOffset(location string) int {
	c.h.t.Helper()
	r := c.send(http.MethodHead, location, nil, tusHeaders())
	if r.Code != 200 {
		c.h.t.Fatalf("HEAD %s: %d %s", location, r.Code, r.Body)
	}
	n, err := strconv.Atoi(r.Header().Get("Upload-Offset"))
	if err != nil {
		c.h.t.Fatalf("HEAD %s: Upload-Offset %q", location, r.Header().Get("Upload-Offset"))
	}
	return n
}

// storedBytes reads every file under a local store's directory, temporary files too,
// or every object of another store.
func storedBytes(t *testing.T, store storage.Store) (all []byte, files int) {
	t.Helper()
	local, ok := store.(*storage.Local)
	if !ok {
		return dumpStore(t, store)
	}
	err := filepath.WalkDir(local.Root(), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		all = append(all, b...)
		files++
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return all, files
}

func newDraft(t *testing.T, w *world) workflow.SubmissionView {
	var draft workflow.SubmissionView
	w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
		"kind": "complaint", "title": "T", "body": "b", "language": "en"}).json(t, &draft)
	return draft
}

// TestRawUploadEqualsMultipart sends one file both ways: the same hash, type, size and
// answer; and refuses a raw body without its length or its name.
func TestRawUploadEqualsMultipart(t *testing.T) {
	h := newHarness(t, dbtest.New(t, database.SQLite))
	w := h.world()
	draft := newDraft(t, w)
	file := evidencePDF(200 << 10)
	var viaForm, viaBody workflow.Attachment
	w.editorA1.upload(201, draft.ID, "résumé 2024.pdf", "application/pdf", file).json(t, &viaForm)
	r := w.editorA1.send(http.MethodPost, subPath(draft.ID, "/attachments"), file, map[string]string{
		"Content-Type": "application/pdf", "Content-Disposition": "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%202024.pdf"})
	if r.Code != 201 {
		t.Fatalf("raw upload: %d %s", r.Code, r.Body)
	}
	r.json(t, &viaBody)
	if r.Header().Get("Location") != "/api/v1/tenants/alpha/attachments/"+viaBody.ID {
		t.Errorf("Location %q", r.Header().Get("Location"))
	}
	if viaBody.SHA256 != sha(file) || viaBody.SHA256 != viaForm.SHA256 || viaBody.ContentType != viaForm.ContentType ||
		viaBody.Size != viaForm.Size || viaBody.FileName != viaForm.FileName || viaBody.FileName != "résumé 2024.pdf" {
		t.Errorf("raw %+v\nmultipart %+v", viaBody, viaForm)
	}
	got := w.editorA1.must(200, "GET", "/api/v1/tenants/alpha/attachments/"+viaBody.ID+"/content", nil)
	if !bytes.Equal(got.Body.Bytes(), file) {
		t.Error("the raw upload downloads other bytes")
	}
	// application/octet-stream: the content decides the type.
	r = w.editorA1.send(http.MethodPost, subPath(draft.ID, "/attachments"), pngFile, map[string]string{
		"Content-Type": "application/octet-stream", "Content-Disposition": `attachment; filename="photo.png"`})
	if r.Code != 201 || !strings.Contains(r.Body.String(), `"content_type":"image/png"`) {
		t.Errorf("octet-stream upload: %d %s", r.Code, r.Body)
	}

	n := len(objects(t, h.store))
	t.Run("no name", func(t *testing.T) {
		r := w.editorA1.send(http.MethodPost, subPath(draft.ID, "/attachments"), pdfFile, map[string]string{"Content-Type": "application/pdf"})
		if r.Code != 400 || !strings.Contains(strings.Join(fieldNames(r.problem(t)), ","), "Content-Disposition") {
			t.Errorf("%d %s", r.Code, r.Body)
		}
	})
	t.Run("no length", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPost, subPath(draft.ID, "/attachments"), bytes.NewReader(pdfFile))
		req.ContentLength = -1 // chunked
		req.Header.Set("Content-Type", "application/pdf")
		req.Header.Set("Content-Disposition", `attachment; filename="a.pdf"`)
		req.AddCookie(w.editorA1.cookie)
		req.Header.Set("X-CSRF-Token", w.editorA1.csrf)
		rec := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusLengthRequired || !strings.Contains(rec.Body.String(), "length_required") {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("too large", func(t *testing.T) {
		big := make([]byte, 1<<20+1)
		copy(big, pdfFile)
		r := w.editorA1.send(http.MethodPost, subPath(draft.ID, "/attachments"), big, map[string]string{
			"Content-Type": "application/pdf", "Content-Disposition": `attachment; filename="big.pdf"`})
		if r.Code != 413 {
			t.Errorf("%d %s", r.Code, r.Body)
		}
	})
	t.Run("type refused", func(t *testing.T) {
		r := w.editorA1.send(http.MethodPost, subPath(draft.ID, "/attachments"), htmlFile, map[string]string{
			"Content-Type": "application/octet-stream", "Content-Disposition": `attachment; filename="x.pdf"`})
		if r.Code != 415 {
			t.Errorf("%d %s", r.Code, r.Body)
		}
	})
	if len(objects(t, h.store)) != n {
		t.Errorf("refused raw uploads left objects")
	}
}

// TestTusResumesAfterCut uploads a file with tus in three PATCHes, the second cut off
// mid-body by closing the connection: HEAD then gives what was actually stored, the
// client continues from there, and the attachment is the file. Nothing of the partial
// upload is readable in the store.
func TestTusResumesAfterCut(t *testing.T) {
	eachStore(t, func(t *testing.T, store storage.Store) {
		dbtest.Each(t, func(t *testing.T, db *database.DB) {
			testTusResumesAfterCut(t, newHarnessWithStore(t, db, store))
		})
	})
}

func testTusResumesAfterCut(t *testing.T, h *harness) {
	w := h.world()
	draft := newDraft(t, w)
	file := evidencePDF(600 << 10)
	first, cutAt, sent := 200_000, 300_000, 80_000

	opts := w.editorA1.send(http.MethodOptions, subPath(draft.ID, "/uploads"), nil, nil)
	if opts.Code != 204 || opts.Header().Get("Tus-Version") != "1.0.0" || !strings.Contains(opts.Header().Get("Tus-Extension"), "creation") {
		t.Fatalf("OPTIONS: %d %v", opts.Code, opts.Header())
	}
	loc, r := w.editorA1.createTus(201, draft.ID, len(file), "evidence of "+tusMarker+".pdf", "application/pdf")
	if !strings.HasPrefix(loc, subPath(draft.ID, "/uploads/")) || r.Header().Get("Tus-Resumable") != "1.0.0" {
		t.Fatalf("Location %q, headers %v", loc, r.Header())
	}
	if got := w.editorA1.tusOffset(loc); got != 0 {
		t.Fatalf("new upload at offset %d", got)
	}

	// 1: the first piece, whole.
	if r := w.editorA1.patchTus(loc, 0, file[:first]); r.Code != 204 || r.Header().Get("Upload-Offset") != strconv.Itoa(first) {
		t.Fatalf("PATCH 1: %d %v %s", r.Code, r.Header(), r.Body)
	}
	stored, n := storedBytes(t, h.store)
	if n == 0 || bytes.Contains(stored, []byte(tusMarker)) || bytes.Contains(stored, file[1000:1100]) {
		t.Fatalf("the partial upload is readable at rest (%d files)", n)
	}

	// 2: a piece announced whole, cut off after part of its bytes.
	srv := httptest.NewServer(h.srv.Handler())
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n"+
		"Upload-Offset: %d\r\nContent-Length: %d\r\nCookie: %s=%s\r\nX-CSRF-Token: %s\r\n\r\n",
		loc, first, cutAt-first, w.editorA1.cookie.Name, w.editorA1.cookie.Value, w.editorA1.csrf)
	if _, err := conn.Write(file[first : first+sent]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	conn.Close()
	offset := 0
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if offset = w.editorA1.tusOffset(loc); offset != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cut piece was not stored")
		}
	}
	if offset != first+sent {
		t.Fatalf("after the cut the upload stands at %d, want %d (what arrived)", offset, first+sent)
	}
	if stored, _ := storedBytes(t, h.store); bytes.Contains(stored, []byte(tusMarker)) {
		t.Fatal("the partial upload is readable at rest")
	}

	// A piece from the wrong offset: 409 with the right one.
	r = w.editorA1.patchTus(loc, first, file[first:cutAt])
	if r.Code != 409 || r.problem(t)["code"] != "upload_offset_mismatch" || r.Header().Get("Upload-Offset") != strconv.Itoa(offset) {
		t.Fatalf("wrong offset: %d %v %s", r.Code, r.Header(), r.Body)
	}

	// 3: the rest, from where the portal stands.
	r = w.editorA1.patchTus(loc, offset, file[offset:])
	if r.Code != 204 || r.Header().Get("Upload-Offset") != strconv.Itoa(len(file)) {
		t.Fatalf("PATCH 3: %d %v %s", r.Code, r.Header(), r.Body)
	}
	attURL := r.Header().Get("Upload-Attachment")
	if !strings.HasPrefix(attURL, "/api/v1/tenants/alpha/attachments/") {
		t.Fatalf("Upload-Attachment %q", attURL)
	}
	var att workflow.Attachment
	w.editorA1.must(200, "GET", attURL, nil).json(t, &att)
	if att.SHA256 != sha(file) || att.Size != int64(len(file)) || att.ContentType != "application/pdf" || att.FileName != "evidence of "+tusMarker+".pdf" {
		t.Errorf("attachment %+v, want sha256 %s", att, sha(file))
	}
	if got := w.editorA1.must(200, "GET", attURL+"/content", nil); !bytes.Equal(got.Body.Bytes(), file) {
		t.Error("the attachment downloads other bytes")
	}
	// A client whose answer was lost learns the outcome.
	head := w.editorA1.send(http.MethodHead, loc, nil, tusHeaders())
	if head.Code != 200 || head.Header().Get("Upload-Offset") != strconv.Itoa(len(file)) || head.Header().Get("Upload-Attachment") != attURL {
		t.Errorf("HEAD after completion: %d %v", head.Code, head.Header())
	}
	// So does one that repeats the last request: the same answer, no second attachment.
	again := w.editorA1.patchTus(loc, len(file), nil)
	if again.Code != 204 || again.Header().Get("Upload-Attachment") != attURL {
		t.Errorf("the completing PATCH repeated: %d %v %s", again.Code, again.Header(), again.Body)
	}
	var list struct{ Items []workflow.Attachment }
	w.editorA1.must(200, "GET", subPath(draft.ID, "/attachments"), nil).json(t, &list)
	if len(list.Items) != 1 {
		t.Errorf("%d attachments, want 1", len(list.Items))
	}
	if stored, _ := storedBytes(t, h.store); bytes.Contains(stored, []byte(tusMarker)) {
		t.Error("the file is readable at rest")
	}
	// The pieces are gone; what remains (the record of the outcome) goes with the sweep.
	for _, k := range objects(t, h.store) {
		if strings.Contains(k, "/uploads/") && !strings.HasSuffix(k, "/info.age") && !strings.Contains(k, "/done-") {
			t.Errorf("a piece remains: %s", k)
		}
	}
}

// TestTusRefusals: the limits, the protocol's rules, authorization and tenancy.
func TestTusRefusals(t *testing.T) {
	h := newHarness(t, dbtest.New(t, database.SQLite))
	w := h.world()
	draft := newDraft(t, w)
	file := evidencePDF(100 << 10)
	loc, _ := w.editorA1.createTus(201, draft.ID, len(file), "a.pdf", "")
	before := objects(t, h.store)

	status := func(t *testing.T, r response, want int, code string) {
		t.Helper()
		if r.Code != want {
			t.Fatalf("status %d, want %d; %s", r.Code, want, r.Body)
		}
		if code != "" && r.problem(t)["code"] != code {
			t.Errorf("code %v, want %s", r.problem(t)["code"], code)
		}
	}
	t.Run("declared length over the file limit", func(t *testing.T) {
		w.editorA1.createTus(413, draft.ID, 1<<20+1, "big.pdf", "")
	})
	t.Run("declared length over the submission's room", func(t *testing.T) {
		chunk := evidencePDF(1<<20 - 100)
		var a workflow.Attachment
		w.editorA1.upload(201, draft.ID, "1.pdf", "", chunk).json(t, &a)
		w.editorA1.upload(201, draft.ID, "2.pdf", "", chunk)
		w.editorA1.upload(201, draft.ID, "3.pdf", "", chunk)
		w.editorA1.createTus(413, draft.ID, 1000, "4.pdf", "")
	})
	t.Run("no file name", func(t *testing.T) {
		status(t, w.editorA1.send(http.MethodPost, subPath(draft.ID, "/uploads"), nil, tusHeaders("Upload-Length", "10")), 400, "malformed_request")
	})
	t.Run("no Tus-Resumable", func(t *testing.T) {
		r := w.editorA1.send(http.MethodHead, loc, nil, nil)
		if r.Code != 412 || r.Header().Get("Tus-Version") != "1.0.0" {
			t.Errorf("%d %v", r.Code, r.Header())
		}
	})
	t.Run("wrong content type", func(t *testing.T) {
		status(t, w.editorA1.send(http.MethodPatch, loc, file[:10], tusHeaders("Content-Type", "application/octet-stream", "Upload-Offset", "0")), 415, "")
	})
	t.Run("more bytes than the upload lacks", func(t *testing.T) {
		long := append(bytes.Clone(file), 'x')
		status(t, w.editorA1.patchTus(loc, 0, long), 413, "file_too_large")
		if got := w.editorA1.tusOffset(loc); got != 0 {
			t.Errorf("offset %d after a refused piece", got)
		}
	})
	t.Run("without CSRF token", func(t *testing.T) {
		csrf := w.editorA1.csrf
		w.editorA1.csrf = ""
		defer func() { w.editorA1.csrf = csrf }()
		status(t, w.editorA1.patchTus(loc, 0, file[:10]), 403, "csrf_failed")
	})
	t.Run("a viewer", func(t *testing.T) {
		status(t, w.viewerA2.send(http.MethodHead, loc, nil, tusHeaders()), 403, "")
	})
	t.Run("another editor", func(t *testing.T) {
		// Of another organization: the submission is not theirs to see.
		status(t, w.editorA2.send(http.MethodHead, loc, nil, tusHeaders()), 404, "")
		status(t, w.editorA2.patchTus(loc, 0, file[:10]), 404, "")
	})
	t.Run("another tenant", func(t *testing.T) {
		status(t, w.adminB.send(http.MethodHead, loc, nil, tusHeaders()), 404, "")
		status(t, w.adminB.patchTus(loc, 0, file[:10]), 404, "")
		status(t, w.adminB.send(http.MethodDelete, loc, nil, tusHeaders()), 404, "")
		other := strings.Replace(loc, "/tenants/alpha/", "/tenants/beta/", 1)
		if r := w.adminB.send(http.MethodHead, other, nil, tusHeaders()); r.Code != 404 && r.Code != 403 {
			t.Errorf("beta's path to alpha's upload: %d", r.Code)
		}
	})
	t.Run("unknown upload", func(t *testing.T) {
		status(t, w.editorA1.send(http.MethodHead, subPath(draft.ID, "/uploads/"+database.NewID()), nil, tusHeaders()), 404, "")
	})
	if after := objects(t, h.store); len(after) != len(before)+3 { // the files uploaded to fill the submission
		t.Errorf("refused requests changed the store: %v -> %v", before, after)
	}
	t.Run("type refused at completion ends the upload", func(t *testing.T) {
		html, _ := w.editorA1.createTus(201, draft.ID, len(htmlFile), "page.pdf", "")
		status(t, w.editorA1.patchTus(html, 0, htmlFile), 415, "file_type_refused")
		status(t, w.editorA1.send(http.MethodHead, html, nil, tusHeaders()), 404, "")
	})
	t.Run("termination", func(t *testing.T) {
		if r := w.editorA1.patchTus(loc, 0, file[:1000]); r.Code != 204 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		status(t, w.editorA1.send(http.MethodDelete, loc, nil, tusHeaders()), 204, "")
		status(t, w.editorA1.send(http.MethodHead, loc, nil, tusHeaders()), 404, "")
		for _, k := range objects(t, h.store) {
			if strings.Contains(k, "/uploads/") {
				t.Errorf("left after termination: %s", k)
			}
		}
	})
}

// TestTusAbandonedUploadsAreSwept: an upload nobody continued for a day is removed.
func TestTusAbandonedUploadsAreSwept(t *testing.T) {
	h := newHarness(t, dbtest.New(t, database.SQLite))
	w := h.world()
	draft := newDraft(t, w)
	file := evidencePDF(50 << 10)
	old, _ := w.editorA1.createTus(201, draft.ID, len(file), "old.pdf", "")
	w.editorA1.patchTus(old, 0, file[:1000])
	fresh, _ := w.editorA1.createTus(201, draft.ID, len(file), "fresh.pdf", "")
	oldID := old[strings.LastIndex(old, "/")+1:]
	local := h.store.(*storage.Local)
	dayAgo := time.Now().Add(-workflow.ResumableTTL - time.Hour)
	for _, k := range objects(t, h.store) {
		if strings.Contains(k, "/"+oldID+"/") {
			if err := os.Chtimes(filepath.Join(local.Root(), filepath.FromSlash(k)), dayAgo, dayAgo); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := h.wf.SweepOrphans(context.Background(), time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, k := range objects(t, h.store) {
		if strings.Contains(k, "/"+oldID+"/") {
			t.Errorf("an abandoned upload's object remains: %s", k)
		}
	}
	if r := w.editorA1.send(http.MethodHead, old, nil, tusHeaders()); r.Code != 404 {
		t.Errorf("HEAD of the swept upload: %d", r.Code)
	}
	if got := w.editorA1.tusOffset(fresh); got != 0 {
		t.Errorf("the fresh upload: offset %d", got)
	}
}

// FuzzUploadHeaders: no Upload-Metadata or Content-Disposition makes the parsers panic
// or answer anything but a 400 naming the header.
func FuzzUploadHeaders(f *testing.F) {
	for _, s := range []string{"filename cmVwb3J0LnBkZg==,filetype YXBwbGljYXRpb24vcGRm", "filename", ",,", "filename !!!",
		"attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf", `attachment; filename="a.pdf"`, "inline", "attachment; filename*=UTF-8''%FF"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		for name, parse := range map[string]func(string) error{
			"Upload-Metadata":     func(s string) error { _, err := parseUploadMetadata(s); return err },
			"Content-Disposition": func(s string) error { _, err := uploadFileName(s); return err },
		} {
			err := parse(h)
			if err == nil {
				continue
			}
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindMalformed || len(e.Fields) != 1 || e.Fields[0].Field != name {
				t.Fatalf("%s %q: %v", name, h, err)
			}
		}
	})
}

// TestTusRequestsOfOneUploadTakeTurns: a PATCH that arrives while another is still
// writing the same upload (a client that reconnected before the portal noticed the cut)
// waits for it, then learns where the upload really stands.
func TestTusRequestsOfOneUploadTakeTurns(t *testing.T) {
	h := newHarness(t, dbtest.New(t, database.SQLite))
	w := h.world()
	draft := newDraft(t, w)
	file := evidencePDF(300 << 10)
	loc, _ := w.editorA1.createTus(201, draft.ID, len(file), "a.pdf", "")
	srv := httptest.NewServer(h.srv.Handler())
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n"+
		"Upload-Offset: 0\r\nContent-Length: %d\r\nCookie: %s=%s\r\nX-CSRF-Token: %s\r\n\r\n",
		loc, len(file), w.editorA1.cookie.Name, w.editorA1.cookie.Value, w.editorA1.csrf)
	conn.Write(file[:50_000])
	time.Sleep(200 * time.Millisecond) // the first request holds the upload
	go func() {
		time.Sleep(300 * time.Millisecond)
		conn.Close()
	}()
	start := time.Now()
	r := w.editorA1.patchTus(loc, 0, file)
	if r.Code != 409 || r.Header().Get("Upload-Offset") != "50000" {
		t.Fatalf("the second request: %d %v %s", r.Code, r.Header(), r.Body)
	}
	if time.Since(start) < 250*time.Millisecond {
		t.Error("the second request did not wait for the first")
	}
	if r := w.editorA1.patchTus(loc, 50_000, file[50_000:]); r.Code != 204 || r.Header().Get("Upload-Attachment") == "" {
		t.Fatalf("continuing: %d %s", r.Code, r.Body)
	}
}

// TestTusOpenUploadsAreBounded: a submission takes ten unfinished uploads; the next is
// refused until one ends.
func TestTusOpenUploadsAreBounded(t *testing.T) {
	h := newHarness(t, dbtest.New(t, database.SQLite))
	w := h.world()
	draft := newDraft(t, w)
	var first string
	for i := 0; i < 10; i++ {
		loc, _ := w.editorA1.createTus(201, draft.ID, 1000, fmt.Sprintf("%d.pdf", i), "")
		if i == 0 {
			first = loc
		}
	}
	_, r := w.editorA1.createTus(409, draft.ID, 1000, "11.pdf", "")
	if r.problem(t)["code"] != "too_many_uploads" {
		t.Errorf("%s", r.Body)
	}
	if r := w.editorA1.send(http.MethodDelete, first, nil, tusHeaders()); r.Code != 204 {
		t.Fatalf("DELETE: %d", r.Code)
	}
	w.editorA1.createTus(201, draft.ID, 1000, "11.pdf", "")
}
