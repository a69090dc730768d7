package api

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// softKey is a security key in software: one ES256 credential with "none" attestation,
// answering registrations (navigator.credentials.create) and assertions (.get) for the
// portal's origin as a browser would hand them over.
type softKey struct {
	t       testing.TB
	origin  string
	rpID    string
	key     *ecdsa.PrivateKey
	credID  []byte
	counter uint32
}

func newSoftKey(t testing.TB) *softKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &softKey{t: t, origin: "http://localhost:8080", rpID: "localhost", key: k, credID: id}
}

var b64 = base64.RawURLEncoding

// challengeOf reads the challenge of {"publicKey": {...}} options.
func challengeOf(t testing.TB, opts map[string]any) string {
	t.Helper()
	pk, _ := opts["publicKey"].(map[string]any)
	c, _ := pk["challenge"].(string)
	if c == "" {
		t.Fatalf("options without a challenge: %v", opts)
	}
	return c
}

func (k *softKey) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": k.origin, "crossOrigin": false})
	return b
}

func (k *softKey) authData(flags byte, attested []byte) []byte {
	rp := sha256.Sum256([]byte(k.rpID))
	out := append([]byte{}, rp[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, k.counter)
	return append(out, attested...)
}

// create answers a registration's options.
func (k *softKey) create(opts map[string]any) map[string]any {
	k.t.Helper()
	x, y := k.key.PublicKey.X.FillBytes(make([]byte, 32)), k.key.PublicKey.Y.FillBytes(make([]byte, 32))
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	if err != nil {
		k.t.Fatal(err)
	}
	attested := make([]byte, 16) // AAGUID: none
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(k.credID)))
	attested = append(append(attested, k.credID...), cose...)
	ao, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": k.authData(0x41, attested)})
	if err != nil {
		k.t.Fatal(err)
	}
	return map[string]any{"id": b64.EncodeToString(k.credID), "rawId": b64.EncodeToString(k.credID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(k.clientData("webauthn.create", challengeOf(k.t, opts))),
			"attestationObject": b64.EncodeToString(ao)},
		"clientExtensionResults": map[string]any{}}
}

// get answers an assertion's options, moving the signature counter forward by step
// (0: a cloned key that repeats its counter).
func (k *softKey) get(opts map[string]any, step uint32) map[string]any {
	k.t.Helper()
	k.counter += step
	ad := k.authData(0x01, nil)
	cd := k.clientData("webauthn.get", challengeOf(k.t, opts))
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, digest[:])
	if err != nil {
		k.t.Fatal(err)
	}
	return map[string]any{"id": b64.EncodeToString(k.credID), "rawId": b64.EncodeToString(k.credID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(ad),
			"signature": b64.EncodeToString(sig)},
		"clientExtensionResults": map[string]any{}}
}
