package api

import (
	"testing"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/workflow"
)

// TestEvidenceMakesAnAuthor: whoever added or removed evidence of a submission is one of
// its authors and may neither approve nor sign it (issue 9, item 7).
func TestEvidenceMakesAnAuthor(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, true))
		mk := func(email string, roles ...string) *client {
			w.adminA.must(201, "POST", "/api/v1/tenants/alpha/users", map[string]any{"email": email, "name": email,
				"password": testPassword, "organization_id": w.orgA1.ID, "roles": roles})
			return h.login(email)
		}
		uploader := mk("uploader@alpha.test", "editor", "reviewer", "signatory")
		remover := mk("remover@alpha.test", "editor", "reviewer", "signatory")

		var sub workflow.SubmissionView
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
			"kind": "additional_information", "title": "Update", "body": "Events.", "language": "en"}).json(t, &sub)
		var att workflow.Attachment
		w.editorA1.upload(201, sub.ID, "first.txt", "text/plain", []byte("first\n")).json(t, &att)
		uploader.upload(201, sub.ID, "second.txt", "text/plain", []byte("second\n"))
		remover.must(204, "DELETE", "/api/v1/tenants/alpha/attachments/"+att.ID, nil)
		w.editorA1.must(200, "POST", subPath(sub.ID, "/transitions"), map[string]string{"action": "submit"})

		for _, c := range []*client{uploader, remover} {
			var v workflow.SubmissionView
			c.must(200, "GET", subPath(sub.ID), nil).json(t, &v)
			for _, a := range v.AllowedActions {
				if a == workflow.ActionApprove {
					t.Errorf("%s: allowed_actions offers approve", c.user.Email)
				}
			}
			if p := c.must(403, "POST", subPath(sub.ID, "/transitions"), map[string]string{"action": "approve"}).problem(t); p["code"] != "author_cannot_approve" {
				t.Errorf("%s approving: %v", c.user.Email, p)
			}
		}
		w.reviewerA.must(200, "POST", subPath(sub.ID, "/transitions"), map[string]string{"action": "approve"})
		for _, c := range []*client{uploader, remover} {
			if p := c.must(403, "POST", subPath(sub.ID, "/transitions"), map[string]string{"action": "sign"}).problem(t); p["code"] != "author_cannot_sign" {
				t.Errorf("%s signing: %v", c.user.Email, p)
			}
		}
	})
}
