package keys

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
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
