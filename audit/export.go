package audit

import (
	"context"

	"github.com/unionportal/unionportal/database"
)

// ExportTables are a tenant's audit chain: its events, in chain order, and the chain's
// head. The events keep their hashes; their row ids, which the hashes do not cover,
// are the target's own.
func ExportTables() []database.TableExport {
	return []database.TableExport{
		{Table: "events", Where: "chain = ?", Order: "seq", Skip: []string{"id"}},
		{Table: "event_chain_heads", Where: "chain = ?"},
	}
}

// ActorIDs lists the users who acted in the tenant.
func ActorIDs(ctx context.Context, db *database.DB, tenantID string) ([]string, error) {
	var ids []string
	err := db.Conn(ctx).Raw("SELECT DISTINCT actor_id FROM events WHERE chain = ? AND actor_id IS NOT NULL", tenantID).Find(&ids).Error
	return ids, err
}
