package portal

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/inbound"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/webhook"
	"github.com/unionportal/unionportal/workflow"
)

// ExportFormat names the layout of a tenant export; an import refuses another. Format 2
// is encrypted with age and carries the tenant's keys (ADR 0031).
const ExportFormat = "unionportal-tenant-export/2"

// ExportManifest is manifest.json, the last entry of an export: what the archive holds,
// each entry with its SHA-256, so that an import refuses a damaged or altered file.
type ExportManifest struct {
	Format string `json:"format"`
	// SchemaVersion is the source's newest migration: an import needs the same.
	SchemaVersion int64            `json:"schema_version"`
	Tenant        ExportTenant     `json:"tenant"`
	CreatedAt     time.Time        `json:"created_at"`
	Source        string           `json:"source"`
	Tables        []ExportedTable  `json:"tables"`
	Files         []ExportedObject `json:"files"`
}

// ExportTenant names the exported tenant.
type ExportTenant struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
}

// ExportedTable is one table's rows: tables/<name>.jsonl, one JSON object a line.
type ExportedTable struct {
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
	SHA256 string `json:"sha256"`
}

// ExportedObject is one stored file: files/<key>.
type ExportedObject struct {
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// tables lists every table of a tenant's record, in the order an import inserts them.
func (s *Services) tables(ctx context.Context, tenantID string) ([]database.TableExport, error) {
	actors, err := audit.ActorIDs(ctx, s.db, tenantID)
	if err != nil {
		return nil, err
	}
	out, err := s.Auth.ExportTables(ctx, tenantID, actors)
	if err != nil {
		return nil, err
	}
	out = append(out, s.keys.ExportTables()...)
	out = append(out, audit.ExportTables()...)
	out = append(out, workflow.ExportTables()...)
	out = append(out, dispatch.ExportTables()...)
	out = append(out, webhook.ExportTables()...)
	return append(out, inbound.ExportTables()...), nil
}

// Export writes everything of one tenant to w as a gzip-compressed tar encrypted with
// age to the recipients given (X25519 keys, or one passphrase): its rows as JSON lines
// per table, the tenant's key (unwrapped: the target has another master key) and its
// submissions' keys, its stored files (evidence, the letters and manifests of what was
// sent) and a manifest with the SHA-256 of each. Nothing of it is written in clear, not
// even to a temporary file. The rows are read in one transaction (a snapshot on
// PostgreSQL); progress, when set, is told of each step.
func (s *Services) Export(ctx context.Context, slug string, w io.Writer, to []age.Recipient, progress func(string)) (*ExportManifest, error) {
	if progress == nil {
		progress = func(string) {}
	}
	if len(to) == 0 {
		return nil, ErrNoRecipient
	}
	tenantID, err := auth.TenantIDBySlug(ctx, s.db, slug)
	if err != nil {
		return nil, err
	}
	version, err := s.db.SchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	m := &ExportManifest{Format: ExportFormat, SchemaVersion: version, Tenant: ExportTenant{ID: tenantID, Slug: slug},
		CreatedAt: time.Now().UTC(), Source: string(s.db.Dialect())}
	enc, err := age.Encrypt(w, to...)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	gz := gzip.NewWriter(enc)
	tw := tar.NewWriter(gz)
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		if s.db.Dialect() == database.Postgres {
			if err := s.db.Conn(ctx).Exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").Error; err != nil {
				return err
			}
		}
		tables, err := s.tables(ctx, tenantID)
		if err != nil {
			return err
		}
		for _, t := range tables {
			// Each table goes through an encrypted spool: a tar entry needs its size first.
			sp, err := keys.NewSpool()
			if err != nil {
				return err
			}
			defer sp.Remove()
			h := sha256.New()
			bw := bufio.NewWriter(io.MultiWriter(sp, h))
			enc := json.NewEncoder(bw)
			var rows int64
			if err := s.db.DumpRows(ctx, t, tenantID, func(r database.Row) error {
				rows++
				return enc.Encode(r)
			}); err != nil {
				return err
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			if err := sp.Finish(); err != nil {
				return err
			}
			if err := writeEntry(tw, "tables/"+t.Table+".jsonl", sp.Size(), sp.Reader()); err != nil {
				return err
			}
			sp.Remove()
			m.Tables = append(m.Tables, ExportedTable{Name: t.Table, Rows: rows, SHA256: hex.EncodeToString(h.Sum(nil))})
			progress(fmt.Sprintf("table %s: %d rows", t.Table, rows))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var keys []storage.Info
	if err := s.store.List(ctx, storage.TenantsPrefix+tenantID+"/", func(i storage.Info) error {
		keys = append(keys, i)
		return nil
	}); err != nil {
		return nil, err
	}
	for i, info := range keys {
		obj, err := s.store.Open(ctx, info.Key)
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", info.Key, err)
		}
		h := sha256.New()
		err = writeEntry(tw, "files/"+info.Key, obj.Info().Size, io.TeeReader(obj, h))
		obj.Close()
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", info.Key, err)
		}
		m.Files = append(m.Files, ExportedObject{Key: info.Key, Size: obj.Info().Size, SHA256: hex.EncodeToString(h.Sum(nil))})
		if (i+1)%50 == 0 || i+1 == len(keys) {
			progress(fmt.Sprintf("files: %d of %d", i+1, len(keys)))
		}
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeEntry(tw, "manifest.json", int64(len(mb)), bytes.NewReader(mb)); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return m, enc.Close()
}

func writeEntry(tw *tar.Writer, name string, size int64, r io.Reader) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Size: size, Mode: 0o600, Typeflag: tar.TypeReg,
		ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	n, err := io.Copy(tw, r)
	if err == nil && n != size {
		err = fmt.Errorf("%s: %d bytes, expected %d", name, n, size)
	}
	return err
}

