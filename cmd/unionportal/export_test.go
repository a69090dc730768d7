package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/unionportal/unionportal/keys"
)

// TestExportImportCommands: admin export refuses to run without a recipient or
// passphrase, and writes the demo tenant encrypted to an age recipient, to a file only
// its owner can read, with nothing of the tenant's in clear; admin import, given the
// identity, restores it into another installation (another master key), which opens
// the submission's sealed body and whose audit chain verifies; a second import, a
// wrong identity or passphrase and a damaged file are refused with status 1.
func TestExportImportCommands(t *testing.T) {
	from := []string{"UNIONPORTAL_DATA_DIR=" + t.TempDir()}
	a, _ := demoApp(t, from)
	a.close()

	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	identity := write("operator.key", "# the operator's\n"+id.String()+"\n")
	otherIdentity := write("other.key", other.String()+"\n")
	recipients := write("recipients.txt", "# the archive's keepers\n"+other.Recipient().String()+"\n")
	passphrase := write("passphrase", "correct horse battery staple export\n")

	out := filepath.Join(dir, "industriall.tar.gz.age")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--tenant", "industriall"}, "--out"},
		{[]string{"--tenant", "industriall", "--out", out}, "always encrypted"},
		{[]string{"--tenant", "industriall", "--out", out, "--recipient", id.Recipient().String(), "--passphrase-file", passphrase}, "always encrypted"},
		{[]string{"--tenant", "industriall", "--out", out, "--recipient", "age1notakey"}, "age public key"},
	} {
		if code, _, stderr := runCLI(t, from, append([]string{"admin", "export"}, c.args...)...); code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("export %v: %d %s", c.args, code, stderr)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a refused export wrote a file: %v", err)
	}
	short := write("short", "too short\n")
	if code, _, stderr := runCLI(t, from, "admin", "export", "--tenant", "industriall", "--out", out, "--passphrase-file", short); code != 1 || !strings.Contains(stderr, "at least") {
		t.Errorf("a short passphrase: %d %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, from, "admin", "export", "--tenant", "nope", "--out", out, "--recipient", id.Recipient().String()); code != 1 {
		t.Errorf("an unknown tenant: %d %s", code, stderr)
	}
	code, _, stderr := runCLI(t, from, "admin", "export", "--tenant", "industriall", "--out", out,
		"--recipient", id.Recipient().String(), "--recipients-file", recipients)
	if code != 0 || !strings.Contains(stderr, "written to") || !strings.Contains(stderr, "2 age recipient") {
		t.Fatalf("export: %d %s", code, stderr)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the export file: %v %v", fi, err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, clear := range []string{"Kyrgyzstan", "industriall", "manifest.json", "tables/"} {
		if bytes.Contains(raw, []byte(clear)) {
			t.Errorf("%q is in the export in clear", clear)
		}
	}

	to := []string{"UNIONPORTAL_DATA_DIR=" + t.TempDir()}
	if code, _, stderr := runCLI(t, to, "admin", "import", "--in", out); code != 2 || !strings.Contains(stderr, "--identity-file") {
		t.Errorf("an import without a key: %d %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, to, "admin", "import", "--in", out, "--passphrase-file", passphrase); code != 1 || !strings.Contains(stderr, "does not open") || strings.Count(stderr, "unionportal:") != 1 {
		t.Errorf("a wrong passphrase: %d %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, to, "admin", "import", "--in", out, "--identity-file", identity); code != 0 || !strings.Contains(stderr, "restored") {
		t.Fatalf("import: %d %s", code, stderr)
	}
	if code, stdout, stderr := runCLI(t, to, "audit", "verify", "--tenant", "industriall"); code != 0 {
		t.Errorf("audit verify after import: %d %s %s", code, stdout, stderr)
	}
	checkDemoBodyOpens(t, to)
	if code, _, stderr := runCLI(t, to, "admin", "import", "--in", out, "--identity-file", otherIdentity); code != 1 || !strings.Contains(stderr, "already exists") {
		t.Errorf("a second import (with the other recipient's key): %d %s", code, stderr)
	}
	raw[len(raw)/2] ^= 0xff
	damaged := write("damaged.tar.gz.age", string(raw))
	another := []string{"UNIONPORTAL_DATA_DIR=" + t.TempDir()}
	if code, _, stderr := runCLI(t, another, "admin", "import", "--in", damaged, "--identity-file", identity); code != 1 || !strings.Contains(stderr, "cannot be imported") {
		t.Errorf("a damaged export: %d %s", code, stderr)
	}
}

// checkDemoBodyOpens opens the demo submission's sealed body in the installation env
// configures.
func checkDemoBodyOpens(t *testing.T, env []string) {
	t.Helper()
	ctx := context.Background()
	cfg, err := loadConfig(env, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	var row struct{ ID, TenantID, Body string }
	if err := a.db.Conn(ctx).Raw("SELECT id, tenant_id, body FROM submissions").Scan(&row).Error; err != nil || !keys.IsSealed(row.Body) {
		t.Fatalf("the imported body: %v, sealed %v", err, keys.IsSealed(row.Body))
	}
	k, err := a.keys.ExistingSubmissionKey(ctx, row.TenantID, row.ID)
	if err != nil {
		t.Fatal(err)
	}
	if body, err := keys.OpenField(k, row.Body, row.TenantID, "submissions", "body", row.ID); err != nil || body != demoBody {
		t.Errorf("the imported body does not open: %v", err)
	}
}
