package workflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"slices"
	"sync"
	"time"

	"github.com/gabriel-vasile/mimetype"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/storage"
)

// Attachment is an evidence file of a submission.
type Attachment struct {
	ID           string `json:"id"`
	TenantID     string `json:"-"`
	SubmissionID string `json:"submission_id"`
	ObjectKey    string `json:"-"`
	// FileName and MetadataFound once opened (sealed.go); the Sealed… fields are what
	// the database keeps.
	FileName       string     `json:"file_name" gorm:"-"`
	SealedFileName string     `json:"-" gorm:"column:file_name"`
	Size           int64      `json:"size"`
	ContentType    string     `json:"content_type"`
	SHA256         string     `json:"sha256"`
	CreatedBy      string     `json:"created_by"`
	CreatedAt      time.Time  `json:"created_at"`
	InRevision     bool       `json:"in_revision"`
	DeletedAt      *time.Time `json:"deleted_at,omitempty"`
	// MetadataFound lists the identifying metadata found at upload, in short words;
	// CleanStatus says what happens to it when the file leaves the portal (ADR 0028).
	MetadataFound  []string `json:"metadata_found" gorm:"-"`
	SealedMetadata string   `json:"-" gorm:"column:metadata_found"`
	CleanStatus    string   `json:"clean_status" enum:"clean_status"`
}

// AllowedTypes are the content types accepted as evidence, detected from the bytes.
var AllowedTypes = []string{
	"application/pdf",
	"image/png",
	"image/jpeg",
	"image/webp",
	"text/plain",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document", // DOCX
	"application/vnd.oasis.opendocument.text",                                 // ODT
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",       // XLSX
}

// sniffBytes is how much of a file is read to detect its type: enough for the zip
// entries that tell DOCX, XLSX and ODT apart.
const sniffBytes = 64 << 10

// Scanner starts a malware scan of one upload (clamd, when configured).
type Scanner func(ctx context.Context) (Scan, error)

// Scan receives a file's bytes as they stream; Verdict says whether it is clean: nil,
// an error with an Infected() method that reports true, or another error when the scan
// could not be done.
type Scan interface {
	io.Writer
	Verdict() error
	Close() error
}

func infected(err error) bool {
	var i interface{ Infected() bool }
	return errors.As(err, &i) && i.Infected()
}

// Limits bound uploads.
type Limits struct {
	MaxFileBytes       int64 // per file; 0 means 50 MiB
	MaxSubmissionBytes int64 // all files of a submission; 0 means 200 MiB
}

func (l Limits) file() int64 {
	if l.MaxFileBytes > 0 {
		return l.MaxFileBytes
	}
	return 50 << 20
}

func (l Limits) submission() int64 {
	if l.MaxSubmissionBytes > 0 {
		return l.MaxSubmissionBytes
	}
	return 200 << 20
}

// FileLimit is the largest file accepted.
func (s *Service) FileLimit() int64 { return s.opts.Limits.file() }

func tooLarge(what string, limit int64) error {
	return (&apperr.Error{Kind: apperr.KindTooLarge, Code: apperr.CodeFileTooLarge, Message: what}).With("limit_bytes", limit)
}

// errLimit stops an upload that passes its limit, from inside the reader.
var errLimit = errors.New("upload exceeds its limit")

// limitReader fails with errLimit once more than max bytes were read.
type limitReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n, errLimit
	}
	return n, err
}

// CheckUpload answers whether the caller may add files to the submission now: 404 when
// it is not visible, 403 when not theirs to edit, 409 when its state forbids changes.
func (s *Service) CheckUpload(ctx context.Context, a *auth.TenantAccess, submissionID string) error {
	_, err := s.editable(ctx, a, submissionID, canUpload)
	return err
}

