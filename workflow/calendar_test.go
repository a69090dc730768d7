package workflow_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/workflow"
)

// reminders lists the deadline reminder jobs enqueued so far.
func (f *retentionFixture) reminders() []dispatch.ReminderArgs {
	f.t.Helper()
	text := "json(args)"
	if f.db.Dialect() == database.Postgres {
		text = "args::text"
	}
	var args []string
	if err := f.db.Conn(context.Background()).Table("river_job").Where("kind = 'cfa_reminder'").Order("id").Pluck(text, &args).Error; err != nil {
		f.t.Fatal(err)
	}
	var out []dispatch.ReminderArgs
	for _, a := range args {
		var r dispatch.ReminderArgs
		if err := json.Unmarshal([]byte(a), &r); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func (f *retentionFixture) remind() int {
	f.t.Helper()
	r, err := f.s.Workflow.RemindAll(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return r.Reminders
}

func (f *retentionFixture) session(a *auth.TenantAccess, name string, deadlineIn, startsIn int) *workflow.CFASession {
	f.t.Helper()
	today := f.clock.Now().UTC()
	c, err := f.s.Workflow.CreateCFASession(context.Background(), a, workflow.CFASessionInput{Name: name,
		Deadline: today.AddDate(0, 0, deadlineIn).Format(time.DateOnly), StartsOn: today.AddDate(0, 0, startsIn).Format(time.DateOnly)})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func TestCFASessionsValidationAndPermissions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newRetentionFixture(t, db)
		ctx := context.Background()
		_, err := f.s.Workflow.CreateCFASession(ctx, f.admin, workflow.CFASessionInput{Name: " ", StartsOn: "2026-06-01", Deadline: "2026-06-02"})
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.KindInvalid || len(e.Fields) != 2 || e.Fields[0].Field != "name" || e.Fields[1].Field != "deadline" {
			t.Fatalf("want name and deadline refused, got %v", err)
		}
		_, err = f.s.Workflow.CreateCFASession(ctx, f.admin, workflow.CFASessionInput{Name: "410th Session", StartsOn: "1 June", Deadline: "2026-13-01"})
		if e, ok := apperr.As(err); !ok || len(e.Fields) != 2 || e.Fields[0].Field != "starts_on" {
			t.Fatalf("want dates refused, got %v", err)
		}
		if _, err := f.s.Workflow.CreateCFASession(ctx, f.reviewer, workflow.CFASessionInput{Name: "x", StartsOn: "2026-06-01", Deadline: "2026-06-01"}); apperr.KindOf(err) != apperr.KindForbidden {
			t.Fatalf("a reviewer created a session: %v", err)
		}
		c := f.session(f.admin, "410th Session", 20, 40)
		list, err := f.s.Workflow.ListCFASessions(ctx, f.editor)
		if err != nil || len(list) != 1 || list[0].ID != c.ID {
			t.Fatalf("members read the calendar: %v %v", list, err)
		}
		if err := f.s.Workflow.DeleteCFASession(ctx, f.editor, c.ID); apperr.KindOf(err) != apperr.KindForbidden {
			t.Fatalf("an editor deleted a session: %v", err)
		}
		upd, err := f.s.Workflow.UpdateCFASession(ctx, f.admin, c.ID, workflow.CFASessionInput{Name: "411th Session", StartsOn: c.StartsOn, Deadline: c.StartsOn})
		if err != nil || upd.Name != "411th Session" || upd.Deadline != c.StartsOn {
			t.Fatalf("update: %v %v", upd, err)
		}
		if err := f.s.Workflow.DeleteCFASession(ctx, f.admin, c.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.s.Workflow.DeleteCFASession(ctx, f.admin, c.ID); apperr.KindOf(err) != apperr.KindNotFound {
			t.Fatalf("deleted twice: %v", err)
		}
	})
}

func TestNextDeadlineAndDue(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newRetentionFixture(t, db)
		ctx := context.Background()
		f.clock.now = time.Date(2026, 3, 1, 22, 30, 0, 0, time.UTC)
		cs, err := f.s.Workflow.Case(ctx, f.editor, f.caseID)
		if err != nil || cs.NextDeadline != nil {
			t.Fatalf("no session, no deadline: %+v %v", cs, err)
		}
		f.session(f.admin, "past", -1, 5)
		later := f.session(f.admin, "later", 30, 40)
		next := f.session(f.admin, "next", 0, 10) // today: still due
		list, _, err := f.s.Workflow.ListCases(ctx, f.editor, database.Page{Limit: 10})
		if err != nil || len(list) != 1 || list[0].NextDeadline == nil || list[0].NextDeadline.SessionID != next.ID || list[0].NextDeadline.DaysLeft != 0 {
			t.Fatalf("next deadline: %+v %v", list, err)
		}
		f.clock.Add(day)
		cs, err = f.s.Workflow.Case(ctx, f.editor, f.caseID)
		if err != nil || cs.NextDeadline == nil || cs.NextDeadline.SessionID != later.ID || cs.NextDeadline.DaysLeft != 29 || cs.NextDeadline.Deadline != "2026-03-31" {
			t.Fatalf("after the deadline, the next: %+v %v", cs.NextDeadline, err)
		}
		due, err := f.s.Workflow.Due(ctx, f.editor)
		if err != nil || len(due.Items) != 0 || due.NextDeadline.SessionID != later.ID {
			t.Fatalf("nothing due: %+v %v", due, err)
		}
		v, _ := f.draft(false)
		for _, a := range []*auth.TenantAccess{f.editor, f.reviewer} {
			due, err = f.s.Workflow.Due(ctx, a)
			if err != nil || len(due.Items) != 1 || due.Items[0].SubmissionID != v.ID || due.Items[0].CaseNumber != "3386" {
				t.Fatalf("the draft is due: %+v %v", due, err)
			}
		}
		f.transition(f.editor, v.ID, workflow.ActionSubmit, "")
		if due, err = f.s.Workflow.Due(ctx, f.editor); err != nil || len(due.Items) != 0 {
			t.Fatalf("a submitted draft is not due: %+v %v", due, err)
		}
	})
}

