package auth

import (
	"context"
	"runtime"
	"testing"

	"github.com/alexedwards/argon2id"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

// TestNewServiceRunsNoArgon2: building the service allocates far less than one argon2id
// run with the default parameters (46 MiB), so it does not hash at start-up.
func TestNewServiceRunsNoArgon2(t *testing.T) {
	db := dbtest.New(t, database.SQLite)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := NewService(context.Background(), db, Options{SecretKey: make([]byte, 32)})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	argon2Bytes := uint64(DefaultPasswordParams.Memory) * 1024
	if got := after.TotalAlloc - before.TotalAlloc; got >= argon2Bytes/2 {
		t.Errorf("NewService allocated %d bytes; one argon2id run allocates %d", got, argon2Bytes)
	}
	if s.dummyHash == "" {
		t.Error("no dummy hash")
	}
}

// TestDummyHashVerifiesLikeARealHash: the dummy hash decodes to the same parameters as
// a hash made with them (so verifying against it does the same work) and matches no
// password.
func TestDummyHashVerifiesLikeARealHash(t *testing.T) {
	params := &argon2id.Params{Memory: 64, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	real, err := argon2id.CreateHash("a password", params)
	if err != nil {
		t.Fatal(err)
	}
	wantParams, _, _, err := argon2id.DecodeHash(real)
	if err != nil {
		t.Fatal(err)
	}
	dummy := newDummyHash(params)
	gotParams, _, _, err := argon2id.DecodeHash(dummy)
	if err != nil {
		t.Fatalf("%s: %v", dummy, err)
	}
	if *gotParams != *wantParams {
		t.Errorf("dummy hash params %+v, a real hash's %+v", *gotParams, *wantParams)
	}
	if ok, err := argon2id.ComparePasswordAndHash("a password", dummy); ok || err != nil {
		t.Errorf("verify against the dummy hash: %v, %v", ok, err)
	}
	if newDummyHash(params) == dummy {
		t.Error("two dummy hashes are equal")
	}
}
