package keys

import (
	"context"
	"testing"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

// TestPlatformKeySurvivesRotation: the installation's key is stored wrapped like a
// tenant's, opened by Check and re-wrapped by RotateMaster, so what it sealed stays
// readable under a new master key; derived keys differ by purpose.
func TestPlatformKeySurvivesRotation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		m1, m2 := mustMaster(t), mustMaster(t)
		k, err := NewService(db, m1).PlatformKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sealed := SealField(k, "JBSWY3DPEHPK3PXP", "user-1", "auth_factors", "totp_secret", "f1")
		if n, err := NewService(db, m2, m1).RotateMaster(ctx); err != nil || n != 1 {
			t.Fatalf("rotate: %d %v", n, err)
		}
		after := NewService(db, m2)
		if err := after.Check(ctx); err != nil {
			t.Fatal(err)
		}
		k2, err := after.PlatformKey(ctx)
		if err != nil || k2 != k {
			t.Fatalf("the platform key after rotation: %v", err)
		}
		if got, err := OpenField(k2, sealed, "user-1", "auth_factors", "totp_secret", "f1"); err != nil || got != "JBSWY3DPEHPK3PXP" {
			t.Fatalf("opened %q %v", got, err)
		}
		if Derive(k, "a") == Derive(k, "b") || Derive(k, "a") != Derive(k2, "a") || Derive(k, "a") == k {
			t.Error("Derive: one key per purpose, the same for the same key")
		}
	})
}
