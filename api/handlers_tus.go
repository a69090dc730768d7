package api

import (
	"encoding/base64"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/workflow"
)

// Resumable uploads: the tus 1.0 core protocol with its creation and termination
// extensions (https://tus.io/protocols/resumable-upload), over workflow's resumable
// uploads (ADR 0040). The routes are the portal's own, with its authentication, CSRF,
// permissions and problem documents:
//
//	OPTIONS …/submissions/{id}/uploads            the protocol's version, extensions and largest file
//	POST    …/submissions/{id}/uploads            create: Upload-Length, Upload-Metadata (filename, filetype)
//	HEAD    …/submissions/{id}/uploads/{upload}   Upload-Offset: where to continue
//	PATCH   …/submissions/{id}/uploads/{upload}   append at Upload-Offset (application/offset+octet-stream)
//	DELETE  …/submissions/{id}/uploads/{upload}   cancel
//
// The PATCH that completes the file answers once it is an attachment, and names it in
// Upload-Attachment (as does HEAD afterwards).

const (
	tusVersion      = "1.0.0"
	tusContentType  = "application/offset+octet-stream"
	tusExtensions   = "creation,termination"
	uploadAttHeader = "Upload-Attachment"
)

// tus sets the protocol's headers on every answer of a tus route and refuses a request
// in another version of the protocol (OPTIONS excepted: it is how a client learns it),
// once the caller is known to be one who may upload to the submission: anyone else
// learns nothing, not even that.
func (s *Server) tus(h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rh := c.Response().Header()
		rh.Set("Tus-Resumable", tusVersion)
		rh.Set(echo.HeaderCacheControl, "no-store")
		if err := s.opts.Workflow.CheckUpload(c.Request().Context(), tenantAccess(c), c.Param("id")); err != nil {
			return err
		}
		if c.Request().Method != http.MethodOptions && c.Request().Header.Get("Tus-Resumable") != tusVersion {
			rh.Set("Tus-Version", tusVersion)
			return (&apperr.Error{Kind: apperr.KindPreconditionFailed, Code: apperr.CodeTusVersion,
				Message: "this server speaks tus " + tusVersion + ": send Tus-Resumable: " + tusVersion}).With("tus_version", tusVersion)
		}
		return h(c)
	}
}

func (s *Server) tusOptions(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Tus-Version", tusVersion)
	h.Set("Tus-Extension", tusExtensions)
	h.Set("Tus-Max-Size", strconv.FormatInt(s.opts.Workflow.FileLimit(), 10))
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) createUpload(c echo.Context) error {
	req := c.Request()
	if req.Header.Get("Upload-Defer-Length") != "" {
		return apperr.Malformed("the upload's length must be known at its start",
			apperr.FieldError{Field: "Upload-Defer-Length", Message: "not supported: send Upload-Length"})
	}
	length, err := strconv.ParseInt(req.Header.Get("Upload-Length"), 10, 64)
	if err != nil || length < 0 {
		return apperr.Malformed("Upload-Length is required", apperr.FieldError{Field: "Upload-Length", Message: "the file's size in bytes"})
	}
	if req.ContentLength != 0 {
		return apperr.Malformed("send the file's bytes with PATCH, not with the request that creates the upload",
			apperr.FieldError{Field: "body", Message: "must be empty"})
	}
	meta, err := parseUploadMetadata(req.Header.Get("Upload-Metadata"))
	if err != nil {
		return err
	}
	name := meta["filename"]
	if name == "" {
		name = meta["name"] // what Uppy sends
	}
	if name == "" {
		return apperr.Malformed("name the file in Upload-Metadata", apperr.FieldError{Field: "Upload-Metadata", Message: "required: filename <the name, base64>"})
	}
	fileType := meta["filetype"]
	if fileType == "" {
		fileType = meta["type"]
	}
	if _, _, err := mime.ParseMediaType(fileType); fileType != "" && err != nil {
		fileType = "" // a browser's guess that is no media type: the content decides
	}
	u, err := s.opts.Workflow.CreateResumable(req.Context(), tenantAccess(c), c.Param("id"), length, name, fileType)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Upload-Offset", "0")
	return created(c, tenantPath(c, "submissions", c.Param("id"), "uploads", u.ID), u)
}

