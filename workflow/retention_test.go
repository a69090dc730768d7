package workflow_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

// TestRetentionDrafts: a draft nobody changed for draft_days is warned once, 7 days
// before, then deleted with its file, its key and its comments; one changed since stays.
// A dry run lists the same and changes nothing; every act is audited with counts.
func TestRetentionDrafts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newRetentionFixture(t, db)
		ctx := context.Background()
		stale, file := f.draft(true)
		touched, _ := f.draft(false)
		f.policy(workflow.RetentionSettings{DraftDays: 30})

		// Day 10: the editor changes the second draft.
		f.clock.Add(10 * day)
		text := "Changed."
		if _, err := f.s.Workflow.UpdateSubmission(ctx, f.editor, touched.ID, touched.Version, workflow.SubmissionInput{Body: &text}); err != nil {
			t.Fatal(err)
		}
		// Day 22: nothing is due yet (the warning comes 7 days before day 30).
		f.clock.Add(12 * day)
		if r := f.retain(false); len(r.Items) != 0 || r.Warned != 0 {
			t.Fatalf("day 22: %+v", r)
		}
		// Day 24: the stale draft's editors are warned; a dry run says so first, changing nothing.
		f.clock.Add(2 * day)
		dry := f.retain(true)
		if items(dry) != "warn "+stale.ID+";" || dry.Items[0].DeleteAt == nil || dry.Items[0].IdleDays != 24 || !dry.DryRun {
			t.Fatalf("dry run on day 24: %+v", dry)
		}
		if n := len(f.warnings(stale.ID)); n != 0 {
			t.Fatalf("a dry run enqueued %d warnings", n)
		}
		r := f.retain(false)
		if items(r) != items(dry) || r.Warned != 1 {
			t.Fatalf("day 24: %+v; the dry run said %s", r, items(dry))
		}
		warned := f.warnings(stale.ID)
		if len(warned) != 1 || !warned[0].Authors || warned[0].Reviewers || warned[0].State != workflow.Draft ||
			!strings.Contains(warned[0].Notice, "24 days") || strings.Contains(warned[0].Notice, secret) {
			t.Fatalf("warnings %v, want one to the authors, without the content", warned)
		}
		// A warning does not count as a change, and is given once.
		f.clock.Add(time.Hour)
		if r := f.retain(false); len(r.Items) != 0 {
			t.Fatalf("the next run: %+v", r)
		}
		if n := len(f.warnings(stale.ID)); n != 1 {
			t.Fatalf("%d warnings after two runs, want 1", n)
		}
		if len(f.events("submission.retention_warned", stale.ID)) != 1 {
			t.Error("the warning is not audited")
		}
		// Day 30: past 30 days, but warned only 6 days ago: kept a day more.
		f.clock.Add(6*day - time.Hour)
		if r := f.retain(false); len(r.Items) != 0 || f.gone(stale.ID) {
			t.Fatalf("day 30: %+v", r)
		}
		// Day 31: deleted with its file and key; the draft changed on day 10 stays.
		f.clock.Add(day)
		dry = f.retain(true)
		if items(dry) != "delete "+stale.ID+";" {
			t.Fatalf("dry run on day 31: %s", items(dry))
		}
		if f.gone(stale.ID) || f.objectGone(file.ObjectKey) || f.keyShredded(stale.ID) {
			t.Fatal("the dry run changed something")
		}
		r = f.retain(false)
		if items(r) != items(dry) || r.DraftsDeleted != 1 || r.FilesDeleted != 1 || r.Items[0].Files != 1 {
			t.Fatalf("day 31: %+v", r)
		}
		if !f.gone(stale.ID) || !f.objectGone(file.ObjectKey) || !f.keyShredded(stale.ID) {
			t.Fatalf("after deletion: gone %v, object gone %v, key gone %v", f.gone(stale.ID), f.objectGone(file.ObjectKey), f.keyShredded(stale.ID))
		}
		var rows int64
		for _, table := range []string{"comments", "attachments", "submission_contributors"} {
			db.Conn(ctx).Table(table).Where("submission_id = ?", stale.ID).Count(&rows)
			if rows != 0 {
				t.Errorf("%d rows of %s are left", rows, table)
			}
		}
		if f.gone(touched.ID) {
			t.Fatal("the draft changed on day 10 was deleted")
		}
		deleted := f.events("submission.deleted", stale.ID)
		if len(deleted) != 1 || !strings.Contains(deleted[0].Details, `"draft_days":30`) || !strings.Contains(deleted[0].Details, `"files":1`) {
			t.Fatalf("deletion events %+v", deleted)
		}
		runs := f.events("retention.applied", f.admin.Tenant.ID)
		if len(runs) != 2 || !strings.Contains(runs[0].Details, `"warned":1`) || !strings.Contains(runs[1].Details, `"drafts_deleted":1`) ||
			!strings.Contains(runs[1].Details, `"files_deleted":1`) {
			t.Fatalf("run events %+v", runs)
		}

		// The second draft is warned on day 33; changed on day 35, it is not deleted on
		// day 40 (the date it was warned of), and its next warning comes in a new period.
		f.clock.Add(2 * day)
		if r := f.retain(false); items(r) != "warn "+touched.ID+";" {
			t.Fatalf("day 33: %s", items(r))
		}
		f.clock.Add(2 * day)
		v, err := f.s.Workflow.Submission(ctx, f.editor, touched.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Workflow.UpdateSubmission(ctx, f.editor, touched.ID, v.Version, workflow.SubmissionInput{Body: &text}); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(5 * day)
		if r := f.retain(false); len(r.Items) != 0 || f.gone(touched.ID) {
			t.Fatalf("day 40, changed on day 35: %+v", r)
		}
		f.clock.Add(19 * day) // day 59: 24 days since the change
		if r := f.retain(false); items(r) != "warn "+touched.ID+";" {
			t.Fatalf("day 59: %s", items(r))
		}
		if n := len(f.warnings(touched.ID)); n != 2 {
			t.Errorf("%d warnings over two idle periods, want 2", n)
		}
		f.verifyAudit()
	})
}

