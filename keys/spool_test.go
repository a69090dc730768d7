package keys

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/storage"
)

// TestSpool: what goes through a spool is on disk only encrypted, reads back whole and
// at any offset, and is gone once removed.
func TestSpool(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	plain := bytes.Repeat([]byte("The union leader WITNESS-7731 was arrested. "), 5000)
	sp, err := SpoolFrom(bytes.NewReader(plain))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(sp.f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("WITNESS")) {
		t.Fatal("the spool holds its content in clear")
	}
	if sp.Size() != int64(len(plain)) {
		t.Errorf("size %d", sp.Size())
	}
	part := make([]byte, 20)
	if _, err := sp.ReadAt(part, 100000); err != nil || !bytes.Equal(part, plain[100000:100020]) {
		t.Errorf("ReadAt: %q %v", part, err)
	}
	r := sp.Reader()
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("read back %d bytes, %v", len(got), err)
	}
	if _, err := sp.Write([]byte("more")); err == nil {
		t.Error("a finished spool took more")
	}
	r.Close()
	if _, err := os.Stat(sp.f.Name()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the spool outlived its reader: %v", err)
	}
}

// TestPutSpooled: the sealed spool holds exactly the bytes stored, which open with the
// stored file's key and read back the plaintext; it accepts no other writer, and Put's
// other uses are untouched.
func TestPutSpooled(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		store, err := storage.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		files := NewService(db, mustMaster(t)).Files(store)
		plain := bytes.Repeat([]byte("evidence of the violations "), 10000) // several 64 KiB chunks
		sp, err := NewSealedSpool()
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Remove()
		if _, err := sp.Write([]byte("x")); err == nil {
			t.Error("a sealed spool took bytes from another writer")
		}
		key := SealedKey("t1/s1/a1")
		if err := files.PutSpooled(ctx, "t1", "s1", key, bytes.NewReader(plain), -1, sp); err != nil {
			t.Fatal(err)
		}
		if err := sp.Finish(); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(io.NewSectionReader(sp, 0, sp.Size()))
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("the spool reads back %d bytes (%v), want the %d written", len(got), err, len(plain))
		}
		stored, err := store.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer stored.Close()
		raw, _ := io.ReadAll(stored)
		onDisk, _ := os.ReadFile(sp.f.Name())
		if !bytes.Equal(raw, onDisk) || bytes.Contains(onDisk, []byte("evidence")) {
			t.Errorf("the spool is not the stored ciphertext (%d vs %d bytes)", len(onDisk), len(raw))
		}
		if err := files.PutSpooled(ctx, "t1", "s1", key, bytes.NewReader(plain), -1, sp); err == nil {
			t.Error("a finished spool was filled again")
		}
	})
}
