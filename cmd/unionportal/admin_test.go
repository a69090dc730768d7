package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/unionportal/unionportal/auth"
)

// TestCreateTokenCommand: admin create-token provisions a token for a member of a
// tenant, prints only it on stdout, applies the tenant's maximum lifetime and is audited.
func TestCreateTokenCommand(t *testing.T) {
	ctx := context.Background()
	env := []string{"UNIONPORTAL_DATA_DIR=" + t.TempDir()}
	cfg, err := loadConfig(env, "")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := seedDemo(ctx, a, io.Discard); err != nil {
		t.Fatal(err)
	}
	a.close()
	const member = "reviewer@industriall.example"

	if code, _, stderr := runCLI(t, env, "admin", "create-token", "--tenant", "industriall", "--email", member); code != 2 || !strings.Contains(stderr, "--name") {
		t.Errorf("without --name: %d %s", code, stderr)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--email", "nobody@industriall.example"}, "no active member"},
		{[]string{"--tenant", "nope"}, "no active member"},
		{[]string{"--scopes", "read,delete"}, "scopes: unknown scope"},
		{[]string{"--expires", "soon"}, "--expires"},
	} {
		args := append([]string{"admin", "create-token", "--tenant", "industriall", "--email", member, "--name", "CRM"}, tt.args...)
		if code, stdout, stderr := runCLI(t, env, args...); code != 1 || stdout != "" || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", tt.args, code, stdout, stderr, tt.want)
		}
	}

	code, stdout, stderr := runCLI(t, env, "admin", "create-token", "--tenant", "industriall", "--email", member, "--name", "CRM", "--scopes", "read,write", "--expires", "90d")
	if code != 0 || !strings.HasPrefix(stdout, auth.APITokenPrefix) || strings.Count(stdout, "\n") != 1 || strings.Contains(stdout, " ") {
		t.Fatalf("create-token: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	a, err = newApp(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	p, err := a.auth.Authenticate(ctx, "", strings.TrimSpace(stdout), "203.0.113.1")
	if err != nil {
		t.Fatal(err)
	}
	if p.User.Email != member || strings.Join(p.Token.Scopes, " ") != "read write" || p.Token.ExpiresAt == nil ||
		p.Token.ExpiresAt.Sub(time.Now()) < 89*24*time.Hour || p.Token.ExpiresAt.Sub(time.Now()) > 90*24*time.Hour {
		t.Errorf("token of %s, scopes %v, expires %v", p.User.Email, p.Token.Scopes, p.Token.ExpiresAt)
	}
	var events int64
	a.db.Conn(ctx).Table("events").Where("action = 'token.created' AND object_id = ? AND details LIKE ?", p.TokenID, "%command line%").Count(&events)
	if events != 1 {
		t.Errorf("%d audit events for the token, want 1", events)
	}

	// The tenant's maximum lifetime: longer is refused; left out, it is the expiry.
	tenantID, err := auth.TenantIDBySlug(ctx, a.db, "industriall")
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.SetTenantSettings(ctx, a.db, tenantID, `{"tokens":{"max_lifetime_days":30}}`, time.Now()); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runCLI(t, env, "admin", "create-token", "--tenant", "industriall", "--email", member, "--name", "long", "--expires", "31d"); code != 1 || stdout != "" || !strings.Contains(stderr, "expires_at: the tenant accepts only tokens that expire within 30 days") {
		t.Errorf("31 days against a 30-day policy: exit %d, %q %q", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, env, "admin", "create-token", "--tenant", "industriall", "--email", member, "--name", "policy", "--scopes", "read")
	if code != 0 {
		t.Fatalf("within the policy: exit %d %s", code, stderr)
	}
	p, err = a.auth.Authenticate(ctx, "", strings.TrimSpace(stdout), "203.0.113.1")
	if err != nil {
		t.Fatal(err)
	}
	if p.Token.ExpiresAt == nil || p.Token.ExpiresAt.Sub(time.Now()) > 30*24*time.Hour || strings.Join(p.Token.Scopes, " ") != "read" {
		t.Errorf("default expiry under a 30-day policy: %v, scopes %v", p.Token.ExpiresAt, p.Token.Scopes)
	}
	if _, err := a.auth.ResolveTenant(ctx, p, "industriall"); err != nil {
		t.Errorf("the provisioned token is refused by its tenant: %v", err)
	}
}
