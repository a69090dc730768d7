package dispatch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/microcosm-cc/bluemonday"
	"github.com/riverqueue/river"
	"github.com/wneessen/go-mail"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

// worker sends one dispatch. It is safe to run more than once for the same dispatch
// (River delivers at least once): the Message-ID is the dispatch's, the letter is
// rendered once and stored, and a dispatch already sent is left alone.
type worker struct {
	river.WorkerDefaults[Args]
	s *Service
}

// Work loads what the e-mail needs, sends it, and records the outcome together with the
// job's completion.
func (w *worker) Work(ctx context.Context, job *river.Job[Args]) error {
	s := w.s
	var d Dispatch
	if err := s.db.Conn(ctx).Where("id = ?", job.Args.DispatchID).First(&d).Error; err != nil {
		return err
	}
	if d.State != "queued" {
		return nil // done by an earlier run
	}
	var sub workflow.Submission
	if err := s.db.Conn(ctx).Where("id = ?", d.SubmissionID).First(&sub).Error; err != nil {
		return err
	}
	var rev workflow.Revision
	if err := s.db.Conn(ctx).Where("submission_id = ? AND number = ?", sub.ID, d.Revision).First(&rev).Error; err != nil {
		return err
	}
	var slug string
	if err := s.db.Conn(ctx).Table("tenants").Where("id = ?", sub.TenantID).Pluck("slug", &slug).Error; err != nil {
		return err
	}
	// What the final approval froze goes out: the approved revision, and the settings
	// and case as they were then, whatever changed since.
	snap, err := s.wf.SnapshotFor(ctx, sub.TenantID, sub.ID, d.Revision)
	if err != nil {
		return err
	}
	sub.Title, sub.Body, sub.Language = rev.Title, rev.Body, rev.Language
	c, ds := snap.Case.AsCase(), snap.Dispatch

	letter, err := w.letter(ctx, &d, ds, c, sub)
	if isRenderStopped(err) {
		return w.renderStopped(ctx, job, &d, err)
	}
	if err != nil {
		return err
	}
	var open []io.Closer // evidence streams, read while the message is sent
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	msg, recipients, files, err := w.message(ctx, &d, slug, ds, c, sub, rev, letter, &open)
	if err != nil {
		var perm permanentError
		if errors.As(err, &perm) {
			return w.finish(ctx, job, &d, recipients, false, err.Error(), nil)
		}
		return err
	}
	if err := s.opts.Sender.Send(ctx, msg); err != nil {
		d.Attempts = job.Attempt
		if errors.Is(err, ErrTemporary) && job.Attempt < job.MaxAttempts {
			s.db.Conn(ctx).Model(&Dispatch{}).Where("id = ?", d.ID).Updates(map[string]any{"attempts": job.Attempt, "last_error": err.Error()})
			s.opts.Logger.Warn("dispatch failed; will retry", "dispatch_id", d.ID, "attempt", job.Attempt, "error", err)
			s.metrics.retried.Inc()
			return err
		}
		return w.finish(ctx, job, &d, recipients, false, err.Error(), nil)
	}
	manifest := map[string]any{"dispatch_id": d.ID, "message_id": "<" + d.MessageID + ">", "sent_at": time.Now().UTC(),
		"sandbox": d.Sandbox, "recipients": recipients, "files": files, "revision": d.Revision,
		"approval_snapshot": map[string]any{"sha256": snap.SHA256, "approved_at": snap.CreatedAt, "from": ds.From,
			"reply_to": ds.ReplyTo, "letterhead": ds.Letterhead, "signatory": ds.Signatory, "case": snap.Case}}
	return w.finish(ctx, job, &d, recipients, true, "250 accepted", manifest)
}

// renderStopped fails an attempt whose letter did not render within RenderTimeout or
// the job's own deadline: recorded with its reason, and retried later like a temporary
// delivery failure; the last attempt fails the dispatch. The job's context may be what
// ended, so the record is written with a context of its own.
func (w *worker) renderStopped(ctx context.Context, job *river.Job[Args], d *Dispatch, err error) error {
	s := w.s
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	reason := "the letter could not be rendered in time (" + CodeRenderTimeout + ")"
	d.Attempts = job.Attempt
	if job.Attempt < job.MaxAttempts {
		s.db.Conn(ctx).Model(&Dispatch{}).Where("id = ?", d.ID).Updates(map[string]any{"attempts": job.Attempt, "last_error": reason})
		s.opts.Logger.Warn("dispatch failed; will retry", "dispatch_id", d.ID, "attempt", job.Attempt, "error", err)
		s.metrics.retried.Inc()
		return fmt.Errorf("%s: %w", reason, err)
	}
	return w.finish(ctx, job, d, nil, false, reason, nil)
}

