package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	gosqlite "github.com/glebarez/go-sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/unionportal/unionportal/apperr"
)

// ErrUnavailable marks errors caused by the database being unreachable, shut down or
// too busy to answer in time. Callers map it to "try again later", never to a bug.
var ErrUnavailable = errors.New("database unavailable")

// IsUnavailable reports whether err means the database could not be reached or did not
// answer in time, as opposed to a query that the database refused.
func IsUnavailable(err error) bool {
	return err != nil && errors.Is(classify(err), ErrUnavailable)
}

// ErrFull marks errors caused by the database's disk being full: SQLite's "database or
// disk is full" (SQLITE_FULL), PostgreSQL's disk_full (SQLSTATE 53100), or ENOSPC or
// EDQUOT reaching the driver. It is reported as apperr.Full (503 storage_full).
var ErrFull = errors.New("database disk full")

// IsFull reports whether err means that the database has no disk space left.
func IsFull(err error) bool {
	return err != nil && errors.Is(classify(err), ErrFull)
}

// fullError keeps the cause while matching ErrFull.
type fullError struct{ cause error }

func (e fullError) Error() string   { return "database disk full: " + e.cause.Error() }
func (e fullError) Unwrap() []error { return []error{ErrFull, e.cause} }

// unavailableError keeps the cause while matching ErrUnavailable.
type unavailableError struct{ cause error }

func (e unavailableError) Error() string   { return "database unavailable: " + e.cause.Error() }
func (e unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.cause} }

// classify wraps connection-level failures so that IsUnavailable recognises them, and a
// full disk so that IsFull does; apperr reports both as KindUnavailable. Other errors
// pass through unchanged.
func classify(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrFull) {
		return err
	}
	if _, ok := apperr.As(err); ok {
		return err
	}
	if diskFull(err) {
		return apperr.Full(fullError{cause: err})
	}
	if connectionFailure(err) {
		return apperr.Unavailable("database", unavailableError{cause: err})
	}
	return err
}

// diskFull recognises a write refused for want of disk space, on either database.
func diskFull(err error) bool {
	var (
		pgErr     *pgconn.PgError
		sqliteErr *gosqlite.Error
	)
	switch {
	case errors.As(err, &pgErr):
		return pgErr.Code == "53100" // disk_full
	case errors.As(err, &sqliteErr):
		return sqliteErr.Code()&0xff == sqlite3.SQLITE_FULL
	}
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

func connectionFailure(err error) bool {
	var (
		connectErr *pgconn.ConnectError
		pgErr      *pgconn.PgError
		netErr     net.Error
		sqliteErr  *gosqlite.Error
	)
	switch {
	case errors.As(err, &connectErr):
		return true
	case errors.As(err, &pgErr):
		// Class 08: connection exception; 57P01-57P03: the server is shutting down or
		// not yet accepting connections.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	case errors.As(err, &sqliteErr):
		code := sqliteErr.Code() & 0xff
		return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
	case errors.As(err, &netErr):
		return true
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	// pgx reports a connection lost mid-query with this text and no typed error.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "unexpected EOF") ||
		strings.Contains(msg, "failed to connect")
}
