// Package database owns the connection to PostgreSQL or SQLite, the versioned schema
// migrations and the transaction helper that carries a transaction inside a context.
// Everything that touches the database reaches it through a *DB.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialect names the kind of database behind a DB.
type Dialect string

// The supported databases.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DefaultSQLiteFile is the file name of the embedded database inside the data directory.
const DefaultSQLiteFile = "unionportal.db"

// sqliteBusyTimeout is how long a SQLite writer waits for the lock before giving up.
const sqliteBusyTimeout = 5 * time.Second

// Target is a parsed database URL: which database, and the DSN its driver takes.
type Target struct {
	Dialect Dialect
	// DSN is the driver's connection string. For SQLite it is the file path.
	DSN string
	// Display is safe to print: the password of a PostgreSQL URL is masked.
	Display string
}

// ParseURL interprets a UNIONPORTAL_DATABASE_URL value. An empty value means the embedded
// default, a SQLite file in dataDir. postgres:// and postgresql:// select PostgreSQL;
// sqlite://PATH or a plain file path select SQLite.
func ParseURL(raw, dataDir string) (Target, error) {
	switch {
	case raw == "":
		p := filepath.Join(dataDir, DefaultSQLiteFile)
		return Target{Dialect: SQLite, DSN: p, Display: p}, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		u, err := url.Parse(raw)
		if err != nil {
			return Target{}, errors.New("not a valid URL (expected postgres://user:password@host:port/dbname)")
		}
		if u.Host == "" {
			return Target{}, errors.New("the PostgreSQL URL has no host (expected postgres://user:password@host:port/dbname)")
		}
		if _, err := pgx.ParseConfig(raw); err != nil {
			return Target{}, fmt.Errorf("invalid PostgreSQL URL: %s", pgxParseReason(err))
		}
		q := u.Query()
		if q.Get("connect_timeout") == "" {
			q.Set("connect_timeout", "5")
		}
		if q.Get("application_name") == "" {
			q.Set("application_name", "unionportal")
		}
		u.RawQuery = q.Encode()
		return Target{Dialect: Postgres, DSN: u.String(), Display: u.Redacted()}, nil
	case strings.HasPrefix(raw, "sqlite://"):
		p := strings.TrimPrefix(raw, "sqlite://")
		if p == "" || strings.ContainsAny(p, "?#") {
			return Target{}, errors.New("expected sqlite://PATH with a file path and no query")
		}
		return Target{Dialect: SQLite, DSN: p, Display: p}, nil
	case strings.Contains(raw, "://"):
		return Target{}, errors.New("unsupported scheme (expected postgres://…, sqlite://PATH or a file path)")
	default:
		if strings.ContainsAny(raw, "?#") {
			return Target{}, errors.New("a SQLite file path may not contain '?' or '#'")
		}
		return Target{Dialect: SQLite, DSN: raw, Display: raw}, nil
	}
}

// pgxParseReason keeps the last part of a pgx parse error, which says what is wrong
// without repeating the URL.
func pgxParseReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// Options tune a connection. The zero value is fine.
type Options struct {
	Logger *slog.Logger
	// MaxOpenConns bounds the PostgreSQL pool; 0 means 20. SQLite always uses one
	// connection, so writers never contend for the file lock.
	MaxOpenConns int
}

// DB is an open database. It is safe for concurrent use.
type DB struct {
	gorm    *gorm.DB
	sql     *sql.DB
	dialect Dialect
	display string
}

