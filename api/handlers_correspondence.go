package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/inbound"
	"github.com/unionportal/unionportal/workflow"
)

// The ILO's correspondence (ADR 0036): the tenant's mailbox settings, each case's
// thread of letters sent and messages received, and the items themselves.

func (s *Server) correspondenceRoutes(t string) {
	if s.opts.Dispatch == nil {
		return
	}
	s.route(http.MethodGet, t+"/cases/:id/correspondence", Tenant(auth.PermCaseRead), s.caseThread, Doc{ID: "getCaseCorrespondence",
		Summary: "The case's correspondence with the ILO: the letters dispatched and the messages imported from the tenant's mailbox, oldest first",
		Description: "Each entry is a dispatch or a correspondence item (without its body; getCorrespondence has it). Affiliates see the dispatches of their " +
			"organization's submissions and the messages answering them; the secretariat sees all, messages matched by the case number included.",
		Response: dispatch.ThreadEntry{}, List: true})
	s.route(http.MethodGet, t+"/correspondence", Tenant(auth.PermCaseRead), s.listCorrespondence, Doc{ID: "listCorrespondence",
		Summary:  "The messages from the ILO imported into the cases you may see, newest first (without their texts)",
		Response: workflow.CorrespondenceItem{}, List: true, Paged: true})
	s.route(http.MethodGet, t+"/correspondence/:id", Tenant(auth.PermCaseRead), s.getCorrespondence, Doc{ID: "getCorrespondence",
		Summary:  "One message from the ILO, with its text and attachments",
		Response: workflow.CorrespondenceItem{}})
	s.route(http.MethodPatch, t+"/correspondence/:id", Tenant(auth.PermSubmissionReview), s.updateCorrespondence, Doc{ID: "updateCorrespondence",
		Summary:     "Correct a message's kind or status (reviewers)",
		Description: "The kind is guessed on import from the message's words; a request for information is open until a reply to it is dispatched, or until a reviewer sets its status.",
		Request:     workflow.CorrespondenceUpdate{}, Response: workflow.CorrespondenceItem{}})
	s.route(http.MethodGet, t+"/correspondence/:id/files", Tenant(auth.PermCaseRead), s.listCorrespondenceFiles, Doc{ID: "listCorrespondenceFiles",
		Summary: "The attachments of a message from the ILO, with their sizes and SHA-256", Response: workflow.CorrespondenceFile{}, List: true})
	s.route(http.MethodGet, t+"/correspondence/:id/files/:file", Tenant(auth.PermCaseRead), s.downloadCorrespondenceFile, Doc{ID: "downloadCorrespondenceFile",
		Summary: "An attachment of a message from the ILO, as received (Range supported)", Content: "*/*", Ranges: true})
	if s.opts.Inbound == nil {
		return
	}
	s.route(http.MethodGet, t+"/mailbox", Tenant(auth.PermSettingsRead), s.getMailbox, Doc{ID: "getMailbox",
		Summary: "The tenant's IMAP mailbox that the portal reads for the ILO's answers (tenant admins); never its password", Response: inbound.MailboxSettings{}})
	s.route(http.MethodPut, t+"/mailbox", Tenant(auth.PermSettingsWrite).StepUp(), s.putMailbox, Doc{ID: "putMailbox",
		Summary: "Set the tenant's IMAP mailbox (tenant admins)",
		Description: "TLS is always required (implicit or STARTTLS) with a certificate valid for host. The password is stored encrypted and never shown; omit it to keep the stored one. " +
			"The portal only reads the mailbox (a read-only SELECT) unless after_import is flag or move. A new host, username or folder is read from its first message again; nothing is imported twice.",
		Request: inbound.MailboxInput{}, Required: []string{"enabled", "host", "port", "tls", "username"}, Response: inbound.MailboxSettings{}})
	s.route(http.MethodPost, t+"/mailbox/poll", Tenant(auth.PermSettingsRead), s.pollMailbox, Doc{ID: "pollMailbox",
		Summary: "Read the tenant's mailbox now instead of at the next period (reviewers and tenant admins); the outcome appears in getMailbox's last_polled_at and last_error",
		Status:  http.StatusAccepted, Errors: []int{http.StatusConflict}})
}

func (s *Server) caseThread(c echo.Context) error {
	items, err := s.opts.Dispatch.Thread(c.Request().Context(), tenantAccess(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(items, ""))
}

func (s *Server) listCorrespondence(c echo.Context) error {
	page, err := pageParams(c, database.KeyTime, database.KeyID)
	if err != nil {
		return err
	}
	items, next, err := s.opts.Workflow.ListCorrespondence(c.Request().Context(), tenantAccess(c), page)
	if err != nil {
		return err
	}
	return paged(c, items, next)
}

func (s *Server) listCorrespondenceFiles(c echo.Context) error {
	files, err := s.opts.Workflow.CorrespondenceFiles(c.Request().Context(), tenantAccess(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(files, ""))
}

func (s *Server) getCorrespondence(c echo.Context) error {
	it, err := s.opts.Workflow.Correspondence(c.Request().Context(), tenantAccess(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, it)
}

func (s *Server) updateCorrespondence(c echo.Context) error {
	var req workflow.CorrespondenceUpdate
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	it, err := s.opts.Workflow.UpdateCorrespondence(c.Request().Context(), tenantAccess(c), c.Param("id"), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, it)
}

func (s *Server) downloadCorrespondenceFile(c echo.Context) error {
	f, obj, err := s.opts.Workflow.OpenCorrespondenceFile(c.Request().Context(), tenantAccess(c), c.Param("id"), c.Param("file"))
	if err != nil {
		return err
	}
	defer obj.Close()
	serveEvidence(c, f.ContentType, f.FileName, f.SHA256, obj.Info().LastModified, obj)
	return nil
}

func (s *Server) getMailbox(c echo.Context) error {
	m, err := s.opts.Inbound.Settings(c.Request().Context(), tenantAccess(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

func (s *Server) putMailbox(c echo.Context) error {
	var req inbound.MailboxInput
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	m, err := s.opts.Inbound.PutSettings(c.Request().Context(), tenantAccess(c), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

func (s *Server) pollMailbox(c echo.Context) error {
	if err := s.opts.Inbound.PollNow(c.Request().Context(), tenantAccess(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusAccepted)
}
