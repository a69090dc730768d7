// Package dbtest gives tests a fresh, migrated database of each kind. By default a test
// runs once on SQLite and once on PostgreSQL; PostgreSQL comes from the test rig's
// cluster (UNIONPORTAL_TEST_POSTGRES_URL) and each test gets its own database, copied
// from a template that is migrated once per schema version.
package dbtest

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/internal/testrig"
)

// Option changes how Each runs a test.
type Option func(*options)

type options struct {
	dialects []database.Dialect
	empty    bool
}

// Empty gives the test a database without the portal's schema, for migration tests.
func Empty() Option {
	return func(o *options) { o.empty = true }
}

// Only restricts a test to the named databases.
func Only(dialects ...database.Dialect) Option {
	return func(o *options) { o.dialects = dialects }
}

// Each runs fn as a subtest named after each database ("sqlite", "postgres"), with a
// fresh migrated database that is closed and removed when the subtest ends.
func Each(t *testing.T, fn func(t *testing.T, db *database.DB), opts ...Option) {
	t.Helper()
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	EachDialect(t, func(t *testing.T, d database.Dialect) {
		if o.empty {
			fn(t, open(t, d, false))
		} else {
			fn(t, New(t, d))
		}
	}, opts...)
}

// EachDialect runs fn as a subtest per database, for tests that open the database
// themselves (through Target).
func EachDialect(t *testing.T, fn func(t *testing.T, d database.Dialect), opts ...Option) {
	t.Helper()
	o := options{dialects: []database.Dialect{database.SQLite, database.Postgres}}
	for _, opt := range opts {
		opt(&o)
	}
	for _, d := range o.dialects {
		t.Run(string(d), func(t *testing.T) { fn(t, d) })
	}
}

// New returns a fresh migrated database of dialect d for the rest of t. On PostgreSQL
// without the rig it skips t (or fails it when the rig is required).
func New(t testing.TB, d database.Dialect) *database.DB {
	t.Helper()
	return open(t, d, true)
}

func open(t testing.TB, d database.Dialect, migrated bool) *database.DB {
	t.Helper()
	target := target(t, d, migrated)
	db, err := database.Open(context.Background(), target, database.Options{MaxOpenConns: 5})
	if err != nil {
		t.Fatalf("open %s: %v", d, err)
	}
	t.Cleanup(func() { db.Close() })
	if d == database.SQLite && migrated {
		if _, err := db.Migrate(context.Background(), nil); err != nil {
			t.Fatalf("migrate sqlite: %v", err)
		}
	}
	return db
}

// Target returns where a fresh empty-but-migrated (PostgreSQL) or not-yet-created
// (SQLite) database of dialect d lives, for tests that open it themselves, such as those
// running the portal binary. The database is removed when t ends.
func Target(t testing.TB, d database.Dialect) database.Target {
	t.Helper()
	return target(t, d, true)
}

func target(t testing.TB, d database.Dialect, migrated bool) database.Target {
	t.Helper()
	switch d {
	case database.SQLite:
		p := filepath.Join(t.TempDir(), "test.db")
		return database.Target{Dialect: database.SQLite, DSN: p, Display: p}
	case database.Postgres:
		admin := testrig.SkipOrFail(t, testrig.EnvPostgresURL, "PostgreSQL")
		name := createFromTemplate(t, admin, migrated)
		u := withDatabase(admin, name)
		tg, err := database.ParseURL(u, "")
		if err != nil {
			t.Fatal(err)
		}
		return tg
	default:
		t.Fatalf("unknown dialect %q", d)
		return database.Target{}
	}
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

func createFromTemplate(t testing.TB, admin string, migrated bool) string {
	t.Helper()
	tmpl := "template0"
	if migrated {
		templateOnce.Do(func() { templateName, templateErr = ensureTemplate(admin) })
		if templateErr != nil {
			t.Fatalf("PostgreSQL template database: %v", templateErr)
		}
		tmpl = templateName
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to the rig's PostgreSQL: %v", err)
	}
	defer conn.Close(context.Background())
	name := "test_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl)); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return name
}

// ensureTemplate creates and migrates the template database for the current migration
// set once per cluster. Test binaries of several packages run at once, so an advisory
// lock makes them take turns.
func ensureTemplate(admin string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := "tmpl_" + database.MigrationsHash(database.Postgres)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7283746501)"); err != nil {
		return "", err
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock(7283746501)")
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	if _, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", building)); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+building); err != nil {
		return "", err
	}
	tg, err := database.ParseURL(withDatabase(admin, building), "")
	if err != nil {
		return "", err
	}
	db, err := database.Open(ctx, tg, database.Options{MaxOpenConns: 2})
	if err != nil {
		return "", err
	}
	_, err = db.Migrate(ctx, nil)
	db.Close()
	if err != nil {
		return "", err
	}
	// Renamed only once complete, so a run interrupted half-way never leaves a template
	// that later runs would trust.
	if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, name)); err != nil {
		return "", err
	}
	return name, nil
}

func withDatabase(rawURL, name string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}
