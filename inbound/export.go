package inbound

import "github.com/unionportal/unionportal/database"

// ExportTables are a tenant's mailbox settings (the password sealed under the tenant's
// key, which the export carries) and polling state.
func ExportTables() []database.TableExport {
	return []database.TableExport{{Table: "mailboxes", Where: "tenant_id = ?", Order: "tenant_id"}}
}
