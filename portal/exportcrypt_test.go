package portal

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"filippo.io/age"
)

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
