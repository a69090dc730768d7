package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/webhook"
	"github.com/unionportal/unionportal/workflow"
)

// webhookRoutes registers the tenant's webhooks (tenant admins) and its event feed
// (every member, within what they may see), under t (/api/v1/tenants/:tenant).
func (s *Server) webhookRoutes(t string) {
	s.route(http.MethodGet, t+"/events", Tenant(auth.PermTenantRead), s.eventFeed,
		Doc{ID: "listEvents", Summary: "The tenant's events you may see, oldest first, as webhooks carry them",
			Description: "next_cursor resumes after the last event, also on an empty page: poll with it to catch up after a gap.",
			Response:    workflow.TenantEvent{}, List: true, Paged: true})
	if s.opts.Webhooks == nil {
		return
	}
	s.route(http.MethodGet, t+"/webhooks", Tenant(auth.PermWebhookManage), s.listWebhooks,
		Doc{ID: "listWebhooks", Summary: "The tenant's webhook endpoints, newest first", Response: webhook.Endpoint{}, List: true, Paged: true})
	s.route(http.MethodPost, t+"/webhooks", Tenant(auth.PermWebhookManage).StepUp(), s.createWebhook,
		Doc{ID: "createWebhook", Summary: "Register a webhook endpoint; the answer shows its signing secret, once",
			Request: webhook.EndpointInput{}, Required: []string{"url", "events"}, Response: webhook.NewEndpoint{}, Status: http.StatusCreated})
	s.route(http.MethodGet, t+"/webhooks/:id", Tenant(auth.PermWebhookManage), s.getWebhook,
		Doc{ID: "getWebhook", Summary: "A webhook endpoint (without its secret)", Response: webhook.Endpoint{}})
	s.route(http.MethodPatch, t+"/webhooks/:id", Tenant(auth.PermWebhookManage).StepUp(), s.updateWebhook,
		Doc{ID: "updateWebhook", Summary: "Change a webhook endpoint's URL, events or enabled state", Request: webhook.EndpointPatch{}, Response: webhook.Endpoint{}})
	s.route(http.MethodDelete, t+"/webhooks/:id", Tenant(auth.PermWebhookManage).StepUp(), s.deleteWebhook,
		Doc{ID: "deleteWebhook", Summary: "Remove a webhook endpoint and its delivery log", Status: http.StatusNoContent})
	s.route(http.MethodGet, t+"/webhooks/:id/deliveries", Tenant(auth.PermWebhookManage), s.listWebhookDeliveries,
		Doc{ID: "listWebhookDeliveries", Summary: "The endpoint's delivery log, newest first: one line per attempt", Response: webhook.Attempt{}, List: true, Paged: true})
	s.route(http.MethodPost, t+"/webhooks/:id/deliveries/:delivery/redeliver", Tenant(auth.PermWebhookManage).StepUp(), s.redeliverWebhook,
		Doc{ID: "redeliverWebhook", Summary: "Deliver that line's event again, with the same webhook-id", Status: http.StatusAccepted, Errors: []int{http.StatusConflict}})
}

func (s *Server) eventFeed(c echo.Context) error {
	page, err := pageParams(c, database.KeyText)
	if err != nil {
		return err
	}
	var after int64
	if len(page.After) == 1 {
		if after, err = strconv.ParseInt(page.After[0], 10, 64); err != nil || after < 0 {
			return apperr.Malformed("invalid cursor", apperr.FieldError{Field: "cursor", Message: "not a cursor this list returned; start again without it"})
		}
	}
	items, next, err := s.opts.Workflow.Feed(c.Request().Context(), tenantAccess(c), after, page.Limit)
	if err != nil {
		return err
	}
	cursor := database.Cursor(strconv.FormatInt(next, 10))
	if len(items) < page.Limit {
		// The feed has no more for now: next_cursor is where to poll from later, but there
		// is no next page to link to (a client following Link would loop).
		return c.JSON(http.StatusOK, listOf(items, cursor))
	}
	return paged(c, items, cursor)
}

func (s *Server) listWebhooks(c echo.Context) error {
	page, err := pageParams(c, database.KeyTime, database.KeyID)
	if err != nil {
		return err
	}
	items, next, err := s.opts.Webhooks.List(c.Request().Context(), tenantAccess(c), page)
	if err != nil {
		return err
	}
	return paged(c, items, next)
}

func (s *Server) createWebhook(c echo.Context) error {
	var req webhook.EndpointInput
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ep, err := s.opts.Webhooks.Create(c.Request().Context(), tenantAccess(c), req)
	if err != nil {
		return err
	}
	return created(c, tenantPath(c, "webhooks", ep.ID), ep)
}

func (s *Server) getWebhook(c echo.Context) error {
	ep, err := s.opts.Webhooks.Endpoint(c.Request().Context(), tenantAccess(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ep)
}

func (s *Server) updateWebhook(c echo.Context) error {
	var req webhook.EndpointPatch
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ep, err := s.opts.Webhooks.Update(c.Request().Context(), tenantAccess(c), c.Param("id"), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ep)
}

func (s *Server) deleteWebhook(c echo.Context) error {
	if err := s.opts.Webhooks.Delete(c.Request().Context(), tenantAccess(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listWebhookDeliveries(c echo.Context) error {
	page, err := pageParams(c, database.KeyTime, database.KeyID)
	if err != nil {
		return err
	}
	items, next, err := s.opts.Webhooks.Deliveries(c.Request().Context(), tenantAccess(c), c.Param("id"), page)
	if err != nil {
		return err
	}
	return paged(c, items, next)
}

func (s *Server) redeliverWebhook(c echo.Context) error {
	if err := s.opts.Webhooks.Redeliver(c.Request().Context(), tenantAccess(c), c.Param("id"), c.Param("delivery")); err != nil {
		return err
	}
	return c.NoContent(http.StatusAccepted)
}

// updatedSince reads ?updated_since= (RFC 3339) of the submissions list.
func updatedSince(c echo.Context) (time.Time, error) {
	v := c.QueryParam("updated_since")
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, apperr.Malformed("invalid filter", apperr.FieldError{Field: "updated_since", Message: "expected an RFC 3339 time such as 2026-03-01T00:00:00Z"})
	}
	return t, nil
}
