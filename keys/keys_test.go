package keys

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

func mustMaster(t *testing.T) *Master {
	t.Helper()
	m, err := ParseMaster(GenerateMaster())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParseMaster(t *testing.T) {
	hexKey := strings.Repeat("ab", 32)
	m1, err := ParseMaster(hexKey)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := ParseMaster("q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=") // the same 32 bytes in base64
	if err != nil || m1.ID != m2.ID || m1.key != m2.key || len(m1.ID) != 16 {
		t.Fatalf("hex and base64 of one key: %v %+v %+v", err, m1.ID, m2)
	}
	for _, bad := range []string{"", "short", strings.Repeat("ab", 31), "correct horse battery staple correct horse"} {
		if _, err := ParseMaster(bad); err == nil || strings.Contains(err.Error(), bad) && bad != "" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestSealedFieldsAreBoundToTheirPlace: a ciphertext opens only with its key, tenant,
// table, column and row.
func TestSealedFieldsAreBoundToTheirPlace(t *testing.T) {
	k, other := NewKey(), NewKey()
	sealed := SealField(k, "The union leader WITNESS-7731 was arrested.", "t1", "revisions", "body", "r1")
	if strings.Contains(sealed, "WITNESS") || !IsSealed(sealed) {
		t.Fatalf("sealed: %s", sealed)
	}
	if got, err := OpenField(k, sealed, "t1", "revisions", "body", "r1"); err != nil || got != "The union leader WITNESS-7731 was arrested." {
		t.Fatalf("open: %q %v", got, err)
	}
	for name, open := range map[string]func() (string, error){
		"another key":    func() (string, error) { return OpenField(other, sealed, "t1", "revisions", "body", "r1") },
		"another tenant": func() (string, error) { return OpenField(k, sealed, "t2", "revisions", "body", "r1") },
		"another table":  func() (string, error) { return OpenField(k, sealed, "t1", "comments", "body", "r1") },
		"another column": func() (string, error) { return OpenField(k, sealed, "t1", "revisions", "title", "r1") },
		"another row":    func() (string, error) { return OpenField(k, sealed, "t1", "revisions", "body", "r2") },
		"altered": func() (string, error) {
			return OpenField(k, sealed[:len(sealed)-2]+"AA", "t1", "revisions", "body", "r1")
		},
		"plain text": func() (string, error) { return OpenField(k, "hello", "t1", "revisions", "body", "r1") },
	} {
		if _, err := open(); !errors.Is(err, ErrCannotOpen) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The context's parts are delimited: ("ab","c") is not ("a","bc").
	if _, err := Open(k, Seal(k, []byte("x"), "ab", "c"), "a", "bc"); !errors.Is(err, ErrCannotOpen) {
		t.Error("context parts run together")
	}
}

func TestKeyHierarchy(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		m1 := mustMaster(t)
		s := NewService(db, m1)
		// Created once, even when asked for at once by many.
		var wg sync.WaitGroup
		got := make([]Key, 8)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := NewService(db, m1).SubmissionKey(ctx, "tenant-1", "sub-1")
				if err != nil {
					t.Error(err)
				}
				got[i] = k
			}()
		}
		wg.Wait()
		for _, k := range got[1:] {
			if k != got[0] {
				t.Fatal("concurrent first uses made different keys")
			}
		}
		sealed := SealField(got[0], "secret", "tenant-1", "comments", "body", "c1")
		// Nothing of the keys is stored in clear.
		var wrapped []string
		db.Conn(ctx).Raw("SELECT wrapped FROM tenant_keys UNION ALL SELECT wrapped FROM submission_keys").Scan(&wrapped)
		tk, _ := s.TenantKey(ctx, "tenant-1")
		for _, w := range wrapped {
			if !IsSealed(w) || strings.Contains(w, string(tk[:])) {
				t.Errorf("a stored key is not wrapped: %q", w)
			}
		}
		// A submission's key under another tenant does not open.
		if _, err := s.SubmissionKey(ctx, "tenant-2", "sub-1"); !errors.Is(err, ErrCannotOpen) {
			t.Errorf("sub-1's key asked for by tenant-2: %v", err)
		}
		// A wrong master key is found at start.
		if err := NewService(db, mustMaster(t)).Check(ctx); !errors.Is(err, ErrUnknownMaster) {
			t.Errorf("a wrong master key: %v", err)
		}
		if err := s.Check(ctx); err != nil {
			t.Fatal(err)
		}
		// Rotation: a new master key with the old one as previous re-wraps, and
		// everything stays readable with the new one alone.
		m2 := mustMaster(t)
		if n, err := NewService(db, m2, m1).RotateMaster(ctx); err != nil || n != 2 { // tenant-1, and tenant-2 from the refused request above
			t.Fatalf("rotate: %d %v", n, err)
		}
		if n, err := NewService(db, m2, m1).RotateMaster(ctx); err != nil || n != 0 {
			t.Fatalf("rotate again: %d %v", n, err)
		}
		after := NewService(db, m2)
		if err := after.Check(ctx); err != nil {
			t.Fatal(err)
		}
		k, err := after.SubmissionKey(ctx, "tenant-1", "sub-1")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := OpenField(k, sealed, "tenant-1", "comments", "body", "c1"); err != nil || got != "secret" {
			t.Fatalf("after rotation: %q %v", got, err)
		}
		if err := NewService(db, m1).Check(ctx); !errors.Is(err, ErrUnknownMaster) {
			t.Errorf("the old master key after rotation: %v", err)
		}
		// Crypto-shredding: the key is gone, and a new one would not open the old data.
		if err := after.ShredSubmission(ctx, "sub-1"); err != nil {
			t.Fatal(err)
		}
		k2, err := after.SubmissionKey(ctx, "tenant-1", "sub-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := OpenField(k2, sealed, "tenant-1", "comments", "body", "c1"); !errors.Is(err, ErrCannotOpen) {
			t.Errorf("shredded data opened: %v", err)
		}
	})
}

