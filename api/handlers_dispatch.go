package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

func (s *Server) letter(c echo.Context) error {
	pdf, err := s.opts.Dispatch.Letter(c.Request().Context(), tenantAccess(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, contentDisposition("letter.pdf"))
	return c.Blob(http.StatusOK, "application/pdf", pdf)
}

func (s *Server) listDispatches(c echo.Context) error {
	items, err := s.opts.Dispatch.Dispatches(c.Request().Context(), tenantAccess(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(items, ""))
}

// asSent serves the stored letter or manifest of a sent dispatch, byte for byte.
func (s *Server) asSent(c echo.Context) error {
	which := "letter.pdf"
	contentType := "application/pdf"
	if strings.HasSuffix(c.Path(), "/manifest.json") {
		which, contentType = "manifest.json", "application/json"
	}
	obj, err := s.opts.Dispatch.AsSent(c.Request().Context(), tenantAccess(c), c.Param("id"), which)
	if err != nil {
		return err
	}
	defer obj.Close()
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, contentType)
	h.Set(echo.HeaderContentDisposition, contentDisposition(which))
	// What a dispatch sent never changes: its id and the file name identify the bytes.
	h.Set("ETag", `"`+c.Param("id")+"-"+which+`"`)
	h.Set(echo.HeaderCacheControl, "private, no-cache")
	http.ServeContent(c.Response(), c.Request(), "", obj.Info().LastModified, obj)
	return nil
}

// evidenceLink serves the file a dispatch e-mail's download link names (dispatch/links.go).
func (s *Server) evidenceLink(c echo.Context) error {
	f, err := s.opts.Dispatch.OpenEvidenceLink(c.Request().Context(), c.Param("token"), c.RealIP())
	if err != nil {
		return err
	}
	defer f.Object.Close()
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	serveEvidence(c, f.ContentType, f.FileName, f.SHA256, time.Time{}, f.Object)
	return nil
}
