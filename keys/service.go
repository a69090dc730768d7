package keys

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/unionportal/unionportal/database"
)

type tenantKey struct {
	TenantID    string `gorm:"primaryKey"`
	MasterKeyID string
	Wrapped     string
	CreatedAt   time.Time
	RotatedAt   *time.Time
}

func (tenantKey) TableName() string { return "tenant_keys" }

type submissionKey struct {
	SubmissionID string `gorm:"primaryKey"`
	TenantID     string
	Wrapped      string
	CreatedAt    time.Time
}

func (submissionKey) TableName() string { return "submission_keys" }

// Service keeps the key hierarchy of one installation.
type Service struct {
	db       *database.DB
	current  *Master
	previous map[string]*Master
	// tenants caches unwrapped tenant keys: they change only by rotation of the master
	// key (which re-wraps the same key) or by the tenant's deletion. Only committed keys
	// are cached (read outside a transaction).
	mu      sync.RWMutex
	tenants map[string]Key
}

// NewService uses current to wrap and unwrap, and previous (old master keys) to unwrap
// what rotation has not re-wrapped yet.
func NewService(db *database.DB, current *Master, previous ...*Master) *Service {
	s := &Service{db: db, current: current, previous: map[string]*Master{}, tenants: map[string]Key{}}
	for _, m := range previous {
		s.previous[m.ID] = m
	}
	return s
}

// ErrUnknownMaster is a tenant key wrapped by a master key this process was not given.
var ErrUnknownMaster = errors.New("keys: a tenant key is wrapped by a master key this process was not given")

func (s *Service) master(id string) (*Master, error) {
	if id == s.current.ID {
		return s.current, nil
	}
	if m, ok := s.previous[id]; ok {
		return m, nil
	}
	return nil, fmt.Errorf("%w (key id %s; this process has %s)", ErrUnknownMaster, id, s.current.ID)
}

// Check opens every tenant key with the master keys given, so that a wrong master key
// stops the process at start rather than failing requests later.
func (s *Service) Check(ctx context.Context) error {
	var rows []tenantKey
	if err := s.db.Conn(ctx).Find(&rows).Error; err != nil {
		return err
	}
	for _, r := range rows {
		m, err := s.master(r.MasterKeyID)
		if err != nil {
			return err
		}
		if _, err := Open(m.key, r.Wrapped, "tenant-key", r.TenantID); err != nil {
			return fmt.Errorf("keys: the master key with id %s does not open tenant %s's key: %w", m.ID, r.TenantID, err)
		}
	}
	return nil
}

