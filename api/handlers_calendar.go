package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/workflow"
)

// The CFA calendar (ADR 0035): the tenant's sessions of the Committee, and what the
// caller has due before the next information deadline.

func (s *Server) listCFASessions(c echo.Context) error {
	items, err := s.opts.Workflow.ListCFASessions(c.Request().Context(), tenantAccess(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(items, ""))
}

func (s *Server) createCFASession(c echo.Context) error {
	var req workflow.CFASessionInput
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cs, err := s.opts.Workflow.CreateCFASession(c.Request().Context(), tenantAccess(c), req)
	if err != nil {
		return err
	}
	return created(c, tenantPath(c, "cfa-sessions", cs.ID), cs)
}

func (s *Server) updateCFASession(c echo.Context) error {
	var req workflow.CFASessionInput
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cs, err := s.opts.Workflow.UpdateCFASession(c.Request().Context(), tenantAccess(c), c.Param("id"), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cs)
}

func (s *Server) deleteCFASession(c echo.Context) error {
	if err := s.opts.Workflow.DeleteCFASession(c.Request().Context(), tenantAccess(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) getDue(c echo.Context) error {
	due, err := s.opts.Workflow.Due(c.Request().Context(), tenantAccess(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, due)
}
