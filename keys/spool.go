package keys

import (
	"errors"
	"io"
	"os"

	"filippo.io/age"
)

// Spool is a temporary file encrypted under a key that exists only in this process's
// memory: the portal's work files (an upload read back for its metadata, a cleaned copy
// of evidence, a table of an export) get random access at local-disk speed, and nothing
// of them is readable on disk, even if the process dies before removing them.
type Spool struct {
	f    *os.File
	wrap fileKeyWrap
	w    io.WriteCloser
	ra   io.ReaderAt
	size int64
	// sealed: the spool holds what Files.PutSpooled stored, written already encrypted,
	// and opens with that file's key (wrap, set by PutSpooled).
	sealed bool
}

// NewSpool creates an empty spool, open for writing.
func NewSpool() (*Spool, error) {
	f, err := os.CreateTemp("", "unionportal-spool-*.age")
	if err != nil {
		return nil, err
	}
	s := &Spool{f: f, wrap: fileKeyWrap{key: NewKey(), context: []string{"spool"}}}
	if s.w, err = age.Encrypt(f, s.wrap); err != nil {
		s.Remove()
		return nil, err
	}
	return s, nil
}

// NewSealedSpool creates an empty spool for Files.PutSpooled, which writes into it the
// encrypted bytes it stores, as they are: one encryption serves the store and the
// copy read back (an upload's metadata inspection). Its file is encrypted under the
// stored file's own key, not a key of this process's: a copy left behind by a crash is
// as unreadable as the stored object, and goes with it when its submission's key is
// shredded.
func NewSealedSpool() (*Spool, error) {
	f, err := os.CreateTemp("", "unionportal-spool-*.age")
	if err != nil {
		return nil, err
	}
	return &Spool{f: f, w: nopCloser{f}, sealed: true}, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// Write encrypts p into the spool.
func (s *Spool) Write(p []byte) (int, error) {
	if s.w == nil {
		return 0, errors.New("keys: the spool is finished")
	}
	if s.sealed {
		return 0, errors.New("keys: a sealed spool is written by Files.PutSpooled only")
	}
	return s.w.Write(p)
}

// Finish ends writing; the spool then reads back what was written.
func (s *Spool) Finish() error {
	if s.w == nil {
		return nil
	}
	err := s.w.Close()
	s.w = nil
	if err != nil {
		return err
	}
	info, err := s.f.Stat()
	if err != nil {
		return err
	}
	s.ra, s.size, err = age.DecryptReaderAt(s.f, info.Size(), s.wrap)
	return err
}

// ReadAt reads the plaintext at off (after Finish).
func (s *Spool) ReadAt(p []byte, off int64) (int, error) {
	if s.ra == nil {
		return 0, errors.New("keys: the spool is still being written")
	}
	return s.ra.ReadAt(p, off)
}

// Size is the plaintext's size (after Finish).
func (s *Spool) Size() int64 { return s.size }

// Reader reads the plaintext from the start (after Finish); Close removes the spool.
func (s *Spool) Reader() *SpoolReader {
	return &SpoolReader{SectionReader: io.NewSectionReader(s, 0, s.size), spool: s}
}

// Remove deletes the spool's file.
func (s *Spool) Remove() {
	s.f.Close()
	os.Remove(s.f.Name())
}

// SpoolReader reads a finished spool; closing it removes the spool.
type SpoolReader struct {
	*io.SectionReader
	spool *Spool
}

// Close removes the spool.
func (r *SpoolReader) Close() error {
	r.spool.Remove()
	return nil
}

// SpoolFrom copies r into a new finished spool.
func SpoolFrom(r io.Reader) (*Spool, error) {
	s, err := NewSpool()
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(s, r); err != nil {
		s.Remove()
		return nil, err
	}
	if err := s.Finish(); err != nil {
		s.Remove()
		return nil, err
	}
	return s, nil
}
