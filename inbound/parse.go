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

// Limits of what one message may bring in.
const (
	maxParts     = 100
	maxTextBytes = workflow.MaxCorrespondenceText
)

// ParseMessage parses a whole message: the first text part (plain text preferred, HTML
// converted to text), every other part with a file name or of a non-text type as an
// attachment, spooled encrypted.
func ParseMessage(r io.Reader) (m *Message, err error) {
	mr, err := mail.CreateReader(r)
	if err != nil {
		return nil, fmt.Errorf("the message does not parse: %w", err)
	}
	defer mr.Close()
	m = &Message{Envelope: envelopeOf(&mr.Header), Header: mr.Header}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if from, err := mr.Header.AddressList("From"); err == nil && len(from) > 0 {
		m.From = from[0]
	}
	if t, err := mr.Header.Date(); err == nil && !t.IsZero() {
		t = t.UTC()
		m.SentAt = &t
	}
	var plain, htmlText string
	for parts := 0; ; parts++ {
		if parts > maxParts {
			return nil, errors.New("the message has too many parts")
		}
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("the message does not parse: %w", err)
		}
		switch h := p.Header.(type) {
		case *mail.InlineHeader:
			ct, _, _ := h.ContentType()
			switch {
			case ct == "text/plain" && plain == "":
				plain, err = readText(p.Body)
			case ct == "text/html" && htmlText == "":
				var raw string
				if raw, err = readText(p.Body); err == nil {
					htmlText = HTMLText(raw)
				}
			case strings.HasPrefix(ct, "text/"):
				// another text part of an alternative: ignored
			default:
				err = m.spool(p.Body, "", ct)
			}
		case *mail.AttachmentHeader:
			ct, _, _ := h.ContentType()
			name, _ := h.Filename()
			err = m.spool(p.Body, name, ct)
		}
		if err != nil {
			return nil, err
		}
	}
	m.Text = plain
	if strings.TrimSpace(m.Text) == "" {
		m.Text = htmlText
	}
	return m, nil
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
						href = string(v)
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
				if href != "" && (strings.HasPrefix(href, "http://") || strings.HasPrefix(href, "https://") || strings.HasPrefix(href, "mailto:")) &&
					!strings.Contains(b.String()[max(0, b.Len()-len(href)-2):], href) {
					b.WriteString(" <" + href + ">")
				}
				href = ""
			}
		}
	}
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
