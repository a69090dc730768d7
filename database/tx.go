package database

import (
	"context"
	"database/sql"

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
func (db *DB) WithTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if db.InTx(ctx) {
		return fn(ctx)
	}
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(context.WithValue(ctx, txKey{}, txValue{owner: db, tx: tx}))
	})
	return classify(err)
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
