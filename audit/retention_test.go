package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/clientip"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

// TestRecordKeepsWhatTheRetentionAllows: whatever address a caller passes, an event
// stores what the retention in its context allows (truncated without one), and its
// chain still verifies.
func TestRecordKeepsWhatTheRetentionAllows(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		cases := []struct {
			ctx    context.Context
			ip     string
			stored string
		}{
			{context.Background(), "192.0.2.77", "192.0.2.0/24"},
			{context.Background(), "2001:db8:abcd:12::7", "2001:db8:abcd::/48"},
			{clientip.With(context.Background(), clientip.Full), "192.0.2.77", "192.0.2.77"},
			{clientip.With(context.Background(), clientip.None), "192.0.2.77", ""},
			{clientip.With(context.Background(), clientip.None), "cli", "cli"},
			{context.Background(), "garbage with spaces", ""},
		}
		for _, c := range cases {
			e, err := audit.Record(c.ctx, db, audit.Entry{Action: "test.event", IP: c.ip, At: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			var stored string
			if err := db.Conn(t.Context()).Table("events").Where("id = ?", e.ID).Pluck("ip", &stored).Error; err != nil {
				t.Fatal(err)
			}
			if stored != c.stored || e.IP != c.stored {
				t.Errorf("%s under %s: stored %q (returned %q), want %q", c.ip, clientip.From(c.ctx), stored, e.IP, c.stored)
			}
		}
		if b, _, err := audit.Verify(t.Context(), db, audit.PlatformChain); err != nil || b != nil {
			t.Errorf("verify: %v %v", b, err)
		}
	})
}
