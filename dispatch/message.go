package dispatch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/microcosm-cc/bluemonday"
	"github.com/wneessen/go-mail"

	"github.com/unionportal/unionportal/workflow"
)

// Manifest is what a dispatch sent, stored beside the letter as manifest.json and
// served as it was stored.
type Manifest struct {
	DispatchID string `json:"dispatch_id"`
	// MessageID is the e-mail's Message-ID, with its angle brackets as in the e-mail.
	MessageID        string              `json:"message_id"`
	SentAt           time.Time           `json:"sent_at"`
	Sandbox          bool                `json:"sandbox"`
	Recipients       []ManifestRecipient `json:"recipients"`
	Files            []ManifestFile      `json:"files"`
	Revision         int                 `json:"revision"`
	ApprovalSnapshot ManifestSnapshot    `json:"approval_snapshot"`
}

// ManifestSnapshot is what the final approval froze, as the letter used it.
type ManifestSnapshot struct {
	SHA256     string                `json:"sha256"`
	ApprovedAt time.Time             `json:"approved_at"`
	From       workflow.Mailbox      `json:"from"`
	ReplyTo    string                `json:"reply_to"`
	Letterhead workflow.Letterhead   `json:"letterhead"`
	Signatory  workflow.Person       `json:"signatory"`
	Case       workflow.CaseSnapshot `json:"case"`
}

// ManifestFile is one file of a sent e-mail, for the manifest.
type ManifestFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// OriginalSHA256 is, for evidence, the SHA-256 of the file as uploaded (the hash
	// the approval recorded); SHA256 is that of the copy sent, without its identifying
	// metadata, and Cleaned says they differ (ADR 0028).
	OriginalSHA256 string `json:"original_sha256,omitempty"`
	Cleaned        bool   `json:"cleaned,omitempty"`
	// Link is set when the file went as a download link instead of an attachment.
	Link bool `json:"link,omitempty"`
}

// ManifestRecipient is one address the e-mail went to.
type ManifestRecipient struct {
	Address string `json:"address"`
	Kind    string `json:"kind" enum:"recipient_kind"`
}

// oneLine keeps user text out of header structure: no line breaks, no control bytes.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }), " ")
}

// envelope builds the e-mail of one dispatch from its input and its rendered letter,
// and remembers what it put in: the recipients, the files (for the manifest) and the
// evidence streams, which stay open while the message is sent.
type envelope struct {
	w      *worker
	d      *Dispatch
	in     *workflow.DispatchInput
	letter []byte

	msg   *mail.Msg
	rcpts []ManifestRecipient
	files []ManifestFile
	links []string
	open  []io.Closer
}

// build assembles the message: headers, the letter, the evidence (attached, or as
// links when everything exceeds max_email_bytes), and the cover note. A
// permanentError is a failure no retry mends.
func (e *envelope) build(ctx context.Context) (*mail.Msg, error) {
	e.msg = mail.NewMsg()
	if err := e.addresses(); err != nil {
		return nil, err
	}
	e.headers()
	if err := e.attachLetter(); err != nil {
		return nil, err
	}
	if err := e.attachEvidence(ctx); err != nil {
		return nil, err
	}
	ds := e.in.Snapshot.Dispatch
	text, html := bodies(ds, e.in.Snapshot.Case.AsCase(), e.in.Submission, e.links, e.d.Sandbox)
	e.msg.SetBodyString(mail.TypeTextPlain, text)
	e.msg.AddAlternativeString(mail.TypeTextHTML, html)
	return e.msg, nil
}

// close closes the evidence streams.
func (e *envelope) close() {
	for _, c := range e.open {
		c.Close()
	}
}

// addresses sets the sender, reply-to and recipients: in sandbox mode only the sandbox
// recipient.
func (e *envelope) addresses() error {
	ds := e.in.Snapshot.Dispatch
	if err := e.msg.FromFormat(oneLine(ds.From.Name), ds.From.Address); err != nil {
		return permanentError{fmt.Errorf("sender address: %w", err)}
	}
	if ds.ReplyTo != "" {
		if err := e.msg.ReplyTo(ds.ReplyTo); err != nil {
			return permanentError{err}
		}
	}
	if e.d.Sandbox {
		if err := e.msg.AddToFormat("Sandbox", ds.SandboxRecipient); err != nil {
			return permanentError{err}
		}
		e.rcpts = append(e.rcpts, ManifestRecipient{ds.SandboxRecipient, "to"})
		return nil
	}
	for _, r := range ds.Recipients {
		var err error
		switch r.Kind {
		case "to":
			err = e.msg.AddToFormat(oneLine(r.Name), r.Address)
		case "cc":
			err = e.msg.AddCcFormat(oneLine(r.Name), r.Address)
		case "bcc":
			err = e.msg.AddBccFormat(oneLine(r.Name), r.Address)
		}
		if err != nil {
			return permanentError{err}
		}
		e.rcpts = append(e.rcpts, ManifestRecipient{r.Address, r.Kind})
	}
	return nil
}

