package api

import (
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
)

func (s *Server) listTenants(c echo.Context) error {
	page, err := pageParams(c, database.KeyText)
	if err != nil {
		return err
	}
	items, next, err := s.opts.Auth.ListTenants(c.Request().Context(), principal(c), page)
	if err != nil {
		return err
	}
	return paged(c, items, next)
}

type tenantRequest struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

func (s *Server) createTenant(c echo.Context) error {
	var req tenantRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := s.opts.Auth.CreateTenant(c.Request().Context(), principal(c), req.Slug, req.Name)
	if err != nil {
		return err
	}
	return created(c, "/api/v1/tenants/"+url.PathEscape(t.Slug), t)
}

func (s *Server) getTenant(c echo.Context) error {
	return c.JSON(http.StatusOK, tenantAccess(c).Tenant)
}

func (s *Server) listOrganizations(c echo.Context) error {
	page, err := pageParams(c, database.KeyText, database.KeyID)
	if err != nil {
		return err
	}
	items, next, err := s.opts.Auth.ListOrganizations(c.Request().Context(), tenantAccess(c), page)
	if err != nil {
		return err
	}
	return paged(c, items, next)
}

func (s *Server) createOrganization(c echo.Context) error {
	var req auth.OrganizationInput
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	o, err := s.opts.Auth.CreateOrganization(c.Request().Context(), tenantAccess(c), req)
	if err != nil {
		return err
	}
	return created(c, tenantPath(c, "organizations", o.ID), o)
}

func (s *Server) listUsers(c echo.Context) error {
	page, err := pageParams(c, database.KeyText)
	if err != nil {
		return err
	}
	items, next, err := s.opts.Auth.ListUsers(c.Request().Context(), tenantAccess(c), page)
	if err != nil {
		return err
	}
	return paged(c, items, next)
}

// memberAdded answers POST /tenants/{tenant}/users. A tenant admin invites: status
// "invited" with the invitation, the same answer whether or not the e-mail has an
// account. A superadmin adds at once: status "added" with the member's fields.
type memberAdded struct {
	Status         string           `json:"status"`
	ID             string           `json:"id,omitempty"`
	Email          string           `json:"email,omitempty"`
	Name           string           `json:"name,omitempty"`
	OrganizationID string           `json:"organization_id,omitempty"`
	Roles          []string         `json:"roles,omitempty" enum:"role"`
	Active         bool             `json:"active,omitempty"`
	CreatedAt      *time.Time       `json:"created_at,omitempty"`
	Invitation     *auth.Invitation `json:"invitation,omitempty"`
}

func (s *Server) createUser(c echo.Context) error {
	var req auth.UserInput
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx, a := c.Request().Context(), tenantAccess(c)
	if !a.Principal.User.IsSuperadmin {
		inv, err := s.opts.Auth.InviteUser(ctx, a, req)
		if err != nil {
			return err
		}
		return created(c, tenantPath(c, "invitations", inv.ID), memberAdded{Status: "invited", Invitation: inv})
	}
	m, err := s.opts.Auth.CreateUser(ctx, a, req)
	if err != nil {
		return err
	}
	return created(c, tenantPath(c, "users", m.ID), memberAdded{Status: "added", ID: m.ID, Email: m.Email, Name: m.Name, OrganizationID: m.OrganizationID,
		Roles: m.Roles, Active: m.Active, CreatedAt: &m.CreatedAt})
}

func (s *Server) listInvitations(c echo.Context) error {
	page, err := pageParams(c, database.KeyTime, database.KeyID)
	if err != nil {
		return err
	}
	items, next, err := s.opts.Auth.ListInvitations(c.Request().Context(), tenantAccess(c), page)
	if err != nil {
		return err
	}
	return paged(c, items, next)
}

func (s *Server) revokeInvitation(c echo.Context) error {
	if err := s.opts.Auth.RevokeInvitation(c.Request().Context(), tenantAccess(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) updateUser(c echo.Context) error {
	var req auth.UserPatch
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	m, err := s.opts.Auth.UpdateUser(c.Request().Context(), tenantAccess(c), c.Param("id"), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

func (s *Server) deactivateUser(c echo.Context) error {
	if err := s.opts.Auth.DeactivateUser(c.Request().Context(), tenantAccess(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) getOrganization(c echo.Context) error {
	o, err := s.opts.Auth.Organization(c.Request().Context(), tenantAccess(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, o)
}

func (s *Server) getInvitation(c echo.Context) error {
	inv, err := s.opts.Auth.Invitation(c.Request().Context(), tenantAccess(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, inv)
}
