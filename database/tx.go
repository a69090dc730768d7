package database

import (
	"context"
	"database/sql"
	"errors"
	"time"

	gosqlite "github.com/glebarez/go-sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"gorm.io/gorm"
)

// txKey is the context key under which WithTx stores the open transaction.
type txKey struct{}

type txValue struct {
	owner *DB
	tx    *gorm.DB
}

// Conn returns the handle to query with: the transaction carried by ctx when there is
// one (started by WithTx on this DB), otherwise the pool. Every query in the portal goes
// through Conn, so code called inside a transaction joins it without knowing.
func (db *DB) Conn(ctx context.Context) *gorm.DB {
	if v, ok := ctx.Value(txKey{}).(txValue); ok && v.owner == db {
		return v.tx.WithContext(ctx)
	}
	return db.gorm.WithContext(ctx)
}

// InTx reports whether ctx carries a transaction of this DB.
func (db *DB) InTx(ctx context.Context) bool {
	v, ok := ctx.Value(txKey{}).(txValue)
	return ok && v.owner == db
}

// WithTx runs fn inside a transaction carried by the context it passes to fn. When ctx
// already carries a transaction of this DB, fn joins it: nested calls reuse the outer
// transaction, and an error anywhere rolls the whole of it back. The transaction commits
// when the outermost fn returns nil and rolls back when it returns an error or panics.
//
// On SQLite, a transaction that another process's write made stale (SQLITE_BUSY_SNAPSHOT)
// or that found the file locked past the busy timeout is rolled back and run again, a
// few times: fn must therefore only touch the database.
func (db *DB) WithTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if db.InTx(ctx) {
		return fn(ctx)
	}
	var err error
	for attempt := 1; ; attempt++ {
		err = db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			return fn(context.WithValue(ctx, txKey{}, txValue{owner: db, tx: tx}))
		})
		if attempt == sqliteTxAttempts || db.dialect != SQLite || !sqliteBusy(err) {
			break
		}
		select {
		case <-ctx.Done():
			return classify(ctx.Err())
		case <-time.After(time.Duration(attempt*attempt) * 20 * time.Millisecond):
		}
	}
	return classify(err)
}

// sqliteTxAttempts bounds how often a SQLite transaction is retried when busy.
const sqliteTxAttempts = 5

// sqliteBusy reports SQLITE_BUSY in any variant (BUSY_SNAPSHOT, BUSY_RECOVERY …) or
// SQLITE_LOCKED.
func sqliteBusy(err error) bool {
	var se *gosqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	code := se.Code() & 0xff
	return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
}

// SQLTx returns the *sql.Tx of the transaction ctx carries, for libraries that take
// one (River's InsertTx).
func (db *DB) SQLTx(ctx context.Context) (*sql.Tx, bool) {
	v, ok := ctx.Value(txKey{}).(txValue)
	if !ok || v.owner != db {
		return nil, false
	}
	tx, ok := v.tx.Statement.ConnPool.(*sql.Tx)
	return tx, ok
}
