package api

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
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

// TestSenderDomains: a tenant sends only from domains the platform verified for it
// (issue 9, item 5).
func TestSenderDomains(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		const base = "/api/v1/tenants/alpha/sender-domains"
		// Only the superadmin verifies domains; a tenant admin reads the list.
		w.adminA.must(403, "POST", base, map[string]string{"domain": "beta.test"})
		w.adminA.must(403, "DELETE", base+"/alpha.test", nil)
		if p := w.super.must(422, "POST", base, map[string]string{"domain": "not a domain"}).problem(t); !slices.Contains(fieldNames(p), "domain") {
			t.Errorf("bad domain: %v", p)
		}
		w.super.must(409, "POST", base, map[string]string{"domain": "ALPHA.test."})
		var l struct{ Items []workflow.SenderDomain }
		w.adminA.must(200, "GET", base, nil).json(t, &l)
		if len(l.Items) != 1 || l.Items[0].Domain != "alpha.test" {
			t.Fatalf("domains %+v", l.Items)
		}
		w.viewerA2.must(403, "GET", base, nil)

		// Another federation's address is refused, naming the field.
		st := dispatchReady(1, false)
		d := st["dispatch"].(map[string]any)
		d["from"] = map[string]any{"name": "Beta Federation", "address": "cfa@beta.test"}
		d["reply_to"] = "secretariat@beta.test"
		p := w.adminA.must(422, "PUT", "/api/v1/tenants/alpha/settings", st).problem(t)
		if f := fieldNames(p); !slices.Contains(f, "dispatch.from.address") || !slices.Contains(f, "dispatch.reply_to") {
			t.Errorf("foreign sender: fields %v", f)
		}
		// Its own verified domain, in any case, passes.
		d["from"] = map[string]any{"name": "Alpha", "address": "CFA@Alpha.Test"}
		d["reply_to"] = "desk@alpha.test"
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", st)

		// Withdrawn: settings stay, but nothing can be approved from it.
		w.super.must(204, "DELETE", base+"/alpha.test", nil)
		w.super.must(404, "DELETE", base+"/alpha.test", nil)
		p = w.reviewerA.must(422, "POST", subPath(w.submissionA.ID, "/transitions"), map[string]string{"action": "approve"}).problem(t)
		if p["code"] != "not_receivable" || !slices.Contains(fieldNames(p), "settings.dispatch.from.address") {
			t.Errorf("approval from a withdrawn domain: %v", p)
		}
	})
}

