package keys

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/unionportal/unionportal/database"
)

// A tenant export (ADR 0031) must let the target read what the tenant's keys sealed:
// texts and files keep their tenant, submission and row ids, and the submissions' data
// keys keep the wrapping under the tenant's key, but the tenant's key is wrapped here by
// a master key the target does not have. So the export carries the tenant's key
// unwrapped, in column ExportedKeyColumn of its tenant_keys row (the export itself is
// encrypted to its recipients: it is never written in clear), and the import wraps it
// under the target's master key.

// ExportedKeyColumn holds the unwrapped tenant key (base64) in an exported tenant_keys
// row, in place of the columns wrapped and master_key_id.
const ExportedKeyColumn = "key"

// ExportTables are the key rows of one tenant: its key, unwrapped (see
// ExportedKeyColumn), and its submissions' data keys as stored, wrapped by the tenant's
// key. They come before every row sealed under them.
func (s *Service) ExportTables() []database.TableExport {
	return []database.TableExport{
		{Table: "tenant_keys", Where: "tenant_id = ?", Order: "tenant_id", Transform: s.unwrapExported},
		{Table: "submission_keys", Where: "tenant_id = ?", Order: "submission_id"},
	}
}

// unwrapExported replaces a tenant_keys row's wrapped key by the key itself.
func (s *Service) unwrapExported(row database.Row) error {
	tenantID, _ := row["tenant_id"].(string)
	masterID, _ := row["master_key_id"].(string)
	wrapped, _ := row["wrapped"].(string)
	m, err := s.master(masterID)
	if err != nil {
		return err
	}
	raw, err := Open(m.key, wrapped, "tenant-key", tenantID)
	if err != nil {
		return fmt.Errorf("tenant %s's key: %w", tenantID, err)
	}
	delete(row, "wrapped")
	delete(row, "master_key_id")
	row[ExportedKeyColumn] = base64.StdEncoding.EncodeToString(raw)
	return nil
}

// ErrBadExportedKey is an exported tenant_keys row that is not the imported tenant's or
// holds no well-formed key.
var ErrBadExportedKey = errors.New("keys: the export's tenant key is malformed or not the tenant's")

// PrepareImportedTenantKey turns the exported tenant_keys row of tenantID (see
// ExportTables) into the row stored here: the key wrapped under this installation's
// current master key. A row of another tenant is refused.
func (s *Service) PrepareImportedTenantKey(tenantID string, row database.Row) error {
	if id, _ := row["tenant_id"].(string); id != tenantID {
		return fmt.Errorf("%w: a key of tenant %q in the export of %s", ErrBadExportedKey, id, tenantID)
	}
	text, _ := row[ExportedKeyColumn].(string)
	raw, err := base64.StdEncoding.DecodeString(text)
	if err != nil || len(raw) != len(Key{}) {
		return ErrBadExportedKey
	}
	delete(row, ExportedKeyColumn)
	row["master_key_id"] = s.current.ID
	row["wrapped"] = Seal(s.current.key, raw, "tenant-key", tenantID)
	// Whatever this process remembered under the id is not this key.
	s.mu.Lock()
	delete(s.tenants, tenantID)
	s.mu.Unlock()
	return nil
}
