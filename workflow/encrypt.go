package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
var sealedTexts = []struct{ table, submissionColumn string }{
	{"submissions", "id"},
	{"revisions", "submission_id"},
	{"comments", "submission_id"},
}

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
		if err := s.db.Conn(ctx).Table(t.table).Where("body <> '' AND body NOT LIKE 'enc1:%'").Count(&n).Error; err != nil {
			return 0, 0, err
		}
		texts += n
	}
	err = s.db.Conn(ctx).Model(&Attachment{}).Where("object_key NOT LIKE ?", "%"+keys.SealedSuffix).Count(&files).Error
	return texts, files, err
}

// EncryptExisting seals every text and encrypts every evidence file still in clear,
// calling progress after each batch or file.
func (s *Service) EncryptExisting(ctx context.Context, progress func(EncryptProgress)) (EncryptProgress, error) {
	var p EncryptProgress
	for _, t := range sealedTexts {
		for {
			n, err := s.sealTextBatch(ctx, t.table, t.submissionColumn, 200)
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

// sealTextBatch seals up to limit texts of table still in clear, in one transaction.
func (s *Service) sealTextBatch(ctx context.Context, table, submissionColumn string, limit int) (int, error) {
	n := 0
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var rows []struct {
			ID, TenantID, SubmissionID, Body string
		}
		if err := s.db.Conn(ctx).Table(table).Select("id, tenant_id, "+submissionColumn+" AS submission_id, body").
			Where("body <> '' AND body NOT LIKE 'enc1:%'").Order("id").Limit(limit).Scan(&rows).Error; err != nil {
			return err
		}
		sealers := map[string]*sealer{}
		for _, r := range rows {
			z := sealers[r.SubmissionID]
			if z == nil {
				z = s.sealer(r.TenantID, r.SubmissionID)
				sealers[r.SubmissionID] = z
			}
			sealed, err := z.seal(ctx, table, r.ID, r.Body)
			if err != nil {
				return err
			}
			// Only if still the same text: a concurrent edit wins, and is sealed itself.
			res := s.db.Conn(ctx).Table(table).Where("id = ? AND body = ?", r.ID, r.Body).Update("body", sealed)
			if res.Error != nil {
				return res.Error
			}
			n += int(res.RowsAffected)
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
