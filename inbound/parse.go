package inbound

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // the charsets mail uses besides UTF-8 (ISO-8859-1, Windows-1252, KOI8-R…)
	"github.com/emersion/go-message/mail"
	"golang.org/x/net/html"

	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/workflow"
)

// Envelope is what a message's header says about where it belongs, read before its
// body is fetched.
type Envelope struct {
	MessageID  string
	InReplyTo  string
	References []string
	Subject    string
}

// msgIDPattern is a Message-ID as the portal keeps it: angle brackets around printable
// ASCII without spaces, and an "@" (RFC 5322's msg-id, strictly).
var msgIDPattern = regexp.MustCompile(`^<[!-;=?-~]{1,250}@[!-;=?-~]{1,250}>$`)

// cleanMsgID returns a Message-ID with its brackets, or "" when it is not one.
func cleanMsgID(id string) string {
	id = strings.TrimSpace(id)
	if id == "" {
		return ""
	}
	if !strings.HasPrefix(id, "<") {
		id = "<" + id + ">"
	}
	if !msgIDPattern.MatchString(id) {
		return ""
	}
	return id
}

// ParseEnvelope reads the matching fields of a message's header.
func ParseEnvelope(header []byte) (Envelope, error) {
	r, err := mail.CreateReader(io.MultiReader(bytes.NewReader(header), strings.NewReader("\r\n")))
	if err != nil {
		return Envelope{}, err
	}
	defer r.Close()
	return envelopeOf(&r.Header), nil
}

func envelopeOf(h *mail.Header) Envelope {
	var e Envelope
	if id, err := h.MessageID(); err == nil {
		e.MessageID = cleanMsgID(id)
	}
	if ids, err := h.MsgIDList("In-Reply-To"); err == nil && len(ids) > 0 {
		e.InReplyTo = cleanMsgID(ids[0])
	}
	if ids, err := h.MsgIDList("References"); err == nil {
		for _, id := range ids {
			if c := cleanMsgID(id); c != "" && len(e.References) < 50 {
				e.References = append(e.References, c)
			}
		}
	}
	if s, err := h.Subject(); err == nil {
		e.Subject = s
	} else {
		e.Subject = h.Get("Subject")
	}
	e.Subject = strings.ToValidUTF8(e.Subject, "\uFFFD")
	return e
}

