package keys

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/storage"
)

// TestSealedSize: the size announced to the store is the size written, at every chunk
// boundary.
func TestSealedSize(t *testing.T) {
	k := NewKey()
	for _, n := range []int64{0, 1, 65535, 65536, 65537, 3*65536 + 5, 1 << 20} {
		var buf bytes.Buffer
		r, err := ageEncryptReader(bytes.NewReader(make([]byte, n)), k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(&buf, r); err != nil {
			t.Fatal(err)
		}
		if got := SealedSize(n); got != int64(buf.Len()) {
			t.Errorf("%d bytes: SealedSize %d, written %d", n, got, buf.Len())
		}
	}
}

func ageEncryptReader(r io.Reader, k Key) (io.Reader, error) {
	return age.EncryptReader(r, fileKeyWrap{key: k, context: fileContext("t", "s", "k")})
}

// TestFiles: a file is stored encrypted and reads back whole and by ranges; copied to
// another key, submission or tenant it does not open, nor once its submission's key is
// shredded; files stored before encryption read as they are.
func TestFiles(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		dir := t.TempDir()
		store, err := storage.NewLocal(dir)
		if err != nil {
			t.Fatal(err)
		}
		files := NewService(db, NewMaster()).Files(store)
		plain := append([]byte("MARKER-EVIDENCE-5521 "), make([]byte, 200<<10)...)
		rand.Read(plain[30:])
		key := SealedKey("tenants/t1/submissions/s1/attachments/a1")
		if err := files.Put(ctx, "t1", "s1", key, bytes.NewReader(plain), int64(len(plain))); err != nil {
			t.Fatal(err)
		}
		if err := files.Put(ctx, "t1", "s1", "tenants/t1/clear", bytes.NewReader(plain), -1); err == nil {
			t.Error("a key without the suffix was accepted")
		}
		raw, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(key)))
		if bytes.Contains(raw, []byte("MARKER-EVIDENCE")) || int64(len(raw)) != SealedSize(int64(len(plain))) {
			t.Fatalf("stored: %d bytes, marker visible: %v", len(raw), bytes.Contains(raw, []byte("MARKER")))
		}
		obj, err := files.Open(ctx, "t1", "s1", key)
		if err != nil {
			t.Fatal(err)
		}
		if obj.Info().Size != int64(len(plain)) {
			t.Errorf("size %d", obj.Info().Size)
		}
		got, err := io.ReadAll(obj)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("read back: %d bytes, %v", len(got), err)
		}
		// A range across a chunk boundary, then one before it (a seek backwards).
		for _, off := range []int64{65530, 100, 200<<10 - 3} {
			if _, err := obj.Seek(off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			part := make([]byte, 10)
			n, err := io.ReadFull(obj, part)
			want := plain[off:min(off+10, int64(len(plain)))]
			if !bytes.Equal(part[:n], want) || (err != nil && n != len(want)) {
				t.Errorf("range at %d: %q %v", off, part[:n], err)
			}
		}
		obj.Close()

		// Moved elsewhere, it does not open.
		moved := func(to string) string {
			p := filepath.Join(dir, filepath.FromSlash(to))
			os.MkdirAll(filepath.Dir(p), 0o700)
			if err := os.WriteFile(p, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			return to
		}
		if err := files.Put(ctx, "t2", "s2", "other.age", bytes.NewReader(nil), 0); err != nil { // so that t2/s2 have keys
			t.Fatal(err)
		}
		for name, open := range map[string]func() (storage.Object, error){
			"another key": func() (storage.Object, error) {
				return files.Open(ctx, "t1", "s1", moved("tenants/t1/submissions/s1/attachments/a2.age"))
			},
			"another submission": func() (storage.Object, error) { return files.Open(ctx, "t1", "s2", key) },
			"another tenant":     func() (storage.Object, error) { return files.Open(ctx, "t2", "s2", key) },
		} {
			if obj, err := open(); err == nil {
				obj.Close()
				t.Errorf("%s: opened", name)
			}
		}
		// Files stored in clear before encryption read as they are.
		if err := store.Put(ctx, "tenants/t1/old", bytes.NewReader([]byte("old")), 3, ""); err != nil {
			t.Fatal(err)
		}
		if obj, err := files.Open(ctx, "t1", "s1", "tenants/t1/old"); err != nil {
			t.Fatal(err)
		} else if b, _ := io.ReadAll(obj); string(b) != "old" {
			t.Errorf("legacy: %q", b)
		} else {
			obj.Close()
		}
		// Shredded, it is gone.
		if err := files.keys.ShredSubmission(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
		if _, err := files.Open(ctx, "t1", "s1", key); !errors.Is(err, ErrShredded) {
			t.Errorf("after shredding: %v", err)
		}
	})
}

func TestPlainSizeInvertsSealedSize(t *testing.T) {
	for _, size := range []int64{0, 1, 100, 64<<10 - 1, 64 << 10, 64<<10 + 1, 3 << 20, 3<<20 + 17, 50 << 20} {
		got, ok := PlainSize(SealedSize(size))
		if !ok || got != size {
			t.Errorf("PlainSize(SealedSize(%d)) = %d, %v", size, got, ok)
		}
	}
	if _, ok := PlainSize(5); ok {
		t.Error("PlainSize accepted a size no file encrypts to")
	}
}
