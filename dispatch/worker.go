package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/logctx"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

// worker sends one dispatch. It is safe to run more than once for the same dispatch
// (River delivers at least once): the Message-ID is the dispatch's, the letter is
// rendered once and stored, a dispatch the relay accepted is not sent again (its record
// is completed), and a dispatch already finished is left alone.
type worker struct {
	river.WorkerDefaults[Args]
	s *Service
}

// Work loads what the e-mail needs, sends it, and records the outcome together with the
// job's completion.
func (w *worker) Work(ctx context.Context, job *river.Job[Args]) error {
	s := w.s
	ctx = logctx.With(ctx, slog.String("job", job.Kind), slog.Int64("job_id", job.ID), slog.Int("attempt", job.Attempt),
		slog.String("dispatch_id", job.Args.DispatchID))
	ctx, span := otel.Tracer("github.com/unionportal/unionportal/dispatch").Start(ctx, "job "+job.Kind)
	defer span.End()
	var d Dispatch
	if err := s.db.Conn(ctx).Where("id = ?", job.Args.DispatchID).First(&d).Error; err != nil {
		return err
	}
	if d.State != "queued" && !(d.State == "sent" && d.SentAt != nil) {
		return nil // done by an earlier run
	}
	// What the final approval froze goes out: the approved revision and its evidence,
	// and the settings and case as they were then, whatever changed since.
	in, err := s.wf.DispatchInputFor(ctx, d.TenantID, d.SubmissionID, d.Revision)
	if err != nil {
		return err
	}
	sub, snap := in.Submission, in.Snapshot
	c, ds := snap.Case.AsCase(), snap.Dispatch

	letter, err := w.letter(ctx, &d, ds, c, sub)
	if isRenderStopped(err) {
		return w.renderStopped(ctx, job, &d, err)
	}
	if err != nil {
		return err
	}
	e := &envelope{w: w, d: &d, in: in, letter: letter}
	defer e.close()
	msg, err := e.build(ctx)
	recipients, files := e.rcpts, e.files
	if err != nil {
		var perm permanentError
		if errors.As(err, &perm) {
			return w.finish(ctx, job, &d, recipients, false, err.Error(), nil)
		}
		return err
	}
	if d.State == "sent" {
		// An earlier run was cut off (a killed process) after the relay accepted the
		// e-mail: complete its record, do not send it again.
		s.opts.Logger.InfoContext(ctx, "dispatch accepted by the relay in an earlier attempt; completing its record", "dispatch_id", d.ID)
	} else {
		if err := s.opts.Sender.Send(ctx, msg); err != nil {
			d.Attempts = job.Attempt
			if errors.Is(err, ErrTemporary) && job.Attempt < job.MaxAttempts {
				return w.retryLater(ctx, job, &d, err.Error(), err)
			}
			return w.finish(ctx, job, &d, recipients, false, err.Error(), nil)
		}
		if err := w.accepted(ctx, job, &d); err != nil {
			return err
		}
	}
	manifest := &Manifest{DispatchID: d.ID, MessageID: d.MessageID, SentAt: *d.SentAt,
		Sandbox: d.Sandbox, Recipients: recipients, Files: files, Revision: d.Revision,
		ApprovalSnapshot: ManifestSnapshot{SHA256: snap.SHA256, ApprovedAt: snap.CreatedAt, From: ds.From,
			ReplyTo: ds.ReplyTo, Letterhead: ds.Letterhead, Signatory: ds.Signatory, Case: snap.Case}}
	return w.finish(ctx, job, &d, recipients, true, "250 accepted", manifest)
}

// accepted records, at once and alone, that the relay accepted the e-mail, before the
// slower rest of the record (the manifest in the store, the deliveries, the
// submission's state, the job's completion). A process killed in between leaves a
// dispatch in state sent whose job runs again and completes the record without sending
// again; only a kill between the relay's answer and this one UPDATE sends the e-mail
// twice, with the same Message-ID (ADR 0027). Its context is the job's without its
// deadline: the e-mail is gone, its record must not be cut short.
func (w *worker) accepted(ctx context.Context, job *river.Job[Args], d *Dispatch) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	now := time.Now().UTC()
	err := w.s.db.Conn(ctx).Model(&Dispatch{}).Where("id = ? AND state = 'queued'", d.ID).
		Updates(map[string]any{"state": "sent", "sent_at": now, "attempts": job.Attempt, "last_error": ""}).Error
	if err != nil {
		return err
	}
	d.State, d.SentAt = "sent", &now
	return nil
}

// renderStopped fails an attempt whose letter did not render within RenderTimeout or
// the job's own deadline: recorded with its reason, and retried later like a temporary
// delivery failure; the last attempt fails the dispatch. The job's context may be what
// ended, so the record is written with a context of its own.
func (w *worker) renderStopped(ctx context.Context, job *river.Job[Args], d *Dispatch, err error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	reason := "the letter could not be rendered in time (" + CodeRenderTimeout + ")"
	d.Attempts = job.Attempt
	if job.Attempt < job.MaxAttempts {
		return w.retryLater(ctx, job, d, reason, fmt.Errorf("%s: %w", reason, err))
	}
	return w.finish(ctx, job, d, nil, false, reason, nil)
}

