package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/unionportal/unionportal/portal"
)

// exportTenant writes a tenant's export to out: first to a temporary file beside it,
// readable by its owner only (it holds complaints and password hashes), renamed into
// place when complete, so that a failed export leaves no partial file behind.
func exportTenant(ctx context.Context, cfg *Config, log *slog.Logger, slug, out string, progress io.Writer) error {
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	m, err := a.services.Export(ctx, slug, tmp, func(s string) { fmt.Fprintln(progress, "export:", s) })
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fieldErrors(err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	fmt.Fprintf(progress, "export: tenant %s written to %s (%d tables, %d files); keep it encrypted: it holds complaints and password hashes\n",
		m.Tenant.Slug, out, len(m.Tables), len(m.Files))
	return nil
}

// importTenant restores an export into this installation.
func importTenant(ctx context.Context, cfg *Config, log *slog.Logger, in string, progress io.Writer) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	m, err := a.services.Import(ctx, f, func(s string) { fmt.Fprintln(progress, "import:", s) })
	if errors.Is(err, portal.ErrBadExport) {
		return err
	}
	if err != nil {
		return fmt.Errorf("import failed; nothing was kept: %w", err)
	}
	fmt.Fprintf(progress, "import: tenant %s restored; run `unionportal audit verify --tenant %s` to check its audit chain\n", m.Tenant.Slug, m.Tenant.Slug)
	return nil
}
