package workflow

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/keys"
)

// Texts at rest (ADR 0029): the body of a submission, of each of its revisions and of
// each comment is stored sealed under the submission's data key, bound to its tenant,
// table, column and row. The models keep the stored form in a Sealed… field that the
// JSON answer never shows and the readable text in a field the database never sees
// (gorm:"-"), so a text can reach the database only sealed, and a read that forgot to
// open it shows an empty text, never a ciphertext. Values written before encryption
// was turned on are read as they are until `unionportal admin encrypt-existing`
// sealed them.

// sealer seals and opens the texts of one submission, reading its key once.
type sealer struct {
	s                      *Service
	tenantID, submissionID string
	key                    *keys.Key
	// wrapped is the wrapped key when it was read with the submission (wrappedRead).
	wrapped     *string
	wrappedRead bool
}

func (s *Service) sealer(tenantID, submissionID string) *sealer {
	return &sealer{s: s, tenantID: tenantID, submissionID: submissionID}
}

// seal seals a text of column of row rowID of table; an empty text stays empty.
func (z *sealer) seal(ctx context.Context, table, column, rowID, text string) (string, error) {
	if text == "" {
		return "", nil
	}
	if z.key == nil {
		k, err := z.s.opts.Keys.SubmissionKey(ctx, z.tenantID, z.submissionID)
		if err != nil {
			return "", err
		}
		z.key = &k
	}
	return keys.SealField(*z.key, text, z.tenantID, table, column, rowID), nil
}

// open opens what seal sealed. A value that does not open is an unreadableError.
func (z *sealer) open(ctx context.Context, table, column, rowID, stored string) (string, error) {
	if !keys.IsSealed(stored) {
		return stored, nil // written before encryption at rest
	}
	if z.key == nil {
		var k keys.Key
		var err error
		if z.wrappedRead {
			k, err = z.s.opts.Keys.OpenWrappedSubmissionKey(ctx, z.tenantID, z.submissionID, z.wrapped)
		} else {
			k, err = z.s.opts.Keys.ExistingSubmissionKey(ctx, z.tenantID, z.submissionID)
		}
		if err != nil {
			if gone := z.s.retained(ctx, z.submissionID, err); gone != nil {
				return "", gone
			}
			return "", z.s.unreadable(ctx, z.tenantID, z.submissionID, table, rowID, err)
		}
		z.key = &k
	}
	text, err := keys.OpenField(*z.key, stored, z.tenantID, table, column, rowID)
	if err != nil {
		return "", z.s.unreadable(ctx, z.tenantID, z.submissionID, table, rowID, err)
	}
	return text, nil
}

// unreadableError is a stored text or file that does not decrypt: moved to another
// row, submission or tenant, altered, or its submission's key shredded.
type unreadableError struct {
	tenantID, submissionID, table, rowID string
	err                                  error
	reported                             bool
}

func (e *unreadableError) Error() string {
	return "workflow: " + e.table + " " + e.rowID + " of submission " + e.submissionID + " does not decrypt: " + e.err.Error()
}

func (e *unreadableError) Unwrap() error { return e.err }

// unreadable logs a decryption failure and records it in the tenant's audit trail
// (after the transaction, when there is one: see reportUnreadable). The client is told
// nothing of it but that the server failed.
func (s *Service) unreadable(ctx context.Context, tenantID, submissionID, table, rowID string, err error) error {
	e := &unreadableError{tenantID: tenantID, submissionID: submissionID, table: table, rowID: rowID, err: err}
	if s.db.InTx(ctx) {
		return e
	}
	return s.reportUnreadable(ctx, e)
}

// reportUnreadable reports the unreadableError in err's chain, if any, once: logged,
// audited, and answered as a 500 without detail. Call it on errors that leave a
// transaction.
func (s *Service) reportUnreadable(ctx context.Context, err error) error {
	var e *unreadableError
	if !errors.As(err, &e) {
		return err
	}
	if !e.reported {
		e.reported = true
		s.opts.Logger.ErrorContext(ctx, "stored data does not decrypt", "tenant_id", e.tenantID, "submission_id", e.submissionID,
			"table", e.table, "row_id", e.rowID, "error", e.err)
		if _, aerr := audit.Record(context.WithoutCancel(ctx), s.db, audit.Entry{TenantID: e.tenantID, Action: "data.undecryptable",
			ObjectType: "submission", ObjectID: e.submissionID, At: s.now(),
			Details: map[string]any{"table": e.table, "row_id": e.rowID, "shredded": errors.Is(e.err, keys.ErrShredded)}}); aerr != nil {
			s.opts.Logger.ErrorContext(ctx, "could not audit a decryption failure", "error", aerr)
		}
	}
	return apperr.Wrap(apperr.KindInternal, "internal", "the server could not read this data", err)
}