// TenantKey returns the tenant's key, creating it on first use.
func (s *Service) TenantKey(ctx context.Context, tenantID string) (Key, error) {
	s.mu.RLock()
	k, ok := s.tenants[tenantID]
	s.mu.RUnlock()
	if ok {
		return k, nil
	}
	var row tenantKey
	err := s.db.Conn(ctx).Where("tenant_id = ?", tenantID).First(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		fresh := NewKey()
		row = tenantKey{TenantID: tenantID, MasterKeyID: s.current.ID, Wrapped: Seal(s.current.key, fresh[:], "tenant-key", tenantID),
			CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
		// Two processes may create it at once: the first wins, and both read it back.
		if err := s.db.Conn(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
			return Key{}, err
		}
		err = s.db.Conn(ctx).Where("tenant_id = ?", tenantID).First(&row).Error
	}
	if err != nil {
		return Key{}, err
	}
	m, err := s.master(row.MasterKeyID)
	if err != nil {
		return Key{}, err
	}
	raw, err := Open(m.key, row.Wrapped, "tenant-key", tenantID)
	if err != nil {
		return Key{}, fmt.Errorf("tenant %s's key: %w", tenantID, err)
	}
	copy(k[:], raw)
	// A key read inside a transaction may be one this transaction created, which a
	// rollback would remove: cached, it would seal what no stored key opens.
	if !s.db.InTx(ctx) {
		s.mu.Lock()
		s.tenants[tenantID] = k
		s.mu.Unlock()
	}
	return k, nil
}

// SubmissionKey returns the submission's data key for sealing, creating it on first
// use (in the transaction ctx carries, if any).
func (s *Service) SubmissionKey(ctx context.Context, tenantID, submissionID string) (Key, error) {
	return s.submissionKey(ctx, tenantID, submissionID, true)
}

// ErrShredded is a submission whose data key was deleted: what it encrypted is gone.
var ErrShredded = errors.New("keys: the submission's data key was deleted; its texts and files cannot be read")

// ExistingSubmissionKey returns the submission's data key for opening, never creating
// one: ErrShredded when there is none.
func (s *Service) ExistingSubmissionKey(ctx context.Context, tenantID, submissionID string) (Key, error) {
	return s.submissionKey(ctx, tenantID, submissionID, false)
}

func (s *Service) submissionKey(ctx context.Context, tenantID, submissionID string, create bool) (Key, error) {
	tk, err := s.TenantKey(ctx, tenantID)
	if err != nil {
		return Key{}, err
	}
	var row submissionKey
	err = s.db.Conn(ctx).Where("submission_id = ?", submissionID).First(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		if !create {
			return Key{}, ErrShredded
		}
		fresh := NewKey()
		row = submissionKey{SubmissionID: submissionID, TenantID: tenantID,
			Wrapped: Seal(tk, fresh[:], "submission-key", tenantID, submissionID), CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
		if err := s.db.Conn(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
			return Key{}, err
		}
		err = s.db.Conn(ctx).Where("submission_id = ?", submissionID).First(&row).Error
	}
	if err != nil {
		return Key{}, err
	}
	if row.TenantID != tenantID {
		return Key{}, fmt.Errorf("%w: the submission's key belongs to another tenant", ErrCannotOpen)
	}
	return openSubmissionKey(tk, tenantID, submissionID, row.Wrapped)
}

func openSubmissionKey(tk Key, tenantID, submissionID, wrapped string) (Key, error) {
	raw, err := Open(tk, wrapped, "submission-key", tenantID, submissionID)
	if err != nil {
		return Key{}, fmt.Errorf("submission %s's key: %w", submissionID, err)
	}
	var k Key
	copy(k[:], raw)
	return k, nil
}

// WrappedSubmissionKeyColumn reads a submission's wrapped data key (NULL once shredded)
// in the statement that reads the submission, a query on the table "submissions": the
// hottest reads then need no statement of their own for the key
// (OpenWrappedSubmissionKey). The wrapping is bound to the tenant and the submission,
// so a key row of another submission or tenant does not open.
const WrappedSubmissionKeyColumn = "(SELECT submission_keys.wrapped FROM submission_keys WHERE submission_keys.submission_id = CAST(submissions.id AS TEXT)) AS wrapped_submission_key"

// OpenWrappedSubmissionKey opens the data key read through WrappedSubmissionKeyColumn:
// ErrShredded when there was none, as ExistingSubmissionKey answers.
func (s *Service) OpenWrappedSubmissionKey(ctx context.Context, tenantID, submissionID string, wrapped *string) (Key, error) {
	if wrapped == nil {
		return Key{}, ErrShredded
	}
	tk, err := s.TenantKey(ctx, tenantID)
	if err != nil {
		return Key{}, err
	}
	return openSubmissionKey(tk, tenantID, submissionID, *wrapped)
}

// ShredSubmission deletes the submission's data key: whatever it encrypted, in the
// database, the store and every backup of them, can no longer be read.
func (s *Service) ShredSubmission(ctx context.Context, submissionID string) error {
	return s.db.Conn(ctx).Where("submission_id = ?", submissionID).Delete(&submissionKey{}).Error
}

// ShredTenant deletes a tenant's key and its submissions' keys: whatever they
// encrypted (texts, files, webhook secrets), in the database, the store and every backup,
// can no longer be read. Removing the tenant's rows and files is its owners' work; this
// comes first. Another process that still holds the tenant's key in memory keeps it
// until it restarts, but the rows it would open go with the tenant.
func (s *Service) ShredTenant(ctx context.Context, tenantID string) error {
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.Conn(ctx).Where("tenant_id = ?", tenantID).Delete(&submissionKey{}).Error; err != nil {
			return err
		}
		return s.db.Conn(ctx).Where("tenant_id = ?", tenantID).Delete(&tenantKey{}).Error
	})
	if err == nil {
		s.mu.Lock()
		delete(s.tenants, tenantID)
		s.mu.Unlock()
	}
	return err
}

// RotateMaster re-wraps every tenant key not wrapped by the current master key, one
// tenant per transaction, so that it can be interrupted and run again; the data and
// the submission keys are untouched. It returns how many keys it re-wrapped.
func (s *Service) RotateMaster(ctx context.Context) (int, error) {
	var ids []string
	if err := s.db.Conn(ctx).Model(&tenantKey{}).Where("master_key_id <> ?", s.current.ID).Pluck("tenant_id", &ids).Error; err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		err := s.db.WithTx(ctx, func(ctx context.Context) error {
			var row tenantKey
			if err := s.db.Conn(ctx).Where("tenant_id = ?", id).First(&row).Error; err != nil {
				return err
			}
			if row.MasterKeyID == s.current.ID {
				return nil // another run did it
			}
			m, err := s.master(row.MasterKeyID)
			if err != nil {
				return err
			}
			raw, err := Open(m.key, row.Wrapped, "tenant-key", id)
			if err != nil {
				return fmt.Errorf("tenant %s's key: %w", id, err)
			}
			now := time.Now().UTC().Truncate(time.Microsecond)
			return s.db.Conn(ctx).Model(&tenantKey{}).Where("tenant_id = ? AND master_key_id = ?", id, row.MasterKeyID).
				Updates(map[string]any{"master_key_id": s.current.ID, "wrapped": Seal(s.current.key, raw, "tenant-key", id), "rotated_at": now}).Error
		})
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
