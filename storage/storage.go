// Package storage keeps evidence files: one small interface, Store, with an S3
// implementation (minio-go) and a local-directory one (the embedded default). Keys are
// built by callers from internal ids only, never from client file names.
package storage

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"regexp"
	"syscall"
	"time"
)

// Errors every implementation maps its own to.
var (
	ErrNotExist    = fs.ErrNotExist
	ErrPermission  = fs.ErrPermission
	ErrUnsupported = errors.New("storage: not supported by this store")
	// ErrFull: the store has no space left (a full disk or quota, or an S3 server whose
	// drives are full). The API answers 503 storage_full.
	ErrFull = errors.New("storage: no space left")
)

// IsFull reports whether err means that the store has no space left: ErrFull, or a
// write that failed with ENOSPC or EDQUOT however it was wrapped.
func IsFull(err error) bool {
	return errors.Is(err, ErrFull) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// Info describes a stored object.
type Info struct {
	Key          string
	Size         int64
	LastModified time.Time
}

// Object is an open object: readable, seekable (for ranges) and closable.
type Object interface {
	io.ReadSeekCloser
	// Info is the object's key, size and modification time.
	Info() Info
}

// Store is where files go. Every call takes ctx and may fail when the backing service
// is down; callers map such failures to 503.
type Store interface {
	// Put stores size bytes (size < 0: unknown) from r under key, replacing nothing: a
	// failed Put leaves no object behind.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Open opens key for reading; a missing key is ErrNotExist.
	Open(ctx context.Context, key string) (Object, error)
	// Stat describes key; a missing key is ErrNotExist.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes key; removing a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List calls fn for every object whose key starts with prefix.
	List(ctx context.Context, prefix string, fn func(Info) error) error
	// PresignGet returns a URL valid for expiry that downloads key as an attachment named
	// fileName; stores that cannot return ErrUnsupported.
	PresignGet(ctx context.Context, key string, expiry time.Duration, fileName string) (string, error)
	// Check reports whether the store answers and can take files, for readiness. Its
	// errors carry a reason safe to show anyone (see CheckError).
	Check(ctx context.Context) error
}

// TempSweeper is a store that writes through temporary files, which a process killed
// in the middle of a write leaves behind.
type TempSweeper interface {
	// SweepTemp removes the temporary files last modified before cutoff and returns
	// their names relative to the store.
	SweepTemp(ctx context.Context, cutoff time.Time) ([]string, error)
}

// CheckError is why a store is not ready, in a few words that are safe to show anyone
// (no host names, paths or keys); Err is the cause, for the log.
type CheckError struct {
	Reason string
	Err    error
}

func (e *CheckError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *CheckError) Unwrap() error { return e.Err }

func notReady(reason string, err error) error { return &CheckError{Reason: reason, Err: err} }

// validKey accepts the keys the portal builds: slash-separated segments of letters,
// digits, dots, hyphens and underscores, none of them "." or "..".
var validKey = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$`)

// ValidKey reports whether key is one the stores accept.
func ValidKey(key string) bool { return len(key) <= 512 && validKey.MatchString(key) }

func checkKey(key string) error {
	if !ValidKey(key) {
		return errors.New("storage: invalid key " + key)
	}
	return nil
}
