package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"filippo.io/age"

	"github.com/unionportal/unionportal/portal"
)

// exportCrypto is how an export is encrypted, or decrypted: with age, to recipients
// (--recipient, --recipients-file; --identity-file opens it) or with a passphrase
// (--passphrase-file). An export is never written in clear.
type exportCrypto struct {
	recipients     []age.Recipient
	recipientsFile string
	identityFile   string
	passphraseFile string
}

// addRecipient reads one --recipient: an age public key (age1…).
func (c *exportCrypto) addRecipient(v string) error {
	rs, err := age.ParseRecipients(strings.NewReader(v))
	if err != nil || len(rs) != 1 || strings.ContainsAny(v, "\r\n") {
		return errors.New("expected an age public key (age1…)")
	}
	c.recipients = append(c.recipients, rs[0])
	return nil
}

// minPassphrase is the shortest passphrase an export is encrypted with.
const minPassphrase = 12

// readPassphrase reads a passphrase file: its first line, never shown.
func readPassphrase(path string, forExport bool) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--passphrase-file: %v", err)
	}
	pass, _, _ := strings.Cut(string(b), "\n")
	pass = strings.TrimSuffix(pass, "\r")
	switch {
	case pass == "":
		return "", errors.New("--passphrase-file: the file's first line is empty")
	case forExport && utf8.RuneCountInString(pass) < minPassphrase:
		return "", fmt.Errorf("--passphrase-file: the passphrase must have at least %d characters", minPassphrase)
	}
	return pass, nil
}

// exportRecipients are the recipients an export is encrypted to.
func (c *exportCrypto) exportRecipients() ([]age.Recipient, error) {
	if c.passphraseFile != "" {
		pass, err := readPassphrase(c.passphraseFile, true)
		if err != nil {
			return nil, err
		}
		r, err := age.NewScryptRecipient(pass)
		if err != nil {
			return nil, err
		}
		return []age.Recipient{r}, nil
	}
	out := c.recipients
	if c.recipientsFile != "" {
		f, err := os.Open(c.recipientsFile)
		if err != nil {
			return nil, fmt.Errorf("--recipients-file: %v", err)
		}
		defer f.Close()
		rs, err := age.ParseRecipients(f)
		if err != nil {
			return nil, fmt.Errorf("--recipients-file %s: %v", c.recipientsFile, err)
		}
		out = append(out, rs...)
	}
	return out, nil
}

// importIdentities are the identities an export is decrypted with.
func (c *exportCrypto) importIdentities() ([]age.Identity, error) {
	if c.passphraseFile != "" {
		pass, err := readPassphrase(c.passphraseFile, false)
		if err != nil {
			return nil, err
		}
		id, err := age.NewScryptIdentity(pass)
		if err != nil {
			return nil, err
		}
		return []age.Identity{id}, nil
	}
	f, err := os.Open(c.identityFile)
	if err != nil {
		return nil, fmt.Errorf("--identity-file: %v", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("--identity-file %s: %v", c.identityFile, err)
	}
	return ids, nil
}

// exportTenant writes a tenant's export to out, encrypted: first to a temporary file
// beside it, readable by its owner only, renamed into place when complete, so that a
// failed export leaves no partial file behind.
func exportTenant(ctx context.Context, cfg *Config, log *slog.Logger, slug, out string, crypto *exportCrypto, progress io.Writer) error {
	to, err := crypto.exportRecipients()
	if err != nil {
		return err
	}
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
	m, err := a.services.Export(ctx, slug, tmp, to, func(s string) { fmt.Fprintln(progress, "export:", s) })
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
	how := fmt.Sprintf("to %d age recipient(s)", len(to))
	if crypto.passphraseFile != "" {
		how = "with the passphrase"
	}
	fmt.Fprintf(progress, "export: tenant %s written to %s, encrypted %s (%d tables, %d files); it holds the tenant's key: keep the identity or passphrase apart from it\n",
		m.Tenant.Slug, out, how, len(m.Tables), len(m.Files))
	return nil
}

// importTenant decrypts an export and restores it into this installation.
func importTenant(ctx context.Context, cfg *Config, log *slog.Logger, in string, crypto *exportCrypto, progress io.Writer) error {
	with, err := crypto.importIdentities()
	if err != nil {
		return err
	}
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
	m, err := a.services.Import(ctx, f, with, func(s string) { fmt.Fprintln(progress, "import:", s) })
	if errors.Is(err, portal.ErrBadExport) || errors.Is(err, portal.ErrExportKey) {
		return err
	}
	if err != nil {
		return fmt.Errorf("import failed; nothing was kept: %w", err)
	}
	fmt.Fprintf(progress, "import: tenant %s restored; run `unionportal audit verify --tenant %s` to check its audit chain\n", m.Tenant.Slug, m.Tenant.Slug)
	return nil
}

// usage says what is wrong with how cmd was told to encrypt or decrypt an export, or
// nothing.
func (c *exportCrypto) usage(cmd string) string {
	switch cmd {
	case "admin export":
		if (len(c.recipients) > 0 || c.recipientsFile != "") == (c.passphraseFile != "") {
			return "an export is always encrypted: give --recipient age1… (repeatable) or --recipients-file FILE, or else --passphrase-file FILE"
		}
	case "admin import":
		if (c.identityFile != "") == (c.passphraseFile != "") {
			return "give the key that opens the export: --identity-file FILE or --passphrase-file FILE, not both"
		}
	}
	return ""
}