// parseUploadMetadata reads tus's Upload-Metadata: comma-separated pairs of a key and
// its value in base64.
func parseUploadMetadata(h string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(h) == "" {
		return out, nil
	}
	for _, pair := range strings.Split(h, ",") {
		key, value, _ := strings.Cut(strings.TrimSpace(pair), " ")
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
		if key == "" || err != nil || badText(string(raw)) != "" {
			return nil, apperr.Malformed("Upload-Metadata is not a list of keys with base64 values",
				apperr.FieldError{Field: "Upload-Metadata", Message: "key base64value, key base64value, …"})
		}
		out[key] = string(raw)
	}
	return out, nil
}

func (s *Server) headUpload(c echo.Context) error {
	u, err := s.opts.Workflow.ResumableStatus(c.Request().Context(), tenantAccess(c), c.Param("id"), c.Param("upload"))
	if err != nil {
		return err
	}
	s.uploadHeaders(c, u)
	return c.NoContent(http.StatusOK)
}

func (s *Server) uploadHeaders(c echo.Context, u *workflow.ResumableUpload) {
	h := c.Response().Header()
	h.Set("Upload-Offset", strconv.FormatInt(u.Offset, 10))
	h.Set("Upload-Length", strconv.FormatInt(u.Length, 10))
	if u.AttachmentID != "" {
		h.Set(uploadAttHeader, tenantPath(c, "attachments", u.AttachmentID))
	}
}