// TestRetentionClosed: withdrawn and rejected submissions are deleted closed_days after
// their last change, with their revisions, approvals, comments, files and keys; younger
// ones and submissions in other states stay.
func TestRetentionClosed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newRetentionFixture(t, db)
		ctx := context.Background()
		withdrawn, wfile := f.draft(true)
		f.transition(f.editor, withdrawn.ID, workflow.ActionSubmit, "")
		f.transition(f.editor, withdrawn.ID, workflow.ActionWithdraw, "")
		rejected, _ := f.draft(false)
		f.transition(f.editor, rejected.ID, workflow.ActionSubmit, "")
		f.transition(f.reviewer, rejected.ID, workflow.ActionReject, "Out of scope "+secret)
		pending, _ := f.draft(false)
		f.transition(f.editor, pending.ID, workflow.ActionSubmit, "")
		f.clock.Add(20 * day)
		young, _ := f.draft(false)
		f.transition(f.editor, young.ID, workflow.ActionSubmit, "")
		f.transition(f.editor, young.ID, workflow.ActionWithdraw, "")

		// Nothing is deleted without a policy, however old.
		f.clock.Add(20 * 365 * day)
		if r := f.retain(false); len(r.Items) != 0 {
			t.Fatalf("without a policy: %+v", r)
		}
		f.clock.Add(-20 * 365 * day)

		f.policy(workflow.RetentionSettings{ClosedDays: 30})
		f.clock.Add(11 * day) // day 31
		dry := f.retain(true)
		r := f.retain(false)
		want := "delete " + withdrawn.ID + ";delete " + rejected.ID + ";"
		if items(dry) != want || items(r) != want || r.ClosedDeleted != 2 || r.FilesDeleted != 1 {
			t.Fatalf("day 31: dry run %s, run %+v; want %s", items(dry), r, want)
		}
		for _, id := range []string{withdrawn.ID, rejected.ID} {
			if !f.gone(id) || !f.keyShredded(id) {
				t.Errorf("%s: not deleted, or its key kept", id)
			}
			for _, table := range []string{"revisions", "comments", "approvals", "attachments", "approval_snapshots"} {
				var n int64
				db.Conn(ctx).Table(table).Where("submission_id = ?", id).Count(&n)
				if n != 0 {
					t.Errorf("%s: %d rows of %s are left", id, n, table)
				}
			}
			if len(f.events("submission.deleted", id)) != 1 {
				t.Errorf("%s: the deletion is not audited", id)
			}
		}
		if !f.objectGone(wfile.ObjectKey) {
			t.Error("the withdrawn submission's file is still stored")
		}
		for _, id := range []string{pending.ID, young.ID} {
			if f.gone(id) {
				t.Errorf("%s was deleted", id)
			}
		}
		runs := f.events("retention.applied", f.admin.Tenant.ID)
		if len(runs) != 1 || !strings.Contains(runs[0].Details, `"closed_deleted":2`) {
			t.Fatalf("run events %+v", runs)
		}
		f.verifyAudit()
	})
}