func TestDeadlineReminders(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newRetentionFixture(t, db)
		ctx := context.Background()
		f.clock.now = time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
		// Another tenant with a deadline and no draft: nobody there is reminded.
		platform := &auth.Principal{User: auth.User{IsSuperadmin: true, Active: true}}
		if _, err := f.s.Auth.CreateTenant(ctx, platform, "beta", "Beta"); err != nil {
			t.Fatal(err)
		}
		beta, err := f.s.Auth.ResolveTenant(ctx, platform, "beta")
		if err != nil {
			t.Fatal(err)
		}
		f.session(beta, "410th Session", 14, 30)
		s410 := f.session(f.admin, "410th Session", 14, 30)
		if n := f.remind(); n != 0 {
			t.Fatalf("no open draft, yet %d reminders", n)
		}
		v, _ := f.draft(false)
		if n := f.remind(); n != 2 {
			t.Fatalf("14 days before: want the editor and the reviewer reminded, got %d", n)
		}
		if n := f.remind(); n != 0 {
			t.Fatalf("a rerun sent %d reminders again", n)
		}
		f.clock.Add(day) // 13 days left: the 14-day reminder was sent
		if n := f.remind(); n != 0 {
			t.Fatalf("13 days before: %d reminders", n)
		}
		f.clock.Add(10 * day) // 3 days left
		if n := f.remind(); n != 2 {
			t.Fatalf("3 days before: want 2 reminders, got %d", n)
		}
		if n := f.remind(); n != 0 {
			t.Fatalf("a rerun sent %d reminders again", n)
		}
		got := f.reminders()
		if len(got) != 4 {
			t.Fatalf("want 4 reminder jobs, got %+v", got)
		}
		to := map[string]int{}
		for _, r := range got {
			if r.TenantID != f.admin.Tenant.ID || r.SessionID != s410.ID {
				t.Errorf("a reminder for another tenant or session: %+v", r)
			}
			to[r.UserID]++
		}
		if to[f.editor.Principal.User.ID] != 2 || to[f.reviewer.Principal.User.ID] != 2 || got[0].DaysLeft != 14 || got[3].DaysLeft != 3 {
			t.Fatalf("once per person and threshold: %+v", got)
		}
		// A submitted, then withdrawn, draft is no longer open: the next session's
		// reminders do not go.
		f.session(f.admin, "411th Session", 14, 30)
		f.transition(f.editor, v.ID, workflow.ActionSubmit, "")
		f.transition(f.editor, v.ID, workflow.ActionWithdraw, "")
		if n := f.remind(); n != 0 {
			t.Fatalf("a withdrawn submission: %d reminders", n)
		}
	})
}

