package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/storage"
)

// What dispatches stored before encryption at rest (the letters, the manifests, the
// cleaned copies behind download links) is encrypted by
// `unionportal admin encrypt-existing` like the evidence (workflow/encrypt.go): each
// object stored encrypted under its own new key, the record switched to it, the object
// in clear deleted. An interrupted run leaves at worst an object in clear that the
// record no longer names; the next run deletes it.

// PlaintextLeft counts the dispatch records whose letter or manifest is stored in clear.
func (s *Service) PlaintextLeft(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.Conn(ctx).Model(&Dispatch{}).
		Where("(letter_key <> '' AND letter_key NOT LIKE ?) OR (manifest_key <> '' AND manifest_key NOT LIKE ?)",
			"%"+keys.SealedSuffix, "%"+keys.SealedSuffix).Count(&n).Error
	return n, err
}

// EncryptExisting encrypts every object of every dispatch still stored in clear and
// returns how many it encrypted.
func (s *Service) EncryptExisting(ctx context.Context, progress func(n int)) (int, error) {
	var ds []Dispatch
	if err := s.db.Conn(ctx).Order("id").Find(&ds).Error; err != nil {
		return 0, err
	}
	n := 0
	for i := range ds {
		d := &ds[i]
		for _, col := range []struct {
			name string
			key  *string
		}{{"letter_key", &d.LetterKey}, {"manifest_key", &d.ManifestKey}} {
			switch {
			case *col.key == "":
			case keys.IsSealedObject(*col.key):
				// Sealed already; the object in clear an interrupted run left goes now.
				if err := s.files.Store().Delete(ctx, strings.TrimSuffix(*col.key, keys.SealedSuffix)); err != nil {
					return n, err
				}
			default:
				sealed, err := s.encryptObject(ctx, d, *col.key)
				if err != nil {
					return n, fmt.Errorf("dispatch %s: %w", d.ID, err)
				}
				if err := s.db.Conn(ctx).Model(&Dispatch{}).Where("id = ? AND "+col.name+" = ?", d.ID, *col.key).
					Update(col.name, sealed).Error; err != nil {
					return n, err
				}
				if err := s.files.Store().Delete(ctx, *col.key); err != nil {
					return n, err
				}
				n++
				progress(n)
			}
		}
		// The cleaned copies behind download links, named by no record.
		var clear []string
		prefix := storage.DispatchEvidenceKey(d.TenantID, d.ID, "")
		if err := s.files.Store().List(ctx, prefix, func(info storage.Info) error {
			if !keys.IsSealedObject(info.Key) {
				clear = append(clear, info.Key)
			}
			return nil
		}); err != nil {
			return n, err
		}
		for _, key := range clear {
			if _, err := s.encryptObject(ctx, d, key); err != nil {
				return n, fmt.Errorf("dispatch %s: %w", d.ID, err)
			}
			if err := s.files.Store().Delete(ctx, key); err != nil {
				return n, err
			}
			n++
			progress(n)
		}
	}
	return n, nil
}

// encryptObject stores the object under key encrypted, under keys.SealedKey(key).
func (s *Service) encryptObject(ctx context.Context, d *Dispatch, key string) (string, error) {
	obj, err := s.files.Store().Open(ctx, key)
	if errors.Is(err, storage.ErrNotExist) {
		return "", fmt.Errorf("%s is missing from storage", key)
	}
	if err != nil {
		return "", err
	}
	defer obj.Close()
	sealed := keys.SealedKey(key)
	return sealed, s.files.Put(ctx, d.TenantID, d.SubmissionID, sealed, obj, obj.Info().Size)
}
