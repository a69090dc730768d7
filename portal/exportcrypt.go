package portal

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"

	"filippo.io/age"
)

// Exports are encrypted with age (ADR 0031): to X25519 recipients, whose identities the
// importing operator holds, or to a passphrase (scrypt). They hold complaints, the
// tenant's key and password hashes, and are never written in clear.

// ErrNoRecipient is an export asked for without a recipient or passphrase.
var ErrNoRecipient = errors.New("an export is always encrypted: give an age recipient or a passphrase")

// ErrExportKey is an export that the identities or passphrase given do not open.
// Nothing was imported.
var ErrExportKey = errors.New("the export does not open with the identity or passphrase given (it was encrypted to another recipient or passphrase)")

// decrypt opens an export's age stream.
func decrypt(f io.Reader, id age.Identity) (io.Reader, error) {
	r, err := age.Decrypt(bufio.NewReader(f), id)
	var none *age.NoIdentityMatchError
	switch {
	case errors.As(err, &none):
		return nil, ErrExportKey
	case err != nil:
		return nil, badExport("not an encrypted export, or its header is damaged: %v", err)
	}
	return r, nil
}

// rememberedIdentity unwraps an export's file key once: an import decrypts the file
// twice (to check it, then to write it), and a passphrase costs a second of scrypt.
// The header's MAC, checked with the key every time, still binds the key to the header.
type rememberedIdentity struct {
	ids     []age.Identity
	stanzas []*age.Stanza
	fileKey []byte
}

// Unwrap implements age.Identity.
func (r *rememberedIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	if r.fileKey != nil && sameStanzas(r.stanzas, stanzas) {
		return r.fileKey, nil
	}
	for _, id := range r.ids {
		k, err := id.Unwrap(stanzas)
		if errors.Is(err, age.ErrIncorrectIdentity) {
			continue
		}
		if err != nil {
			return nil, err
		}
		r.stanzas, r.fileKey = stanzas, k
		return k, nil
	}
	return nil, age.ErrIncorrectIdentity
}

func sameStanzas(a, b []*age.Stanza) bool {
	return slices.EqualFunc(a, b, func(x, y *age.Stanza) bool {
		return slices.Equal(x.Args, y.Args) && x.Type == y.Type && bytes.Equal(x.Body, y.Body)
	})
}
