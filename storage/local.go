package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Local keeps objects as files under a directory: the embedded default.
type Local struct {
	root string
	// MinFreeBytes is the free space below which Check reports the store full; 0 means
	// DefaultMinFreeBytes.
	MinFreeBytes int64
}

// DefaultMinFreeBytes is the free space a local store needs to be ready: room for a few
// uploads and for the database beside it.
const DefaultMinFreeBytes = 64 << 20

var (
	_ Store       = (*Local)(nil)
	_ TempSweeper = (*Local)(nil)
)

// tempPrefixes start the names of Local's temporary files: uploads being written, and
// readiness probes. No key has a segment starting with a dot.
var tempPrefixes = []string{".upload-", ".check-"}

func isTemp(name string) bool {
	for _, p := range tempPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// NewLocal uses (and creates) dir.
func NewLocal(dir string) (*Local, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &Local{root: dir}, nil
}

// Root is the directory the objects are kept in.
func (l *Local) Root() string { return l.root }

func (l *Local) path(key string) string { return filepath.Join(l.root, filepath.FromSlash(key)) }

// Put writes to a temporary file beside the target and renames it into place once
// complete and synced, so a crash or error never leaves a partial object.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64, _ string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	p := l.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return mapLocal(err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".upload-*")
	if err != nil {
		return mapLocal(err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	n, err := io.Copy(tmp, ctxReader{ctx, r})
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("storage: wrote %d bytes, expected %d", n, size)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return mapLocal(err)
	}
	return mapLocal(os.Rename(tmp.Name(), p))
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type localObject struct {
	*os.File
	info Info
}

func (o localObject) Info() Info { return o.info }

// Open opens key.
func (l *Local) Open(_ context.Context, key string) (Object, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	f, err := os.Open(l.path(key))
	if err != nil {
		return nil, mapLocal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return localObject{File: f, info: Info{Key: key, Size: fi.Size(), LastModified: fi.ModTime()}}, nil
}

// Stat describes key.
func (l *Local) Stat(_ context.Context, key string) (Info, error) {
	if err := checkKey(key); err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(l.path(key))
	if err != nil {
		return Info{}, mapLocal(err)
	}
	return Info{Key: key, Size: fi.Size(), LastModified: fi.ModTime()}, nil
}

// Delete removes key.
func (l *Local) Delete(_ context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := os.Remove(l.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return mapLocal(err)
	}
	return nil
}

// List walks the objects under prefix, skipping unfinished uploads.
func (l *Local) List(ctx context.Context, prefix string, fn func(Info) error) error {
	// Only the directory the prefix ends in is walked, not the whole store.
	start := l.root
	if i := strings.LastIndex(prefix, "/"); i > 0 && ValidKey(prefix[:i]) {
		start = l.path(prefix[:i])
	}
	return filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() || isTemp(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(l.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		return fn(Info{Key: key, Size: fi.Size(), LastModified: fi.ModTime()})
	})
}

// SweepTemp removes temporary files older than cutoff: what a write left when its
// process was killed (SIGKILL, power loss) before it could clean up. A write in progress
// touches its file as it goes, so a young one is left alone.
func (l *Local) SweepTemp(ctx context.Context, cutoff time.Time) ([]string, error) {
	var removed []string
	err := filepath.WalkDir(l.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() || !isTemp(d.Name()) {
			return nil
		}
		fi, err := d.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			return nil // removed meanwhile, or young
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		rel, _ := filepath.Rel(l.root, p)
		removed = append(removed, filepath.ToSlash(rel))
		return nil
	})
	return removed, err
}

// PresignGet is not possible for local files: downloads go through the portal.
func (l *Local) PresignGet(context.Context, string, time.Duration, string) (string, error) {
	return "", ErrUnsupported
}

// Check verifies that the directory is there, takes a file and has free space above
// MinFreeBytes. It does not create a missing directory: a volume that went away must
// not be replaced by an empty directory on another disk.
func (l *Local) Check(context.Context) error {
	fi, err := os.Stat(l.root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return notReady("the storage directory is missing", err)
	case err != nil:
		return notReady("the storage directory cannot be read", err)
	case !fi.IsDir():
		return notReady("the storage directory is not a directory", nil)
	}
	f, err := os.CreateTemp(l.root, ".check-*")
	if err != nil {
		return notReady(writeFailure(err), err)
	}
	_, err = f.Write([]byte("readiness probe\n"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(f.Name()); err == nil {
		err = rerr
	}
	if err != nil {
		return notReady(writeFailure(err), err)
	}
	floor := l.MinFreeBytes
	if floor <= 0 {
		floor = DefaultMinFreeBytes
	}
	if free, ok := freeBytes(l.root); ok && free < floor {
		return notReady(fmt.Sprintf("the storage volume is full: %d MiB free, below the %d MiB needed", free>>20, floor>>20),
			fmt.Errorf("%w: %d bytes free", ErrFull, free))
	}
	return nil
}

func writeFailure(err error) string {
	if IsFull(err) {
		return "the storage volume is full"
	}
	return "the storage directory is not writable"
}

func mapLocal(err error) error {
	switch {
	case err == nil:
		return nil
	case IsFull(err):
		return fmt.Errorf("%w: %v", ErrFull, err)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %v", ErrNotExist, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: %v", ErrPermission, err)
	}
	return err
}
