package dispatch

import "github.com/unionportal/unionportal/database"

// ExportTables are the dispatch records of one tenant: each dispatch and each
// recipient's outcome. Jobs in the queue are not moved: a dispatch still queued is
// exported as queued, and the importing installation does not send it (see README).
func ExportTables() []database.TableExport {
	return []database.TableExport{
		{Table: "dispatches", Where: "tenant_id = ?", Order: "id"},
		{Table: "deliveries", Where: "dispatch_id IN (SELECT id FROM dispatches WHERE tenant_id = ?)", Order: "id"},
	}
}
