package workflow

import (
	"context"
	"encoding/json"
	"time"

	"gorm.io/gorm"

	"github.com/unionportal/unionportal/audit"
)

// act does what c.item says, in a transaction of its own in which the submission is
// locked and found due again (an editor may have touched it since the list was made).
// It returns how many evidence files went, and false when it was no longer due.
func (s *Service) act(ctx context.Context, tenantID string, c retentionCandidate, p RetentionSettings, run RetentionRun) (int, bool, error) {
	switch c.item.Action {
	case RetentionWarn:
		done, err := s.warnForRetention(ctx, tenantID, c.item, p, run)
		return 0, done, err
	case RetentionShred:
		// The hashes of what was sent must be in the clear before the key goes.
		if err := s.retentionHooks.KeepSentRecord(ctx, tenantID, c.item.SubmissionID); err != nil {
			return 0, false, err
		}
		return s.shredForRetention(ctx, tenantID, c.item, p, run)
	}
	return s.deleteForRetention(ctx, tenantID, c.item, p, run)
}

// stillDue locks the submission of item and reports whether the policy still does
// item.Action to it at now, in the transaction ctx carries.
func (s *Service) stillDue(ctx context.Context, tenantID string, item RetentionItem, p RetentionSettings, now time.Time) (*retentionCandidate, bool, error) {
	cs, _, err := s.retentionCandidates(ctx, tenantID, item.SubmissionID, []State{item.State}, now)
	if err != nil || len(cs) == 0 {
		return nil, false, err
	}
	c := cs[0]
	again, ok := retentionDue(c.sub, c.last, p, now)
	if !ok || again.Action != item.Action {
		return nil, false, nil
	}
	c.item = again
	return &c, true, nil
}

// warnForRetention tells a draft's editors that it will be deleted, once per idle
// period: the time of the warning is kept on the row, without changing its last change.
func (s *Service) warnForRetention(ctx context.Context, tenantID string, item RetentionItem, p RetentionSettings, run RetentionRun) (bool, error) {
	done := false
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		c, ok, err := s.stillDue(ctx, tenantID, item, p, run.Now)
		if err != nil || !ok {
			return err
		}
		// UpdateColumn: gorm would otherwise set updated_at, the draft's last change.
		if err := s.db.Conn(ctx).Model(&Submission{}).Where("id = ?", c.sub.ID).UpdateColumn("retention_warned_at", run.Now).Error; err != nil {
			return err
		}
		if err := s.retentionHooks.WarnDeletion(ctx, c.sub, c.item.IdleDays, *c.item.DeleteAt); err != nil {
			return err
		}
		done = true
		return s.retentionEvent(ctx, tenantID, "submission.retention_warned", "submission", c.sub.ID, run.Now, map[string]any{
			"by": run.By, "draft_days": p.DraftDays, "idle_days": c.item.IdleDays, "delete_at": c.item.DeleteAt})
	})
	return done, err
}

// deleteForRetention deletes a draft or a closed submission with everything of it: its
// rows, its data key (so that any copy of its texts and files, in backups too, stays
// unreadable) and, once that committed, its evidence objects.
func (s *Service) deleteForRetention(ctx context.Context, tenantID string, item RetentionItem, p RetentionSettings, run RetentionRun) (int, bool, error) {
	var objects []string
	done := false
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		objects, done = nil, false
		c, ok, err := s.stillDue(ctx, tenantID, item, p, run.Now)
		if err != nil || !ok {
			return err
		}
		id := c.sub.ID
		if err := s.db.Conn(ctx).Model(&Attachment{}).Where("submission_id = ?", id).Pluck("object_key", &objects).Error; err != nil {
			return err
		}
		conn := s.db.Conn(ctx)
		for _, del := range []struct {
			model any
			where string
		}{
			{&Approval{}, "submission_id = ?"}, {&snapshotRow{}, "submission_id = ?"}, {&Revision{}, "submission_id = ?"},
			{&Comment{}, "submission_id = ?"}, {&Attachment{}, "submission_id = ?"}, {&contributor{}, "submission_id = ?"},
			{&Submission{}, "id = ?"},
		} {
			if err := conn.Where(del.where, id).Delete(del.model).Error; err != nil {
				return err
			}
		}
		if err := s.opts.Keys.ShredSubmission(ctx, id); err != nil {
			return err
		}
		done = true
		details := map[string]any{"by": run.By, "state": c.sub.State, "idle_days": c.item.IdleDays, "files": len(objects)}
		if c.sub.State == Draft {
			details["draft_days"] = p.DraftDays
		} else {
			details["closed_days"] = p.ClosedDays
		}
		return s.retentionEvent(ctx, tenantID, "submission.deleted", "submission", id, run.Now, details)
	})
	if err != nil || !done {
		return 0, done, err
	}
	s.deleteObjects(ctx, objects...)
	return len(objects), true, nil
}

