package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/storage"
)

// Resumable uploads (ADR 0040): a file sent in pieces over as many requests as the
// connection needs (the tus 1.0 protocol in api). Nothing of an unfinished upload is in
// the database or in a process's memory: it is a directory of objects in the store,
// each encrypted under the submission's data key and bound to its key, like evidence,
//
//	tenants/{t}/submissions/{s}/uploads/{u}/info.age        length, name, type, uploader
//	tenants/{t}/submissions/{s}/uploads/{u}/{offset}.age    the bytes from offset on, one per request
//	tenants/{t}/submissions/{s}/uploads/{u}/done-{a}.age    the upload became attachment a
//
// so that any portal process answers for it. The offset is where the chain of pieces
// from 0 ends; a piece's length follows from its encrypted size (keys.PlainSize), so a
// request cut off mid-body keeps what arrived. Once complete, the pieces are read back
// in order through Upload: the file gets exactly the checks, hash, scan, encryption and
// inspection of any other. What is left of an upload nobody touched for ResumableTTL is
// removed by SweepOrphans.

// ResumableTTL is how long an unfinished upload is kept after its last piece.
const ResumableTTL = 24 * time.Hour

// Bounds on resumable uploads.
const (
	// maxOpenUploads is how many unfinished uploads one submission may have.
	maxOpenUploads = 10
	// maxUploadPieces bounds the pieces of one upload: each costs an object and an open
	// at completion.
	maxUploadPieces = 1000
	// uploadLockWait is how long a request waits for another of the same upload in this
	// process (a PATCH whose connection was cut, still storing what arrived).
	uploadLockWait = 10 * time.Second
)

// ResumableUpload is an upload in pieces.
type ResumableUpload struct {
	ID           string    `json:"id"`
	SubmissionID string    `json:"submission_id"`
	FileName     string    `json:"file_name"`
	FileType     string    `json:"file_type,omitempty"`
	Length       int64     `json:"length"`
	Offset       int64     `json:"offset"`
	CreatedAt    time.Time `json:"created_at"`
	// AttachmentID is the attachment the upload became, once complete.
	AttachmentID string `json:"attachment_id,omitempty"`
	// Attachment is that attachment, in the answer to the request that completed it.
	Attachment *Attachment `json:"-"`

	createdBy string
	prefix    string
	pieces    []piece
}

type piece struct {
	key        string
	start, end int64
}

