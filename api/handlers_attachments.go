package api

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

// multipartOverhead is what a multipart body may add to its file: boundaries and part
// headers. A request longer than the file limit plus this is refused before reading.
const multipartOverhead = 64 << 10

// uploadWait is how long an upload waits for one of the upload slots.
const uploadWait = 30 * time.Second

// upload streams the file to storage: never read whole into memory, never written to a
// temporary file. The body is either multipart/form-data with the file in the field
// "file", or the file itself (rawUpload).
func (s *Server) upload(c echo.Context) error {
	req := c.Request()
	// Who may upload here is decided before the body is looked at.
	if err := s.opts.Workflow.CheckUpload(req.Context(), tenantAccess(c), c.Param("id")); err != nil {
		return err
	}
	limit := s.opts.Workflow.FileLimit()
	mt, params, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	multipartBody := err == nil && mt == "multipart/form-data"
	if !multipartBody {
		if req.ContentLength < 0 {
			return apperr.New(apperr.KindLengthRequired, apperr.CodeLengthRequired,
				"send the file's length in Content-Length (or upload it in pieces with tus: POST …/uploads)")
		}
		if req.ContentLength > limit {
			return fileTooLarge(limit)
		}
	}
	if req.ContentLength > limit+multipartOverhead {
		return fileTooLarge(limit)
	}
	release, err := s.uploadSlot(c)
	if err != nil {
		return err
	}
	defer release()
	if !multipartBody {
		return s.rawUpload(c, limit)
	}
	if params["boundary"] == "" {
		return &apperr.Error{Kind: apperr.KindUnsupportedMedia, Code: apperr.CodeUnsupportedMediaType,
			Message: "send the file as multipart/form-data in the field \"file\", or as the body with its name in Content-Disposition"}
	}
	// The whole body may not exceed the file limit plus the multipart framing.
	body := http.MaxBytesReader(c.Response(), req.Body, limit+multipartOverhead)
	mr := multipart.NewReader(body, params["boundary"])
	var att *workflow.Attachment
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return s.uploadReadError(c, att, err)
		}
		if part.FormName() != "file" {
			part.Close()
			return s.discard(c, att, apperr.Malformed("unexpected field "+strconv.Quote(part.FormName()),
				apperr.FieldError{Field: part.FormName(), Message: "only the field \"file\" is accepted"}))
		}
		if att != nil {
			part.Close()
			return s.discard(c, att, apperr.Malformed("one file per request",
				apperr.FieldError{Field: "file", Message: "send one file per request"}))
		}
		att, err = s.opts.Workflow.Upload(req.Context(), tenantAccess(c), c.Param("id"), part.FileName(), part.Header.Get("Content-Type"), part)
		part.Close()
		if err != nil {
			return s.uploadReadError(c, nil, err)
		}
	}
	if att == nil {
		return apperr.Malformed("no file", apperr.FieldError{Field: "file", Message: "required: the file, as multipart field \"file\""})
	}
	return created(c, tenantPath(c, "attachments", att.ID), att)
}

// uploadSlot waits for one of the upload slots; release gives it back.
func (s *Server) uploadSlot(c echo.Context) (release func(), err error) {
	select {
	case s.uploads <- struct{}{}:
		return func() { <-s.uploads }, nil
	case <-time.After(uploadWait):
		return nil, apperr.New(apperr.KindUnavailable, apperr.CodeTooManyUploads, "too many uploads are running; try again shortly")
	case <-c.Request().Context().Done():
		return nil, c.Request().Context().Err()
	}
}

// rawUpload stores a body that is the file itself: its length in Content-Length, its
// name in Content-Disposition (RFC 6266, filename* in RFC 5987 form), its type, when
// the client knows it, in Content-Type. No boundary to scan for: the bytes go straight
// through the same Upload as a multipart file's.
func (s *Server) rawUpload(c echo.Context, limit int64) error {
	req := c.Request()
	name, err := uploadFileName(req.Header.Get(echo.HeaderContentDisposition))
	if err != nil {
		return err
	}
	body := http.MaxBytesReader(c.Response(), req.Body, limit)
	att, err := s.opts.Workflow.Upload(req.Context(), tenantAccess(c), c.Param("id"), name, req.Header.Get(echo.HeaderContentType), body)
	if err != nil {
		return s.uploadReadError(c, nil, err)
	}
	return created(c, tenantPath(c, "attachments", att.ID), att)
}

