package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/unionportal/unionportal/keys"
)

// Data written before encryption at rest (ADR 0029) is sealed by
// `unionportal admin encrypt-existing`: texts in batches, one transaction each, and
// files one by one (stored encrypted under a new key, the row switched to it, the old
// object deleted). Each step selects only what is still in clear, so the command can be
// interrupted at any point and run again. A file whose stored bytes no longer match the
// SHA-256 recorded at upload is left as it is and reported: it must be looked at, not
// silently blessed.

// sealedTexts are the text columns sealed under submissions' keys.
var sealedTexts = []struct{ table, column, submissionColumn string }{
	{"submissions", "body", "id"},
	{"revisions", "body", "submission_id"},
	{"comments", "body", "submission_id"},
	{"attachments", "file_name", "submission_id"},
	{"attachments", "metadata_found", "submission_id"},
}

// clearSnaps selects the revisions whose files' names are in clear (a revision's names
// are sealed together).
const clearSnaps = `attachments LIKE '%"file_name":"%' AND attachments NOT LIKE '%"file_name":"enc1:%'`

// EncryptProgress counts what an EncryptExisting run did.
type EncryptProgress struct {
	Texts, Files int
	Bytes        int64
	// Mismatched lists files left in clear because their bytes do not match their hash.
	Mismatched []string
}

// PlaintextLeft counts the texts and files still stored in clear.
func (s *Service) PlaintextLeft(ctx context.Context) (texts, files int64, err error) {
	for _, t := range sealedTexts {
		var n int64
		if err := s.db.Conn(ctx).Table(t.table).Where(t.column + " <> '' AND " + t.column + " NOT LIKE 'enc1:%'").Count(&n).Error; err != nil {
			return 0, 0, err
		}
		texts += n
	}
	var n int64
	if err := s.db.Conn(ctx).Table("revisions").Where(clearSnaps).Count(&n).Error; err != nil {
		return 0, 0, err
	}
	texts += n
	err = s.db.Conn(ctx).Model(&Attachment{}).Where("object_key NOT LIKE ?", "%"+keys.SealedSuffix).Count(&files).Error
	return texts, files, err
}

// EncryptExisting seals every text and encrypts every evidence file still in clear,
// calling progress after each batch or file.
func (s *Service) EncryptExisting(ctx context.Context, progress func(EncryptProgress)) (EncryptProgress, error) {
	var p EncryptProgress
	batches := make([]func(context.Context) (int, error), 0, len(sealedTexts)+1)
	for _, t := range sealedTexts {
		batches = append(batches, func(ctx context.Context) (int, error) {
			return s.sealTextBatch(ctx, t.table, t.column, t.submissionColumn, 200)
		})
	}
	batches = append(batches, s.sealSnapsBatch)
	for _, batch := range batches {
		for {
			n, err := batch(ctx)
			if err != nil {
				return p, err
			}
			if n == 0 {
				break
			}
			p.Texts += n
			progress(p)
		}
	}
	var done []string // ids already tried this run (mismatched files stay in clear)
	for {
		var atts []Attachment
		q := s.db.Conn(ctx).Where("object_key NOT LIKE ?", "%"+keys.SealedSuffix).Order("id").Limit(50)
		if len(done) > 0 {
			q = q.Where("id NOT IN ?", done)
		}
		if err := q.Find(&atts).Error; err != nil {
			return p, err
		}
		if len(atts) == 0 {
			return p, nil
		}
		for i := range atts {
			done = append(done, atts[i].ID)
			ok, err := s.encryptFile(ctx, &atts[i])
			if err != nil {
				return p, fmt.Errorf("attachment %s: %w", atts[i].ID, err)
			}
			if !ok {
				p.Mismatched = append(p.Mismatched, atts[i].ID)
				continue
			}
			p.Files++
			p.Bytes += atts[i].Size
			progress(p)
		}
	}
}

