package api

import (
	"strings"
	"testing"
	"time"

	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/scrub/scrubtest"
	"github.com/unionportal/unionportal/workflow"
)

// TestAuditedReads: a download of evidence (original and cleaned), a letter preview,
// a download of what a dispatch sent, a settings change, a role change and a member's
// password change each appear in the tenant admin's view with who, what and when;
// members' reading acts stay out of the timelines of those who are not admins.
func TestAuditedReads(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newDispatchHarness(t, db, dispatch.Outbox{Dir: t.TempDir()})
		w := h.world()
		var atts struct{ Items []workflow.Attachment }
		w.reviewerA.must(200, "GET", subPath(w.submissionA.ID, "/attachments"), nil).json(t, &atts)
		file := atts.Items[0]
		before := h.clock.Now()

		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/attachments/"+file.ID+"/content", nil)
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
		w.reviewerA.must(200, "GET", subPath(w.submissionA.ID, "/letter.pdf"), nil)
		w.adminA.must(200, "PATCH", "/api/v1/tenants/alpha/users/"+w.viewerA2ID, map[string]any{"roles": []string{"viewer", "editor"}})
		w.editorA1.must(204, "POST", "/api/v1/me/password", map[string]string{"current_password": testPassword, "new_password": "another long pass phrase 42"})
		d := approveAndWait(t, w, w.submissionA.ID, workflow.Dispatched)
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/dispatches/"+d.ID+"/letter.pdf", nil)
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/dispatches/"+d.ID+"/manifest.json", nil)

		view := auditView(t, w.adminA, auditPath)
		check := func(action, actorID, objectID string, details ...string) *audit.Event {
			t.Helper()
			e := findEvent(view, action)
			switch {
			case e == nil:
				t.Errorf("no %s in the view", action)
				return nil
			case e.ActorID == nil || *e.ActorID != actorID:
				t.Errorf("%s: actor %v, want %s", action, e.ActorID, actorID)
			case e.ObjectID != objectID:
				t.Errorf("%s: object %s %s, want %s", action, e.ObjectType, e.ObjectID, objectID)
			case e.CreatedAt.Before(before.Truncate(time.Microsecond)):
				t.Errorf("%s: time %s", action, e.CreatedAt)
			case e.IP != "198.51.100.0/24":
				t.Errorf("%s: address %q", action, e.IP)
			}
			for _, d := range details {
				if !strings.Contains(e.Details, d) {
					t.Errorf("%s: details %s lack %s", action, e.Details, d)
				}
			}
			return e
		}
		check(workflow.ActionAttachmentDownloaded, w.reviewerA.user.ID, w.submissionA.ID, `"attachment_id":"`+file.ID+`"`, `"copy":"original"`)
		check(workflow.ActionLetterPreviewed, w.reviewerA.user.ID, w.submissionA.ID, `"approved":false`)
		check("settings.updated", w.adminA.user.ID, w.tenantA.ID)
		check("user.updated", w.adminA.user.ID, w.viewerA2ID, `"roles":["viewer","editor"]`, `"roles_before":["viewer"]`)
		check(workflow.ActionDispatchFileDownloaded, w.reviewerA.user.ID, w.submissionA.ID, `"file":"manifest.json"`, `"dispatch_id":"`+d.ID+`"`)
		if n := len(auditView(t, w.adminA, auditPath+"?action="+workflow.ActionDispatchFileDownloaded)); n != 2 {
			t.Errorf("%d downloads of what the dispatch sent, want 2", n)
		}
		if e := check("password.changed", w.editorA1ID, w.editorA1ID); e != nil && e.TenantID != nil {
			t.Errorf("an account event with tenant %s", *e.TenantID)
		}
		// Another tenant's admin does not see alpha's member's account.
		for _, e := range auditView(t, w.adminB, "/api/v1/tenants/beta/audit-events") {
			if e.ActorID != nil && *e.ActorID == w.editorA1ID {
				t.Errorf("beta's view shows alpha's editor: %+v", e)
			}
		}
		// The cleaned copy of a photo with a GPS position.
		var v workflow.SubmissionView
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{
			"case_id": w.caseA.ID, "kind": "follow_up", "title": "Photos", "body": "The picket.", "language": "en"}).json(t, &v)
		photo, _ := scrubtest.JPEG()
		var att workflow.Attachment
		w.editorA1.upload(201, v.ID, "picket.jpg", "image/jpeg", photo).json(t, &att)
		w.editorA1.must(200, "GET", "/api/v1/tenants/alpha/attachments/"+att.ID+"/content?original=0", nil)
		cleaned := auditView(t, w.adminA, auditPath+"?submission_id="+v.ID+"&action="+workflow.ActionAttachmentDownloaded)
		if len(cleaned) != 1 || !strings.Contains(cleaned[0].Details, `"copy":"cleaned"`) || cleaned[0].ActorID == nil || *cleaned[0].ActorID != w.editorA1ID {
			t.Errorf("the cleaned copy's download: %+v", cleaned)
		}

		// The timeline: the reviewer sees what was done, not who read what; the admin sees both.
		var timeline struct{ Items []audit.Event }
		w.reviewerA.must(200, "GET", subPath(w.submissionA.ID, "/events"), nil).json(t, &timeline)
		for _, e := range timeline.Items {
			if e.Action == workflow.ActionAttachmentDownloaded || e.Action == workflow.ActionLetterPreviewed || e.Action == workflow.ActionDispatchFileDownloaded {
				t.Errorf("a reviewer's timeline shows %s", e.Action)
			}
		}
		w.adminA.must(200, "GET", subPath(w.submissionA.ID, "/events"), nil).json(t, &timeline)
		if findEvent(timeline.Items, workflow.ActionAttachmentDownloaded) == nil || findEvent(timeline.Items, workflow.ActionLetterPreviewed) == nil {
			t.Error("the admin's timeline lacks the reading acts")
		}
	})
}