// permanentError is a failure no retry will mend (an evidence file whose hash changed).
type permanentError struct{ error }

// letter renders the letter once per dispatch and keeps the exact bytes sent.
func (w *worker) letter(ctx context.Context, d *Dispatch, ds workflow.DispatchSettings, c workflow.Case, sub workflow.Submission) ([]byte, error) {
	s := w.s
	if d.LetterKey != "" {
		obj, err := s.store.Open(ctx, d.LetterKey)
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
	key := "tenants/" + d.TenantID + "/dispatches/" + d.ID + "/letter.pdf"
	if err := s.store.Put(ctx, key, bytes.NewReader(pdf), int64(len(pdf)), "application/pdf"); err != nil {
		return nil, err
	}
	if err := s.db.Conn(ctx).Model(&Dispatch{}).Where("id = ?", d.ID).Update("letter_key", key).Error; err != nil {
		return nil, err
	}
	d.LetterKey = key
	return pdf, nil
}

// sentFile is one file of a sent e-mail, for the manifest.
type sentFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Link is set when the file went as a download link instead of an attachment.
	Link bool `json:"link,omitempty"`
}

type recipient struct {
	Address string `json:"address"`
	Kind    string `json:"kind"`
}

// oneLine keeps user text out of header structure: no line breaks, no control bytes.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }), " ")
}

