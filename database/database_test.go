package database_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		raw         string
		wantDialect database.Dialect
		wantDSN     string
		wantErr     string
	}{
		{raw: "", wantDialect: database.SQLite, wantDSN: filepath.Join("/srv/data", "unionportal.db")},
		{raw: "sqlite:///var/lib/up.db", wantDialect: database.SQLite, wantDSN: "/var/lib/up.db"},
		{raw: "sqlite://rel/up.db", wantDialect: database.SQLite, wantDSN: "rel/up.db"},
		{raw: "local.db", wantDialect: database.SQLite, wantDSN: "local.db"},
		{raw: "postgres://u:secret@db.example:5432/up?sslmode=require", wantDialect: database.Postgres},
		{raw: "postgresql://db.example/up", wantDialect: database.Postgres},
		{raw: "mysql://x/y", wantErr: "unsupported scheme"},
		{raw: "sqlite://", wantErr: "expected sqlite://PATH"},
		{raw: "postgres:///nohost", wantErr: "no host"},
		{raw: "postgres://h:99999999/x", wantErr: "invalid PostgreSQL URL"},
		{raw: "up.db?mode=memory", wantErr: "may not contain"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := database.ParseURL(tt.raw, "/srv/data")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Dialect != tt.wantDialect {
				t.Errorf("dialect = %q, want %q", got.Dialect, tt.wantDialect)
			}
			if tt.wantDSN != "" && got.DSN != tt.wantDSN {
				t.Errorf("DSN = %q, want %q", got.DSN, tt.wantDSN)
			}
			if strings.Contains(got.Display, "secret") {
				t.Errorf("Display %q shows the password", got.Display)
			}
		})
	}
}

func TestParseURLAddsPostgresDefaults(t *testing.T) {
	got, err := database.ParseURL("postgres://u:p@h/db", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"connect_timeout=5", "application_name=unionportal"} {
		if !strings.Contains(got.DSN, want) {
			t.Errorf("DSN %q lacks %s", got.DSN, want)
		}
	}
}

func TestOpenSQLiteSettings(t *testing.T) {
	db := dbtest.New(t, database.SQLite)
	ctx := context.Background()
	var mode string
	var fk, busy int
	conn := db.Conn(ctx)
	if err := conn.Raw("PRAGMA journal_mode").Scan(&mode).Error; err != nil {
		t.Fatal(err)
	}
	if err := conn.Raw("PRAGMA foreign_keys").Scan(&fk).Error; err != nil {
		t.Fatal(err)
	}
	if err := conn.Raw("PRAGMA busy_timeout").Scan(&busy).Error; err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || fk != 1 || busy < 1000 {
		t.Errorf("journal_mode=%q foreign_keys=%d busy_timeout=%d; want wal, 1, >=1000", mode, fk, busy)
	}
	var version string
	if err := conn.Raw("SELECT sqlite_version()").Scan(&version).Error; err != nil {
		t.Fatal(err)
	}
	// River's SQLite driver needs jsonb (SQLite >= 3.45).
	if err := conn.Exec("SELECT jsonb('{}')").Error; err != nil {
		t.Errorf("SQLite %s has no jsonb: %v", version, err)
	}
}

func TestOpenSQLiteUnwritableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := database.Open(context.Background(), database.Target{Dialect: database.SQLite, DSN: filepath.Join(file, "x.db")}, database.Options{})
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("err = %v, want 'not a directory'", err)
	}
}

