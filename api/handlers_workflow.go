package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/workflow"
)

func (s *Server) getSettings(c echo.Context) error {
	st, err := s.opts.Workflow.Settings(c.Request().Context(), tenantAccess(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Server) putSettings(c echo.Context) error {
	// Fields the document leaves out take their defaults (sandbox on, one approval,
	// 15 MiB e-mails), never zero.
	req := workflow.DefaultSettings()
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	st, err := s.opts.Workflow.PutSettings(c.Request().Context(), tenantAccess(c), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Server) listCases(c echo.Context) error {
	page, err := pageParams(c, database.KeyTime, database.KeyID)
	if err != nil {
		return err
	}
	items, next, err := s.opts.Workflow.ListCases(c.Request().Context(), tenantAccess(c), page)
	if err != nil {
		return err
	}
	return paged(c, items, next)
}

func (s *Server) createCase(c echo.Context) error {
	var req workflow.CaseInput
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cs, err := s.opts.Workflow.CreateCase(c.Request().Context(), tenantAccess(c), req)
	if err != nil {
		return err
	}
	return created(c, tenantPath(c, "cases", cs.ID), cs)
}

func (s *Server) getCase(c echo.Context) error {
	cs, err := s.opts.Workflow.Case(c.Request().Context(), tenantAccess(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cs)
}

func (s *Server) updateCase(c echo.Context) error {
	var req workflow.CaseInput
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cs, err := s.opts.Workflow.UpdateCase(c.Request().Context(), tenantAccess(c), c.Param("id"), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cs)
}

func (s *Server) listSubmissions(c echo.Context) error {
	page, err := pageParams(c, database.KeyTime, database.KeyID)
	if err != nil {
		return err
	}
	since, err := updatedSince(c)
	if err != nil {
		return err
	}
	f := workflow.ListFilter{State: c.QueryParam("state"), CaseID: c.QueryParam("case_id"),
		OrganizationID: c.QueryParam("organization_id"), Q: c.QueryParam("q"), UpdatedSince: since}
	items, next, err := s.opts.Workflow.ListSubmissions(c.Request().Context(), tenantAccess(c), f, page)
	if err != nil {
		return err
	}
	return paged(c, items, next)
}

// submission answers with a submission and its ETag. A GET whose If-None-Match holds
// that ETag answers 304 without the body.
func submission(c echo.Context, status int, v *workflow.SubmissionView) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tag := etag(v.Version, body)
	c.Response().Header().Set("ETag", tag)
	if c.Request().Method == http.MethodGet && noneMatch(c.Request().Header.Get("If-None-Match"), tag) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.JSONBlob(status, body)
}

// etag is a submission's entity tag: its version, for If-Match, and a digest of the
// answer, which also changes with what the version does not count (approvals, the
// caller's allowed actions), for If-None-Match.
func etag(version int64, body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + strconv.FormatInt(version, 10) + "-" + hex.EncodeToString(sum[:8]) + `"`
}

// noneMatch reports whether an If-None-Match header names tag (weakly, RFC 9110).
func noneMatch(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == tag {
			return true
		}
	}
	return false
}

// ifMatch reads the version a change is based on: 0 without If-Match, -1 when it is not
// an ETag this portal gave out. The workflow service answers 428 or 412 for those, once
// it has checked that the caller may see the submission at all.
func ifMatch(c echo.Context) int64 {
	h := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	if h == "" {
		return 0
	}
	// The version is the ETag's number, before its digest; "N" alone is accepted too.
	n, _, _ := strings.Cut(strings.Trim(strings.TrimPrefix(h, "W/"), `"`), "-")
	v, err := strconv.ParseInt(n, 10, 64)
	if err != nil || v < 1 {
		return -1
	}
	return v
}

func (s *Server) createSubmission(c echo.Context) error {
	var req workflow.SubmissionInput
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	v, err := s.opts.Workflow.CreateSubmission(c.Request().Context(), tenantAccess(c), req)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, tenantPath(c, "submissions", v.ID))
	return submission(c, http.StatusCreated, v)
}

func (s *Server) getSubmission(c echo.Context) error {
	v, err := s.opts.Workflow.Submission(c.Request().Context(), tenantAccess(c), c.Param("id"))
	if err != nil {
		return err
	}
	return submission(c, http.StatusOK, v)
}

func (s *Server) updateSubmission(c echo.Context) error {
	version := ifMatch(c)
	var req workflow.SubmissionInput
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	v, err := s.opts.Workflow.UpdateSubmission(c.Request().Context(), tenantAccess(c), c.Param("id"), version, req)
	if err != nil {
		return err
	}
	return submission(c, http.StatusOK, v)
}

func (s *Server) deleteSubmission(c echo.Context) error {
	if err := s.opts.Workflow.DeleteSubmission(c.Request().Context(), tenantAccess(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type transitionRequest struct {
	Action  workflow.Action `json:"action"`
	Comment string          `json:"comment"`
}

func (s *Server) transition(c echo.Context) error {
	var req transitionRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	// Acts that matter need a recent second factor; asked only of whom the role allows
	// them, so that the others get their refusal rather than a question.
	if r, ok := workflow.RuleFor(req.Action); ok && r.StepUp && tenantAccess(c).Can(r.Permission) {
		if err := s.opts.Auth.RequireStepUp(c.Request().Context(), principal(c)); err != nil {
			return err
		}
	}
	v, err := s.opts.Workflow.Transition(c.Request().Context(), tenantAccess(c), c.Param("id"), req.Action, req.Comment)
	if err != nil {
		return err
	}
	return submission(c, http.StatusOK, v)
}

func (s *Server) listRevisions(c echo.Context) error {
	revs, err := s.opts.Workflow.Revisions(c.Request().Context(), tenantAccess(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(revs, ""))
}

func (s *Server) getRevision(c echo.Context) error {
	r, err := s.opts.Workflow.Revision(c.Request().Context(), tenantAccess(c), c.Param("id"), c.Param("n"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func (s *Server) diff(c echo.Context) error {
	d, err := s.opts.Workflow.Diff(c.Request().Context(), tenantAccess(c), c.Param("id"), c.QueryParam("from"), c.QueryParam("to"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (s *Server) listComments(c echo.Context) error {
	items, err := s.opts.Workflow.Comments(c.Request().Context(), tenantAccess(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(items, ""))
}

type commentRequest struct {
	Body     string `json:"body"`
	Revision *int   `json:"revision"`
}

func (s *Server) addComment(c echo.Context) error {
	var req commentRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cm, err := s.opts.Workflow.AddComment(c.Request().Context(), tenantAccess(c), c.Param("id"), req.Body, req.Revision)
	if err != nil {
		return err
	}
	return created(c, tenantPath(c, "comments", cm.ID), cm)
}

func (s *Server) listEvents(c echo.Context) error {
	items, err := s.opts.Workflow.Events(c.Request().Context(), tenantAccess(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(items, ""))
}

func (s *Server) getComment(c echo.Context) error {
	cm, err := s.opts.Workflow.Comment(c.Request().Context(), tenantAccess(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cm)
}
