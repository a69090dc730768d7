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
	pg, cleanup, err := TempPostgres(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	return pg
}

// TempPostgres starts a cluster (with settings, as StartPostgres) in a new temporary
// directory; cleanup stops it and removes the directory. Benchmarks use it as tests use
// PrivatePostgres.
func TempPostgres(ctx context.Context, settings ...string) (*Postgres, func(), error) {
	bin, err := FindPostgresBin()
	if err != nil {
		return nil, nil, err
	}
	// Not t.TempDir: its parents are private to root, and the cluster runs as the
	// postgres user when the tests run as root.
	dir, err := os.MkdirTemp("", "unionportal-pg-")
	if err != nil {
		return nil, nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	pg, err := StartPostgres(ctx, bin, filepath.Join(dir, "pg"), settings...)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return pg, func() { _ = pg.Stop(); _ = os.RemoveAll(dir) }, nil
}