// ErrBadExport is an export file that is damaged, altered, of another format or schema
// version, or that would overwrite what exists here. Nothing was imported.
var ErrBadExport = errors.New("the export cannot be imported")

func badExport(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadExport}, args...)...)
}

// entries decrypts an export and reads its entries in order. Everything is read, to
// the end of the encrypted stream, so that a file cut short is refused.
func entries(f io.ReadSeeker, id age.Identity, fn func(h *tar.Header, r io.Reader) error) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	plain, err := decrypt(f, id)
	if err != nil {
		return err
	}
	gz, err := gzip.NewReader(plain)
	if err != nil {
		return badExport("the archive is damaged: %v", err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if _, err := io.Copy(io.Discard, gz); err != nil {
				return badExport("the archive is damaged: %v", err)
			}
			return nil
		}
		if err != nil {
			return badExport("the archive is damaged: %v", err)
		}
		if h.Typeflag != tar.TypeReg {
			return badExport("unexpected entry %q", h.Name)
		}
		if err := fn(h, tr); err != nil {
			return err
		}
	}
}

// Import restores a tenant export into this installation, which must not have the
// tenant (by id or slug). It decrypts the file with the identities given (X25519 keys,
// or the passphrase's), first reads the whole of it and checks every entry against
// the manifest's hashes, the format and the schema version, and that no person in it
// is a different account here with the same e-mail address; only then does it write:
// the rows in one transaction, the tenant's key wrapped under this installation's
// master key, the files to the store (removed again if the transaction fails). A user
// who exists here with the same id is kept as is. Identities that do not open the file
// are ErrExportKey; nothing was imported.
func (s *Services) Import(ctx context.Context, f io.ReadSeeker, with []age.Identity, progress func(string)) (*ExportManifest, error) {
	if progress == nil {
		progress = func(string) {}
	}
	if len(with) == 0 {
		return nil, ErrExportKey
	}
	id := &rememberedIdentity{ids: with}
	// Pass 1: hashes, the manifest, the users.
	sums := map[string]string{}
	sizes := map[string]int64{}
	var m *ExportManifest
	var users []database.Row
	err := entries(f, id, func(h *tar.Header, r io.Reader) error {
		if _, dup := sums[h.Name]; dup {
			return badExport("the entry %q appears twice", h.Name)
		}
		hash := sha256.New()
		var buf bytes.Buffer
		var w io.Writer = hash
		if h.Name == "manifest.json" || h.Name == "tables/users.jsonl" {
			w = io.MultiWriter(hash, &buf)
		}
		n, err := io.Copy(w, r)
		if err != nil {
			return badExport("the archive is damaged: %v", err)
		}
		sums[h.Name], sizes[h.Name] = hex.EncodeToString(hash.Sum(nil)), n
		switch h.Name {
		case "manifest.json":
			m = &ExportManifest{}
			if err := json.Unmarshal(buf.Bytes(), m); err != nil {
				return badExport("the manifest is not JSON: %v", err)
			}
		case "tables/users.jsonl":
			return readRows(&buf, func(r database.Row) error { users = append(users, r); return nil })
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.checkImport(ctx, m, sums, sizes, users); err != nil {
		return nil, err
	}
	progress(fmt.Sprintf("checked: %d tables, %d files", len(m.Tables), len(m.Files)))

	// Pass 2: write.
	var put []string
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		loader := s.db.NewLoader()
		return entries(f, id, func(h *tar.Header, r io.Reader) error {
			switch {
			case strings.HasPrefix(h.Name, "tables/"):
				table := strings.TrimSuffix(strings.TrimPrefix(h.Name, "tables/"), ".jsonl")
				var n int64
				err := readRows(r, func(row database.Row) error {
					switch table {
					case "users":
						if skip, err := s.Auth.PrepareImportedUser(ctx, row); err != nil || skip {
							return err
						}
					case "tenant_keys":
						if err := s.keys.PrepareImportedTenantKey(m.Tenant.ID, row); err != nil {
							return badExport("%v", err)
						}
					}
					n++
					return loader.Insert(ctx, table, row)
				})
				if err != nil {
					return err
				}
				progress(fmt.Sprintf("table %s: %d rows", table, n))
			case strings.HasPrefix(h.Name, "files/"):
				key := strings.TrimPrefix(h.Name, "files/")
				if err := s.store.Put(ctx, key, r, h.Size, ""); err != nil {
					return fmt.Errorf("import %s: %w", key, err)
				}
				put = append(put, key)
			}
			return nil
		})
	})
	if err == nil {
		err = s.db.WithTx(ctx, s.Auth.Imported)
	}
	if err != nil {
		for _, k := range put {
			_ = s.store.Delete(context.WithoutCancel(ctx), k)
		}
		return nil, err
	}
	progress(fmt.Sprintf("imported tenant %s: %d files", m.Tenant.Slug, len(put)))
	return m, nil
}

// checkImport refuses an export that does not match its manifest or cannot go here.
func (s *Services) checkImport(ctx context.Context, m *ExportManifest, sums map[string]string, sizes map[string]int64, users []database.Row) error {
	if m == nil {
		return badExport("no manifest.json")
	}
	if m.Format != ExportFormat {
		return badExport("format %q, expected %q", m.Format, ExportFormat)
	}
	version, err := s.db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if m.SchemaVersion != version {
		return badExport("exported at schema version %d, this installation is at %d: import with the same version", m.SchemaVersion, version)
	}
	if !database.ValidID(m.Tenant.ID) || m.Tenant.Slug == "" {
		return badExport("the manifest names no valid tenant")
	}
	want := map[string]string{"manifest.json": sums["manifest.json"]}
	for _, t := range m.Tables {
		want["tables/"+t.Name+".jsonl"] = t.SHA256
	}
	// What the tenant's keys sealed opens only with them.
	for _, t := range []string{"tenant_keys", "submission_keys"} {
		if _, ok := want["tables/"+t+".jsonl"]; !ok {
			return badExport("the manifest lists no table %s", t)
		}
	}
	prefix := storage.TenantsPrefix + m.Tenant.ID + "/"
	for _, o := range m.Files {
		if !strings.HasPrefix(o.Key, prefix) || path.Clean(o.Key) != o.Key || strings.Contains(o.Key, "..") {
			return badExport("the file %q is not the tenant's", o.Key)
		}
		want["files/"+o.Key] = o.SHA256
		if sizes["files/"+o.Key] != o.Size {
			return badExport("the file %q has %d bytes, the manifest says %d", o.Key, sizes["files/"+o.Key], o.Size)
		}
	}
	for name, sum := range want {
		got, ok := sums[name]
		switch {
		case !ok:
			return badExport("%s is missing", name)
		case got != sum:
			return badExport("%s does not match its SHA-256 in the manifest: the file is damaged or was altered", name)
		}
	}
	for name := range sums {
		if _, ok := want[name]; !ok {
			return badExport("%s is not in the manifest", name)
		}
	}
	if exists, err := s.Auth.TenantExists(ctx, m.Tenant.ID, m.Tenant.Slug); err != nil {
		return err
	} else if exists {
		return badExport("the tenant %s already exists here (by id or slug)", m.Tenant.Slug)
	}
	conflicts, err := s.Auth.UserConflicts(ctx, users)
	if err != nil {
		return err
	}
	if len(conflicts) > 0 {
		return badExport("these e-mail addresses belong here to other accounts: %s", strings.Join(conflicts, ", "))
	}
	return nil
}

// readRows decodes JSON lines, numbers kept exact.
func readRows(r io.Reader, fn func(database.Row) error) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	for {
		var row database.Row
		err := dec.Decode(&row)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return badExport("a table line is not JSON: %v", err)
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}