// TestRetentionShredsDispatched: the default policy shreds nothing dispatched; with
// dispatched_years, a dispatched submission's key, title and body, its revisions', comments,
// evidence and stored letter and manifest go, and its record stays: the row (marked
// shredded), the dispatch with its date, recipients, Message-ID and hashes (kept from
// the manifest for a dispatch sent before they were recorded in the clear), the audit
// trail.
func TestRetentionShredsDispatched(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newRetentionFixture(t, db)
		ctx := context.Background()
		f.dispatchSettings()
		sub, file := f.draft(true)
		f.transition(f.editor, sub.ID, workflow.ActionSubmit, "")
		f.transition(f.reviewer, sub.ID, workflow.ActionApprove, "")
		runCtx, stop := context.WithCancel(ctx)
		if err := f.s.Dispatch.Start(runCtx); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			v, err := f.s.Workflow.Submission(ctx, f.reviewer, sub.ID)
			if err != nil {
				t.Fatal(err)
			}
			if v.State == workflow.Dispatched {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("state %s after 30 s", v.State)
			}
			time.Sleep(20 * time.Millisecond)
		}
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		f.s.Dispatch.Stop(stopCtx)
		cancel()
		stop()
		before, err := f.s.Dispatch.Dispatches(ctx, f.reviewer, sub.ID)
		if err != nil || len(before) != 1 || before[0].State != "sent" || len(before[0].SentFiles) != 2 {
			t.Fatalf("dispatches %+v %v", before, err)
		}
		d := before[0]
		var stored []string
		f.store.List(ctx, "tenants/"+f.admin.Tenant.ID+"/dispatches/"+d.ID+"/", func(i storage.Info) error {
			stored = append(stored, i.Key)
			return nil
		})
		if len(stored) < 2 {
			t.Fatalf("the dispatch stored %v", stored)
		}
		// As if sent before the hashes were recorded in the clear: retention must keep
		// them from the manifest before the key goes.
		if err := db.Conn(ctx).Table("dispatches").Where("id = ?", d.ID).UpdateColumn("sent_files", "[]").Error; err != nil {
			t.Fatal(err)
		}

		// The default policy never shreds, however old.
		f.clock.Add(20 * 365 * day)
		if r := f.retain(false); len(r.Items) != 0 || f.keyShredded(sub.ID) {
			t.Fatalf("the default policy: %+v", r)
		}
		f.policy(workflow.RetentionSettings{DispatchedYears: 25})
		if r := f.retain(false); len(r.Items) != 0 {
			t.Fatalf("25 years, 20 years after: %+v", r)
		}
		f.policy(workflow.RetentionSettings{DispatchedYears: 5})
		dry := f.retain(true)
		if items(dry) != "shred "+sub.ID+";" || f.keyShredded(sub.ID) {
			t.Fatalf("dry run: %s", items(dry))
		}
		r := f.retain(false)
		if items(r) != items(dry) || r.Shredded != 1 || r.FilesDeleted != 1 {
			t.Fatalf("run: %+v", r)
		}
		// A second run finds nothing more to do.
		if r := f.retain(false); len(r.Items) != 0 {
			t.Fatalf("second run: %+v", r)
		}

		// Gone: the key, the texts, the comments, the files.
		if !f.keyShredded(sub.ID) || !f.objectGone(file.ObjectKey) {
			t.Error("the key or the evidence file is still there")
		}
		for _, k := range stored {
			if !f.objectGone(k) {
				t.Errorf("%s is still stored", k)
			}
		}
		v, err := f.s.Workflow.Submission(ctx, f.reviewer, sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v.ShreddedAt == nil || v.Body != "" || v.State != workflow.Dispatched || v.Capabilities.Comment || v.Title != "" {
			t.Errorf("the shredded submission reads %+v", v)
		}
		rev, err := f.s.Workflow.Revision(ctx, f.reviewer, sub.ID, "1")
		if err != nil {
			t.Fatal(err)
		}
		if rev.Body != "" || rev.Title != "" || len(rev.Attachments) != 1 || rev.Attachments[0].FileName != "" || rev.Attachments[0].SHA256 != file.SHA256 {
			t.Errorf("revision 1 after shredding: %+v", rev)
		}
		if cs, err := f.s.Workflow.Comments(ctx, f.reviewer, sub.ID); err != nil || len(cs) != 0 {
			t.Errorf("comments %v %v", cs, err)
		}
		if _, err := f.s.Workflow.AddComment(ctx, f.reviewer, sub.ID, "More", nil); apperr.KindOf(err) != apperr.KindGone {
			t.Errorf("a comment on a shredded submission: %v, want shredded", err)
		}
		if _, _, err := f.s.Workflow.OpenAttachment(ctx, f.reviewer, file.ID, workflow.CopyOriginal); apperr.KindOf(err) != apperr.KindGone {
			t.Errorf("opening a shredded file: %v, want shredded", err)
		} else if e, _ := apperr.As(err); e.Code != apperr.CodeShredded {
			t.Errorf("code %s", e.Code)
		}
		if _, err := f.s.Dispatch.AsSent(ctx, f.reviewer, d.ID, "letter.pdf"); apperr.KindOf(err) != apperr.KindGone {
			t.Errorf("the sent letter: %v, want shredded", err)
		}
		if _, err := f.s.Dispatch.Letter(ctx, f.reviewer, sub.ID); apperr.KindOf(err) != apperr.KindGone {
			t.Errorf("the letter preview: %v, want shredded", err)
		}

		// Kept: the dispatch record with its hashes, read back from the manifest.
		after, err := f.s.Dispatch.Dispatches(ctx, f.reviewer, sub.ID)
		if err != nil || len(after) != 1 {
			t.Fatal(after, err)
		}
		a := after[0]
		if a.ShreddedAt == nil || a.MessageID != d.MessageID || a.SentAt == nil || !a.SentAt.Equal(*d.SentAt) ||
			len(a.Deliveries) != 1 || a.Deliveries[0].Address != "sandbox@alpha.test" || a.Deliveries[0].Status != "accepted" {
			t.Errorf("the dispatch record after shredding: %+v", a)
		}
		if len(a.SentFiles) != 2 || a.SentFiles[0].Role != dispatch.RoleLetter || a.SentFiles[0].SHA256 != d.SentFiles[0].SHA256 ||
			a.SentFiles[1].Role != dispatch.RoleEvidence || a.SentFiles[1].OriginalSHA256 != file.SHA256 {
			t.Errorf("sent files %+v, were %+v", a.SentFiles, d.SentFiles)
		}
		shredded := f.events("submission.shredded", sub.ID)
		if len(shredded) != 1 || !strings.Contains(shredded[0].Details, `"dispatched_years":5`) || !strings.Contains(shredded[0].Details, `"files":1`) ||
			!strings.Contains(shredded[0].Details, `"comments":1`) || !strings.Contains(shredded[0].Details, `"dispatches":1`) {
			t.Errorf("shred events %+v", shredded)
		}
		if evs, err := f.s.Workflow.Events(ctx, f.reviewer, sub.ID); err != nil || len(evs) < 5 {
			t.Errorf("the submission's timeline after shredding: %d events, %v", len(evs), err)
		}
		f.verifyAudit()
	})
}