func TestOpenPostgresUnreachable(t *testing.T) {
	tg, err := database.ParseURL("postgres://u:topsecret@127.0.0.1:1/db?connect_timeout=2", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = database.Open(context.Background(), tg, database.Options{})
	if err == nil {
		t.Fatal("Open succeeded on a closed port")
	}
	msg := err.Error()
	if !strings.Contains(msg, "cannot connect to PostgreSQL at") || strings.Contains(msg, "topsecret") || strings.Contains(msg, "\n") {
		t.Errorf("error %q: want one line naming PostgreSQL without the password", msg)
	}
	if !database.IsUnavailable(err) && !strings.Contains(msg, "refused") {
		t.Errorf("error %q does not say why", msg)
	}
}

func testMigrations(t *testing.T, name string) fs.FS {
	t.Helper()
	return os.DirFS(filepath.Join("testdata", "migrations", name))
}

func TestMigrateAppliesOnceAndIsIdempotent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		applied, err := db.MigrateFS(ctx, testMigrations(t, "good"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(applied, []int64{1, 2}) {
			t.Fatalf("first run applied %v, want [1 2]", applied)
		}
		applied, err = db.MigrateFS(ctx, testMigrations(t, "good"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != 0 {
			t.Fatalf("second run applied %v, want nothing", applied)
		}
		// The data migration ran exactly once.
		var n int64
		if err := db.Conn(ctx).Raw("SELECT count(*) FROM widgets").Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("widgets has %d rows, want 1", n)
		}
	}, dbtest.Empty())
}

func TestMigrateFailureRollsBack(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		applied, err := db.MigrateFS(ctx, testMigrations(t, "bad"), nil)
		if err == nil {
			t.Fatal("a broken migration succeeded")
		}
		if !reflect.DeepEqual(applied, []int64{1, 2}) {
			t.Errorf("applied %v before the failure, want [1 2]", applied)
		}
		if db.Conn(ctx).Migrator().HasTable("gadgets") {
			t.Error("the failed migration's first statement was not rolled back")
		}
		var recorded []int64
		if err := db.Conn(ctx).Raw("SELECT version_id FROM schema_migrations WHERE version_id > 0 ORDER BY version_id").Scan(&recorded).Error; err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(recorded, []int64{1, 2}) {
			t.Errorf("recorded versions %v, want [1 2]", recorded)
		}
	}, dbtest.Empty())
}

func TestEmbeddedMigrationsMatchAcrossDialects(t *testing.T) {
	names := func(d database.Dialect) []string {
		n, err := fs.Glob(database.Migrations(d), "*.sql")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	pg, lite := names(database.Postgres), names(database.SQLite)
	if !reflect.DeepEqual(pg, lite) {
		t.Fatalf("migration files differ:\npostgres: %v\nsqlite:   %v", pg, lite)
	}
}

func TestEmbeddedMigrationsApply(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		// dbtest.New has migrated it already; a second run must find nothing to do.
		applied, err := db.Migrate(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != 0 {
			t.Errorf("second run applied %v", applied)
		}
	})
}

var errBoom = errors.New("boom")

// TestOpenSQLiteMakesFilesPrivate: a database file (and -wal, -shm) left with a wide
// mode is made 0600 when it is opened.
func TestOpenSQLiteMakesFilesPrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "old.db")
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db, err := database.Open(context.Background(), database.Target{Dialect: database.SQLite, DSN: path}, database.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s mode %o, want 600", filepath.Base(p), m)
		}
	}
}

// TestOpenSQLitePathWithURICharacters: a data directory whose name holds "#", "?" or
// "%" opens the file inside it, not a file named after the part before them.
func TestOpenSQLitePathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "case #3386? 100%")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "unionportal.db")
	db, err := database.Open(context.Background(), database.Target{Dialect: database.SQLite, DSN: path, Display: path}, database.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not where it was asked to be: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 1 {
		t.Errorf("files beside the data directory: %v", entries)
	}
}

// TestPostgresPoolKeepsItsConnections: a burst of as many concurrent queries as the pool
// allows leaves its
// connections idle in the pool for the next burst instead of closing them (a new
// PostgreSQL connection costs the server more than many queries).
func TestPostgresPoolKeepsItsConnections(t *testing.T) {
	db := dbtest.New(t, database.Postgres)
	n := db.SQL().Stats().MaxOpenConnections
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := db.SQL().Exec("SELECT pg_sleep(0.05)"); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	st := db.SQL().Stats()
	if st.MaxIdleClosed != 0 || st.OpenConnections < n {
		t.Errorf("after three bursts of %d: %d connections open, %d closed for want of idle room", n, st.OpenConnections, st.MaxIdleClosed)
	}
}
