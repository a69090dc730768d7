package api

import (
	"time"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/workflow"
)

// wantsCleaned decides which copy of an evidence file a download gives (ADR 0028).
// Members of the uploader's organization and of the secretariat get the original, or
// the cleaned copy with ?original=0; anyone else gets the cleaned copy, and ?original=1
// is refused to them. A file without identifying metadata is the same either way.
func (s *Server) wantsCleaned(c echo.Context) (bool, error) {
	ctx := c.Request().Context()
	att, err := s.opts.Workflow.Attachment(ctx, tenantAccess(c), c.Param("id"))
	if err != nil {
		return false, err
	}
	if !att.NeedsCleaning() {
		return false, nil
	}
	entitled, err := s.opts.Workflow.MayReadOriginal(ctx, tenantAccess(c), att)
	if err != nil {
		return false, err
	}
	switch c.QueryParam("original") {
	case "0":
		return true, nil
	case "1":
		if !entitled {
			return false, &apperr.Error{Kind: apperr.KindForbidden, Code: apperr.CodeForbidden,
				Message: "only the uploader's organization and the secretariat may download the original of this file"}
		}
	}
	return !entitled, nil
}

// cleanedDownload writes the copy without identifying metadata to an encrypted spool and
// serves it, Ranges included. Its ETag is the copy's own hash: a cleaned PDF carries the
// time it was cleaned, so two copies may differ, and a Range resumed with If-Range
// across them gets the whole new copy.
func (s *Server) cleanedDownload(c echo.Context) error {
	ctx := c.Request().Context()
	att, obj, err := s.opts.Workflow.OpenAttachment(ctx, tenantAccess(c), c.Param("id"), workflow.CopyCleaned)
	if err != nil {
		return err
	}
	defer obj.Close()
	f, sum, err := s.opts.Workflow.CleanedCopy(ctx, att, obj)
	if err != nil {
		return err
	}
	defer f.Close() // removes the spool
	serveEvidence(c, att.ContentType, att.FileName, sum, time.Time{}, f)
	return nil
}