// TestRetentionSettingsValidation: each bad value is named.
func TestRetentionSettingsValidation(t *testing.T) {
	for _, tt := range []struct {
		r     workflow.RetentionSettings
		field string
	}{
		{workflow.RetentionSettings{DraftDays: 29}, "retention.draft_days"},
		{workflow.RetentionSettings{DraftDays: -1}, "retention.draft_days"},
		{workflow.RetentionSettings{ClosedDays: 3651}, "retention.closed_days"},
		{workflow.RetentionSettings{DispatchedYears: -1}, "retention.dispatched_years"},
		{workflow.RetentionSettings{DispatchedYears: 101}, "retention.dispatched_years"},
		{workflow.RetentionSettings{DraftDays: 30, ClosedDays: 3650, DispatchedYears: 100}, ""},
		{workflow.RetentionSettings{}, ""},
	} {
		st := workflow.DefaultSettings()
		st.Retention = tt.r
		err := st.Validate()
		e, _ := apperr.As(err)
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%+v: %v", tt.r, err)
		case tt.field != "" && (e == nil || len(e.Fields) != 1 || e.Fields[0].Field != tt.field):
			t.Errorf("%+v: %v, want the field %s", tt.r, err, tt.field)
		}
	}
	if d := workflow.DefaultSettings().Retention; !d.Never() {
		t.Errorf("the default retention deletes: %+v", d)
	}
}
