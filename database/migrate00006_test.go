package database_test

import (
	"context"
	"io/fs"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

// upTo is the dialect's embedded migrations numbered at most n.
func upTo(t *testing.T, d database.Dialect, n string) fs.FS {
	t.Helper()
	all := database.Migrations(d)
	out := fstest.MapFS{}
	entries, err := fs.ReadDir(all, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() <= n {
			b, err := fs.ReadFile(all, e.Name())
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	return out
}

// TestMigrationRegistersSenderDomainsInUse: tenants keep the sender domains their
// settings use when verification starts (issue 9, item 5).
func TestMigrationRegistersSenderDomainsInUse(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		if _, err := db.MigrateFS(ctx, upTo(t, db.Dialect(), "00005_~"), nil); err != nil {
			t.Fatal(err)
		}
		conn := db.Conn(ctx)
		insert := func(id, slug, settings string) {
			if err := conn.Exec("INSERT INTO tenants (id, slug, name, created_at, updated_at, settings) VALUES (?, ?, ?, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, ?)",
				id, slug, slug, settings).Error; err != nil {
				t.Fatal(err)
			}
		}
		insert("0190c4a8-0000-7000-8000-000000000001", "one", `{"dispatch":{"from":{"name":"One","address":"cfa@One.example"},"reply_to":"desk@reply.example"}}`)
		insert("0190c4a8-0000-7000-8000-000000000002", "two", `{}`)
		if _, err := db.Migrate(ctx, nil); err != nil {
			t.Fatal(err)
		}
		var got []string
		if err := conn.Raw("SELECT t.slug || ' ' || d.domain FROM sender_domains d JOIN tenants t ON t.id = d.tenant_id ORDER BY 1").Scan(&got).Error; err != nil {
			t.Fatal(err)
		}
		if want := []string{"one one.example", "one reply.example"}; !slices.Equal(got, want) {
			t.Errorf("sender domains %v, want %v", got, want)
		}
	}, dbtest.Empty())
}
