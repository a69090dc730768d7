package audit_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

func record(t *testing.T, db *database.DB, chain string, n int) []*audit.Event {
	t.Helper()
	var out []*audit.Event
	for i := 0; i < n; i++ {
		e, err := audit.Record(context.Background(), db, audit.Entry{Action: "test.event", ObjectType: "thing",
			ObjectID: strings.Repeat("x", i), IP: "192.0.2.1", Details: map[string]any{"i": i}, At: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func TestVerifyDetectsTampering(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		exec := func(sql string, args ...any) {
			t.Helper()
			if err := db.Conn(ctx).Exec(sql, args...).Error; err != nil {
				t.Fatal(err)
			}
		}
		verify := func() *audit.Break {
			t.Helper()
			b, _, err := audit.Verify(ctx, db, audit.PlatformChain)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		events := record(t, db, audit.PlatformChain, 6)
		if b := verify(); b != nil {
			t.Fatalf("an intact chain reported broken: %v", b)
		}
		_, n, _ := audit.Verify(ctx, db, audit.PlatformChain)
		if n != 6 {
			t.Fatalf("verified %d events, want 6", n)
		}

		t.Run("edited", func(t *testing.T) {
			exec("UPDATE events SET action = 'innocent.event' WHERE id = ?", events[2].ID)
			b := verify()
			if b == nil || b.Seq != 3 || b.EventID != events[2].ID || !strings.Contains(b.Reason, "edited") {
				t.Fatalf("edited row: %v", b)
			}
			exec("UPDATE events SET action = 'test.event' WHERE id = ?", events[2].ID)
			if b := verify(); b != nil {
				t.Fatalf("restored row still reported: %v", b)
			}
		})
		t.Run("swapped", func(t *testing.T) {
			// Exchange the content of rows 4 and 5 (as if reordered), keeping their hashes.
			exec("UPDATE events SET seq = -1 WHERE id = ?", events[3].ID)
			exec("UPDATE events SET seq = 4, prev_hash = ?, hash = ? WHERE id = ?", events[3].PrevHash, events[3].Hash, events[4].ID)
			exec("UPDATE events SET seq = 5, prev_hash = ?, hash = ? WHERE id = ?", events[4].PrevHash, events[4].Hash, events[3].ID)
			b := verify()
			if b == nil || b.Seq != 4 {
				t.Fatalf("swapped rows: %v", b)
			}
		})
	})
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		events := record(t, db, audit.PlatformChain, 5)
		if err := db.Conn(ctx).Exec("DELETE FROM events WHERE id = ?", events[1].ID).Error; err != nil {
			t.Fatal(err)
		}
		b, _, err := audit.Verify(ctx, db, audit.PlatformChain)
		if err != nil || b == nil || b.Seq != 2 || b.EventID != 0 || !strings.Contains(b.Error(), "event 2: missing") {
			t.Fatalf("deleted row: %v %v", b, err)
		}
		// Deleting the newest row is found through the chain head.
		db.Conn(ctx).Exec("DELETE FROM events WHERE id >= ?", events[1].ID)
		b, _, _ = audit.Verify(ctx, db, audit.PlatformChain)
		if b == nil || b.Seq != 2 {
			t.Fatalf("deleted tail: %v", b)
		}
	})
}

func TestConcurrentWritersKeepOneChain(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 10; i++ {
					if _, err := audit.Record(context.Background(), db, audit.Entry{Action: "concurrent", At: time.Now()}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		b, n, err := audit.Verify(context.Background(), db, audit.PlatformChain)
		if err != nil || b != nil || n != 40 {
			t.Fatalf("after concurrent writes: break %v, %d events, %v", b, n, err)
		}
	})
}

// TestVerifyDetectsHiddenAndRewoundChains: a tenant chain whose head row was deleted, or
// whose newest events were deleted with the head set back, is reported (issue 9, item 11).
func TestVerifyDetectsHiddenAndRewoundChains(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		conn := db.Conn(ctx)
		tenant := "0190c4a8-0000-7000-8000-0000000000aa"
		if err := conn.Exec("INSERT INTO tenants (id, slug, name, created_at, updated_at) VALUES (?, 'anchored', 'A', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)", tenant).Error; err != nil {
			t.Fatal(err)
		}
		add := func(n int) {
			for i := 0; i < n; i++ {
				if _, err := audit.Record(ctx, db, audit.Entry{TenantID: tenant, Action: "test.event", At: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
		}
		verify := func() *audit.Break {
			t.Helper()
			chains, err := audit.Chains(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range chains {
				b, _, err := audit.Verify(ctx, db, c)
				if err != nil {
					t.Fatal(err)
				}
				if b != nil {
					return b
				}
			}
			return nil
		}
		add(4)
		if n, err := audit.Anchor(ctx, db, nil); err != nil || n != 1 {
			t.Fatalf("anchored %d chains (%v), want 1", n, err)
		}
		if n, _ := audit.Anchor(ctx, db, nil); n != 0 {
			t.Errorf("a chain that did not move was anchored again")
		}
		add(2)
		if b := verify(); b != nil {
			t.Fatalf("intact chains reported broken: %v", b)
		}

		t.Run("head deleted", func(t *testing.T) {
			var head struct {
				Seq  int64
				Hash string
			}
			conn.Raw("SELECT seq, hash FROM event_chain_heads WHERE chain = ?", tenant).Scan(&head)
			conn.Exec("DELETE FROM event_chain_heads WHERE chain = ?", tenant)
			if b := verify(); b == nil || b.Chain != tenant || !strings.Contains(b.Reason, "head") {
				t.Errorf("deleted head: %v", b)
			}
			conn.Exec("INSERT INTO event_chain_heads (chain, seq, hash) VALUES (?, ?, ?)", tenant, head.Seq, head.Hash)
		})
		t.Run("rewound past the anchor", func(t *testing.T) {
			// Delete events 6, 5 and 4 and set the head back to event 3: a consistent,
			// shorter chain, which only the anchor of event 4 betrays.
			var third struct{ Hash string }
			conn.Raw("SELECT hash FROM events WHERE chain = ? AND seq = 3", tenant).Scan(&third)
			conn.Exec("DELETE FROM events WHERE chain = ? AND seq >= 4", tenant)
			conn.Exec("UPDATE event_chain_heads SET seq = 3, hash = ? WHERE chain = ?", third.Hash, tenant)
			b := verify()
			if b == nil || b.Chain != tenant || b.Seq != 4 || !strings.Contains(b.Reason, "anchored") {
				t.Errorf("rewound chain: %v", b)
			}
		})
	})
}