// TestApprovalFreezesWhatIsSent: settings changed between approval and signature (or
// before the worker runs) change nothing that goes out (issue 9, item 6).
func TestApprovalFreezesWhatIsSent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		outbox := t.TempDir()
		h := newDispatchHarness(t, db, dispatch.Outbox{Dir: outbox})
		w := h.world()
		st := dispatchReady(1, true)
		d := st["dispatch"].(map[string]any)
		d["sandbox"] = false
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", st)
		id := w.submissionA.ID
		w.reviewerA.must(404, "GET", subPath(id, "/snapshot"), nil)
		var v workflow.SubmissionView
		w.reviewerA.must(200, "POST", subPath(id, "/transitions"), map[string]string{"action": "approve"}).json(t, &v)
		if v.State != workflow.Approved {
			t.Fatalf("state %s", v.State)
		}
		var before workflow.ApprovalSnapshot
		w.reviewerA.must(200, "GET", subPath(id, "/snapshot"), nil).json(t, &before)

		// The admin now adds a Bcc, replaces the ILO, the letterhead and the signatory,
		// and the case's number changes.
		d["recipients"] = []any{
			map[string]any{"name": "Someone else", "title": "", "address": "other@elsewhere.test", "kind": "to"},
			map[string]any{"name": "Watcher", "title": "", "address": "watcher@elsewhere.test", "kind": "bcc"}}
		d["letterhead"] = map[string]any{"organization": "Forged Letterhead", "address_lines": []string{}, "place": "Nowhere"}
		d["signatory"] = map[string]any{"name": "Forged Signer", "title": "Nobody"}
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", st)
		w.reviewerA.must(200, "PATCH", "/api/v1/tenants/alpha/cases/"+w.caseA.ID, map[string]any{"number": "9999"})

		var after workflow.ApprovalSnapshot
		w.reviewerA.must(200, "GET", subPath(id, "/snapshot"), nil).json(t, &after)
		if after.SHA256 != before.SHA256 || after.Dispatch.Signatory.Name != "A. Secretary" || after.Case.Number != "3386" {
			t.Fatalf("the snapshot changed with the settings: %+v", after)
		}
		// The preview of an approved submission is what will be sent.
		if pdf := w.reviewerA.must(200, "GET", subPath(id, "/letter.pdf"), nil).Body.String(); strings.Contains(pdf, "Forged") {
			t.Error("the approved letter's preview shows the changed settings")
		}

		signatory := h.anonymous()
		w.adminA.must(201, "POST", "/api/v1/tenants/alpha/users", map[string]any{"email": "sign@alpha.test", "name": "S",
			"password": testPassword, "organization_id": w.orgA1.ID, "roles": []string{"signatory"}})
		signatory.loginAs("sign@alpha.test", testPassword)
		signatory.must(200, "POST", subPath(id, "/transitions"), map[string]string{"action": "sign"})
		deadline := time.Now().Add(30 * time.Second)
		for {
			w.reviewerA.must(200, "GET", subPath(id), nil).json(t, &v)
			if v.State == workflow.Dispatched {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("state %s after 30 s", v.State)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// The outbox also holds the notifications; the dispatch is the letter's e-mail.
		files, _ := filepath.Glob(filepath.Join(outbox, "*.eml"))
		var letters []string
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(raw), "<dispatch-") {
				letters = append(letters, string(raw))
			}
		}
		if len(letters) != 1 {
			t.Fatalf("outbox holds %d dispatched letters among %d messages", len(letters), len(files))
		}
		msg := letters[0]
		if !strings.Contains(msg, "freedom@ilo.test") || strings.Contains(msg, "elsewhere.test") || strings.Contains(msg, "9999") {
			t.Errorf("the e-mail went to the changed recipients or names the changed case:\n%.2000s", msg)
		}
		// The as-sent record names the snapshot, and the sign event signed it.
		var ds struct{ Items []dispatch.Dispatch }
		w.reviewerA.must(200, "GET", subPath(id, "/dispatches"), nil).json(t, &ds)
		var manifest struct {
			Snapshot struct {
				SHA256    string
				Signatory workflow.Person
			} `json:"approval_snapshot"`
		}
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/dispatches/"+ds.Items[0].ID+"/manifest.json", nil).json(t, &manifest)
		if manifest.Snapshot.SHA256 != before.SHA256 || manifest.Snapshot.Signatory.Name != "A. Secretary" {
			t.Errorf("manifest snapshot %+v, want %s", manifest.Snapshot, before.SHA256)
		}
		var sign int64
		db.Conn(context.Background()).Table("events").Where("object_id = ? AND action = 'submission.sign' AND details LIKE ?", id, "%"+before.SHA256+"%").Count(&sign)
		if sign != 1 {
			t.Error("the sign event does not name the snapshot it signed")
		}
	})
}

// notifiedAddresses waits until every notification job finished and returns the
// addresses that notifications about submission id went to.
func notifiedAddresses(t *testing.T, db *database.DB, outbox, id string) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var pending int64
		if err := db.Conn(context.Background()).Table("river_job").Where("kind = 'notify' AND state <> 'completed'").Count(&pending).Error; err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d notification jobs unfinished after 30 s", pending)
		}
		time.Sleep(50 * time.Millisecond)
	}
	files, _ := filepath.Glob(filepath.Join(outbox, "notify-*.eml"))
	var to []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.ReplaceAll(string(raw), "=\r\n", ""), id) {
			continue // about another submission
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if rest, ok := strings.CutPrefix(line, "To: "); ok {
				to = append(to, strings.Trim(strings.TrimSpace(rest), "<>"))
			}
		}
	}
	slices.Sort(to)
	return to
}

