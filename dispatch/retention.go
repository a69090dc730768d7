package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel"

	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/logctx"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

// Retention (ADR 0030) is the workflow's: it decides and deletes. This package gives it
// what belongs here (the warnings, sent as notifications; the dispatch records, whose
// hashes are kept and whose stored copies are shredded) and runs it every day.

var _ workflow.RetentionHooks = (*Service)(nil)

// RetentionArgs is the daily retention job: every tenant's policy is applied.
type RetentionArgs struct{}

// Kind names the job for River.
func (RetentionArgs) Kind() string { return "retention" }

// RetentionJobID names the periodic job that enqueues RetentionArgs.
const RetentionJobID = "retention"

// RetentionQueue is the queue of the retention job: one at a time, beside the
// dispatches rather than in their place.
const RetentionQueue = "maintenance"

// NoticeQueue is the queue of the notices to the portal's users (state changes,
// reminders, the ILO's answers): as many workers as the dispatches, beside them.
const NoticeQueue = "notices"

// retentionTimeout bounds one run over every tenant.
const retentionTimeout = 30 * time.Minute

// dailyAt is a schedule: every day at hour:00 UTC.
type dailyAt struct{ hour int }

// Next implements river.PeriodicSchedule.
func (d dailyAt) Next(t time.Time) time.Time {
	t = t.UTC()
	next := time.Date(t.Year(), t.Month(), t.Day(), d.hour, 0, 0, 0, time.UTC)
	if !next.After(t) {
		next = next.AddDate(0, 0, 1)
	}
	return next
}

// RetentionSchedule is when retention runs: every day at 03:00 UTC.
func RetentionSchedule() river.PeriodicSchedule { return dailyAt{hour: 3} }

// retentionJob is the periodic job. River's leader alone enqueues periodic jobs, and the
// job is unique per UTC day, so however many processes run, and even across a change of
// leader, retention runs once a day. It is safe to run twice anyway: each act is checked
// again under the submission's lock.
func retentionJob() *river.PeriodicJob {
	return river.NewPeriodicJob(RetentionSchedule(), func() (river.JobArgs, *river.InsertOpts) {
		return RetentionArgs{}, RetentionInsertOpts()
	}, &river.PeriodicJobOpts{ID: RetentionJobID})
}

// RetentionInsertOpts are how the periodic job enqueues a run: in RetentionQueue, at
// most one per UTC day.
func RetentionInsertOpts() *river.InsertOpts {
	return &river.InsertOpts{Queue: RetentionQueue, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByPeriod: 24 * time.Hour}}
}

// retentionWorker applies every tenant's retention policy.
type retentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	s *Service
}

// Timeout lets a run over many tenants take longer than a dispatch.
func (w *retentionWorker) Timeout(*river.Job[RetentionArgs]) time.Duration { return retentionTimeout }

// Work runs retention for every tenant. A tenant whose run failed makes the job fail,
// to be retried (what was done stays done; the rest is due again).
func (w *retentionWorker) Work(ctx context.Context, job *river.Job[RetentionArgs]) error {
	ctx = logctx.With(ctx, slog.String("job", job.Kind), slog.Int64("job_id", job.ID), slog.Int("attempt", job.Attempt))
	ctx, span := otel.Tracer("github.com/unionportal/unionportal/dispatch").Start(ctx, "job "+job.Kind)
	defer span.End()
	reports, err := w.s.wf.RetainAll(ctx, workflow.RetentionRun{By: "job"})
	warned, deleted, shredded := 0, 0, 0
	for _, r := range reports {
		warned += r.Warned
		deleted += r.DraftsDeleted + r.ClosedDeleted
		shredded += r.Shredded
	}
	w.s.opts.Logger.InfoContext(ctx, "retention ran", "tenants", len(reports), "warned", warned, "deleted", deleted, "shredded", shredded)
	return err
}

