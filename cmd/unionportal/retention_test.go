package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/unionportal/unionportal/auth"
)

// TestRetentionCommand: admin retention --dry-run lists what is due (ids, actions, ages,
// no titles) and changes nothing; admin retention does it; --tenant names the tenant.
func TestRetentionCommand(t *testing.T) {
	ctx := context.Background()
	env := []string{"UNIONPORTAL_DATA_DIR=" + t.TempDir()}
	a, cfg := demoApp(t, env)
	tenantID, err := auth.TenantIDBySlug(ctx, a.db, "industriall")
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.SetTenantSettings(ctx, a.db, tenantID, `{"retention":{"draft_days":30}}`, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The demo's draft, untouched for 40 days.
	var id, title string
	row := a.db.SQL().QueryRowContext(ctx, "SELECT id, title FROM submissions WHERE tenant_id = ? AND state = 'draft'", tenantID)
	if err := row.Scan(&id, &title); err != nil {
		t.Fatal(err)
	}
	old := time.Now().UTC().AddDate(0, 0, -40)
	for _, q := range []string{"UPDATE submissions SET updated_at = ? WHERE id = ?", "UPDATE attachments SET created_at = ? WHERE submission_id = ?",
		"UPDATE comments SET created_at = ? WHERE submission_id = ?"} {
		if err := a.db.Conn(ctx).Exec(q, old, id).Error; err != nil {
			t.Fatal(err)
		}
	}
	a.close()

	if code, _, stderr := runCLI(t, env, "admin", "retention", "--tenant", "nope"); code != 1 || !strings.Contains(stderr, `no tenant "nope"`) {
		t.Errorf("an unknown tenant: %d %s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, env, "admin", "retention", "--dry-run")
	if code != 0 || !strings.Contains(stdout, "tenant industriall: drafts deleted after 30 days") ||
		!strings.Contains(stdout, "warn") || !strings.Contains(stdout, id) || !strings.Contains(stdout, "40 days") ||
		!strings.Contains(stdout, "dry run, nothing changed: would warn 1, delete 0, shred 0") || strings.Contains(stdout, title) {
		t.Fatalf("dry run: exit %d\n%s%s", code, stdout, stderr)
	}
	// Nothing changed: the same list again.
	if _, again, _ := runCLI(t, env, "admin", "retention", "--dry-run", "--tenant", "industriall"); again != stdout {
		t.Errorf("the second dry run differs:\n%s\nfirst:\n%s", again, stdout)
	}
	code, stdout, stderr = runCLI(t, env, "admin", "retention", "--tenant", "industriall")
	if code != 0 || !strings.Contains(stdout, "warned 1, deleted 0") || strings.Contains(stdout, title) {
		t.Fatalf("run: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, stdout, _ := runCLI(t, env, "admin", "retention", "--dry-run"); strings.Contains(stdout, id) {
		t.Errorf("warned already, the draft is listed again:\n%s", stdout)
	}
	a, err = newApp(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	var runs int64
	a.db.Conn(ctx).Table("events").Where("action = 'retention.applied' AND details LIKE ?", `%"by":"command"%`).Count(&runs)
	if runs != 1 {
		t.Errorf("%d audited runs, want 1", runs)
	}
}