// TestNotificationsOnlyToEntitledMembers: a deactivated member, or an author whose
// roles no longer let them see the submission, is not told (issue 9, item 15).
func TestNotificationsOnlyToEntitledMembers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		outbox := t.TempDir()
		h := newDispatchHarness(t, db, dispatch.Outbox{Dir: outbox})
		w := h.world()
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
		var members struct {
			Items []struct{ ID, Email string }
		}
		w.adminA.must(200, "GET", "/api/v1/tenants/alpha/users", nil).json(t, &members)
		id := func(email string) string {
			for _, m := range members.Items {
				if m.Email == email {
					return m.ID
				}
			}
			t.Fatalf("no member %s", email)
			return ""
		}
		// A second reviewer, deactivated; a co-author moved to another organization as a viewer.
		w.adminA.must(201, "POST", "/api/v1/tenants/alpha/users", map[string]any{"email": "gone@alpha.test", "name": "Gone",
			"password": testPassword, "organization_id": w.orgA1.ID, "roles": []string{"reviewer"}})
		h.login("gone@alpha.test") // the first login accepts the invitation
		w.adminA.must(200, "GET", "/api/v1/tenants/alpha/users", nil).json(t, &members)
		w.adminA.must(204, "DELETE", "/api/v1/tenants/alpha/users/"+id("gone@alpha.test"), nil)
		w.adminA.must(201, "POST", "/api/v1/tenants/alpha/users", map[string]any{"email": "coauthor@alpha.test", "name": "Co",
			"password": testPassword, "organization_id": w.orgA1.ID, "roles": []string{"editor"}})
		coauthor := h.login("coauthor@alpha.test")
		w.adminA.must(201, "POST", "/api/v1/tenants/alpha/users", map[string]any{"email": "left@alpha.test", "name": "Left",
			"password": testPassword, "organization_id": w.orgA1.ID, "roles": []string{"editor"}})
		left := h.login("left@alpha.test")
		w.adminA.must(200, "GET", "/api/v1/tenants/alpha/users", nil).json(t, &members)

		var sub workflow.SubmissionView
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
			"kind": "follow_up", "title": "T", "body": "B", "language": "en"}).json(t, &sub)
		coauthor.upload(201, sub.ID, "note.txt", "text/plain", []byte("note\n"))
		left.upload(201, sub.ID, "other.txt", "text/plain", []byte("other\n"))
		w.adminA.must(204, "DELETE", "/api/v1/tenants/alpha/users/"+id("left@alpha.test"), nil)
		w.adminA.must(200, "PATCH", "/api/v1/tenants/alpha/users/"+id("coauthor@alpha.test"),
			map[string]any{"organization_id": w.orgA2.ID, "roles": []string{"viewer"}})
		// Submitted: the reviewers are told; the deactivated one is not.
		w.editorA1.must(200, "POST", subPath(sub.ID, "/transitions"), map[string]string{"action": "submit"})
		if got := notifiedAddresses(t, db, outbox, sub.ID); !slices.Equal(got, []string{"reviewer@alpha.test"}) {
			t.Errorf("submitted: told %v, want the active reviewer only", got)
		}
		// Sent back: the authors are told; neither the co-author who can no longer see it
		// nor the deactivated one is.
		w.reviewerA.must(200, "POST", subPath(sub.ID, "/transitions"), map[string]string{"action": "request_changes", "comment": "more"})
		if got := notifiedAddresses(t, db, outbox, sub.ID); !slices.Equal(got, []string{"editor@alpha.test", "reviewer@alpha.test"}) {
			t.Errorf("changes requested: told %v, want the remaining author", got)
		}
	})
}

// TestEventAddressesForAdminsOnly: the timeline shows where people acted from to tenant
// admins and superadmins only (issue 9, item 16).
func TestEventAddressesForAdminsOnly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		path := subPath(w.submissionA.ID, "/events")
		for name, c := range map[string]*client{"reviewer": w.reviewerA, "editor": w.editorA1, "admin": w.adminA, "superadmin": w.super} {
			r := c.must(200, "GET", path, nil)
			shows := strings.Contains(r.Body.String(), `"ip"`) || strings.Contains(r.Body.String(), "198.51.100.7")
			if want := name == "admin" || name == "superadmin"; shows != want {
				t.Errorf("%s: addresses shown %v, want %v: %.300s", name, shows, want, r.Body)
			}
		}
	})
}