// retryLater records an attempt that failed for a reason a later one may not meet, and
// returns err for River to schedule the retry.
func (w *worker) retryLater(ctx context.Context, job *river.Job[Args], d *Dispatch, reason string, err error) error {
	s := w.s
	if uerr := s.db.Conn(ctx).Model(&Dispatch{}).Where("id = ?", d.ID).
		Updates(map[string]any{"attempts": job.Attempt, "last_error": truncate(reason, 2000)}).Error; uerr != nil {
		s.opts.Logger.WarnContext(ctx, "could not record a failed dispatch attempt", "dispatch_id", d.ID, "error", uerr)
	}
	s.opts.Logger.WarnContext(ctx, "dispatch failed; will retry", "dispatch_id", d.ID, "attempt", job.Attempt, "error", err)
	s.metrics.retried.Inc()
	return err
}

// permanentError is a failure no retry will mend (an evidence file whose hash changed).
type permanentError struct{ error }

// letter renders the letter once per dispatch and keeps the exact bytes sent.
func (w *worker) letter(ctx context.Context, d *Dispatch, ds workflow.DispatchSettings, c workflow.Case, sub workflow.Submission) ([]byte, error) {
	s := w.s
	if d.LetterKey != "" {
		obj, err := s.files.Open(ctx, d.TenantID, d.SubmissionID, d.LetterKey)
		if err == nil {
			defer obj.Close()
			return io.ReadAll(obj)
		}
		if !errors.Is(err, storage.ErrNotExist) {
			return nil, err
		}
	}
	l := Letter{Settings: ds, Case: c, Submission: sub, Date: d.CreatedAt, Sandbox: d.Sandbox}
	pdf, err := s.render(ctx, &l)
	if err != nil {
		return nil, err
	}
	key := keys.SealedKey(storage.LetterKey(d.TenantID, d.ID))
	if err := s.files.Put(ctx, d.TenantID, d.SubmissionID, key, bytes.NewReader(pdf), int64(len(pdf))); err != nil {
		return nil, err
	}
	if err := s.db.Conn(ctx).Model(&Dispatch{}).Where("id = ?", d.ID).Update("letter_key", key).Error; err != nil {
		return nil, err
	}
	d.LetterKey = key
	return pdf, nil
}

// finish records the outcome, the deliveries, the submission's new state and the job's
// completion in one transaction.
func (w *worker) finish(ctx context.Context, job *river.Job[Args], d *Dispatch, rcpts []ManifestRecipient, sent bool, response string, manifest *Manifest) error {
	s := w.s
	now := time.Now().UTC()
	var manifestKey string
	if manifest != nil {
		b, _ := json.MarshalIndent(manifest, "", "  ")
		manifestKey = keys.SealedKey(storage.ManifestKey(d.TenantID, d.ID))
		if err := s.files.Put(ctx, d.TenantID, d.SubmissionID, manifestKey, bytes.NewReader(b), int64(len(b))); err != nil {
			return err
		}
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		status, state := "accepted", "sent"
		if !sent {
			status, state = "rejected", "failed"
		}
		for _, r := range rcpts {
			if err := s.db.Conn(ctx).Create(&Delivery{ID: database.NewID(), DispatchID: d.ID, Address: r.Address, Kind: r.Kind,
				Status: status, Response: truncate(response, 2000), CreatedAt: now}).Error; err != nil {
				return err
			}
		}
		updates := map[string]any{"state": state, "attempts": job.Attempt, "last_error": "", "manifest_key": manifestKey}
		if manifest != nil {
			// The hashes in the clear too: the manifest is encrypted under the submission's
			// key, which retention may shred (ADR 0030).
			b, err := json.Marshal(sentFiles(manifest.Files))
			if err != nil {
				return err
			}
			updates["sent_files"] = string(b)
		}
		if !sent {
			updates["last_error"] = truncate(response, 2000)
		}
		// Queued, or sent by accepted (this run's or a cut-off one's).
		res := s.db.Conn(ctx).Model(&Dispatch{}).Where("id = ? AND state IN ('queued', 'sent')", d.ID).Updates(updates)
		if res.Error != nil {
			return res.Error
		}
		if err := s.wf.CompleteDispatch(ctx, d.TenantID, d.SubmissionID, d.ID, d.MessageID, sent, truncate(response, 500)); err != nil {
			return err
		}
		tx, _ := s.db.SQLTx(ctx)
		return s.complete(ctx, tx, job)
	})
	if err != nil {
		return err
	}
	if !sent {
		s.metrics.failed.Inc()
		s.opts.Logger.ErrorContext(ctx, "dispatch failed", "dispatch_id", d.ID, "submission_id", d.SubmissionID, "response", response)
	} else {
		s.metrics.sent.Inc()
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
