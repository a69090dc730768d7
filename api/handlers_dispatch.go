package api

import (
	"net/http"

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