// Upload stores a file for a submission its caller may edit: streamed to storage,
// encrypted, with its SHA-256 computed on the way, its type detected from its bytes and
// checked against AllowedTypes (and against declaredType, when the client gave one), and
// its size against the limits; then inspected for identifying metadata (metadata.go)
// from an encrypted spool filled on the way. The row is written only once the object is
// stored; whatever fails leaves neither row nor object.
func (s *Service) Upload(ctx context.Context, a *auth.TenantAccess, submissionID, fileName, declaredType string, r io.Reader) (*Attachment, error) {
	sub, err := s.editable(ctx, a, submissionID, canUpload)
	if err != nil {
		return nil, err
	}
	used, err := s.attachedBytes(ctx, sub.ID)
	if err != nil {
		return nil, err
	}
	limits := s.opts.Limits
	room := min(limits.file(), limits.submission()-used)
	if room <= 0 {
		return nil, tooLarge("the submission's files reach its limit already", limits.submission())
	}
	head, contentType, err := sniff(r, declaredType)
	if err != nil {
		return nil, err
	}
	att := Attachment{ID: database.NewID(), TenantID: sub.TenantID, SubmissionID: sub.ID, FileName: SanitizeFileName(fileName),
		ContentType: contentType, CreatedBy: a.Principal.User.ID}
	att.ObjectKey = keys.SealedKey(storage.AttachmentKey(sub.TenantID, sub.ID, att.ID))
	// A copy for the metadata inspection: the encrypted bytes stored, kept as they go
	// (one encryption for both).
	sp, err := keys.NewSealedSpool()
	if err != nil {
		return nil, err
	}
	defer sp.Remove()
	if err := s.store(ctx, a, &att, io.MultiReader(bytes.NewReader(head), r), room, sp); err != nil {
		return nil, err
	}
	if err := sp.Finish(); err != nil {
		_ = s.opts.Storage.Delete(context.WithoutCancel(ctx), att.ObjectKey)
		return nil, err
	}
	s.inspect(ctx, &att, sp)
	if err := s.record(ctx, a, &att); err != nil {
		_ = s.opts.Storage.Delete(context.WithoutCancel(ctx), att.ObjectKey)
		return nil, err
	}
	return &att, nil
}

// sniff reads the head of a file and detects its type from the bytes: one of
// AllowedTypes, and the declared type when the client gave one.
func sniff(r io.Reader, declaredType string) (head []byte, contentType string, err error) {
	head = make([]byte, sniffBytes)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, "", err // the client went away
	}
	head = head[:n]
	if n == 0 {
		return nil, "", apperr.Malformed("the file is empty", apperr.FieldError{Field: "file", Message: "empty"})
	}
	detected := detectType(head)
	for _, allowed := range AllowedTypes {
		if detected.Is(allowed) {
			contentType = allowed
		}
	}
	if contentType == "" {
		return nil, "", (&apperr.Error{Kind: apperr.KindUnsupportedMedia, Code: apperr.CodeFileTypeRefused,
			Message: "this kind of file is not accepted as evidence (" + detected.String() + "); send PDF, PNG, JPEG, WebP, plain text, DOCX, ODT or XLSX"}).
			With("detected_type", detected.String())
	}
	if declared, _, err := mime.ParseMediaType(declaredType); err == nil && declared != "application/octet-stream" && declared != contentType {
		return nil, "", (&apperr.Error{Kind: apperr.KindUnsupportedMedia, Code: apperr.CodeFileTypeMismatch,
			Message: "the file was declared as " + declared + " but its content is " + contentType}).With("detected_type", contentType)
	}
	if contentType == "text/plain" {
		contentType = "text/plain; charset=utf-8"
	}
	return head, contentType, nil
}

// detectLimit sets, once, how far mimetype reads into a file: a setting of the library
// for the whole process, which only uploads use.
var detectLimit sync.Once

func detectType(head []byte) *mimetype.MIME {
	detectLimit.Do(func() { mimetype.SetLimit(sniffBytes) })
	return mimetype.Detect(head)
}