// StoredFileError maps the failure to open a submission's stored file (an attachment,
// or a letter or manifest a dispatch kept) to what the client is told: a decryption
// failure is reported like an unreadable text; anything else means storage is
// unavailable.
func (s *Service) StoredFileError(ctx context.Context, tenantID, submissionID, table, rowID string, err error) error {
	if gone := s.retained(ctx, submissionID, err); gone != nil {
		return gone
	}
	if errors.Is(err, keys.ErrUnreadable) || errors.Is(err, keys.ErrShredded) {
		return s.unreadable(ctx, tenantID, submissionID, table, rowID, err)
	}
	return apperr.Unavailable("storage", err)
}

// retained explains a missing data key (err is keys.ErrShredded) that retention
// deleted while the reader was reading (ADR 0030): the submission is gone (404) or
// shredded (410) by now. It returns nil for any other failure, which is a fault.
func (s *Service) retained(ctx context.Context, submissionID string, err error) error {
	if !errors.Is(err, keys.ErrShredded) {
		return nil
	}
	var rows []Submission
	if qerr := s.db.Conn(ctx).Select("id, shredded_at").Where("id = ?", submissionID).Find(&rows).Error; qerr != nil {
		return nil
	}
	switch {
	case len(rows) == 0:
		return apperr.NotFound("submission")
	case rows[0].ShreddedAt != nil:
		return apperr.Shredded("this submission's texts and files were deleted under the tenant's retention policy")
	}
	return nil
}

// openBody opens sub's body, once.
func (s *Service) openBody(ctx context.Context, sub *Submission) error {
	if sub.bodyOpen {
		return nil
	}
	z := s.sealer(sub.TenantID, sub.ID)
	z.wrapped, z.wrappedRead = sub.wrappedKey, sub.keyRead
	body, err := z.open(ctx, "submissions", "body", sub.ID, sub.SealedBody)
	if err != nil {
		return err
	}
	sub.Body, sub.bodyOpen = body, true
	return nil
}

// openRevision opens a revision's body and the names of its files.
func (s *Service) openRevision(ctx context.Context, r *Revision) error {
	z := s.sealer(r.TenantID, r.SubmissionID)
	body, err := z.open(ctx, "revisions", "body", r.ID, r.SealedBody)
	if err != nil {
		return err
	}
	r.Body = body
	return z.openSnaps(ctx, r)
}

// openSnaps opens the names of the files a revision lists: sealed as their
// attachments' own names, bound to the attachment.
func (z *sealer) openSnaps(ctx context.Context, r *Revision) error {
	r.Attachments = make([]AttachmentSnap, len(r.SealedAttachments))
	for i, a := range r.SealedAttachments {
		name, err := z.open(ctx, "attachments", "file_name", a.ID, a.FileName)
		if err != nil {
			return err
		}
		a.FileName = name
		r.Attachments[i] = a
	}
	return nil
}

// sealAttachment seals an attachment's file name and the metadata found in it.
func (s *Service) sealAttachment(ctx context.Context, att *Attachment) error {
	z := s.sealer(att.TenantID, att.SubmissionID)
	found, err := json.Marshal(att.MetadataFound)
	if err != nil {
		return err
	}
	if att.SealedFileName, err = z.seal(ctx, "attachments", "file_name", att.ID, att.FileName); err != nil {
		return err
	}
	att.SealedMetadata, err = z.seal(ctx, "attachments", "metadata_found", att.ID, string(found))
	return err
}

// openAttachments opens the file names and metadata of attachments of one submission.
func (s *Service) openAttachments(ctx context.Context, tenantID, submissionID string, atts []Attachment) error {
	z := s.sealer(tenantID, submissionID)
	for i := range atts {
		a := &atts[i]
		name, err := z.open(ctx, "attachments", "file_name", a.ID, a.SealedFileName)
		if err != nil {
			return err
		}
		found, err := z.open(ctx, "attachments", "metadata_found", a.ID, a.SealedMetadata)
		if err != nil {
			return err
		}
		a.FileName, a.MetadataFound = name, []string{}
		if found != "" {
			if err := json.Unmarshal([]byte(found), &a.MetadataFound); err != nil {
				return err
			}
		}
	}
	return nil
}

// openComments opens the bodies of comments of one submission.
func (s *Service) openComments(ctx context.Context, tenantID, submissionID string, cs []Comment) error {
	z := s.sealer(tenantID, submissionID)
	for i := range cs {
		body, err := z.open(ctx, "comments", "body", cs[i].ID, cs[i].SealedBody)
		if err != nil {
			return err
		}
		cs[i].Body = body
	}
	return nil
}