// TestTenantKeyOfARolledBackTransaction: a tenant key created in a transaction that
// rolls back is not remembered; the key used afterwards is the one stored.
func TestTenantKeyOfARolledBackTransaction(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		m := mustMaster(t)
		s := NewService(db, m)
		err := db.WithTx(ctx, func(ctx context.Context) error {
			if _, err := s.TenantKey(ctx, "tenant-1"); err != nil {
				return err
			}
			if _, err := s.TenantKey(ctx, "tenant-1"); err != nil { // read back inside the transaction
				return err
			}
			return errors.New("roll back")
		})
		if err == nil || err.Error() != "roll back" {
			t.Fatal(err)
		}
		k, err := s.TenantKey(ctx, "tenant-1")
		if err != nil {
			t.Fatal(err)
		}
		if stored, err := NewService(db, m).TenantKey(ctx, "tenant-1"); err != nil || stored != k {
			t.Errorf("the key used is not the one stored (%v)", err)
		}
	})
}

// TestShredTenant: once a tenant's keys are deleted, nothing sealed under them opens,
// even with every other row kept (a backup), and another tenant is untouched.
func TestShredTenant(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		s := NewService(db, mustMaster(t))
		k1, err := s.SubmissionKey(ctx, "t1", "s1")
		if err != nil {
			t.Fatal(err)
		}
		k2, err := s.SubmissionKey(ctx, "t2", "s2")
		if err != nil {
			t.Fatal(err)
		}
		sealed := SealField(k1, "secret", "t1", "comments", "body", "c1")
		if err := s.ShredTenant(ctx, "t1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ExistingSubmissionKey(ctx, "t1", "s1"); !errors.Is(err, ErrShredded) {
			t.Errorf("s1's key after its tenant was shredded: %v", err)
		}
		// A new tenant key, made on demand, opens nothing of the old one's.
		if k, err := s.SubmissionKey(ctx, "t1", "s1"); err != nil || k == k1 {
			t.Fatalf("a fresh key: %v", err)
		} else if _, err := OpenField(k, sealed, "t1", "comments", "body", "c1"); !errors.Is(err, ErrCannotOpen) {
			t.Errorf("the old ciphertext under a fresh key: %v", err)
		}
		if k, err := s.ExistingSubmissionKey(ctx, "t2", "s2"); err != nil || k != k2 {
			t.Errorf("another tenant's key: %v", err)
		}
	})
}

// TestOpenWrappedSubmissionKey: a data key read beside its submission (through
// WrappedSubmissionKeyColumn) opens as ExistingSubmissionKey's does; none means
// shredded; another submission's or tenant's wrapped key does not open.
func TestOpenWrappedSubmissionKey(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		s := NewService(db, mustMaster(t))
		k1, err := s.SubmissionKey(ctx, "t1", "s1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SubmissionKey(ctx, "t2", "s2"); err != nil {
			t.Fatal(err)
		}
		wrapped := func(id string) *string {
			var rows []struct{ WrappedSubmissionKey *string }
			if err := db.Conn(ctx).Raw("SELECT "+WrappedSubmissionKeyColumn+" FROM (SELECT CAST(? AS TEXT) AS id) submissions", id).Find(&rows).Error; err != nil {
				t.Fatal(err)
			}
			return rows[0].WrappedSubmissionKey
		}
		if k, err := s.OpenWrappedSubmissionKey(ctx, "t1", "s1", wrapped("s1")); err != nil || k != k1 {
			t.Errorf("s1's key read with it: %v", err)
		}
		if _, err := s.OpenWrappedSubmissionKey(ctx, "t1", "s3", wrapped("s3")); !errors.Is(err, ErrShredded) {
			t.Errorf("no key: %v, want ErrShredded", err)
		}
		if _, err := s.OpenWrappedSubmissionKey(ctx, "t1", "s1", wrapped("s2")); !errors.Is(err, ErrCannotOpen) {
			t.Errorf("another submission's key (of another tenant): %v, want ErrCannotOpen", err)
		}
		if _, err := s.OpenWrappedSubmissionKey(ctx, "t2", "s1", wrapped("s1")); err == nil {
			t.Error("s1's key opened for another tenant")
		}
	})
}
