package portal

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"filippo.io/age"
)

// TestSpoolIsEncrypted: what goes through the export's spool is on disk only
// encrypted, and reads back whole, table after table.
func TestSpoolIsEncrypted(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	sp, err := newSpool()
	if err != nil {
		t.Fatal(err)
	}
	defer sp.remove()
	for _, table := range []string{"The union leader WITNESS-7731 was arrested.\n", "short\n"} {
		w, err := sp.writer()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, table); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(sp.f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("WITNESS")) || bytes.Contains(raw, []byte("short")) {
			t.Fatalf("the spool holds the table in clear: %q", raw)
		}
		r, err := sp.reader()
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(r); err != nil || string(got) != table {
			t.Errorf("read back %q, %v", got, err)
		}
	}
	name := sp.f.Name()
	sp.remove()
	if _, err := os.Stat(name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the spool outlived the export: %v", err)
	}
}

// countingIdentity counts the unwraps that reach it.
type countingIdentity struct {
	age.Identity
	n int
}

func (c *countingIdentity) Unwrap(s []*age.Stanza) ([]byte, error) {
	c.n++
	return c.Identity.Unwrap(s)
}

// TestRememberedIdentity: the file key is unwrapped once for the two passes over one
// file; another file, and a wrong key, are not opened with it.
func TestRememberedIdentity(t *testing.T) {
	key, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	encrypt := func(to age.Recipient, text string) []byte {
		var buf bytes.Buffer
		w, err := age.Encrypt(&buf, to)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, text)
		w.Close()
		return buf.Bytes()
	}
	counted := &countingIdentity{Identity: key}
	id := &rememberedIdentity{ids: []age.Identity{&countingIdentity{Identity: other}, counted}}
	file := encrypt(key.Recipient(), "first")
	for range 2 {
		r, err := decrypt(bytes.NewReader(file), id)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(r); string(b) != "first" {
			t.Errorf("read %q", b)
		}
	}
	if counted.n != 1 {
		t.Errorf("the key was unwrapped %d times", counted.n)
	}
	r, err := decrypt(bytes.NewReader(encrypt(key.Recipient(), "second")), id)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r); string(b) != "second" || counted.n != 2 {
		t.Errorf("another file: %q after %d unwraps", b, counted.n)
	}
	if _, err := decrypt(bytes.NewReader(encrypt(other.Recipient(), "x")), &rememberedIdentity{ids: []age.Identity{key}}); !errors.Is(err, ErrExportKey) {
		t.Errorf("a wrong key: %v", err)
	}
	if _, err := decrypt(bytes.NewReader([]byte("not age")), id); !errors.Is(err, ErrBadExport) {
		t.Errorf("not an age file: %v", err)
	}
}
