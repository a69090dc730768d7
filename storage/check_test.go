package storage_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/storage"
)

// TestLocalCheck: the local store is ready only while its directory exists, takes a
// file and has free space above the floor; each failure gives a reason fit to show.
func TestLocalCheck(t *testing.T) {
	ctx := context.Background()
	reason := func(err error) string {
		var ce *storage.CheckError
		if !errors.As(err, &ce) {
			t.Fatalf("Check = %v, want a CheckError", err)
		}
		return ce.Reason
	}
	dir := filepath.Join(t.TempDir(), "files")
	s, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); err != nil {
		t.Fatalf("a fresh store: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the probe left %v", entries)
	}

	s.MinFreeBytes = 1 << 62
	err = s.Check(ctx)
	if r := reason(err); !strings.Contains(r, "full") || !storage.IsFull(err) {
		t.Errorf("below the free-space floor: %q (%v)", r, err)
	}
	s.MinFreeBytes = 0

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if r := reason(s.Check(ctx)); r != "the storage directory is missing" {
		t.Errorf("directory removed: %q", r)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("Check recreated the directory")
	}

	if err := os.WriteFile(dir, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := reason(s.Check(ctx)); r != "the storage directory is not a directory" {
		t.Errorf("a file instead of the directory: %q", r)
	}
	os.Remove(dir)

	if os.Geteuid() != 0 { // root writes anywhere
		os.Mkdir(dir, 0o500)
		if r := reason(s.Check(ctx)); r != "the storage directory is not writable" {
			t.Errorf("read-only directory: %q", r)
		}
	}
}
