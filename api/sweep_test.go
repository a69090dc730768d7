package api

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

// TestSweepRemovesStaleTemporaryFiles: an upload killed by SIGKILL leaves its
// .upload-* file in local storage; the hourly sweep removes it once it is an hour old,
// and leaves a younger one (an upload in progress) and the stored files alone.
func TestSweepRemovesStaleTemporaryFiles(t *testing.T) {
	db := dbtest.New(t, database.SQLite)
	local, err := storage.NewLocal(filepath.Join(t.TempDir(), "files"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWithStore(t, db, local)
	w := h.world()
	dir := filepath.Join(local.Root(), "tenants", w.tenantA.ID, "submissions", w.submissionA.ID)
	stale := filepath.Join(dir, ".upload-1234567")
	fresh := filepath.Join(dir, ".upload-7654321")
	probe := filepath.Join(local.Root(), ".check-42")
	for _, p := range []string{stale, fresh, probe} {
		if err := os.WriteFile(p, []byte("half an upload"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-61 * time.Minute)
	for _, p := range []string{stale, probe} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	before := objects(t, local)

	n, err := h.wf.SweepOrphans(context.Background(), time.Hour)
	if err != nil || n != 2 {
		t.Errorf("sweep: %d %v, want 2 files removed", n, err)
	}
	for _, p := range []string{stale, probe} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s remains after the sweep (%v)", filepath.Base(p), err)
		}
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("the sweep removed a young temporary file: %v", err)
	}
	if after := objects(t, local); len(after) != len(before) {
		t.Errorf("objects %v after the sweep, want %v", after, before)
	}
	var l struct{ Items []workflow.Attachment }
	w.reviewerA.must(200, "GET", subPath(w.submissionA.ID, "/attachments"), nil).json(t, &l)
	w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/attachments/"+l.Items[0].ID+"/content", nil)
}
