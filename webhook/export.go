package webhook

import "github.com/unionportal/unionportal/database"

// ExportTables are a tenant's webhook endpoints (with their signing secrets, sealed
// under the tenant's key, which the export carries) and their delivery logs.
func ExportTables() []database.TableExport {
	return []database.TableExport{
		{Table: "webhook_endpoints", Where: "tenant_id = ?", Order: "id"},
		{Table: "webhook_deliveries", Where: "tenant_id = ?", Order: "id"},
	}
}
