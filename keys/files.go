package keys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"filippo.io/age"

	"github.com/unionportal/unionportal/storage"
)

// Files are encrypted with age's STREAM format (64 KiB chunks, each authenticated), so
// that uploads stream with bounded memory and downloads keep random access (Range).
// Each file has its own random file key, which age's header carries wrapped, in a
// stanza of the portal's own type, under the submission's data key, bound to the
// tenant, the submission and the object's key: a file copied under another key, into
// another submission or tenant, does not open. Shredding the submission's data key
// makes every copy unreadable.

// SealedSuffix ends the key of every object stored encrypted; objects without it were
// stored before encryption at rest and are read as they are until
// `unionportal admin encrypt-existing` encrypted them.
const SealedSuffix = ".age"

// IsSealedObject reports whether the object under key is stored encrypted.
func IsSealedObject(key string) bool { return strings.HasSuffix(key, SealedSuffix) }

// SealedKey is the key under which the object that key names is stored encrypted.
func SealedKey(key string) string { return key + SealedSuffix }

const stanzaType = "unionportal-file-v1"

// fileKeyWrap wraps and unwraps age file keys under a submission's data key.
type fileKeyWrap struct {
	key     Key
	context []string
}

func fileContext(tenantID, submissionID, objectKey string) []string {
	return []string{"file", tenantID, submissionID, objectKey}
}

// Wrap implements age.Recipient.
func (w fileKeyWrap) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	return []*age.Stanza{{Type: stanzaType, Body: sealRaw(w.key, fileKey, w.context)}}, nil
}

// Unwrap implements age.Identity. A stanza of the portal's type that does not open is
// a fatal error: the file is not where it was written, or not under this key.
func (w fileKeyWrap) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	for _, s := range stanzas {
		if s.Type == stanzaType {
			return openRaw(w.key, s.Body, w.context)
		}
	}
	return nil, age.ErrIncorrectIdentity
}

// emptySealedSize is the size of an encrypted empty file: the header, the stream's
// nonce and one empty chunk's tag. The header's size does not depend on the keys.
var emptySealedSize = sync.OnceValue(func() int64 {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, fileKeyWrap{key: NewKey(), context: fileContext("t", "s", "k")})
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		panic(err)
	}
	return int64(buf.Len())
})

// SealedSize is the size of the encrypted form of a file of size bytes.
func SealedSize(size int64) int64 {
	const chunk, tag = 64 << 10, 16
	chunks := max(1, (size+chunk-1)/chunk)
	return emptySealedSize() - tag + size + chunks*tag
}

// PlainSize is the size of the file whose encrypted form has sealed bytes (the inverse
// of SealedSize); false when no file encrypts to that size.
func PlainSize(sealed int64) (int64, bool) {
	const chunk, tag = 64 << 10, 16
	n := sealed - (emptySealedSize() - tag) // the chunks with their tags
	if n < tag {
		return 0, false
	}
	chunks := (n + chunk + tag - 1) / (chunk + tag)
	size := n - chunks*tag
	return size, size >= 0 && SealedSize(size) == sealed
}

// Files stores submissions' files encrypted under their data keys.
type Files struct {
	keys  *Service
	store storage.Store
}

// Files returns the encrypted view of store.
func (s *Service) Files(store storage.Store) *Files { return &Files{keys: s, store: store} }

// Store is the store underneath, for what is not a submission's file.
func (f *Files) Store() storage.Store { return f.store }

// Put encrypts size bytes (size < 0: unknown) from r under the submission's data key
// and stores them under key, a SealedKey.
func (f *Files) Put(ctx context.Context, tenantID, submissionID, key string, r io.Reader, size int64) error {
	if !IsSealedObject(key) {
		return errors.New("keys: an encrypted file's key must end in " + SealedSuffix + ": " + key)
	}
	k, err := f.keys.SubmissionKey(ctx, tenantID, submissionID)
	if err != nil {
		return err
	}
	enc, err := age.EncryptReader(r, fileKeyWrap{key: k, context: fileContext(tenantID, submissionID, key)})
	if err != nil {
		return err
	}
	if size >= 0 {
		size = SealedSize(size)
	}
	// The stored type says nothing of the content.
	return f.store.Put(ctx, key, enc, size, "application/octet-stream")
}

// PutSpooled is Put, keeping in sp (NewSealedSpool) the encrypted bytes it stores as
// they go to the store; sp.Finish then reads their plaintext back with the file's key.
func (f *Files) PutSpooled(ctx context.Context, tenantID, submissionID, key string, r io.Reader, size int64, sp *Spool) error {
	if !sp.sealed || sp.w == nil {
		return errors.New("keys: PutSpooled needs a new spool from NewSealedSpool")
	}
	if !IsSealedObject(key) {
		return errors.New("keys: an encrypted file's key must end in " + SealedSuffix + ": " + key)
	}
	k, err := f.keys.SubmissionKey(ctx, tenantID, submissionID)
	if err != nil {
		return err
	}
	sp.wrap = fileKeyWrap{key: k, context: fileContext(tenantID, submissionID, key)}
	enc, err := age.EncryptReader(r, sp.wrap)
	if err != nil {
		return err
	}
	if size >= 0 {
		size = SealedSize(size)
	}
	return f.store.Put(ctx, key, io.TeeReader(enc, sp.f), size, "application/octet-stream")
}

// ErrUnreadable is a stored file that does not decrypt: moved, altered, or its
// submission's key shredded.
var ErrUnreadable = errors.New("keys: the stored file does not decrypt")

// Open opens the submission's file stored under key: decrypted when the key says it
// was stored encrypted, as it is otherwise. The object reads, seeks and reads at
// offsets in the plaintext; its size is the plaintext's.
func (f *Files) Open(ctx context.Context, tenantID, submissionID, key string) (storage.Object, error) {
	raw, err := f.store.Open(ctx, key)
	if err != nil || !IsSealedObject(key) {
		return raw, err
	}
	k, err := f.keys.ExistingSubmissionKey(ctx, tenantID, submissionID)
	if err != nil {
		raw.Close()
		return nil, err
	}
	info := raw.Info()
	plain, size, err := age.DecryptReaderAt(&sequentialReaderAt{rs: raw}, info.Size, fileKeyWrap{key: k, context: fileContext(tenantID, submissionID, key)})
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("%w (%s): %v", ErrUnreadable, key, err)
	}
	info.Size = size
	return &openFile{SectionReader: io.NewSectionReader(plain, 0, size), raw: raw, info: info}, nil
}

type openFile struct {
	*io.SectionReader
	raw  storage.Object
	info storage.Info
}

func (o *openFile) Close() error       { return o.raw.Close() }
func (o *openFile) Info() storage.Info { return o.info }

// sequentialReaderAt reads at offsets by seeking only when a read does not continue
// the previous one: a download decrypts chunk after chunk from one stream (one GET on
// S3) rather than one ranged request per 64 KiB chunk.
type sequentialReaderAt struct {
	mu  sync.Mutex
	rs  io.ReadSeeker
	pos int64
}

func (s *sequentialReaderAt) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if off != s.pos {
		if _, err := s.rs.Seek(off, io.SeekStart); err != nil {
			s.pos = -1
			return 0, err
		}
		s.pos = off
	}
	n, err := io.ReadFull(s.rs, p)
	s.pos += int64(n)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}
