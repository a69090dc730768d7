package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
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

// ReaderAt gives random access to an object: the object itself when it has ReadAt
// (local files, S3 objects), else a temporary copy. The returned function releases it.
func ReaderAt(obj storage.Object) (io.ReaderAt, int64, func(), error) {
	size := obj.Info().Size
	if ra, ok := obj.(io.ReaderAt); ok {
		return ra, size, func() {}, nil
	}
	f, err := os.CreateTemp("", "unionportal-evidence-*")
	if err != nil {
		return nil, 0, nil, err
	}
	release := func() { f.Close(); os.Remove(f.Name()) }
	if _, err := obj.Seek(0, io.SeekStart); err != nil {
		release()
		return nil, 0, nil, err
	}
	n, err := io.Copy(f, obj)
	if err != nil {
		release()
		return nil, 0, nil, err
	}
	return f, n, release, nil
}

// inspect looks for identifying metadata in a stored upload, reading it back from the
// store (a second pass, random access, bounded memory but for PDF files), and records
// what it found on att.
func (s *Service) inspect(ctx context.Context, att *Attachment) error {
	obj, err := s.openFile(ctx, att)
	if err != nil {
		return err
	}
	defer obj.Close()
	ra, size, release, err := ReaderAt(obj)
	if err != nil {
		return apperr.Unavailable("storage", err)
	}
	defer release()
	r := scrub.Inspect(ra, size, att.ContentType)
	att.MetadataFound, att.CleanStatus = r.Found, string(r.Status)
	if r.Status == scrub.StatusCannotClean {
		s.opts.Logger.InfoContext(ctx, "evidence metadata cannot be removed", "attachment_id", att.ID, "reason", r.Reason)
	}
	return nil
}

// CleanedCopy writes a copy of an attachment without its identifying metadata to a
// temporary file, for a download, and returns it with its SHA-256; the caller closes
// and removes it. A file that cannot be cleaned is refused with CannotCleanMessage.
func (s *Service) CleanedCopy(ctx context.Context, att *Attachment, obj storage.Object) (*os.File, string, error) {
	ra, size, release, err := ReaderAt(obj)
	if err != nil {
		return nil, "", apperr.Unavailable("storage", err)
	}
	defer release()
	f, err := os.CreateTemp("", "unionportal-cleaned-*")
	if err != nil {
		return nil, "", err
	}
	h := sha256.New()
	err = scrub.Clean(io.MultiWriter(f, h), ra, size, att.ContentType)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		if !errors.Is(err, scrub.ErrCannotClean) {
			s.opts.Logger.WarnContext(ctx, "an evidence file could not be cleaned", "attachment_id", att.ID, "error", err)
		}
		return nil, "", &apperr.Error{Kind: apperr.KindForbidden, Code: apperr.CodeForbidden, Message: CannotCleanMessage}
	}
	return f, hex.EncodeToString(h.Sum(nil)), nil
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