// threadIDs are the Message-IDs a message answers: In-Reply-To and References.
func (e Envelope) threadIDs() []string {
	ids := slices.Clone(e.References)
	if e.InReplyTo != "" {
		ids = append(ids, e.InReplyTo)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// casePattern finds a case number in a subject, in the ILO's four languages: "Case No.
// 3386", "Case 3386", "Cas n° 3386", "Caso núm. 3386", "Дело № 3386".
var casePattern = regexp.MustCompile(`(?i)(?:case|cas|caso|дело)\s*(?:no\.?|n[°ºo]\.?|núm\.?|num\.?|№)?\s*(\d{1,5})\b`)

// CaseNumbers are the case numbers a subject names, in order, without repeats.
func CaseNumbers(subject string) []string {
	var out []string
	for _, m := range casePattern.FindAllStringSubmatch(subject, 5) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// Message is a fetched message, parsed: its texts in memory (bounded), its attachments
// in encrypted spools until they are stored.
type Message struct {
	Envelope
	From   *mail.Address
	SentAt *time.Time
	Text   string
	Files  []Attachment
	// Header is the raw header, for the authentication checks.
	Header mail.Header
}

// Attachment is one file of a message, spooled.
type Attachment struct {
	Name, ContentType string
	spool             *keys.Spool
}

// Close removes the spooled attachments.
func (m *Message) Close() {
	for _, f := range m.Files {
		f.spool.Remove()
	}
}

// Incoming returns the attachments to import: each read once.
func (m *Message) Incoming() []workflow.IncomingFile {
	out := make([]workflow.IncomingFile, 0, len(m.Files))
	for _, f := range m.Files {
		out = append(out, workflow.IncomingFile{Name: f.Name, ContentType: f.ContentType, Body: f.spool.Reader()})
	}
	return out
}

// Limits of what one message may bring in. A message beyond them is not imported:
// the poll skips it and names it in last_error, as it does a message over the size
// limit.
const (
	maxParts       = 100     // leaf parts: texts and attachments
	maxEntities    = 250     // every entity, multipart containers included
	maxDepth       = 8       // multipart nesting
	maxHeaderBytes = 1 << 20 // the message's header (go-message's default, made explicit)
	maxTextBytes   = workflow.MaxCorrespondenceText
)

// MessageError is a message the portal will never import as it is: malformed, or
// beyond the limits. Reading it again gives the same answer, so the poll skips it
// (unlike a failure of the server, the storage or the database, retried next time).
type MessageError struct{ Err error }

func (e *MessageError) Error() string { return e.Err.Error() }
func (e *MessageError) Unwrap() error { return e.Err }

func messageErr(format string, a ...any) error { return &MessageError{Err: fmt.Errorf(format, a...)} }

// parseReader marks the errors of reading a part (a transfer encoding that does not
// decode, a malformed multipart) as the message's, not the spool's.
type parseReader struct{ r io.Reader }

func (p parseReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF {
		err = &MessageError{Err: fmt.Errorf("the message does not parse: %w", err)}
	}
	return n, err
}

// ParseMessage parses a whole message: the first text part (plain text preferred, HTML
// converted to text), every other part with a file name or of a non-text type as an
// attachment, spooled encrypted. Its tree is walked without recursion and bounded
// (parts, entities, nesting, header size), so a hostile message costs bounded memory
// and stack; a charset or transfer encoding go-message does not know is read as it is
// (a text made valid UTF-8, a file stored undecoded) rather than refused. A
// *MessageError says the message itself is at fault.
func ParseMessage(r io.Reader) (*Message, error) {
	root, err := message.ReadWithOptions(r, &message.ReadOptions{MaxHeaderBytes: maxHeaderBytes})
	if err != nil && !unknownCoding(err) {
		return nil, messageErr("the message does not parse: %w", err)
	}
	h := mail.Header{Header: root.Header}
	m := &Message{Envelope: envelopeOf(&h), Header: h}
	ok := false
	defer func() {
		if !ok {
			m.Close()
		}
	}()
	if from, err := h.AddressList("From"); err == nil && len(from) > 0 {
		m.From = from[0]
	}
	if t, err := h.Date(); err == nil && !t.IsZero() {
		t = t.UTC()
		m.SentAt = &t
	}
	var plain, htmlText string
	var stack []message.MultipartReader
	parts, entities := 0, 0
	for e := root; ; {
		if e == nil {
			if len(stack) == 0 {
				break
			}
			next, err := stack[len(stack)-1].NextPart()
			if errors.Is(err, io.EOF) {
				stack = stack[:len(stack)-1]
				continue
			}
			if err != nil && !unknownCoding(err) {
				return nil, messageErr("the message does not parse: %w", err)
			}
			e = next
		}
		if entities++; entities > maxEntities {
			return nil, messageErr("the message has more than %d MIME entities", maxEntities)
		}
		if mr := e.MultipartReader(); mr != nil {
			if len(stack) >= maxDepth {
				return nil, messageErr("the message's parts are nested more than %d deep", maxDepth)
			}
			stack = append(stack, mr)
			e = nil
			continue
		}
		if parts++; parts > maxParts {
			return nil, messageErr("the message has more than %d parts", maxParts)
		}
		body := parseReader{e.Body}
		ct, _, _ := e.Header.ContentType()
		disp, _, _ := e.Header.ContentDisposition()
		inline := disp == "inline" || (disp != "attachment" && strings.HasPrefix(ct, "text/"))
		switch {
		case inline && ct == "text/plain" && plain == "":
			plain, err = readText(body)
		case inline && ct == "text/html" && htmlText == "":
			var raw string
			if raw, err = readText(body); err == nil {
				htmlText = HTMLText(raw)
			}
		case inline && strings.HasPrefix(ct, "text/"):
			// another text part of an alternative: ignored
		default:
			name, _ := (&mail.AttachmentHeader{Header: e.Header}).Filename()
			err = m.spool(body, name, ct)
		}
		if err != nil {
			return nil, err
		}
		// Whatever of the body was not read is skipped by the next NextPart.
		e = nil
	}
	m.Text = plain
	if strings.TrimSpace(m.Text) == "" {
		m.Text = htmlText
	}
	ok = true
	return m, nil
}

// unknownCoding is go-message's error for a charset or transfer encoding it does not
// know; the entity is still readable, undecoded.
func unknownCoding(err error) bool {
	return message.IsUnknownCharset(err) || message.IsUnknownEncoding(err)
}

func (m *Message) spool(r io.Reader, name, ct string) error {
	if ct == "" {
		ct = "application/octet-stream"
	}
	if name == "" {
		name = "attachment"
		if exts, _ := mime.ExtensionsByType(ct); len(exts) > 0 {
			name += exts[0]
		}
	}
	sp, err := keys.SpoolFrom(r)
	if err != nil {
		return err
	}
	m.Files = append(m.Files, Attachment{Name: name, ContentType: ct, spool: sp})
	return nil
}

// readText reads a text part, at most maxTextBytes of it, as valid UTF-8 (go-message
// has decoded its charset).
func readText(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxTextBytes))
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, r)
	s := string(b)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ReplaceAll(s, "\r\n", "\n"), nil
}

