package database

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrationsFS holds the schema migrations, one directory per dialect. Both directories
// hold the same versions with the same names (a test checks it), so a version means the
// same schema on either database.
//
//go:embed all:migrations
var migrationsFS embed.FS

// migrationTable records which migrations were applied.
const migrationTable = "schema_migrations"

// Migrations returns the migration files for d.
func Migrations(d Dialect) fs.FS {
	sub, err := fs.Sub(migrationsFS, "migrations/"+string(d))
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

// MigrationsHash is a digest of every migration file of d: two databases migrated with
// the same hash have the same schema. Test helpers use it to name template databases.
func MigrationsHash(d Dialect) string {
	h := sha256.New()
	fsys := Migrations(d)
	names, _ := fs.Glob(fsys, "*.sql")
	sort.Strings(names)
	for _, n := range names {
		b, _ := fs.ReadFile(fsys, n)
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Migrate applies every pending migration of the embedded set, in order, each in its
// own transaction, and returns the versions it applied. Applied migrations never run
// again; a failing one rolls back and stops the run. On PostgreSQL an advisory lock makes
// concurrent portal processes take turns.
func (db *DB) Migrate(ctx context.Context, log *slog.Logger) ([]int64, error) {
	return db.MigrateFS(ctx, Migrations(db.dialect), log)
}

// MigrateFS is Migrate with another set of migration files, for tests.
func (db *DB) MigrateFS(ctx context.Context, fsys fs.FS, log *slog.Logger) ([]int64, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := []goose.ProviderOption{
		goose.WithTableName(migrationTable),
		goose.WithDisableGlobalRegistry(true),
	}
	dialect := goose.DialectSQLite3
	if db.dialect == Postgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.sql, fsys, opts...)
	if errors.Is(err, goose.ErrNoMigrations) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	results, err := p.Up(ctx)
	var partial *goose.PartialError
	if errors.As(err, &partial) {
		results = partial.Applied
	}
	var applied []int64
	for _, r := range results {
		if r.Error == nil {
			applied = append(applied, r.Source.Version)
			log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
		}
	}
	if err != nil {
		return applied, fmt.Errorf("migrate: %w", classify(err))
	}
	return applied, nil
}

// SchemaVersion is the newest migration applied to the database.
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := db.Conn(ctx).Raw("SELECT COALESCE(MAX(version_id), 0) FROM " + migrationTable + " WHERE is_applied").Find(&v).Error
	return v, err
}
