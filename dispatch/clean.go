package dispatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/scrub"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

// Evidence leaves the portal without its identifying metadata (ADR 0028): the copy
// attached to the e-mail, or stored for a download link, is cleaned by the scrub
// package after the original's hash was checked. The manifest records both hashes.

// sentCopy is what goes out for one evidence file.
type sentCopy struct {
	body    io.ReadSeeker
	size    int64
	sha256  string
	cleaned bool
}

// clean returns what is sent for an evidence file whose object is obj: obj itself when
// the file carries no identifying metadata, else a cleaned copy in a temporary file.
// A file that cannot be cleaned is a permanentError: it may not leave as it is.
func (e *envelope) clean(ctx context.Context, a workflow.Evidence, obj storage.Object) (*sentCopy, error) {
	ra, size, release, err := workflow.ReaderAt(obj)
	if err != nil {
		return nil, err
	}
	defer release()
	switch r := scrub.Inspect(ra, size, a.ContentType); r.Status {
	case scrub.StatusClean:
		if _, err := obj.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return &sentCopy{body: obj, size: a.Size, sha256: a.SHA256}, nil
	case scrub.StatusCannotClean:
		e.w.s.opts.Logger.WarnContext(ctx, "evidence not sent: its metadata cannot be removed", "attachment_id", a.ID, "reason", r.Reason)
		return nil, permanentError{fmt.Errorf("evidence file %s (%s): %s", a.ID, oneLine(a.FileName), workflow.CannotCleanMessage)}
	}
	// The cleaned copy waits in an encrypted spool, removed when the envelope is closed.
	sp, err := keys.NewSpool()
	if err != nil {
		return nil, err
	}
	e.open = append(e.open, sp.Reader()) // its Close removes the spool
	h := sha256.New()
	if err := scrub.Clean(io.MultiWriter(sp, h), ra, size, a.ContentType); err != nil {
		return nil, permanentError{fmt.Errorf("evidence file %s (%s) could not be cleaned: %w", a.ID, oneLine(a.FileName), err)}
	}
	if err := sp.Finish(); err != nil {
		return nil, err
	}
	return &sentCopy{body: sp.Reader(), size: sp.Size(), sha256: hex.EncodeToString(h.Sum(nil)), cleaned: true}, nil
}

// linkedCopy is what a download link of the e-mail points at.
type linkedCopy struct {
	key     string
	size    int64
	sha256  string
	cleaned bool
}

// cleanedForLink returns the object a download link gives: the evidence file itself
// when it carries no identifying metadata, else a cleaned copy stored beside the
// dispatch's letter (kept, like the letter, as the record of what was sent).
func (e *envelope) cleanedForLink(ctx context.Context, a workflow.Evidence) (*linkedCopy, error) {
	s := e.w.s
	obj, err := s.files.Open(ctx, e.d.TenantID, e.d.SubmissionID, a.ObjectKey)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	sent, err := e.clean(ctx, a, obj)
	if err != nil {
		return nil, err
	}
	if !sent.cleaned {
		return &linkedCopy{key: a.ObjectKey, size: a.Size, sha256: a.SHA256}, nil
	}
	key := keys.SealedKey(storage.DispatchEvidenceKey(e.d.TenantID, e.d.ID, a.ID))
	if err := s.files.Put(ctx, e.d.TenantID, e.d.SubmissionID, key, sent.body, sent.size); err != nil {
		return nil, err
	}
	return &linkedCopy{key: key, size: sent.size, sha256: sent.sha256, cleaned: true}, nil
}