// store streams body (at most room bytes) to att's object, hashing it, and through the
// malware scanner when one is configured, keeping the stored bytes in sp for the
// inspection; on any failure nothing stays stored.
func (s *Service) store(ctx context.Context, a *auth.TenantAccess, att *Attachment, body io.Reader, room int64, sp *keys.Spool) error {
	limits := s.opts.Limits
	hash := sha256.New()
	lr := &limitReader{r: body, max: room}
	in := io.TeeReader(lr, hash)
	var scan Scan
	if s.opts.Scanner != nil {
		// The file streams to the scanner as it streams to storage; the row, and with it
		// any way to download the file, exists only after a clean verdict.
		var err error
		if scan, err = s.opts.Scanner(ctx); err != nil {
			return apperr.Unavailable("malware_scanner", err)
		}
		defer scan.Close()
		in = io.TeeReader(in, scan)
	}
	if err := s.files.PutSpooled(ctx, att.TenantID, att.SubmissionID, att.ObjectKey, in, -1, sp); err != nil {
		_ = s.opts.Storage.Delete(context.WithoutCancel(ctx), att.ObjectKey) // in case a store kept a part
		switch {
		case errors.Is(err, errLimit) && room < limits.file():
			return tooLarge("the submission's files would exceed its limit", limits.submission())
		case errors.Is(err, errLimit):
			return tooLarge("the file is larger than the limit", limits.file())
		case ctx.Err() != nil:
			return ctx.Err()
		}
		if ae, ok := apperr.As(err); ok {
			return ae // the body's reader failed for the client's reason (too slow)
		}
		return apperr.Unavailable("storage", err)
	}
	att.Size, att.SHA256, att.CreatedAt = lr.n, hex.EncodeToString(hash.Sum(nil)), s.now()
	if scan == nil {
		return nil
	}
	err := scan.Verdict()
	if err == nil {
		return nil
	}
	_ = s.opts.Storage.Delete(context.WithoutCancel(ctx), att.ObjectKey)
	if !infected(err) {
		return apperr.Unavailable("malware_scanner", err)
	}
	s.opts.Logger.WarnContext(ctx, "upload refused: malware found", "tenant_id", att.TenantID, "submission_id", att.SubmissionID,
		"user_id", a.Principal.User.ID, "sha256", att.SHA256, "verdict", err.Error())
	if eerr := s.event(ctx, a, "attachment.infected", "submission", att.SubmissionID,
		map[string]any{"sha256": att.SHA256, "verdict": err.Error()}); eerr != nil {
		return eerr
	}
	return &apperr.Error{Kind: apperr.KindInvalid, Code: apperr.CodeFileInfected,
		Message: "the malware scanner flagged this file; it was not stored", Fields: []apperr.FieldError{{Field: "file", Message: "infected"}}}
}

// record writes att's row, once its object is stored, if the submission still takes it.
func (s *Service) record(ctx context.Context, a *auth.TenantAccess, att *Attachment) error {
	limits := s.opts.Limits
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		// The submission may have moved on, or other uploads filled it, meanwhile.
		if _, err := s.editable(ctx, a, att.SubmissionID, canUpload); err != nil {
			return err
		}
		used, err := s.attachedBytes(ctx, att.SubmissionID)
		if err != nil {
			return err
		}
		if used+att.Size > limits.submission() {
			return tooLarge("the submission's files would exceed its limit", limits.submission())
		}
		if err := s.sealAttachment(ctx, att); err != nil {
			return err
		}
		if err := s.db.Conn(ctx).Create(att).Error; err != nil {
			return err
		}
		// Choosing the evidence is authorship: the uploader may not approve or sign.
		if err := s.addContributor(ctx, att.SubmissionID, a.Principal.User.ID); err != nil {
			return err
		}
		return s.event(ctx, a, "attachment.added", "submission", att.SubmissionID,
			map[string]any{"attachment_id": att.ID, "size": att.Size, "sha256": att.SHA256, "content_type": att.ContentType})
	})
}

// attachedBytes is the size of the submission's live attachments.
func (s *Service) attachedBytes(ctx context.Context, submissionID string) (int64, error) {
	var total int64
	err := s.db.Conn(ctx).Model(&Attachment{}).Where("submission_id = ? AND deleted_at IS NULL", submissionID).
		Select("COALESCE(SUM(size), 0)").Find(&total).Error
	return total, err
}

// Attachments lists a submission's live attachments, oldest first.
func (s *Service) Attachments(ctx context.Context, a *auth.TenantAccess, submissionID string) ([]Attachment, error) {
	sub, err := s.load(ctx, a, submissionID, false)
	if err != nil {
		return nil, err
	}
	var out []Attachment
	if err := s.db.Conn(ctx).Where("submission_id = ? AND tenant_id = ? AND deleted_at IS NULL", sub.ID, sub.TenantID).
		Order("created_at, id").Find(&out).Error; err != nil {
		return nil, err
	}
	return out, s.openAttachments(ctx, sub.TenantID, sub.ID, out)
}

// Attachment returns one attachment whose submission the caller may see, including one
// removed from the submission but kept for a revision.
func (s *Service) Attachment(ctx context.Context, a *auth.TenantAccess, id string) (*Attachment, error) {
	if !database.ValidID(id) {
		return nil, apperr.NotFound("attachment")
	}
	sc, err := submissionScope(a)
	if err != nil {
		return nil, apperr.NotFound("attachment")
	}
	var att Attachment
	err = sc.Apply(s.db.Conn(ctx).Table("attachments").Select("attachments.*").
		Joins("JOIN submissions ON submissions.id = attachments.submission_id"), "submissions", true).
		Where("attachments.id = ?", id).Take(&att).Error
	if err != nil {
		return nil, notFound(err, "attachment")
	}
	atts := []Attachment{att}
	if err := s.openAttachments(ctx, att.TenantID, att.SubmissionID, atts); err != nil {
		return nil, err
	}
	return &atts[0], nil
}