// uploadInfo is what info.age keeps.
type uploadInfo struct {
	FileName  string    `json:"file_name"`
	FileType  string    `json:"file_type,omitempty"`
	Length    int64     `json:"length"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

func uploadsPrefix(tenantID, submissionID string) string {
	return storage.AttachmentKey(tenantID, submissionID, "uploads") + "/"
}

// CreateResumable starts an upload of length bytes into a submission the caller may add
// files to; the length is checked against the limits now, the bytes when complete.
func (s *Service) CreateResumable(ctx context.Context, a *auth.TenantAccess, submissionID string, length int64, fileName, fileType string) (*ResumableUpload, error) {
	sub, err := s.editable(ctx, a, submissionID, canUpload)
	if err != nil {
		return nil, err
	}
	limits := s.opts.Limits
	if length > limits.file() {
		return nil, tooLarge("the file is larger than the limit", limits.file())
	}
	used, err := s.attachedBytes(ctx, sub.ID)
	if err != nil {
		return nil, err
	}
	if used+length > limits.submission() {
		return nil, tooLarge("the submission's files would exceed its limit", limits.submission())
	}
	if length <= 0 {
		return nil, apperr.Malformed("the file is empty", apperr.FieldError{Field: "Upload-Length", Message: "at least 1 byte"})
	}
	open := map[string]bool{}
	prefix := uploadsPrefix(sub.TenantID, sub.ID)
	if err := s.opts.Storage.List(ctx, prefix, func(i storage.Info) error {
		id, _, _ := strings.Cut(strings.TrimPrefix(i.Key, prefix), "/")
		open[id] = true
		return nil
	}); err != nil {
		return nil, apperr.Unavailable("storage", err)
	}
	if len(open) >= maxOpenUploads {
		return nil, apperr.New(apperr.KindConflict, apperr.CodeTooManyUploads,
			"this submission has too many unfinished uploads; finish or cancel one first")
	}
	u := &ResumableUpload{ID: database.NewID(), SubmissionID: sub.ID, FileName: SanitizeFileName(fileName), FileType: fileType,
		Length: length, CreatedAt: s.now(), createdBy: a.Principal.User.ID}
	u.prefix = prefix + u.ID + "/"
	info, err := json.Marshal(uploadInfo{FileName: u.FileName, FileType: u.FileType, Length: length, CreatedBy: u.createdBy, CreatedAt: u.CreatedAt})
	if err != nil {
		return nil, err
	}
	if err := s.files.Put(ctx, sub.TenantID, sub.ID, u.prefix+"info.age", bytes.NewReader(info), int64(len(info))); err != nil {
		return nil, storeError(err)
	}
	return u, nil
}

func storeError(err error) error {
	if storage.IsFull(err) {
		return apperr.Full(err)
	}
	if _, ok := apperr.As(err); ok {
		return err
	}
	return apperr.Unavailable("storage", err)
}

// ResumableStatus reads an upload of the caller's: its offset, and the attachment it
// became once complete. Another user's upload, or another submission's, is not found.
func (s *Service) ResumableStatus(ctx context.Context, a *auth.TenantAccess, submissionID, uploadID string) (*ResumableUpload, error) {
	sub, err := s.editable(ctx, a, submissionID, canUpload)
	if err != nil {
		return nil, err
	}
	return s.readUpload(ctx, a, sub, uploadID)
}

func (s *Service) readUpload(ctx context.Context, a *auth.TenantAccess, sub *Submission, uploadID string) (*ResumableUpload, error) {
	if !database.ValidID(uploadID) {
		return nil, apperr.NotFound("upload")
	}
	u := &ResumableUpload{ID: uploadID, SubmissionID: sub.ID, prefix: uploadsPrefix(sub.TenantID, sub.ID) + uploadID + "/"}
	found := false
	starts := map[int64]piece{}
	err := s.opts.Storage.List(ctx, u.prefix, func(i storage.Info) error {
		name := strings.TrimPrefix(i.Key, u.prefix)
		switch {
		case name == "info.age":
			found = true
		case strings.HasPrefix(name, "done-"):
			u.AttachmentID = strings.TrimSuffix(strings.TrimPrefix(name, "done-"), keys.SealedSuffix)
		default:
			start, err := strconv.ParseInt(strings.TrimSuffix(name, keys.SealedSuffix), 10, 64)
			size, ok := keys.PlainSize(i.Size)
			if err == nil && ok && size > 0 {
				starts[start] = piece{key: i.Key, start: start, end: start + size}
			}
		}
		return nil
	})
	if err != nil {
		return nil, apperr.Unavailable("storage", err)
	}
	if !found {
		return nil, apperr.NotFound("upload")
	}
	obj, err := s.files.Open(ctx, sub.TenantID, sub.ID, u.prefix+"info.age")
	if errors.Is(err, storage.ErrNotExist) {
		return nil, apperr.NotFound("upload")
	} else if err != nil {
		return nil, s.StoredFileError(ctx, sub.TenantID, sub.ID, "uploads", uploadID, err)
	}
	var info uploadInfo
	err = json.NewDecoder(io.LimitReader(obj, 64<<10)).Decode(&info)
	obj.Close()
	if err != nil {
		return nil, err
	}
	// An upload is its uploader's: anyone else, however entitled, does not see it.
	if info.CreatedBy != a.Principal.User.ID {
		return nil, apperr.NotFound("upload")
	}
	u.FileName, u.FileType, u.Length, u.CreatedAt, u.createdBy = info.FileName, info.FileType, info.Length, info.CreatedAt, info.CreatedBy
	for p, ok := starts[0]; ok && p.end <= u.Length; p, ok = starts[p.end] {
		u.pieces = append(u.pieces, p)
		u.Offset = p.end
	}
	if u.AttachmentID != "" {
		u.Offset = u.Length
	}
	return u, nil
}

// uploadLocks serialise the requests of one upload within a process.
type uploadLocks struct {
	mu   sync.Mutex
	held map[string]chan struct{}
}

// lock waits for the upload's lock, up to uploadLockWait; the function returned
// releases it.
func (l *uploadLocks) lock(ctx context.Context, id string) (func(), error) {
	deadline := time.NewTimer(uploadLockWait)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		ch, busy := l.held[id]
		if !busy {
			ch = make(chan struct{})
			l.held[id] = ch
			l.mu.Unlock()
			return func() {
				l.mu.Lock()
				delete(l.held, id)
				l.mu.Unlock()
				close(ch)
			}, nil
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, apperr.New(apperr.KindConflict, apperr.CodeUploadBusy,
				"another request is still writing to this upload; ask for its offset again shortly")
		}
	}
}

// errOffsetMismatch answers a piece that does not start where the upload stands.
func errOffsetMismatch(offset int64) error {
	return (&apperr.Error{Kind: apperr.KindConflict, Code: apperr.CodeUploadOffsetMismatch,
		Message: "the upload stands at another offset; ask for it (HEAD) and continue from there"}).With("offset", offset)
}

// AppendResumable stores body as the piece of the upload that starts at offset: all of
// it, or, when the body breaks off (the connection was cut), what arrived before. A
// body longer than what the upload lacks stores nothing. When the upload is then
// complete it becomes an attachment through Upload (u.Attachment); a refused file ends
// the upload, a service that is down keeps it for a retry (an empty piece at its end).
func (s *Service) AppendResumable(ctx context.Context, a *auth.TenantAccess, submissionID, uploadID string, offset int64, body io.Reader) (*ResumableUpload, error) {
	sub, err := s.editable(ctx, a, submissionID, canUpload)
	if err != nil {
		return nil, err
	}
	if !database.ValidID(uploadID) {
		return nil, apperr.NotFound("upload")
	}
	unlock, err := s.uploadLocks.lock(ctx, uploadID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	u, err := s.readUpload(ctx, a, sub, uploadID)
	if err != nil {
		return nil, err
	}
	if u.AttachmentID != "" && offset == u.Length {
		return u, nil // finished already: the answer a client that lost it asks again for
	}
	if u.AttachmentID != "" || offset != u.Offset {
		return u, errOffsetMismatch(u.Offset)
	}
	if u.Offset < u.Length {
		if len(u.pieces) >= maxUploadPieces {
			return nil, apperr.Invalid("the upload has too many pieces; send the rest in one request",
				apperr.FieldError{Field: "Upload-Offset", Message: "at most " + strconv.Itoa(maxUploadPieces) + " requests per upload"})
		}
		n, err := s.storePiece(ctx, sub, u, body)
		if n > 0 {
			u.pieces = append(u.pieces, piece{key: pieceKey(u, u.Offset), start: u.Offset, end: u.Offset + n})
			u.Offset += n
		}
		if err != nil {
			return u, err
		}
	}
	if u.Offset < u.Length {
		return u, nil
	}
	// Finished even when the client went away meanwhile: it learns the outcome by HEAD.
	return u, s.completeResumable(context.WithoutCancel(ctx), a, sub, u)
}

func pieceKey(u *ResumableUpload, offset int64) string {
	return u.prefix + strconv.FormatInt(offset, 10) + keys.SealedSuffix
}

// errPieceTooLong stops a piece that would pass the upload's length.
var errPieceTooLong = errors.New("the piece passes the upload's length")

// storePiece stores what body gives of the upload from u.Offset on and returns its
// length. A body that breaks off keeps what arrived; its error is returned after.
func (s *Service) storePiece(ctx context.Context, sub *Submission, u *ResumableUpload, body io.Reader) (int64, error) {
	key := pieceKey(u, u.Offset)
	pr := &pieceReader{r: body, room: u.Length - u.Offset}
	// What arrived is stored even when the client went away meanwhile.
	err := s.files.Put(context.WithoutCancel(ctx), sub.TenantID, sub.ID, key, pr, -1)
	if err == nil && pr.n == 0 {
		err = s.opts.Storage.Delete(context.WithoutCancel(ctx), key)
	}
	switch {
	case errors.Is(pr.err, errPieceTooLong) || errors.Is(err, errPieceTooLong):
		return 0, (&apperr.Error{Kind: apperr.KindTooLarge, Code: apperr.CodeFileTooLarge,
			Message: "the request carries more bytes than the upload lacks; nothing of it was kept"}).With("limit_bytes", u.Length-u.Offset)
	case err != nil:
		_ = s.opts.Storage.Delete(context.WithoutCancel(ctx), key)
		return 0, storeError(err)
	case pr.err != nil:
		if ae, ok := apperr.As(pr.err); ok {
			return pr.n, ae // too slow
		}
		if ctx.Err() != nil {
			return pr.n, ctx.Err()
		}
		return pr.n, apperr.Malformed("the request body broke off after " + strconv.FormatInt(pr.n, 10) + " bytes; they were kept")
	}
	return pr.n, nil
}

// pieceReader ends a piece at the end of its body, or where reading it failed (the
// failure is kept in err), and fails it when it passes room.
type pieceReader struct {
	r    io.Reader
	n    int64
	room int64
	err  error
}

func (p *pieceReader) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, io.EOF
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.n > p.room {
		p.err = errPieceTooLong
		return n, errPieceTooLong
	}
	if err != nil && !errors.Is(err, io.EOF) {
		p.err = err
		err = io.EOF
	}
	return n, err
}

// completeResumable turns a complete upload into an attachment.
func (s *Service) completeResumable(ctx context.Context, a *auth.TenantAccess, sub *Submission, u *ResumableUpload) error {
	sort.Slice(u.pieces, func(i, j int) bool { return u.pieces[i].start < u.pieces[j].start })
	r := &piecesReader{ctx: ctx, s: s, sub: sub, pieces: u.pieces}
	defer r.close()
	att, err := s.Upload(ctx, a, sub.ID, u.FileName, u.FileType, io.LimitReader(r, u.Length))
	if err != nil {
		if k := apperr.KindOf(err); k != apperr.KindUnavailable && k != apperr.KindInternal {
			s.removeUpload(ctx, u.prefix) // refused: retrying cannot help
		}
		return err
	}
	u.Attachment, u.AttachmentID = att, att.ID
	// The marker lets a client whose answer was lost learn the outcome (HEAD).
	if err := s.files.Put(context.WithoutCancel(ctx), sub.TenantID, sub.ID, u.prefix+"done-"+att.ID+keys.SealedSuffix, bytes.NewReader(nil), 0); err != nil {
		s.opts.Logger.WarnContext(ctx, "could not mark a resumable upload complete", "upload_id", u.ID, "error", err)
		return nil
	}
	for _, p := range u.pieces {
		if err := s.opts.Storage.Delete(context.WithoutCancel(ctx), p.key); err != nil {
			s.opts.Logger.WarnContext(ctx, "could not delete a piece of a finished upload; the sweep will", "key", p.key, "error", err)
		}
	}
	return nil
}

// piecesReader reads an upload's pieces in order, decrypted, opening one at a time.
type piecesReader struct {
	ctx    context.Context
	s      *Service
	sub    *Submission
	pieces []piece
	cur    storage.Object
}

func (r *piecesReader) Read(b []byte) (int, error) {
	for {
		if r.cur == nil {
			if len(r.pieces) == 0 {
				return 0, io.EOF
			}
			obj, err := r.s.files.Open(r.ctx, r.sub.TenantID, r.sub.ID, r.pieces[0].key)
			if err != nil {
				return 0, apperr.Unavailable("storage", err)
			}
			r.cur, r.pieces = obj, r.pieces[1:]
		}
		n, err := r.cur.Read(b)
		if errors.Is(err, io.EOF) {
			r.cur.Close()
			r.cur = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			err = apperr.Unavailable("storage", err)
		}
		return n, err
	}
}

func (r *piecesReader) close() {
	if r.cur != nil {
		r.cur.Close()
	}
}

// TerminateResumable cancels an upload of the caller's and deletes what it stored.
func (s *Service) TerminateResumable(ctx context.Context, a *auth.TenantAccess, submissionID, uploadID string) error {
	sub, err := s.editable(ctx, a, submissionID, canUpload)
	if err != nil {
		return err
	}
	if !database.ValidID(uploadID) {
		return apperr.NotFound("upload")
	}
	unlock, err := s.uploadLocks.lock(ctx, uploadID)
	if err != nil {
		return err
	}
	defer unlock()
	u, err := s.readUpload(ctx, a, sub, uploadID)
	if err != nil {
		return err
	}
	s.removeUpload(ctx, u.prefix)
	return nil
}

// removeUpload deletes every object of an upload, info last, so that a failure
// half-way leaves an upload the sweep finds.
func (s *Service) removeUpload(ctx context.Context, prefix string) {
	var objs []string
	if err := s.opts.Storage.List(context.WithoutCancel(ctx), prefix, func(i storage.Info) error {
		objs = append(objs, i.Key)
		return nil
	}); err != nil {
		s.opts.Logger.WarnContext(ctx, "could not list an upload to remove it; the sweep will", "prefix", prefix, "error", err)
		return
	}
	sort.SliceStable(objs, func(i, j int) bool {
		return !strings.HasSuffix(objs[i], "/info.age") && strings.HasSuffix(objs[j], "/info.age")
	})
	s.deleteObjects(ctx, objs...)
}

// isUploadKey reports whether key is an object of a resumable upload, and its
// directory.
func isUploadKey(key string) (string, bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 7 || parts[0]+"/" != storage.TenantsPrefix || parts[2] != "submissions" || parts[4] != "uploads" {
		return "", false
	}
	return strings.Join(parts[:6], "/") + "/", true
}
