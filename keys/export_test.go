package keys

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

// TestExportedKeysOpenUnderAnotherMaster: a tenant's key rows, exported and imported
// into an installation with another master key, open there what they sealed here; the
// tenant key travels unwrapped (the export is encrypted as a whole), never wrapped
// under the source's master key, and is wrapped again under the target's.
func TestExportedKeysOpenUnderAnotherMaster(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		src := NewService(db, mustMaster(t))
		k, err := src.SubmissionKey(ctx, "tenant-1", "sub-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.SubmissionKey(ctx, "tenant-2", "sub-2"); err != nil { // another tenant's keys stay behind
			t.Fatal(err)
		}
		sealed := SealField(k, "the witness's name", "tenant-1", "comments", "body", "c1")
		var sourceWrapped string
		db.Conn(ctx).Raw("SELECT wrapped FROM tenant_keys WHERE tenant_id = 'tenant-1'").Scan(&sourceWrapped)

		tables := map[string][]database.Row{}
		for _, te := range src.ExportTables() {
			if err := db.DumpRows(ctx, te, "tenant-1", func(r database.Row) error {
				tables[te.Table] = append(tables[te.Table], r)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if len(tables["tenant_keys"]) != 1 || len(tables["submission_keys"]) != 1 {
			t.Fatalf("exported %v", tables)
		}
		dump, _ := json.Marshal(tables)
		if strings.Contains(string(dump), sourceWrapped) || strings.Contains(string(dump), "master_key_id") {
			t.Errorf("the tenant key is exported wrapped under the source's master key: %s", dump)
		}

		target := dbtest.New(t, db.Dialect())
		m2 := mustMaster(t)
		dst := NewService(target, m2)
		bad := database.Row{"tenant_id": "tenant-1", ExportedKeyColumn: "not a key"}
		if err := dst.PrepareImportedTenantKey("tenant-1", bad); !errors.Is(err, ErrBadExportedKey) {
			t.Errorf("a malformed key: %v", err)
		}
		other := database.Row{}
		for c, v := range tables["tenant_keys"][0] {
			other[c] = v
		}
		if err := dst.PrepareImportedTenantKey("tenant-9", other); !errors.Is(err, ErrBadExportedKey) {
			t.Errorf("another tenant's key: %v", err)
		}
		err = target.WithTx(ctx, func(ctx context.Context) error {
			l := target.NewLoader()
			for _, table := range []string{"tenant_keys", "submission_keys"} {
				for _, r := range tables[table] {
					if table == "tenant_keys" {
						if err := dst.PrepareImportedTenantKey("tenant-1", r); err != nil {
							return err
						}
					}
					if err := l.Insert(ctx, table, r); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := dst.Check(ctx); err != nil {
			t.Fatalf("the target's master key does not open the imported key: %v", err)
		}
		var masterID string
		target.Conn(ctx).Raw("SELECT master_key_id FROM tenant_keys WHERE tenant_id = 'tenant-1'").Scan(&masterID)
		if masterID != m2.ID {
			t.Errorf("wrapped under %s, want the target's %s", masterID, m2.ID)
		}
		got, err := dst.ExistingSubmissionKey(ctx, "tenant-1", "sub-1")
		if err != nil || got != k {
			t.Fatalf("the submission key after import: %v", err)
		}
		if text, err := OpenField(got, sealed, "tenant-1", "comments", "body", "c1"); err != nil || text != "the witness's name" {
			t.Errorf("opened %q, %v", text, err)
		}
	})
}
