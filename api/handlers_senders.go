package api

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"
)

type senderDomainRequest struct {
	Domain string `json:"domain"`
}

func (s *Server) listSenderDomains(c echo.Context) error {
	items, err := s.opts.Workflow.SenderDomains(c.Request().Context(), tenantAccess(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(items, ""))
}

// addSenderDomain and removeSenderDomain are platform routes: the superadmin acts in a
// tenant it need not belong to.
func (s *Server) addSenderDomain(c echo.Context) error {
	var req senderDomainRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	ta, err := s.opts.Auth.ResolveTenant(ctx, principal(c), c.Param("tenant"))
	if err != nil {
		return err
	}
	d, err := s.opts.Workflow.AddSenderDomain(ctx, ta, req.Domain)
	if err != nil {
		return err
	}
	return created(c, "/api/v1/tenants/"+url.PathEscape(c.Param("tenant"))+"/sender-domains/"+url.PathEscape(d.Domain), d)
}

func (s *Server) removeSenderDomain(c echo.Context) error {
	ctx := c.Request().Context()
	ta, err := s.opts.Auth.ResolveTenant(ctx, principal(c), c.Param("tenant"))
	if err != nil {
		return err
	}
	if err := s.opts.Workflow.RemoveSenderDomain(ctx, ta, c.Param("domain")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) getSnapshot(c echo.Context) error {
	snap, err := s.opts.Workflow.Snapshot(c.Request().Context(), tenantAccess(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, snap)
}

func (s *Server) getReceivability(c echo.Context) error {
	r, err := s.opts.Workflow.Receivability(c.Request().Context(), tenantAccess(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}