// Open connects to the database t names and checks that it answers. For SQLite it
// creates the file if needed and turns on WAL mode, foreign keys and a busy timeout.
func Open(ctx context.Context, t Target, opts Options) (*DB, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := &gorm.Config{
		SkipDefaultTransaction: true,
		TranslateError:         true,
		// Open reports its own errors; gorm would log them a second time.
		Logger: logger.Discard,
	}
	var dialector gorm.Dialector
	switch t.Dialect {
	case Postgres:
		dialector = postgres.New(postgres.Config{DSN: t.DSN})
	case SQLite:
		if dir := filepath.Dir(t.DSN); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("cannot create the directory of the SQLite file %s: %w", t.DSN, unwrapPathError(err))
			}
		}
		if err := restrictSQLiteFiles(t.DSN); err != nil {
			return nil, fmt.Errorf("cannot restrict the permissions of the SQLite file %s: %w", t.DSN, unwrapPathError(err))
		}
		dialector = sqlite.Open(sqliteDSN(t.DSN))
	default:
		return nil, fmt.Errorf("unknown database dialect %q", t.Dialect)
	}
	g, err := gorm.Open(dialector, cfg)
	if err != nil {
		return nil, openError(t, err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, openError(t, err)
	}
	g.Logger = newGormLogger(log.With("component", "database"), logger.Warn, 500*time.Millisecond)
	db := &DB{gorm: g, sql: sqlDB, dialect: t.Dialect, display: t.Display}
	if t.Dialect == SQLite {
		sqlDB.SetMaxOpenConns(1)
		sqlDB.SetConnMaxLifetime(0)
	} else {
		n := opts.MaxOpenConns
		if n <= 0 {
			n = 20
		}
		sqlDB.SetMaxOpenConns(n)
		// As many idle as open: under a burst above n/2 requests, a smaller idle pool
		// closes connections that the next request opens again, and a new PostgreSQL
		// connection (a process, its authentication, cold catalog caches) costs the
		// server more than many queries. ConnMaxIdleTime returns them when load ends.
		sqlDB.SetMaxIdleConns(n)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
		sqlDB.SetConnMaxLifetime(30 * time.Minute)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.Ping(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, openError(t, err)
	}
	return db, nil
}

// restrictSQLiteFiles makes the database file readable by its owner only: it creates
// it 0600 when missing (SQLite then gives its -wal and -shm files the same mode), and
// sets 0600 on the file and its -wal and -shm files when they exist with a wider mode,
// as a file made by an older version or copied in may.
func restrictSQLiteFiles(path string) error {
	if path == ":memory:" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&0o600); err != nil {
				return err
			}
		}
	}
	return nil
}

// sqliteDSN adds the pragmas every connection needs. _txlock=immediate takes the write
// lock at BEGIN, so a transaction never fails half-way on a lock upgrade.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()))
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	// In a URI filename, "?" would start the parameters and "#" a fragment: a data
	// directory named "cases#2" must not open "cases" instead. SQLite decodes %HH.
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + escaped + "?" + q.Encode()
}

func openError(t Target, err error) error {
	switch t.Dialect {
	case Postgres:
		return fmt.Errorf("cannot connect to PostgreSQL at %s: %s", t.Display, connectReason(err))
	default:
		return fmt.Errorf("cannot open SQLite database %s: %v", t.Display, err)
	}
}

// connectReason shortens a pgx connection error to its cause.
func connectReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "): "); i >= 0 {
		msg = msg[i+3:]
	}
	return msg
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Dialect reports which database this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// String returns a printable description with any password masked.
func (db *DB) String() string { return string(db.dialect) + " " + db.display }

// AsText returns col as text in SQL, for comparing UUID columns with text columns (such
// as casbin's) on PostgreSQL; SQLite stores both as text already.
func (db *DB) AsText(col string) string {
	if db.dialect == Postgres {
		return col + "::text"
	}
	return col
}

// SQL returns the underlying connection pool, for libraries that take a *sql.DB.
func (db *DB) SQL() *sql.DB { return db.sql }

// Ping checks that the database answers within ctx.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sql.PingContext(ctx); err != nil {
		return classify(err)
	}
	return nil
}

// Close closes every connection.
func (db *DB) Close() error { return db.sql.Close() }

// CountQueries calls fn after every statement db runs until the returned stop is
// called. Tests use it to prove that a request costs a constant number of queries.
func CountQueries(db *DB, fn func()) (stop func()) {
	name := "unionportal:count_" + newCounterName()
	cb := func(*gorm.DB) { fn() }
	c := db.gorm.Callback()
	_ = c.Query().After("gorm:query").Register(name, cb)
	_ = c.Row().After("gorm:row").Register(name, cb)
	_ = c.Raw().After("gorm:raw").Register(name, cb)
	_ = c.Create().After("gorm:create").Register(name, cb)
	_ = c.Update().After("gorm:update").Register(name, cb)
	_ = c.Delete().After("gorm:delete").Register(name, cb)
	return func() {
		_ = c.Query().Remove(name)
		_ = c.Row().Remove(name)
		_ = c.Raw().Remove(name)
		_ = c.Create().Remove(name)
		_ = c.Update().Remove(name)
		_ = c.Delete().Remove(name)
	}
}

var counterSeq atomic.Int64

func newCounterName() string { return strconv.FormatInt(counterSeq.Add(1), 10) }