func (s *Server) patchUpload(c echo.Context) error {
	req := c.Request()
	if ct, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType)); err != nil || ct != tusContentType {
		return &apperr.Error{Kind: apperr.KindUnsupportedMedia, Code: apperr.CodeUnsupportedMediaType,
			Message: "send the bytes as " + tusContentType}
	}
	offset, err := strconv.ParseInt(req.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || offset < 0 {
		return apperr.Malformed("Upload-Offset is required", apperr.FieldError{Field: "Upload-Offset", Message: "where these bytes start in the file"})
	}
	if limit := s.opts.Workflow.FileLimit(); req.ContentLength > limit {
		return fileTooLarge(limit)
	}
	release, err := s.uploadSlot(c)
	if err != nil {
		return err
	}
	defer release()
	u, err := s.opts.Workflow.AppendResumable(req.Context(), tenantAccess(c), c.Param("id"), c.Param("upload"), offset, req.Body)
	if u != nil {
		s.uploadHeaders(c, u)
	}
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) deleteUpload(c echo.Context) error {
	if err := s.opts.Workflow.TerminateResumable(c.Request().Context(), tenantAccess(c), c.Param("id"), c.Param("upload")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// uploadRoutes registers the tus routes under the tenant prefix t.
func (s *Server) uploadRoutes(t string) {
	str := map[string]any{"type": "string"}
	tusHeader := Param{Name: "Tus-Resumable", Description: "The protocol's version: 1.0.0 (412 tus_version_unsupported otherwise)", Required: true, Schema: map[string]any{"type": "string", "enum": []string{tusVersion}}}
	resumable := Param{Name: "Tus-Resumable", Description: "1.0.0", Required: true, Schema: str}
	offset := Param{Name: "Upload-Offset", Description: "How many bytes of the file the portal holds: where to continue", Required: true, Schema: str}
	length := Param{Name: "Upload-Length", Description: "The file's size", Required: true, Schema: str}
	attachment := Param{Name: uploadAttHeader, Description: "Once the file is complete: the address of the attachment it became", Schema: str}
	const coll, one = "/submissions/:id/uploads", "/submissions/:id/uploads/:upload"
	s.route(http.MethodOptions, t+coll, Tenant(auth.PermSubmissionWriteOwn), s.tus(s.tusOptions),
		Doc{ID: "describeResumableUploads", Summary: "tus: the protocol version, extensions and largest file the portal takes", Status: http.StatusNoContent,
			ResponseHeaders: []Param{{Name: "Tus-Version", Description: "1.0.0", Required: true, Schema: str},
				{Name: "Tus-Extension", Description: tusExtensions, Required: true, Schema: str},
				{Name: "Tus-Max-Size", Description: "The largest file, in bytes", Required: true, Schema: str}}})
	s.route(http.MethodPost, t+coll, Tenant(auth.PermSubmissionWriteOwn), s.tus(s.createUpload),
		Doc{ID: "createResumableUpload", Summary: "tus: start a resumable upload of an evidence file (creation extension)",
			Description: "For large files and unreliable connections (tus 1.0, https://tus.io/protocols/resumable-upload). The declared length is checked " +
				"against the file and submission limits now (413). Send the bytes with PATCH to the Location; when they are complete the file gets " +
				"exactly the checks of a direct upload (type from content, limits, SHA-256, malware scan, encryption, metadata inspection) and becomes an " +
				"attachment. The pieces are kept encrypted in the storage, and removed 24 hours after the last one if the upload is not finished. " +
				"An upload is its creator's: anyone else gets 404.",
			Headers: []Param{tusHeader, {Name: "Upload-Length", Description: "The file's size in bytes", Required: true, Schema: str},
				{Name: "Upload-Metadata", Description: "filename <base64 of the file's name>, filetype <base64 of its media type> (optional)", Required: true, Schema: str}},
			Response: workflow.ResumableUpload{}, Status: http.StatusCreated,
			ResponseHeaders: []Param{resumable, {Name: "Upload-Offset", Description: "0", Required: true, Schema: str}},
			Errors:          []int{http.StatusConflict, http.StatusPreconditionFailed, http.StatusRequestEntityTooLarge, http.StatusInsufficientStorage}})
	s.route(http.MethodHead, t+one, Tenant(auth.PermSubmissionWriteOwn), s.tus(s.headUpload),
		Doc{ID: "getResumableUploadOffset", Summary: "tus: how much of the file the portal holds (Upload-Offset), to continue after a broken connection",
			Headers:         []Param{tusHeader},
			ResponseHeaders: []Param{resumable, offset, length, attachment},
			Errors:          []int{http.StatusConflict, http.StatusPreconditionFailed}})
	s.route(http.MethodPatch, t+one, Tenant(auth.PermSubmissionWriteOwn), s.tus(s.patchUpload),
		Doc{ID: "appendResumableUpload", Summary: "tus: send bytes of the file from Upload-Offset on",
			Description: "The body is the next bytes of the file (application/offset+octet-stream), as many as the connection carries. If it breaks " +
				"off, what arrived is kept: ask for the offset (HEAD) and continue from there. Upload-Offset other than the portal's answers 409 " +
				"upload_offset_mismatch with the right offset; more bytes than the file lacks, 413. The request that completes the file answers once " +
				"it is an attachment (Upload-Attachment), or with the reason it was refused (type, infected), which ends the upload.",
			RawBody: tusContentType, Status: http.StatusNoContent,
			Headers:         []Param{tusHeader, {Name: "Upload-Offset", Description: "Where these bytes start in the file", Required: true, Schema: str}},
			ResponseHeaders: []Param{resumable, offset, attachment},
			Errors:          []int{http.StatusConflict, http.StatusPreconditionFailed, http.StatusTooManyRequests, http.StatusInsufficientStorage}})
	s.route(http.MethodDelete, t+one, Tenant(auth.PermSubmissionWriteOwn), s.tus(s.deleteUpload),
		Doc{ID: "cancelResumableUpload", Summary: "tus: cancel an upload and delete what it stored (termination extension)", Status: http.StatusNoContent,
			Headers: []Param{tusHeader}, Errors: []int{http.StatusConflict, http.StatusPreconditionFailed}})
}
