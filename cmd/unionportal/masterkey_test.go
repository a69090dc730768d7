package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/keys"
)

// TestMasterKey: the embedded default generates the master key into the data
// directory (0600) and keeps it; a wrong master key stops the process with one line
// naming the setting; rotation re-wraps the tenant keys so that the new key alone
// opens them.
func TestMasterKey(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	env := []string{"UNIONPORTAL_DATA_DIR=" + dataDir}
	open := func(env []string) (*app, error) {
		cfg, err := loadConfig(env, "")
		if err != nil {
			return nil, err
		}
		return newApp(ctx, cfg, slog.New(slog.DiscardHandler))
	}
	a, err := open(env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.keys.TenantKey(ctx, "tenant-1"); err != nil {
		t.Fatal(err)
	}
	first := a.cfg.Master.ID
	a.close()
	fi, err := os.Stat(filepath.Join(dataDir, "master.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master.key: %v %v", fi, err)
	}
	if a, err = open(env); err != nil || a.cfg.Master.ID != first {
		t.Fatalf("restart: %v", err)
	}
	a.close()
	old, _ := os.ReadFile(filepath.Join(dataDir, "master.key"))

	// Any command that opens the portal checks the key; exporting a tenant that does not
	// exist shows which check failed first.
	start := func(env []string) (int, string) {
		code, _, stderr := runCLI(t, env, "admin", "export", "--tenant", "none", "--out", filepath.Join(t.TempDir(), "x"),
			"--recipient", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p")
		return code, stderr
	}
	wrong := keys.GenerateMaster()
	code, stderr := start(append(env, "UNIONPORTAL_MASTER_KEY="+wrong))
	if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "UNIONPORTAL_MASTER_KEY") || strings.Contains(stderr, wrong) {
		t.Errorf("a wrong master key: exit %d, %q", code, stderr)
	}
	if code, stderr := start(append(env, "UNIONPORTAL_MASTER_KEY=short")); code != 1 || !strings.Contains(stderr, "UNIONPORTAL_MASTER_KEY") || strings.Contains(stderr, "short\"") {
		t.Errorf("a malformed master key: exit %d, %q", code, stderr)
	}

	// Rotation to a new key, the old one given as previous.
	fresh := keys.GenerateMaster()
	rotate := append(env, "UNIONPORTAL_MASTER_KEY="+fresh, "UNIONPORTAL_PREVIOUS_MASTER_KEYS="+strings.TrimSpace(string(old)))
	if code, _, stderr := runCLI(t, rotate, "admin", "rotate-master-key"); code != 0 || !strings.Contains(stderr, "re-wrapped 1 tenant key") {
		t.Fatalf("rotate: %d %s", code, stderr)
	}
	if _, stderr := start(append(env, "UNIONPORTAL_MASTER_KEY="+fresh)); strings.Contains(stderr, "MASTER_KEY") {
		t.Errorf("the new key alone after rotation: %s", stderr)
	}
	if _, stderr := start(env); !strings.Contains(stderr, "UNIONPORTAL_MASTER_KEY") {
		t.Errorf("the old key (master.key) after rotation: %s", stderr)
	}
	if code, stdout, _ := runCLI(t, nil, "admin", "generate-master-key"); code != 0 {
		t.Errorf("generate-master-key: %d", code)
	} else if _, err := keys.ParseMaster(stdout); err != nil {
		t.Errorf("generate-master-key printed %q: %v", stdout, err)
	}
}

// TestEncryptExistingCommand: admin encrypt-existing seals a text stored in clear (as
// before encryption at rest), says what it did, and that nothing is left in clear.
func TestEncryptExistingCommand(t *testing.T) {
	ctx := context.Background()
	env := []string{"UNIONPORTAL_DATA_DIR=" + t.TempDir()}
	a, cfg := demoApp(t, env)
	if err := a.db.Conn(ctx).Exec("UPDATE submissions SET body = 'The Jogorku Kenesh adopted the law.'").Error; err != nil {
		t.Fatal(err)
	}
	a.close()
	code, stdout, stderr := runCLI(t, env, "admin", "encrypt-existing")
	if code != 0 || !strings.Contains(stdout, "sealed 1 text(s)") || !strings.Contains(stdout, "nothing is left in clear") {
		t.Fatalf("encrypt-existing: %d\n%s\n%s", code, stdout, stderr)
	}
	a, err := newApp(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	var body string
	a.db.Conn(ctx).Raw("SELECT body FROM submissions").Row().Scan(&body)
	if !keys.IsSealed(body) {
		t.Errorf("stored after encrypt-existing: %.40q", body)
	}
}

// TestMasterKeyRequiredWithPostgreSQL: only the embedded default generates its master
// key; with PostgreSQL a process without one stops with a line naming the setting.
func TestMasterKeyRequiredWithPostgreSQL(t *testing.T) {
	cfg, err := loadConfig([]string{"UNIONPORTAL_DATA_DIR=" + t.TempDir(), "UNIONPORTAL_DATABASE_URL=postgres://up:pw@db:5432/up"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := loadMasterKey(cfg); err == nil || !strings.Contains(err.Error(), "UNIONPORTAL_MASTER_KEY is required with PostgreSQL") {
		t.Fatalf("no master key with PostgreSQL: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "master.key")); !os.IsNotExist(err) {
		t.Errorf("a master key was generated: %v", err)
	}
}