// message builds the e-mail.
func (w *worker) message(ctx context.Context, d *Dispatch, slug string, ds workflow.DispatchSettings, c workflow.Case, sub workflow.Submission,
	rev workflow.Revision, letter []byte, open *[]io.Closer) (*mail.Msg, []recipient, []sentFile, error) {
	msg := mail.NewMsg()
	var rcpts []recipient
	if err := msg.FromFormat(oneLine(ds.From.Name), ds.From.Address); err != nil {
		return nil, nil, nil, permanentError{fmt.Errorf("sender address: %w", err)}
	}
	if ds.ReplyTo != "" {
		if err := msg.ReplyTo(ds.ReplyTo); err != nil {
			return nil, nil, nil, permanentError{err}
		}
	}
	if d.Sandbox {
		if err := msg.AddToFormat("Sandbox", ds.SandboxRecipient); err != nil {
			return nil, nil, nil, permanentError{err}
		}
		rcpts = append(rcpts, recipient{ds.SandboxRecipient, "to"})
	} else {
		for _, r := range ds.Recipients {
			var err error
			switch r.Kind {
			case "to":
				err = msg.AddToFormat(oneLine(r.Name), r.Address)
			case "cc":
				err = msg.AddCcFormat(oneLine(r.Name), r.Address)
			case "bcc":
				err = msg.AddBccFormat(oneLine(r.Name), r.Address)
			}
			if err != nil {
				return nil, nil, nil, permanentError{err}
			}
			rcpts = append(rcpts, recipient{r.Address, r.Kind})
		}
	}
	subject := "Case No. " + c.Number + " (" + CountryName(c.Country) + "): " + oneLine(sub.Title)
	if c.Number == "" {
		subject = Subject(c, sub.Kind) + ": " + oneLine(sub.Title)
	}
	if d.Sandbox {
		subject = "[TEST] " + subject
	}
	msg.Subject(subject)
	msg.SetMessageIDWithValue(d.MessageID)
	msg.SetDateWithValue(d.CreatedAt)

	sum := sha256.Sum256(letter)
	files := []sentFile{{Name: "letter.pdf", Size: int64(len(letter)), SHA256: hex.EncodeToString(sum[:])}}
	total := int64(len(letter))
	for _, a := range rev.Attachments {
		total += a.Size
	}
	asLinks := total > ds.MaxEmailBytes && ds.MaxEmailBytes > 0
	var links []string
	if err := msg.AttachReader(letterName(c), bytes.NewReader(letter), mail.WithFileContentType("application/pdf")); err != nil {
		return nil, nil, nil, err
	}
	for _, a := range rev.Attachments {
		var key string
		if err := w.s.db.Conn(ctx).Table("attachments").Where("id = ?", a.ID).Pluck("object_key", &key).Error; err != nil {
			return nil, nil, nil, err
		}
		if asLinks {
			u, err := w.s.store.PresignGet(ctx, key, 7*24*time.Hour, a.FileName)
			if errors.Is(err, storage.ErrUnsupported) {
				// Local storage has no presigned URLs: the portal's own download, behind its login.
				u = strings.TrimRight(w.s.opts.BaseURL.String(), "/") + "/api/v1/tenants/" + slug + "/attachments/" + a.ID + "/content"
			} else if err != nil {
				return nil, nil, nil, err
			}
			links = append(links, a.FileName+": "+u)
			files = append(files, sentFile{Name: a.FileName, Size: a.Size, SHA256: a.SHA256, Link: true})
			continue
		}
		obj, err := w.s.store.Open(ctx, key)
		if err != nil {
			return nil, nil, nil, err
		}
		*open = append(*open, obj)
		// The file must be the one that was approved: its hash, checked before it goes.
		h := sha256.New()
		if _, err := io.Copy(h, obj); err != nil {
			return nil, nil, nil, err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != a.SHA256 {
			return nil, nil, nil, permanentError{fmt.Errorf("evidence file %s changed in storage (SHA-256 %s, approved %s)", a.ID, got, a.SHA256)}
		}
		if _, err := obj.Seek(0, io.SeekStart); err != nil {
			return nil, nil, nil, err
		}
		msg.AttachReadSeeker(a.FileName, obj, mail.WithFileContentType(mail.ContentType(a.ContentType)))
		files = append(files, sentFile{Name: a.FileName, Size: a.Size, SHA256: a.SHA256})
	}
	text, html := bodies(ds, c, sub, links, d.Sandbox)
	msg.SetBodyString(mail.TypeTextPlain, text)
	msg.AddAlternativeString(mail.TypeTextHTML, html)
	return msg, rcpts, files, nil
}

func letterName(c workflow.Case) string {
	if c.Number == "" {
		return "letter.pdf"
	}
	return "Case-" + c.Number + "-letter.pdf"
}

var htmlPolicy = bluemonday.UGCPolicy()

// bodies is the e-mail text: a short cover note; the letter itself is the PDF.
func bodies(ds workflow.DispatchSettings, c workflow.Case, sub workflow.Submission, links []string, sandbox bool) (string, string) {
	var t strings.Builder
	if sandbox {
		t.WriteString("TEST: this message was sent in sandbox mode and has not been sent to the ILO.\n\n")
	}
	fmt.Fprintf(&t, "%s\n\nPlease find attached our letter: %s.\n", Subject(c, sub.Kind), oneLine(sub.Title))
	if len(links) > 0 {
		t.WriteString("\nThe evidence is too large for e-mail; it can be downloaded for 7 days from:\n")
		for _, l := range links {
			t.WriteString("  " + l + "\n")
		}
	}
	fmt.Fprintf(&t, "\n%s\n%s\n%s\n", ds.Signatory.Name, ds.Signatory.Title, ds.Letterhead.Organization)
	html := "<pre style=\"font-family:sans-serif;white-space:pre-wrap\">" + htmlPolicy.Sanitize(htmlEscape(t.String())) + "</pre>"
	return t.String(), html
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// finish records the outcome, the deliveries, the submission's new state and the job's
// completion in one transaction.
func (w *worker) finish(ctx context.Context, job *river.Job[Args], d *Dispatch, rcpts []recipient, sent bool, response string, manifest map[string]any) error {
	s := w.s
	now := time.Now().UTC()
	var manifestKey string
	if manifest != nil {
		b, _ := json.MarshalIndent(manifest, "", "  ")
		manifestKey = "tenants/" + d.TenantID + "/dispatches/" + d.ID + "/manifest.json"
		if err := s.store.Put(ctx, manifestKey, bytes.NewReader(b), int64(len(b)), "application/json"); err != nil {
			return err
		}
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		status, state := "accepted", "sent"
		if !sent {
			status, state = "rejected", "failed"
		}
		for _, r := range rcpts {
			if err := s.db.Conn(ctx).Create(&Delivery{ID: auth.NewID(), DispatchID: d.ID, Address: r.Address, Kind: r.Kind,
				Status: status, Response: truncate(response, 2000), CreatedAt: now}).Error; err != nil {
				return err
			}
		}
		updates := map[string]any{"state": state, "attempts": job.Attempt, "last_error": "", "manifest_key": manifestKey}
		if sent {
			updates["sent_at"] = now
		} else {
			updates["last_error"] = truncate(response, 2000)
		}
		res := s.db.Conn(ctx).Model(&Dispatch{}).Where("id = ? AND state = 'queued'", d.ID).Updates(updates)
		if res.Error != nil {
			return res.Error
		}
		if err := s.wf.CompleteDispatch(ctx, d.TenantID, d.SubmissionID, d.ID, sent, truncate(response, 500)); err != nil {
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
		s.opts.Logger.Error("dispatch failed", "dispatch_id", d.ID, "submission_id", d.SubmissionID, "response", response)
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