// sealTextBatch seals up to limit values of column of table still in clear, in one
// transaction.
func (s *Service) sealTextBatch(ctx context.Context, table, column, submissionColumn string, limit int) (int, error) {
	n := 0
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var rows []struct {
			ID, TenantID, SubmissionID, Body string
		}
		if err := s.db.Conn(ctx).Table(table).Select("id, tenant_id, " + submissionColumn + " AS submission_id, " + column + " AS body").
			Where(column + " <> '' AND " + column + " NOT LIKE 'enc1:%'").Order("id").Limit(limit).Find(&rows).Error; err != nil {
			return err
		}
		sealers := map[string]*sealer{}
		for _, r := range rows {
			z := sealers[r.SubmissionID]
			if z == nil {
				z = s.sealer(r.TenantID, r.SubmissionID)
				sealers[r.SubmissionID] = z
			}
			sealed, err := z.seal(ctx, table, column, r.ID, r.Body)
			if err != nil {
				return err
			}
			// Only if still the same text: a concurrent edit wins, and is sealed itself.
			res := s.db.Conn(ctx).Table(table).Where("id = ? AND "+column+" = ?", r.ID, r.Body).Update(column, sealed)
			if res.Error != nil {
				return res.Error
			}
			n += int(res.RowsAffected)
		}
		return nil
	})
	return n, err
}

// sealSnapsBatch seals the names of the files that up to 100 revisions list, as their
// attachments' own names are sealed, in one transaction.
func (s *Service) sealSnapsBatch(ctx context.Context) (int, error) {
	n := 0
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var revs []Revision
		if err := s.db.Conn(ctx).Select("id, tenant_id, submission_id, attachments").Where(clearSnaps).Order("id").Limit(100).
			Find(&revs).Error; err != nil {
			return err
		}
		for _, r := range revs {
			z := s.sealer(r.TenantID, r.SubmissionID)
			for i, a := range r.SealedAttachments {
				if keys.IsSealed(a.FileName) {
					continue
				}
				sealed, err := z.seal(ctx, "attachments", "file_name", a.ID, a.FileName)
				if err != nil {
					return err
				}
				r.SealedAttachments[i].FileName = sealed
			}
			b, err := json.Marshal(r.SealedAttachments)
			if err != nil {
				return err
			}
			if err := s.db.Conn(ctx).Model(&Revision{}).Where("id = ?", r.ID).Update("attachments", string(b)).Error; err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// encryptFile stores att's object encrypted, switches the row to it and deletes the
// object in clear. It reports false, changing nothing, when the stored bytes do not
// match the recorded hash.
func (s *Service) encryptFile(ctx context.Context, att *Attachment) (bool, error) {
	obj, err := s.opts.Storage.Open(ctx, att.ObjectKey)
	if err != nil {
		return false, err
	}
	defer obj.Close()
	sealed := keys.SealedKey(att.ObjectKey)
	h := sha256.New()
	if err := s.files.Put(ctx, att.TenantID, att.SubmissionID, sealed, io.TeeReader(obj, h), obj.Info().Size); err != nil {
		return false, err
	}
	if hex.EncodeToString(h.Sum(nil)) != att.SHA256 {
		s.opts.Logger.WarnContext(ctx, "encrypt-existing: an evidence file does not match its recorded hash; left as it is",
			"attachment_id", att.ID, "key", att.ObjectKey)
		s.deleteObjects(ctx, sealed)
		return false, nil
	}
	res := s.db.Conn(ctx).Model(&Attachment{}).Where("id = ? AND object_key = ?", att.ID, att.ObjectKey).Update("object_key", sealed)
	if res.Error != nil {
		return false, res.Error
	}
	if res.RowsAffected == 1 {
		// Were the process stopped before this delete, the orphan sweep would remove the
		// object in clear: no row names it any more.
		s.deleteObjects(ctx, att.ObjectKey)
	}
	return true, nil
}