// headers sets the subject ("Case No. 3386 (Kyrgyzstan): <title>"), the dispatch's
// Message-ID, reused on every retry, and its date.
func (e *envelope) headers() {
	c, sub := e.in.Snapshot.Case.AsCase(), e.in.Submission
	subject := "Case No. " + c.Number + " (" + CountryName(c.Country) + "): " + oneLine(sub.Title)
	if c.Number == "" {
		subject = Subject(c, sub.Kind) + ": " + oneLine(sub.Title)
	}
	if e.d.Sandbox {
		subject = "[TEST] " + subject
	}
	e.msg.Subject(subject)
	e.msg.SetMessageIDWithValue(strings.Trim(e.d.MessageID, "<>"))
	e.msg.SetDateWithValue(e.d.CreatedAt)
	if r := e.in.Reply; r != nil {
		// A reply to the ILO's message (ADR 0036): in its thread. The ids were checked
		// on import (no spaces, no line breaks); oneLine keeps that true.
		e.msg.SetGenHeader(mail.HeaderInReplyTo, oneLine(r.InReplyTo))
		e.msg.SetGenHeader(mail.HeaderReferences, oneLine(strings.Join(r.References, " ")))
	}
}

func (e *envelope) attachLetter() error {
	sum := sha256.Sum256(e.letter)
	e.files = append(e.files, ManifestFile{Name: "letter.pdf", Size: int64(len(e.letter)), SHA256: hex.EncodeToString(sum[:])})
	return e.msg.AttachReader(letterName(e.in.Snapshot.Case.AsCase()), bytes.NewReader(e.letter), mail.WithFileContentType("application/pdf"))
}

// attachEvidence attaches each approved file after checking its hash, or, when the
// whole e-mail would exceed max_email_bytes, lists a download link for it instead.
func (e *envelope) attachEvidence(ctx context.Context) error {
	total := int64(len(e.letter))
	for _, a := range e.in.Evidence {
		total += a.Size
	}
	max := e.in.Snapshot.Dispatch.MaxEmailBytes
	asLinks := total > max && max > 0
	for _, a := range e.in.Evidence {
		var err error
		if asLinks {
			err = e.link(ctx, a)
		} else {
			err = e.attach(ctx, a)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// link lists an evidence file as a download link (links.go) to the copy the e-mail
// would have attached.
func (e *envelope) link(ctx context.Context, a workflow.Evidence) error {
	sent, err := e.cleanedForLink(ctx, a)
	if err != nil {
		return err
	}
	u := e.w.s.evidenceLink(e.d, a.ID, e.w.s.opts.Now().Add(linkLifetime))
	e.links = append(e.links, a.FileName+": "+u)
	e.files = append(e.files, ManifestFile{Name: a.FileName, Size: sent.size, SHA256: sent.sha256, OriginalSHA256: a.SHA256,
		Cleaned: sent.cleaned, Link: true})
	return nil
}

// attach adds an evidence file, which must be the one approved: its hash is checked
// before it goes.
func (e *envelope) attach(ctx context.Context, a workflow.Evidence) error {
	obj, err := e.w.s.files.Open(ctx, e.d.TenantID, e.d.SubmissionID, a.ObjectKey)
	if err != nil {
		return err
	}
	e.open = append(e.open, obj)
	h := sha256.New()
	if _, err := io.Copy(h, obj); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != a.SHA256 {
		return permanentError{fmt.Errorf("evidence file %s changed in storage (SHA-256 %s, approved %s)", a.ID, got, a.SHA256)}
	}
	sent, err := e.clean(ctx, a, obj)
	if err != nil {
		return err
	}
	e.msg.AttachReadSeeker(a.FileName, sent.body, mail.WithFileContentType(mail.ContentType(a.ContentType)))
	e.files = append(e.files, ManifestFile{Name: a.FileName, Size: sent.size, SHA256: sent.sha256, OriginalSHA256: a.SHA256,
		Cleaned: sent.cleaned})
	return nil
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
