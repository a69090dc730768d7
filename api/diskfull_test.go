package api

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

// TestFullDiskAnswers503 maps a full disk, however it is wrapped, to 503 storage_full:
// the request may succeed once space is freed, and it is not a bug.
func TestFullDiskAnswers503(t *testing.T) {
	enospc := &fs.PathError{Op: "write", Path: "/srv/data/files/tenants/x/.upload-1", Err: syscall.ENOSPC}
	for name, err := range map[string]error{
		"ENOSPC from a local write":      fmt.Errorf("store: %w", enospc),
		"EDQUOT from a local write":      &fs.PathError{Op: "write", Path: "/x", Err: syscall.EDQUOT},
		"ENOSPC wrapped by the workflow": apperr.Unavailable("storage", fmt.Errorf("put: %w", enospc)),
		"storage.ErrFull (S3)":           apperr.Unavailable("storage", fmt.Errorf("%w: XMinioStorageFull", storage.ErrFull)),
		"PostgreSQL disk_full":           fmt.Errorf("insert: %w", &pgconn.PgError{Code: "53100", Message: "could not extend file"}),
		"PostgreSQL disk_full in a tx":   apperr.Full(&pgconn.PgError{Code: "53100"}),
	} {
		t.Run(name, func(t *testing.T) {
			p, fault := problemFor(err)
			if p.Status != http.StatusServiceUnavailable || p.Code != "storage_full" || !fault {
				t.Errorf("%v: %d %s (logged: %v), want 503 storage_full", err, p.Status, p.Code, fault)
			}
		})
	}
	// Other PostgreSQL errors are not a full disk.
	if p, _ := problemFor(&pgconn.PgError{Code: "53200"}); p.Code == "storage_full" {
		t.Error("out_of_memory reported as a full disk")
	}

	t.Run("upload to a full store", func(t *testing.T) {
		db := dbtest.New(t, database.SQLite)
		local, err := storage.NewLocal(filepath.Join(t.TempDir(), "files"))
		if err != nil {
			t.Fatal(err)
		}
		full := &fullStore{Store: local}
		h := newHarnessWithStore(t, db, full)
		w := h.world()
		var draft workflow.SubmissionView
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
			"kind": "complaint", "title": "T", "body": "b", "language": "en"}).json(t, &draft)
		full.full.Store(true)
		r := w.editorA1.upload(0, draft.ID, "more.pdf", "", pdfFile)
		if r.Code != http.StatusServiceUnavailable || r.problem(t)["code"] != "storage_full" || r.Header().Get("Retry-After") == "" {
			t.Errorf("upload with the disk full: %d %s", r.Code, r.Body)
		}
	})

	t.Run("SQLite database full", func(t *testing.T) {
		db := dbtest.New(t, database.SQLite)
		h := newHarness(t, db)
		w := h.world()
		// SQLite answers SQLITE_FULL, as on a full disk, once the file may not grow.
		conn := db.Conn(context.Background())
		var pages int64
		if err := conn.Raw("PRAGMA page_count").Scan(&pages).Error; err != nil {
			t.Fatal(err)
		}
		if err := conn.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages)).Error; err != nil {
			t.Fatal(err)
		}
		r := w.editorA1.do("POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
			"kind": "complaint", "title": "Big", "body": strings.Repeat("evidence ", 100_000), "language": "en"})
		if r.Code != http.StatusServiceUnavailable || r.problem(t)["code"] != "storage_full" {
			t.Errorf("write with the database full: %d %s", r.Code, r.Body)
		}
		var v workflow.SubmissionView
		w.editorA1.must(200, "GET", subPath(w.submissionA.ID), nil).json(t, &v) // reads still work
	})
}

// fullStore is a store whose disk fills up: once full is set, writes fail with ENOSPC
// as the local store's would.
type fullStore struct {
	storage.Store
	full atomic.Bool
}

func (s *fullStore) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if s.full.Load() {
		io.CopyN(io.Discard, r, 1<<10)
		return &fs.PathError{Op: "write", Path: "/srv/data/files/" + key, Err: syscall.ENOSPC}
	}
	return s.Store.Put(ctx, key, r, size, contentType)
}