// FileCopy is which copy of an evidence file a download gives (ADR 0028).
type FileCopy string

// The copies of an evidence file.
const (
	// CopyOriginal is the file as uploaded, identifying metadata included.
	CopyOriginal FileCopy = "original"
	// CopyCleaned is the copy without identifying metadata (CleanedCopy).
	CopyCleaned FileCopy = "cleaned"
)

// OpenAttachment opens an attachment's content, decrypted, for a download of the given
// copy, and records the download in the tenant's audit trail (attachment.downloaded)
// first: a file is never read without its record.
func (s *Service) OpenAttachment(ctx context.Context, a *auth.TenantAccess, id string, which FileCopy) (*Attachment, storage.Object, error) {
	att, err := s.Attachment(ctx, a, id)
	if err != nil {
		return nil, nil, err
	}
	obj, err := s.openFile(ctx, att)
	if err != nil {
		return nil, nil, err
	}
	if err := s.event(ctx, a, ActionAttachmentDownloaded, "submission", att.SubmissionID,
		map[string]any{"attachment_id": att.ID, "copy": which}); err != nil {
		obj.Close()
		return nil, nil, err
	}
	return att, obj, nil
}

// errFileShredded answers for an evidence file that retention deleted (ADR 0030).
func errFileShredded() error {
	return apperr.Shredded("this evidence file was deleted under the tenant's retention policy; its size and SHA-256 remain on record")
}

// openFile opens an attachment's object, decrypted.
func (s *Service) openFile(ctx context.Context, att *Attachment) (storage.Object, error) {
	if att.ObjectKey == "" {
		return nil, errFileShredded()
	}
	obj, err := s.files.Open(ctx, att.TenantID, att.SubmissionID, att.ObjectKey)
	switch {
	case err == nil:
		return obj, nil
	case errors.Is(err, storage.ErrNotExist):
		s.opts.Logger.ErrorContext(ctx, "an attachment's object is missing", "attachment_id", att.ID, "key", att.ObjectKey)
		return nil, apperr.Wrap(apperr.KindInternal, "object_missing", "the file is missing from storage", err)
	}
	return nil, s.StoredFileError(ctx, att.TenantID, att.SubmissionID, "attachments", att.ID, err)
}

// PresignAttachment returns a short-lived download URL, or storage.ErrUnsupported: an
// encrypted file is only ever served by the portal, decrypted on the way. A URL given
// out is recorded as a download of the original (attachment.downloaded, redirect).
func (s *Service) PresignAttachment(ctx context.Context, a *auth.TenantAccess, att *Attachment) (string, error) {
	if att.ObjectKey == "" {
		return "", errFileShredded()
	}
	if keys.IsSealedObject(att.ObjectKey) {
		return "", storage.ErrUnsupported
	}
	u, err := s.opts.Storage.PresignGet(ctx, att.ObjectKey, 5*time.Minute, att.FileName)
	if err != nil {
		return "", err
	}
	if err := s.event(ctx, a, ActionAttachmentDownloaded, "submission", att.SubmissionID,
		map[string]any{"attachment_id": att.ID, "copy": CopyOriginal, "redirect": true}); err != nil {
		return "", err
	}
	return u, nil
}

// DeleteAttachment removes an attachment from a submission its caller may edit. One
// that a revision lists keeps its row and object (the revision must stay exact); any
// other is deleted, its object after the transaction committed.
func (s *Service) DeleteAttachment(ctx context.Context, a *auth.TenantAccess, id string) error {
	att, err := s.Attachment(ctx, a, id)
	if err != nil {
		return err
	}
	if att.DeletedAt != nil {
		return apperr.NotFound("attachment")
	}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.editable(ctx, a, att.SubmissionID, canUpload); err != nil {
			return err
		}
		q := s.db.Conn(ctx).Model(&Attachment{}).Where("id = ?", att.ID)
		if att.InRevision {
			if err := q.Update("deleted_at", s.now()).Error; err != nil {
				return err
			}
		} else if err := s.db.Conn(ctx).Delete(&Attachment{}, "id = ?", att.ID).Error; err != nil {
			return err
		}
		// So is removing evidence.
		if err := s.addContributor(ctx, att.SubmissionID, a.Principal.User.ID); err != nil {
			return err
		}
		return s.event(ctx, a, "attachment.removed", "submission", att.SubmissionID, map[string]any{"attachment_id": att.ID})
	})
	if err != nil {
		return err
	}
	if !att.InRevision {
		s.deleteObjects(ctx, att.ObjectKey)
	}
	return nil
}

