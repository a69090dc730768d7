package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/scrub"
	"github.com/unionportal/unionportal/storage"
)

// What happens to an evidence file's identifying metadata when it leaves the portal
// (ADR 0028): the scrub package's statuses, and CleanUnchecked for files uploaded
// before the portal looked, which the dispatch checks when it sends them.
const (
	CleanClean         = string(scrub.StatusClean)
	CleanCleanedOnSend = string(scrub.StatusCleanedOnSend)
	CleanCannotClean   = string(scrub.StatusCannotClean)
	CleanUnchecked     = "unchecked"
)

// CleanStatuses lists the values of Attachment.CleanStatus.
func CleanStatuses() []string {
	return []string{CleanClean, CleanCleanedOnSend, CleanCannotClean, CleanUnchecked}
}

// CannotCleanMessage is what an editor is told about a file whose metadata cannot be
// removed automatically.
const CannotCleanMessage = "this file's identifying metadata cannot be removed automatically: convert it (e.g. to PDF) or remove it"

// ReaderAt gives random access to an object at local speed: a copy in an encrypted
// spool (keys.Spool), made in one sequential read of the object however much the reader
// then seeks (a PDF parser seeks a lot; each seek on S3 would be a request). The
// returned function removes it.
func ReaderAt(obj storage.Object) (io.ReaderAt, int64, func(), error) {
	if _, err := obj.Seek(0, io.SeekStart); err != nil {
		return nil, 0, nil, err
	}
	sp, err := keys.SpoolFrom(obj)
	if err != nil {
		return nil, 0, nil, err
	}
	return sp, sp.Size(), sp.Remove, nil
}

// inspect looks for identifying metadata in an upload, read from the spool it was
// copied into on its way to storage, and records what it found on att.
func (s *Service) inspect(ctx context.Context, att *Attachment, sp *keys.Spool) {
	r := scrub.Inspect(sp, sp.Size(), att.ContentType)
	att.MetadataFound, att.CleanStatus = r.Found, string(r.Status)
	if r.Status == scrub.StatusCannotClean {
		s.opts.Logger.InfoContext(ctx, "evidence metadata cannot be removed", "attachment_id", att.ID, "reason", r.Reason)
	}
}

// CleanedCopy writes a copy of an attachment without its identifying metadata to an
// encrypted spool, for a download, and returns it with its SHA-256; closing it removes
// it. A file that cannot be cleaned is refused with CannotCleanMessage.
func (s *Service) CleanedCopy(ctx context.Context, att *Attachment, obj storage.Object) (*keys.SpoolReader, string, error) {
	ra, size, release, err := ReaderAt(obj)
	if err != nil {
		return nil, "", apperr.Unavailable("storage", err)
	}
	defer release()
	sp, err := keys.NewSpool()
	if err != nil {
		return nil, "", err
	}
	h := sha256.New()
	err = scrub.Clean(io.MultiWriter(sp, h), ra, size, att.ContentType)
	if err == nil {
		err = sp.Finish()
	}
	if err != nil {
		sp.Remove()
		if !errors.Is(err, scrub.ErrCannotClean) {
			s.opts.Logger.WarnContext(ctx, "an evidence file could not be cleaned", "attachment_id", att.ID, "error", err)
		}
		return nil, "", &apperr.Error{Kind: apperr.KindForbidden, Code: apperr.CodeForbidden, Message: CannotCleanMessage}
	}
	return sp.Reader(), hex.EncodeToString(h.Sum(nil)), nil
}

// MayReadOriginal reports whether the caller may download an attachment as it was
// uploaded, identifying metadata included: a member of the uploader's organization or
// of the secretariat. Anyone else gets the cleaned copy.
func (s *Service) MayReadOriginal(ctx context.Context, a *auth.TenantAccess, att *Attachment) (bool, error) {
	return auth.MayReadOriginal(ctx, s.db, a, att.CreatedBy)
}

// NeedsCleaning reports whether a copy of att that leaves the portal must be cleaned
// first: whenever metadata was found, and for files never checked.
func (att *Attachment) NeedsCleaning() bool { return att.CleanStatus != CleanClean }

// uncleanable lists, for the receivability checks, the submission's live attachments
// whose metadata cannot be removed automatically.
func (s *Service) uncleanable(ctx context.Context, submissionID string) ([]string, error) {
	var atts []Attachment
	if err := s.db.Conn(ctx).Where("submission_id = ? AND deleted_at IS NULL AND clean_status = ?", submissionID, CleanCannotClean).
		Order("created_at, id").Find(&atts).Error; err != nil || len(atts) == 0 {
		return nil, err
	}
	if err := s.openAttachments(ctx, atts[0].TenantID, submissionID, atts); err != nil {
		return nil, err
	}
	names := make([]string, len(atts))
	for i, a := range atts {
		names[i] = a.FileName
	}
	return names, nil
}
