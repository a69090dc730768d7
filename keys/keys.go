// Package keys holds the portal's key hierarchy for encryption at rest: a master key
// from configuration, never stored; a key-encryption key per tenant, stored wrapped by
// the master key under its key id; a data key per submission, stored wrapped by its
// tenant's key. Deleting a wrapped data key makes everything encrypted under it
// unreadable, in every copy (crypto-shredding). Fields are sealed with
// XChaCha20-Poly1305 with their tenant, table, column and row as associated data, so a
// ciphertext copied elsewhere does not open.
package keys

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// Key is a 256-bit symmetric key.
type Key [32]byte

// NewKey returns a random key.
func NewKey() Key {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		panic("keys: the system's random source failed: " + err.Error())
	}
	return k
}

// Master is the master key and its id, which names it in wrapped keys so that the
// master key can rotate.
type Master struct {
	ID  string
	key Key
}

// ParseMaster reads a master key: 32 bytes in base64 (standard or URL alphabet, padded
// or not) or in hex. Errors never repeat the value.
func ParseMaster(text string) (*Master, error) {
	text = strings.TrimSpace(text)
	var raw []byte
	if b, err := hex.DecodeString(text); err == nil && len(b) == 32 {
		raw = b
	} else {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(text); err == nil && len(b) == 32 {
				raw = b
				break
			}
		}
	}
	if raw == nil {
		return nil, errors.New("expected 32 random bytes in base64 or hex (`unionportal admin generate-master-key` makes one)")
	}
	m := &Master{}
	copy(m.key[:], raw)
	idKey, err := hkdf.Key(sha256.New, raw, nil, "unionportal master key id", 8)
	if err != nil {
		return nil, err
	}
	m.ID = hex.EncodeToString(idKey)
	return m, nil
}

// NewMaster returns a new random master key (for tests and first starts).
func NewMaster() *Master {
	m, err := ParseMaster(GenerateMaster())
	if err != nil {
		panic(err)
	}
	return m
}

// GenerateMaster returns a new master key as text for configuration.
func GenerateMaster() string {
	k := NewKey()
	return base64.StdEncoding.EncodeToString(k[:])
}

// ErrCannotOpen is a ciphertext that does not open under the key and context given: it
// was altered, or moved to another row, column, submission or tenant, or the key is
// wrong.
var ErrCannotOpen = errors.New("keys: the ciphertext does not open under this key and context")

// sealedPrefix marks a sealed value, with the format's version.
const sealedPrefix = "enc1:"

// associated joins the context parts unambiguously.
func associated(parts []string) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, []byte(fmt.Sprintf("%d:", len(p)))...)
		b = append(b, p...)
	}
	return b
}

// Seal encrypts plaintext under key, bound to context (tenant, table, column, row…).
func Seal(key Key, plaintext []byte, context ...string) string {
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(sealRaw(key, plaintext, context))
}

// Open decrypts what Seal made with the same key and context.
func Open(key Key, sealed string, context ...string) ([]byte, error) {
	if !IsSealed(sealed) {
		return nil, fmt.Errorf("%w: not a sealed value", ErrCannotOpen)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sealed, sealedPrefix))
	if err != nil {
		return nil, fmt.Errorf("%w: malformed", ErrCannotOpen)
	}
	return openRaw(key, raw, context)
}

// sealRaw returns nonce ‖ ciphertext ‖ tag.
func sealRaw(key Key, plaintext []byte, context []string) []byte {
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		panic(err)
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("keys: the system's random source failed: " + err.Error())
	}
	return aead.Seal(nonce, nonce, plaintext, associated(context))
}

func openRaw(key Key, raw []byte, context []string) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		return nil, err
	}
	if len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w: too short", ErrCannotOpen)
	}
	out, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], associated(context))
	if err != nil {
		return nil, ErrCannotOpen
	}
	return out, nil
}

// IsSealed reports whether s is a sealed value (rather than text written before
// encryption was turned on).
func IsSealed(s string) bool { return strings.HasPrefix(s, sealedPrefix) }

// SealField seals a text column's value of one row.
func SealField(key Key, plaintext, tenantID, table, column, rowID string) string {
	return Seal(key, []byte(plaintext), "field", tenantID, table, column, rowID)
}

// OpenField opens what SealField sealed for the same row and column.
func OpenField(key Key, sealed, tenantID, table, column, rowID string) (string, error) {
	b, err := Open(key, sealed, "field", tenantID, table, column, rowID)
	return string(b), err
}
