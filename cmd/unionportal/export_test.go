package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportImportCommands: admin export writes the demo tenant to a file only its
// owner can read; admin import restores it into another installation, whose audit
// chain then verifies; a second import, and a damaged file, are refused with status 1.
func TestExportImportCommands(t *testing.T) {
	ctx := context.Background()
	from := []string{"UNIONPORTAL_DATA_DIR=" + t.TempDir()}
	cfg, err := loadConfig(from, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := seedDemo(ctx, a, io.Discard); err != nil {
		t.Fatal(err)
	}
	a.close()

	out := filepath.Join(t.TempDir(), "industriall.tar.gz")
	if code, _, stderr := runCLI(t, from, "admin", "export", "--tenant", "industriall"); code != 2 || !strings.Contains(stderr, "--out") {
		t.Errorf("without --out: %d %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, from, "admin", "export", "--tenant", "nope", "--out", out); code != 1 {
		t.Errorf("an unknown tenant: %d %s", code, stderr)
	}
	code, _, stderr := runCLI(t, from, "admin", "export", "--tenant", "industriall", "--out", out)
	if code != 0 || !strings.Contains(stderr, "written to") {
		t.Fatalf("export: %d %s", code, stderr)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the export file: %v %v", fi, err)
	}

	to := []string{"UNIONPORTAL_DATA_DIR=" + t.TempDir()}
	if code, _, stderr := runCLI(t, to, "admin", "import", "--in", out); code != 0 || !strings.Contains(stderr, "restored") {
		t.Fatalf("import: %d %s", code, stderr)
	}
	if code, stdout, stderr := runCLI(t, to, "audit", "verify", "--tenant", "industriall"); code != 0 {
		t.Errorf("audit verify after import: %d %s %s", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, to, "admin", "import", "--in", out); code != 1 || !strings.Contains(stderr, "already exists") {
		t.Errorf("a second import: %d %s", code, stderr)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0xff
	damaged := filepath.Join(t.TempDir(), "damaged.tar.gz")
	if err := os.WriteFile(damaged, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	other := []string{"UNIONPORTAL_DATA_DIR=" + t.TempDir()}
	if code, _, stderr := runCLI(t, other, "admin", "import", "--in", damaged); code != 1 || !strings.Contains(stderr, "cannot be imported") {
		t.Errorf("a damaged export: %d %s", code, stderr)
	}
}