// WarnDeletion enqueues, in the transaction ctx carries, the notification that tells a
// draft's editors it will be deleted: like every notification, it names the case and
// the date, never the draft's title or text.
func (s *Service) WarnDeletion(ctx context.Context, sub workflow.Submission, idleDays int, deleteAt time.Time) error {
	tx, ok := s.db.SQLTx(ctx)
	if !ok {
		return errors.New("dispatch: WarnDeletion outside a transaction")
	}
	notice := fmt.Sprintf("has not been changed for %d days and will be deleted on or after %s under your federation's retention policy, "+
		"unless it is edited before then", idleDays, deleteAt.UTC().Format("2 January 2006"))
	_, err := s.client.InsertTx(ctx, tx, NotifyArgs{TenantID: sub.TenantID, SubmissionID: sub.ID, State: sub.State,
		Authors: true, Notice: notice}, nil)
	return err
}

// KeepSentRecord copies the sizes and hashes of what each sent dispatch of the
// submission sent from its manifest, which is encrypted under the submission's data
// key, into the record's sent_files, where they outlive the key. Dispatches sent since
// sent_files exists have them already. A manifest that is missing or does not decrypt
// has nothing left to keep; a store that does not answer is an error (retried).
func (s *Service) KeepSentRecord(ctx context.Context, tenantID, submissionID string) error {
	var ds []Dispatch
	if err := s.db.Conn(ctx).Where("tenant_id = ? AND submission_id = ? AND state = 'sent' AND manifest_key <> '' AND shredded_at IS NULL",
		tenantID, submissionID).Find(&ds).Error; err != nil {
		return err
	}
	for _, d := range ds {
		if len(d.SentFiles) > 0 {
			continue
		}
		m, err := s.readManifest(ctx, &d)
		if errors.Is(err, storage.ErrNotExist) || errors.Is(err, keys.ErrUnreadable) || errors.Is(err, keys.ErrShredded) {
			s.opts.Logger.WarnContext(ctx, "a dispatch's manifest cannot be read; its hashes cannot be kept", "dispatch_id", d.ID, "error", err)
			continue
		}
		if err != nil {
			return err
		}
		b, err := json.Marshal(sentFiles(m.Files))
		if err != nil {
			return err
		}
		if err := s.db.Conn(ctx).Model(&Dispatch{}).Where("id = ?", d.ID).UpdateColumn("sent_files", string(b)).Error; err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) readManifest(ctx context.Context, d *Dispatch) (*Manifest, error) {
	obj, err := s.files.Open(ctx, d.TenantID, d.SubmissionID, d.ManifestKey)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	var m Manifest
	if err := json.NewDecoder(obj).Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: manifest of dispatch %s: %v", keys.ErrUnreadable, d.ID, err)
	}
	return &m, nil
}

// ShredSent marks every dispatch of the submission shredded at at, in the transaction
// ctx carries, forgetting where its letter and manifest were kept, and returns the keys
// of what it kept in the store (letter, manifest, the cleaned copies of the attachments
// named, encrypted or from before encryption) for the caller to delete after the commit.
// The records themselves stay: date, recipients and their answers, Message-ID, hashes.
func (s *Service) ShredSent(ctx context.Context, tenantID, submissionID string, attachmentIDs []string, at time.Time) ([]string, int, error) {
	var ds []Dispatch
	if err := s.db.Conn(ctx).Select("id, letter_key, manifest_key").Where("tenant_id = ? AND submission_id = ?", tenantID, submissionID).
		Find(&ds).Error; err != nil {
		return nil, 0, err
	}
	var objects []string
	for _, d := range ds {
		for _, k := range []string{d.LetterKey, d.ManifestKey} {
			if k != "" {
				objects = append(objects, k)
			}
		}
		for _, id := range attachmentIDs {
			k := storage.DispatchEvidenceKey(tenantID, d.ID, id)
			objects = append(objects, keys.SealedKey(k), k)
		}
	}
	err := s.db.Conn(ctx).Model(&Dispatch{}).Where("tenant_id = ? AND submission_id = ? AND shredded_at IS NULL", tenantID, submissionID).
		UpdateColumns(map[string]any{"letter_key": "", "manifest_key": "", "shredded_at": at}).Error
	return objects, len(ds), err
}