// uploadFileName reads the file's name from a raw upload's Content-Disposition.
func uploadFileName(header string) (string, error) {
	bad := func(msg string) error {
		return apperr.Malformed("name the file in Content-Disposition", apperr.FieldError{Field: "Content-Disposition", Message: msg})
	}
	if header == "" {
		return "", bad("required: attachment; filename*=UTF-8''<the file's name, percent-encoded>")
	}
	disposition, params, err := mime.ParseMediaType(header)
	if err != nil || (disposition != "attachment" && disposition != "inline") {
		return "", bad("not an RFC 6266 value such as attachment; filename*=UTF-8''report%202024.pdf")
	}
	if params["filename"] == "" {
		return "", bad("the filename (or filename*) parameter is missing")
	}
	return params["filename"], nil
}

// uploadReadError explains a body that could not be read, removing a file already
// stored from the same request.
func (s *Server) uploadReadError(c echo.Context, att *workflow.Attachment, err error) error {
	var (
		tooBig *http.MaxBytesError
		typed  *apperr.Error
	)
	switch {
	case errors.As(err, &tooBig):
		err = fileTooLarge(s.opts.Workflow.FileLimit())
	case errors.As(err, &typed), errors.Is(err, context.Canceled):
		// Already explained, or the client went away.
	default:
		err = apperr.Malformed("the request body is malformed: " + err.Error())
	}
	return s.discard(c, att, err)
}

// discard removes an attachment stored by a request that then failed, and returns err.
func (s *Server) discard(c echo.Context, att *workflow.Attachment, err error) error {
	if att != nil {
		if derr := s.opts.Workflow.DeleteAttachment(context.WithoutCancel(c.Request().Context()), tenantAccess(c), att.ID); derr != nil {
			s.log.WarnContext(c.Request().Context(), "could not remove the file of a refused upload", "attachment_id", att.ID, "error", derr)
		}
	}
	return err
}

func (s *Server) listAttachments(c echo.Context) error {
	items, err := s.opts.Workflow.Attachments(c.Request().Context(), tenantAccess(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(items, ""))
}

func (s *Server) getAttachment(c echo.Context) error {
	att, err := s.opts.Workflow.Attachment(c.Request().Context(), tenantAccess(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, att)
}

func (s *Server) deleteAttachment(c echo.Context) error {
	if err := s.opts.Workflow.DeleteAttachment(c.Request().Context(), tenantAccess(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// downloadAttachment streams the file with Range support, always as a download, never
// rendered by the browser. ?redirect=1 answers with a short-lived presigned URL when the
// store has them (S3). Anyone outside the uploader's organization and the secretariat
// gets the copy without identifying metadata, as does anyone asking for ?original=0
// (wantsCleaned, cleanedDownload).
func (s *Server) downloadAttachment(c echo.Context) error {
	ctx := c.Request().Context()
	if cleaned, err := s.wantsCleaned(c); err != nil || cleaned {
		if err != nil {
			return err
		}
		return s.cleanedDownload(c)
	}
	if c.QueryParam("redirect") == "1" {
		att, err := s.opts.Workflow.Attachment(ctx, tenantAccess(c), c.Param("id"))
		if err != nil {
			return err
		}
		u, err := s.opts.Workflow.PresignAttachment(ctx, tenantAccess(c), att)
		if err == nil {
			return c.Redirect(http.StatusFound, u)
		}
		if _, typed := apperr.As(err); typed {
			return err // shredded (410)
		}
		if !errors.Is(err, storage.ErrUnsupported) {
			return apperr.Unavailable("storage", err)
		}
	}
	att, obj, err := s.opts.Workflow.OpenAttachment(ctx, tenantAccess(c), c.Param("id"), workflow.CopyOriginal)
	if err != nil {
		return err
	}
	defer obj.Close()
	serveEvidence(c, att.ContentType, att.FileName, att.SHA256, obj.Info().LastModified, obj)
	return nil
}

// serveEvidence serves an evidence file, always as a download that no browser runs
// (Range supported); sha256, when known, is its ETag.
func serveEvidence(c echo.Context, contentType, fileName, sha256 string, modified time.Time, body io.ReadSeeker) {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, contentType)
	h.Set(echo.HeaderContentDisposition, contentDisposition(fileName))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if sha256 != "" {
		h.Set("ETag", `"`+sha256+`"`)
	}
	h.Set(echo.HeaderCacheControl, "private, no-store")
	http.ServeContent(c.Response(), c.Request(), "", modified, body)
}

// fileTooLarge is the 413 of a file over the per-file limit, naming the limit.
func fileTooLarge(limit int64) error {
	return (&apperr.Error{Kind: apperr.KindTooLarge, Code: apperr.CodeFileTooLarge, Message: "the file is larger than the limit"}).
		With("limit_bytes", limit)
}