// TestDeadlineReminderMail: each reminder is one e-mail to one person, naming the
// session and the date with a link to the portal, never the case, the draft's title or
// its text.
func TestDeadlineReminderMail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newRetentionFixture(t, db)
		ctx := context.Background()
		f.dispatchSettings()
		f.session(f.admin, "410th Session", 14, 30)
		f.draft(false)
		if n := f.remind(); n != 2 {
			t.Fatalf("want 2 reminders, got %d", n)
		}
		if err := f.s.Dispatch.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer f.s.Dispatch.Stop(ctx)
		var mails []string
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			mails = mails[:0]
			entries, _ := os.ReadDir(f.outbox)
			for _, e := range entries {
				b, err := os.ReadFile(filepath.Join(f.outbox, e.Name()))
				if err == nil && strings.Contains(string(b), "CFA information deadline") {
					mails = append(mails, string(b))
				}
			}
			if len(mails) >= 2 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(mails) != 2 {
			t.Fatalf("want 2 reminder e-mails, got %d", len(mails))
		}
		to := map[string]bool{}
		for _, m := range mails {
			for _, line := range strings.Split(m, "\n") {
				if strings.HasPrefix(line, "To: ") {
					to[strings.TrimSpace(strings.TrimPrefix(line, "To: "))] = true
				}
			}
			for _, leak := range []string{secret, "3386", "Kyrgyzstan", "Update"} {
				if strings.Contains(m, leak) {
					t.Errorf("a reminder says %q:\n%s", leak, m)
				}
			}
			if !strings.Contains(m, "410th Session") || !strings.Contains(m, "in 14 days") {
				t.Errorf("a reminder without its session or days left:\n%s", m)
			}
		}
		if len(to) != 2 {
			t.Fatalf("want one e-mail each to the editor and the reviewer, got %v", to)
		}
	})
}

// TestRequestReminders: an open request for further information from the ILO is due
// like a draft: the case's editors and the reviewers are reminded of the deadline, and
// it is listed as due, until it is answered.
func TestRequestReminders(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newRetentionFixture(t, db)
		ctx := context.Background()
		f.clock.now = time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
		v, _ := f.draft(false)
		f.transition(f.editor, v.ID, workflow.ActionSubmit, "") // in review: not a draft any more
		f.session(f.admin, "410th Session", 14, 30)
		imp := func(id, subject, body string) *workflow.CorrespondenceItem {
			it, ok, err := f.s.Workflow.ImportCorrespondence(ctx, workflow.IncomingMessage{TenantID: f.admin.Tenant.ID, CaseID: f.caseID,
				MatchedBy: "case_number", MessageID: "<" + id + "@ilo.org>", FromAddress: "cfa@ilo.org", Subject: subject, Body: body,
				Auth: workflow.MessageAuth{Source: "verified", DMARC: "pass", Authenticated: true}})
			if err != nil || !ok {
				t.Fatalf("import: %v %v", ok, err)
			}
			return it
		}
		imp("ack", "Case No. 3386", "We acknowledge receipt of your communication.")
		if n := f.remind(); n != 0 {
			t.Fatalf("an acknowledgement is not due, yet %d reminders", n)
		}
		rfi := imp("rfi", "Case No. 3386", "The Committee requests further information on the arrests.")
		if rfi.Kind != workflow.KindRequestForInformation || rfi.Status != workflow.CorrespondenceOpen {
			t.Fatalf("request %+v", rfi)
		}
		if _, again, err := f.s.Workflow.ImportCorrespondence(ctx, workflow.IncomingMessage{TenantID: f.admin.Tenant.ID, CaseID: f.caseID,
			MatchedBy: "case_number", MessageID: rfi.MessageID, FromAddress: "cfa@ilo.org"}); again || err != nil {
			t.Fatalf("the same Message-ID imported twice: %v %v", again, err)
		}
		if n := f.remind(); n != 2 {
			t.Fatalf("14 days before, an open request: want the case's editor and the reviewer reminded, got %d", n)
		}
		for _, a := range []*auth.TenantAccess{f.editor, f.reviewer} {
			due, err := f.s.Workflow.Due(ctx, a)
			if err != nil || len(due.Requests) != 1 || due.Requests[0].ItemID != rfi.ID || due.Requests[0].CaseNumber != "3386" ||
				due.Requests[0].Subject != "Case No. 3386" {
				t.Fatalf("the request is due: %+v %v", due, err)
			}
		}
		answered := workflow.CorrespondenceAnswered
		if _, err := f.s.Workflow.UpdateCorrespondence(ctx, f.editor, rfi.ID, workflow.CorrespondenceUpdate{Status: &answered}); apperr.KindOf(err) != apperr.KindForbidden {
			t.Fatalf("an editor closed a request: %v", err)
		}
		if _, err := f.s.Workflow.UpdateCorrespondence(ctx, f.reviewer, rfi.ID, workflow.CorrespondenceUpdate{Status: &answered}); err != nil {
			t.Fatal(err)
		}
		f.session(f.admin, "411th Session", 14, 30)
		if n := f.remind(); n != 0 {
			t.Fatalf("answered: %d reminders", n)
		}
		if due, err := f.s.Workflow.Due(ctx, f.reviewer); err != nil || len(due.Requests) != 0 {
			t.Fatalf("answered, yet due: %+v %v", due, err)
		}
	})
}
