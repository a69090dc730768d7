package database_test

import (
	"context"
	"fmt"
	"io/fs"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

// TestIsFull tells a full disk from an unreachable database and from other failures.
func TestIsFull(t *testing.T) {
	for name, tt := range map[string]struct {
		err               error
		full, unavailable bool
	}{
		"PostgreSQL disk_full":       {fmt.Errorf("insert: %w", &pgconn.PgError{Code: "53100"}), true, false},
		"ENOSPC":                     {fmt.Errorf("wal: %w", &fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}), true, false},
		"EDQUOT":                     {&fs.PathError{Op: "write", Path: "x", Err: syscall.EDQUOT}, true, false},
		"PostgreSQL shutting down":   {&pgconn.PgError{Code: "57P01"}, false, true},
		"PostgreSQL unique":          {&pgconn.PgError{Code: "23505"}, false, false},
		"connection refused":         {fmt.Errorf("dial: %w", syscall.ECONNREFUSED), false, true},
		"full, reported by classify": {apperr.Full(fmt.Errorf("%w", database.ErrFull)), true, false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := database.IsFull(tt.err); got != tt.full {
				t.Errorf("IsFull = %v, want %v", got, tt.full)
			}
			if got := database.IsUnavailable(tt.err); got != tt.unavailable {
				t.Errorf("IsUnavailable = %v, want %v", got, tt.unavailable)
			}
		})
	}
	t.Run("SQLite file that may not grow", func(t *testing.T) {
		db := dbtest.New(t, database.SQLite)
		conn := db.Conn(context.Background())
		if err := conn.Exec("CREATE TABLE filler (b TEXT)").Error; err != nil {
			t.Fatal(err)
		}
		var pages int64
		conn.Raw("PRAGMA page_count").Scan(&pages)
		conn.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages))
		err := db.WithTx(context.Background(), func(ctx context.Context) error {
			return db.Conn(ctx).Exec("INSERT INTO filler VALUES (?)", string(make([]byte, 1<<20))).Error
		})
		if !database.IsFull(err) || apperr.KindOf(err) != apperr.KindUnavailable {
			t.Errorf("insert into a full SQLite file: %v (full %v, kind %v)", err, database.IsFull(err), apperr.KindOf(err))
		}
	})
}
