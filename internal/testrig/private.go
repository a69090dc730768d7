package testrig

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// PrivatePostgres starts a PostgreSQL cluster of t's own, for tests that stop and
// restart the server; it is removed when t ends. It skips t without the rig (or fails
// it when the rig is required).
func PrivatePostgres(t testing.TB) *Postgres {
	t.Helper()
	SkipOrFail(t, EnvPostgresBin, "PostgreSQL binaries")
	bin, err := FindPostgresBin()
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: its parents are private to root, and the cluster runs as the
	// postgres user when the tests run as root.
	dir, err := os.MkdirTemp("", "unionportal-pg-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pg, err := StartPostgres(context.Background(), bin, filepath.Join(dir, "pg"))
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = pg.Stop()
		_ = os.RemoveAll(dir)
	})
	return pg
}