// HTMLText converts HTML to plain text: the text of the document, with line breaks
// for its blocks and links written out, and nothing else (no script, no style, no
// markup): what the portal shows of an HTML message can never run or load anything.
func HTMLText(s string) string {
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(s))
	skip := 0
	var href string
	nl := func() {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
			b.WriteByte('\n')
		}
	}
	for {
		switch z.Next() {
		case html.ErrorToken:
			return collapse(b.String())
		case html.TextToken:
			if skip == 0 {
				t := string(z.Text())
				words := strings.Join(strings.Fields(t), " ")
				if words != "" && strings.TrimLeft(t, " \t\r\n") != t && b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") && !strings.HasSuffix(b.String(), " ") {
					b.WriteByte(' ')
				}
				b.WriteString(words)
				if words != "" && strings.TrimRight(t, " \t\r\n") != t {
					b.WriteByte(' ')
				}
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			switch string(name) {
			case "script", "style", "head", "title", "noscript", "template":
				skip++
			case "br":
				b.WriteByte('\n')
			case "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol":
				nl()
			case "a":
				href = ""
				for hasAttr {
					var k, v []byte
					k, v, hasAttr = z.TagAttr()
					if string(k) == "href" {
						href = strings.TrimSpace(string(v))
					}
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style", "head", "title", "noscript", "template":
				if skip > 0 {
					skip--
				}
			case "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table":
				nl()
			case "a":
				if linkOK(href) && !strings.Contains(b.String()[max(0, b.Len()-len(href)-2):], href) {
					b.WriteString(" <" + href + ">")
				}
				href = ""
			}
		}
	}
}

// linkOK accepts a link to write out: http, https or mailto, and only characters that
// cannot be read as markup or break out of the angle brackets around it (no spaces,
// quotes, angle brackets, backslashes or controls; entities were decoded already).
func linkOK(href string) bool {
	l := strings.ToLower(href)
	if !strings.HasPrefix(l, "http://") && !strings.HasPrefix(l, "https://") && !strings.HasPrefix(l, "mailto:") || len(href) > 2048 {
		return false
	}
	for i := 0; i < len(href); i++ {
		if c := href[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("<>\"'`\\{}|^", c) >= 0 {
			return false
		}
	}
	return true
}

// collapse trims each line and keeps at most one empty line in a row.
func collapse(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	empty := 0
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			empty++
			if empty > 1 {
				continue
			}
		} else {
			empty = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
