package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestDataDirAndDatabaseArePrivate: an existing data directory with a wide mode is made
// 0700 on start, and the SQLite file and its -wal and -shm files are 0600.
func TestDataDirAndDatabaseArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	cfg, err := loadConfig([]string{"UNIONPORTAL_DATA_DIR=" + dir}, "")
	if err != nil {
		t.Fatal(err)
	}
	db, err := openDatabase(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mode := func(p string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	if m := mode(dir); m != 0o700 {
		t.Errorf("data directory mode %o, want 700", m)
	}
	for _, f := range []string{"unionportal.db", "unionportal.db-wal", "unionportal.db-shm"} {
		if m := mode(filepath.Join(dir, f)); m != 0o600 {
			t.Errorf("%s mode %o, want 600", f, m)
		}
	}
}