// TestRefusalsAreAudited: 404 on a foreign id, 403, an author approving, a CSRF failure
// and 429 each leave an authorization.denied event, and a principal probing ids cannot
// flood the trail (issue 9, item 12).
func TestRefusalsAreAudited(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		ctx := context.Background()
		denied := func(code string) int64 {
			var n int64
			db.Conn(ctx).Table("events").Where("action = 'authorization.denied' AND details LIKE ?", `%"code":"`+code+`"%`).Count(&n)
			return n
		}
		w.editorA2.must(404, "GET", subPath(w.submissionA.ID), nil)
		if denied("not_found") != 1 {
			t.Error("404 on another organization's submission: not audited")
		}
		w.viewerA2.must(403, "POST", "/api/v1/tenants/alpha/organizations", map[string]string{"name": "X", "country": "FR", "kind": "affiliate"})
		if denied("forbidden") != 1 {
			t.Error("403: not audited")
		}
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
		both := h.anonymous()
		w.adminA.must(201, "POST", "/api/v1/tenants/alpha/users", map[string]any{"email": "both@alpha.test", "name": "B",
			"password": testPassword, "organization_id": w.orgA1.ID, "roles": []string{"editor", "reviewer"}})
		both.loginAs("both@alpha.test", testPassword)
		var sub workflow.SubmissionView
		both.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
			"kind": "follow_up", "title": "T", "body": "B", "language": "en"}).json(t, &sub)
		both.must(200, "POST", subPath(sub.ID, "/transitions"), map[string]string{"action": "submit"})
		both.must(403, "POST", subPath(sub.ID, "/transitions"), map[string]string{"action": "approve"})
		if denied("author_cannot_approve") != 1 {
			t.Error("self-approval: not audited")
		}
		forged := *w.editorA1
		forged.csrf = "forged"
		forged.must(403, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID})
		var csrf struct{ ActorID *string }
		db.Conn(ctx).Table("events").Where("action = 'authorization.denied' AND details LIKE ?", `%"code":"csrf_failed"%`).First(&csrf)
		if csrf.ActorID == nil || *csrf.ActorID != w.editorA1.user.ID {
			t.Errorf("CSRF failure: not audited as the user's: %v", csrf.ActorID)
		}
		guesser := h.anonymous()
		guesser.ip = "203.0.113.9"
		for i := 0; i < 8; i++ {
			guesser.do("POST", "/api/v1/auth/login", map[string]string{"email": "reviewer@alpha.test", "password": "wrong password 123"})
		}
		if denied("too_many_attempts") == 0 {
			t.Error("429: not audited")
		}
		// A prober's 50 foreign ids leave a bounded number of events.
		before := denied("not_found")
		for i := 0; i < 50; i++ {
			w.adminB.do("GET", subPath(w.submissionA.ID), nil)
		}
		if n := denied("not_found") - before; n == 0 || n > refusalBurst {
			t.Errorf("50 probes left %d events, want 1 to %d", n, refusalBurst)
		}
	})
}

// TestReceivabilityRoute: the checks approve runs, shown beforehand without a change.
func TestReceivabilityRoute(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		var r workflow.Receivability
		w.reviewerA.must(200, "GET", subPath(w.submissionA.ID, "/receivability"), nil).json(t, &r)
		if r.Ready || !slices.ContainsFunc(r.Failed, func(f apperr.FieldError) bool { return f.Field == "settings.dispatch.signatory" }) {
			t.Errorf("unconfigured tenant: %+v", r)
		}
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
		w.reviewerA.must(200, "GET", subPath(w.submissionA.ID, "/receivability"), nil).json(t, &r)
		if !r.Ready || len(r.Failed) != 0 {
			t.Errorf("ready tenant: %+v", r)
		}
		var v workflow.SubmissionView
		w.reviewerA.must(200, "GET", subPath(w.submissionA.ID), nil).json(t, &v)
		if v.State != workflow.Submitted || v.Version != w.submissionA.Version {
			t.Errorf("the check changed the submission: %s v%d", v.State, v.Version)
		}
		w.adminB.must(404, "GET", subPath(w.submissionA.ID, "/receivability"), nil)
	})
}

// TestLanguageFollowsTheUser: the interface language is the user's, on every browser.
func TestLanguageFollowsTheUser(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		var got struct{ Language string }
		w.editorA1.must(200, "PUT", "/api/v1/me/language", map[string]string{"language": "FR"}).json(t, &got)
		if got.Language != "fr" {
			t.Errorf("stored %q, want fr", got.Language)
		}
		other := h.login("editor@alpha.test") // another browser
		var me struct{ User struct{ Language string } }
		other.must(200, "GET", "/api/v1/me", nil).json(t, &me)
		if me.User.Language != "fr" {
			t.Errorf("another session sees %q", me.User.Language)
		}
		if p := w.editorA1.must(422, "PUT", "/api/v1/me/language", map[string]string{"language": "not a language!"}).problem(t); !slices.Contains(fieldNames(p), "language") {
			t.Errorf("bad tag: %v", p)
		}
	})
}
