package workflow

import "github.com/unionportal/unionportal/database"

// ExportTables are the workflow's rows of one tenant, parents first.
func ExportTables() []database.TableExport {
	own := func(table, order string) database.TableExport {
		return database.TableExport{Table: table, Where: "tenant_id = ?", Order: order}
	}
	return []database.TableExport{
		own("sender_domains", "domain"),
		own("cases", "id"),
		own("submissions", "id"),
		{Table: "submission_contributors", Where: "submission_id IN (SELECT id FROM submissions WHERE tenant_id = ?)", Order: "submission_id, user_id"},
		own("revisions", "submission_id, number"),
		own("approvals", "id"),
		own("comments", "id"),
		own("attachments", "id"),
		own("approval_snapshots", "submission_id, revision"),
		own("correspondence_items", "id"),
		own("correspondence_files", "item_id, position"),
		own("cfa_sessions", "id"),
		{Table: "cfa_reminders", Where: "tenant_id = ?", Order: "session_id, deadline, days_before, user_id"},
		own("tenant_event_heads", "tenant_id"),
		own("tenant_events", "seq"),
	}
}