// deleteObjects removes objects after a commit. A failure is logged; the sweep removes
// what remains.
func (s *Service) deleteObjects(ctx context.Context, keys ...string) {
	for _, k := range keys {
		if err := s.opts.Storage.Delete(context.WithoutCancel(ctx), k); err != nil {
			s.opts.Logger.WarnContext(ctx, "could not delete an object; the sweep will", "key", k, "error", err)
		}
	}
}

// snapshotAttachments lists the live attachments for a new revision, their names
// sealed, and marks them as listed by a revision, in the transaction carried by ctx.
func (s *Service) snapshotAttachments(ctx context.Context, sub *Submission) ([]AttachmentSnap, error) {
	var atts []Attachment
	if err := s.db.Conn(ctx).Where("submission_id = ? AND deleted_at IS NULL", sub.ID).Order("created_at, id").Find(&atts).Error; err != nil {
		return nil, err
	}
	snaps := make([]AttachmentSnap, 0, len(atts))
	var ids []string
	for _, at := range atts {
		// The name as the attachment keeps it: sealed, bound to the attachment.
		snaps = append(snaps, AttachmentSnap{ID: at.ID, FileName: at.SealedFileName, Size: at.Size, ContentType: at.ContentType, SHA256: at.SHA256})
		ids = append(ids, at.ID)
	}
	if len(ids) > 0 {
		if err := s.db.Conn(ctx).Model(&Attachment{}).Where("id IN ?", ids).Update("in_revision", true).Error; err != nil {
			return nil, err
		}
	}
	return snaps, nil
}

// SweepOrphans deletes objects under tenants/ that no attachment row names and that are
// older than grace: what an upload left when the process died between storing the object
// and writing its row; and the resumable uploads untouched for ResumableTTL. With a store that writes through temporary files, it also deletes
// those older than grace: what an upload left when the process died while writing. It
// returns how many it deleted.
func (s *Service) SweepOrphans(ctx context.Context, grace time.Duration) (int, error) {
	cutoff := time.Now().Add(-grace)
	var batch []string
	deleted := 0
	if ts, ok := s.opts.Storage.(storage.TempSweeper); ok {
		removed, err := ts.SweepTemp(ctx, cutoff)
		for _, name := range removed {
			s.opts.Logger.Info("sweep: deleted an unfinished upload's temporary file", "file", name)
		}
		deleted += len(removed)
		if err != nil {
			return deleted, err
		}
	}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var known []string
		if err := s.db.Conn(ctx).Model(&Attachment{}).Where("object_key IN ?", batch).Pluck("object_key", &known).Error; err != nil {
			return err
		}
		for _, k := range batch {
			if !slices.Contains(known, k) {
				if err := s.opts.Storage.Delete(ctx, k); err != nil {
					return err
				}
				s.opts.Logger.Info("sweep: deleted an object without attachment", "key", k)
				deleted++
			}
		}
		batch = batch[:0]
		return nil
	}
	// Resumable uploads, by directory, with the time of their latest object.
	uploads := map[string]time.Time{}
	err := s.opts.Storage.List(ctx, storage.TenantsPrefix, func(info storage.Info) error {
		if dir, ok := isUploadKey(info.Key); ok {
			if info.LastModified.After(uploads[dir]) {
				uploads[dir] = info.LastModified
			}
			return nil
		}
		// Only evidence files: what a dispatch sent is never swept.
		if info.LastModified.After(cutoff) || !storage.IsAttachmentKey(info.Key) {
			return nil
		}
		batch = append(batch, info.Key)
		if len(batch) == 500 {
			return flush()
		}
		return nil
	})
	if err != nil {
		return deleted, err
	}
	if err := flush(); err != nil {
		return deleted, err
	}
	// Unfinished uploads nobody continued, and finished ones whose outcome was kept for
	// a client that lost its answer.
	for dir, latest := range uploads {
		if time.Since(latest) < ResumableTTL {
			continue
		}
		n := 0
		if err := s.opts.Storage.List(ctx, dir, func(info storage.Info) error {
			if err := s.opts.Storage.Delete(ctx, info.Key); err != nil {
				return err
			}
			n++
			return nil
		}); err != nil {
			return deleted, err
		}
		s.opts.Logger.Info("sweep: deleted an abandoned resumable upload", "prefix", dir, "objects", n)
		deleted += n
	}
	return deleted, nil
}