// shredForRetention crypto-shreds a dispatched submission: its data key is deleted, its
// title and body and its revisions' blanked (a title is text its authors wrote, and may
// name people), its comments deleted, its evidence files deleted (their rows keep size,
// type and hash, without the file's name), and the dispatch package marks its
// dispatches shredded and gives the objects they kept. Approvals, snapshots and the
// dispatch records stay.
func (s *Service) shredForRetention(ctx context.Context, tenantID string, item RetentionItem, p RetentionSettings, run RetentionRun) (int, bool, error) {
	var objects []string
	files, done := 0, false
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		objects, files, done = nil, 0, false
		c, ok, err := s.stillDue(ctx, tenantID, item, p, run.Now)
		if err != nil || !ok {
			return err
		}
		id := c.sub.ID
		conn := s.db.Conn(ctx)
		var atts []Attachment
		if err := conn.Select("id, object_key").Where("submission_id = ?", id).Find(&atts).Error; err != nil {
			return err
		}
		attachmentIDs := make([]string, 0, len(atts))
		for _, a := range atts {
			attachmentIDs = append(attachmentIDs, a.ID)
			if a.ObjectKey != "" {
				objects = append(objects, a.ObjectKey)
			}
		}
		files = len(objects)
		if err := conn.Model(&Attachment{}).Where("submission_id = ?", id).
			UpdateColumns(map[string]any{"object_key": "", "file_name": "", "metadata_found": "[]"}).Error; err != nil {
			return err
		}
		revisions, err := s.blankRevisions(ctx, id)
		if err != nil {
			return err
		}
		res := conn.Where("submission_id = ?", id).Delete(&Comment{})
		if res.Error != nil {
			return res.Error
		}
		comments := res.RowsAffected
		if err := conn.Model(&Submission{}).Where("id = ?", id).UpdateColumns(map[string]any{"title": "", "body": "", "shredded_at": run.Now,
			"version": gorm.Expr("version + 1"), "updated_at": run.Now}).Error; err != nil {
			return err
		}
		sent, dispatches, err := s.retentionHooks.ShredSent(ctx, tenantID, id, attachmentIDs, run.Now)
		if err != nil {
			return err
		}
		objects = append(objects, sent...)
		if err := s.opts.Keys.ShredSubmission(ctx, id); err != nil {
			return err
		}
		done = true
		return s.retentionEvent(ctx, tenantID, "submission.shredded", "submission", id, run.Now, map[string]any{
			"by": run.By, "dispatched_years": p.DispatchedYears, "idle_days": c.item.IdleDays, "files": files,
			"revisions": revisions, "comments": comments, "dispatches": dispatches})
	})
	if err != nil || !done {
		return 0, done, err
	}
	s.deleteObjects(ctx, objects...)
	return files, true, nil
}

// blankRevisions empties the titles and bodies of a submission's revisions and the file
// names of the evidence they list (sizes, types and hashes stay), and returns how many
// there are.
func (s *Service) blankRevisions(ctx context.Context, submissionID string) (int, error) {
	var revs []Revision
	if err := s.db.Conn(ctx).Select("id, attachments").Where("submission_id = ?", submissionID).Find(&revs).Error; err != nil {
		return 0, err
	}
	for _, r := range revs {
		for i := range r.SealedAttachments {
			r.SealedAttachments[i].FileName = ""
		}
		if r.SealedAttachments == nil {
			r.SealedAttachments = []AttachmentSnap{}
		}
		snaps, err := json.Marshal(r.SealedAttachments)
		if err != nil {
			return 0, err
		}
		if err := s.db.Conn(ctx).Model(&Revision{}).Where("id = ?", r.ID).
			UpdateColumns(map[string]any{"title": "", "body": "", "attachments": string(snaps)}).Error; err != nil {
			return 0, err
		}
	}
	return len(revs), nil
}

// retentionEvent records what retention did in the tenant's audit chain: counts, ids
// and the policy, never a title or a text.
func (s *Service) retentionEvent(ctx context.Context, tenantID, action, objectType, objectID string, at time.Time, details map[string]any) error {
	_, err := audit.Record(ctx, s.db, audit.Entry{TenantID: tenantID, Action: action, ObjectType: objectType, ObjectID: objectID,
		Details: details, At: at})
	return err
}
