package dispatch

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/go-pdf/fpdf"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"

	"github.com/unionportal/unionportal/apperr"
)

// CodeRenderTimeout is the problem code of a letter whose rendering was stopped because
// its deadline passed (a preview answers 503 with it; a dispatch attempt fails with it
// and is retried).
const CodeRenderTimeout = apperr.CodeRenderTimeout

// renderStopped is the error of a render that ctx ended.
func renderStopped(ctx context.Context) error {
	return apperr.Stopped(ctx, CodeRenderTimeout,
		"Rendering the letter took longer than allowed. Try again later; if it happens again, shorten the body.")
}

// isRenderStopped tells whether err is a render that its deadline or caller stopped.
func isRenderStopped(err error) bool {
	e, ok := apperr.As(err)
	return ok && e.Code == CodeRenderTimeout
}

// checkEvery is how many bytes of body the writer lays out between two looks at its
// context: a few microseconds of work, so a stopped render ends at once.
const checkEvery = 4 << 10

// listIndent is how far a list is indented from its parent's margin, in mm.
const listIndent = 6

// longWord is the length from which a word is cut rune by rune straight away instead of
// being measured whole first: no line is this wide.
const longWord = 512

// markdownPDF writes a Markdown document into the PDF: headings, paragraphs, lists,
// block quotes, links and emphasis. Raw HTML is written as the text it is; nothing in a
// body is ever interpreted as anything but text.
//
// It lays the text out itself rather than through fpdf's Write, which re-decodes its
// whole argument for every character it places (quadratic in the length of one run of
// text: a long code block, code span, HTML block or link text). Here every byte of the
// body is measured once and drawn once: one word at a time, one cell per line.
type markdownPDF struct {
	pdf    *fpdf.Fpdf
	ctx    context.Context
	source []byte
	style  string // "", "B", "I" or "BI"
	size   float64
	// link is the destination of the text being written, "" outside a safe link.
	link string

	// line holds the text of the current line not drawn yet, all in the current font,
	// and lineWidth its width; wrapped is set after an automatic line break, when spaces
	// are dropped.
	line      []byte
	lineWidth float64
	wrapped   bool
	space     float64 // width of a space in the current font
	// font is the font last selected (zero before the first), so that selecting it
	// again costs nothing.
	font fontKey

	// done counts the bytes laid out, and measured those whose width was measured: the
	// render's work, proportional to the body (TestLetterRenderWorkIsLinear).
	done, measured int
	nextCheck      int
	err            error
}

var markdown = goldmark.New(
	goldmark.WithParser(parser.NewParser(
		parser.WithBlockParsers(
			util.Prioritized(parser.NewSetextHeadingParser(), 100),
			util.Prioritized(parser.NewThematicBreakParser(), 200),
			util.Prioritized(shallow{parser.NewListParser()}, 300),
			util.Prioritized(parser.NewListItemParser(), 400),
			util.Prioritized(parser.NewCodeBlockParser(), 500),
			util.Prioritized(parser.NewATXHeadingParser(), 600),
			util.Prioritized(parser.NewFencedCodeBlockParser(), 700),
			util.Prioritized(shallow{parser.NewBlockquoteParser()}, 800),
			util.Prioritized(parser.NewHTMLBlockParser(), 900),
			util.Prioritized(parser.NewParagraphParser(), 1000)),
		parser.WithInlineParsers(parser.DefaultInlineParsers()...),
		parser.WithParagraphTransformers(parser.DefaultParagraphTransformers()...))),
	goldmark.WithExtensions(extension.Strikethrough, extension.Linkify))

// maxNesting bounds how deep lists and block quotes nest in a letter. goldmark offers
// every line to every open container, so its cost grows with the square of the depth:
// 40 KB of "- " or "> " took a second to parse, and a megabyte would take minutes. A
// marker deeper than this stays text; a page cannot show more levels anyway.
const maxNesting = 16

// shallow is a container's block parser (the default parsers' in the default order
// above) that opens no container deeper than maxNesting.
type shallow struct{ parser.BlockParser }

func (p shallow) Open(parent ast.Node, reader text.Reader, pc parser.Context) (ast.Node, parser.State) {
	depth := 0
	for n := parent; n != nil; n = n.Parent() {
		if k := n.Kind(); k == ast.KindList || k == ast.KindBlockquote {
			if depth++; depth >= maxNesting {
				return nil, parser.NoChildren
			}
		}
	}
	return p.BlockParser.Open(parent, reader, pc)
}

// render writes src, stopping early (with m.err set) when ctx ends.
func (m *markdownPDF) render(ctx context.Context, src []byte) error {
	m.ctx, m.source, m.size = ctx, src, bodySize
	if ctx.Err() != nil {
		return renderStopped(ctx)
	}
	doc := markdown.Parser().Parse(text.NewReader(src))
	for n := doc.FirstChild(); n != nil && !m.stopped(); n = n.NextSibling() {
		m.block(n, 0)
	}
	m.flush()
	return m.err
}

// stopped tells whether the render must end: an error, or its context ended (looked at
// every checkEvery bytes and at every block).
func (m *markdownPDF) stopped() bool {
	if m.err != nil {
		return true
	}
	if m.done < m.nextCheck {
		return false
	}
	m.nextCheck = m.done + checkEvery
	if m.ctx.Err() != nil {
		m.err = renderStopped(m.ctx)
		return true
	}
	return false
}

// setFont selects the font of the current style, size and link, first drawing the
// text pending in the previous one.
func (m *markdownPDF) setFont() {
	style := m.style
	if m.link != "" {
		style += "U"
	}
	if font := (fontKey{style, m.size}); font != m.font {
		m.flush()
		m.pdf.SetFont(fontFamily, style, m.size)
		m.space = m.pdf.GetStringWidth(" ")
		m.font = font
	}
}

type fontKey struct {
	style string
	size  float64
}

// ln draws the pending text and moves down by h, to the left margin.
func (m *markdownPDF) ln(h float64) {
	m.flush()
	m.pdf.Ln(h)
}

// block writes one block element.
func (m *markdownPDF) block(n ast.Node, depth int) {
	if m.stopped() {
		return
	}
	m.done++ // every block counts, so that a body of empty blocks is checked too
	m.flush()
	pdf := m.pdf
	left, _, _, _ := pdf.GetMargins()
	switch n := n.(type) {
	case *ast.Heading:
		m.size = bodySize + float64(max(0, 4-n.Level))*1.5
		m.style = "B"
		m.ln(lineHeight / 2)
		m.setFont()
		m.inlines(n)
		m.ln(lineHeight + 1)
		m.size, m.style = bodySize, ""
	case *ast.Paragraph, *ast.TextBlock:
		m.setFont()
		m.inlines(n)
		m.ln(lineHeight)
		if _, ok := n.(*ast.Paragraph); ok && depth == 0 {
			m.ln(lineHeight / 2)
		}
	case *ast.List:
		i := n.Start
		for item := n.FirstChild(); item != nil && !m.stopped(); item = item.NextSibling() {
			marker := "•"
			if n.IsOrdered() {
				marker = fmt.Sprintf("%d.", i)
				i++
			}
			// Each level indents by listIndent from its parent's margin.
			pdf.SetX(left + listIndent - 5)
			m.setFont()
			pdf.CellFormat(5, lineHeight, marker, "", 0, "L", false, 0, "")
			pdf.SetLeftMargin(left + listIndent)
			for c := item.FirstChild(); c != nil; c = c.NextSibling() {
				m.block(c, depth+1)
			}
			m.flush()
			pdf.SetLeftMargin(left)
			pdf.SetX(left)
		}
		if depth == 0 {
			m.ln(lineHeight / 2)
		}
	case *ast.Blockquote:
		pdf.SetLeftMargin(left + 8)
		pdf.SetX(left + 8)
		m.style = "I"
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			m.block(c, depth)
		}
		m.flush()
		m.style = ""
		pdf.SetLeftMargin(left)
		pdf.SetX(left)
	case *ast.ThematicBreak:
		y := pdf.GetY() + 2
		pdf.Line(left, y, 210-left, y)
		m.ln(6)
	case *ast.FencedCodeBlock, *ast.CodeBlock, *ast.HTMLBlock:
		m.setFont()
		lines := n.Lines()
		for i := 0; i < lines.Len(); i++ {
			seg := lines.At(i)
			m.write(string(seg.Value(m.source)))
		}
		m.ln(lineHeight)
	default:
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			m.block(c, depth)
		}
	}
}

// inlines writes the inline content of a block, flowing and wrapping.
func (m *markdownPDF) inlines(n ast.Node) {
	for c := n.FirstChild(); c != nil && m.err == nil; c = c.NextSibling() {
		m.inline(c)
	}
}

func (m *markdownPDF) inline(n ast.Node) {
	switch n := n.(type) {
	case *ast.Text:
		m.write(string(n.Segment.Value(m.source)))
		if n.HardLineBreak() {
			m.newLine()
		} else if n.SoftLineBreak() {
			m.write(" ")
		}
	case *ast.String:
		m.write(string(n.Value))
	case *ast.Emphasis:
		saved := m.style
		if n.Level >= 2 {
			m.style = normalizeStyle(m.style + "B")
		} else {
			m.style = normalizeStyle(m.style + "I")
		}
		m.setFont()
		m.inlines(n)
		m.style = saved
		m.setFont()
	case *ast.Link:
		m.linked(string(n.Destination), func() { m.inlines(n) })
	case *ast.AutoLink:
		label := string(n.Label(m.source))
		dest := string(n.URL(m.source))
		if n.AutoLinkType == ast.AutoLinkEmail && !strings.HasPrefix(strings.ToLower(dest), "mailto:") {
			dest = "mailto:" + dest
		}
		m.linked(dest, func() { m.write(label) })
	case *ast.CodeSpan:
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			if t, ok := c.(*ast.Text); ok {
				m.write(string(t.Segment.Value(m.source)))
			}
		}
	case *ast.RawHTML:
		for i := 0; i < n.Segments.Len(); i++ {
			seg := n.Segments.At(i)
			m.write(string(seg.Value(m.source)))
		}
	default:
		m.inlines(n)
	}
}

func normalizeStyle(s string) string {
	b, i := strings.Contains(s, "B"), strings.Contains(s, "I")
	switch {
	case b && i:
		return "BI"
	case b:
		return "B"
	case i:
		return "I"
	}
	return ""
}

// safeLink reports whether dest may become a link in a letter or an e-mail: an http or
// https address with a host, or a mailto address. Everything else (javascript:, data:,
// file:, smb:, relative references, anything unparsable) is written as plain text.
func safeLink(dest string) bool {
	if dest == "" || strings.ContainsFunc(dest, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return false
	}
	u, err := url.Parse(dest)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return u.Host != "" && u.Opaque == ""
	case "mailto":
		return u.Opaque != ""
	}
	return false
}

// linked writes what body writes as a link to dest when dest is safe: blue, underlined
// and clickable; otherwise as the plain text it is.
func (m *markdownPDF) linked(dest string, body func()) {
	if m.link != "" || !safeLink(dest) {
		body()
		return
	}
	m.flush()
	m.link = dest
	m.pdf.SetTextColor(20, 60, 160)
	m.setFont()
	body()
	m.flush()
	m.link = ""
	m.pdf.SetTextColor(0, 0, 0)
	m.setFont()
}

// write flows text from the current position, breaking lines between words, and words
// longer than a line wherever they reach the margin. A line feed starts a new line.
// The text is drawn when its line is full, or before anything else is drawn or the
// font changes (flush): one cell per line and font, not one per word or node.
func (m *markdownPDF) write(s string) {
	for s != "" && !m.stopped() {
		switch s[0] {
		case '\n':
			m.newLine()
			s = s[1:]
			m.done++
			continue
		case '\r':
			s = s[1:]
			m.done++
			continue
		case ' ':
			n := 1
			for n < len(s) && s[n] == ' ' {
				n++
			}
			m.spaces(n)
			s = s[n:]
			m.done += n
			continue
		}
		end := strings.IndexAny(s, " \r\n")
		if end < 0 {
			end = len(s)
		}
		m.word(s[:end])
		s = s[end:]
	}
}

// room is the width left on the current line.
func (m *markdownPDF) room() float64 {
	pageWidth, _ := m.pdf.GetPageSize()
	_, _, right, _ := m.pdf.GetMargins()
	return pageWidth - right - m.pdf.GetX() - 2*m.pdf.GetCellMargin() - m.lineWidth
}

// atLineStart tells whether nothing was written on the current line yet.
func (m *markdownPDF) atLineStart() bool {
	left, _, _, _ := m.pdf.GetMargins()
	return len(m.line) == 0 && m.pdf.GetX() <= left+0.01
}

// spaces writes n spaces, or breaks the line where they do not fit. Spaces that begin
// a line after an automatic break are dropped; after a line feed (indented code) they
// are kept.
func (m *markdownPDF) spaces(n int) {
	if m.wrapped && m.atLineStart() {
		return
	}
	fit := n
	if m.space > 0 {
		fit = min(n, int(m.room()/m.space))
	}
	for range max(fit, 0) {
		m.line = append(m.line, ' ')
	}
	m.lineWidth += float64(max(fit, 0)) * m.space
	if fit < n {
		m.wrap()
	}
}

// word writes one word (no spaces, no line feeds) on the current line, on the next one
// when it does not fit, or cut across lines when it is longer than a line.
func (m *markdownPDF) word(w string) {
	w = fontRunes(w)
	if len(w) < longWord {
		width := m.measure(w)
		if width > m.room() && !m.atLineStart() {
			m.wrap()
		}
		if width <= m.room() {
			m.put(w, width)
			return
		}
	} else if !m.atLineStart() {
		m.wrap()
	}
	// Longer than a line: as many runes as fit, then the rest on the following lines.
	for w != "" && !m.stopped() {
		room, width, cut := m.room(), 0.0, 0
		for cut < len(w) {
			_, size := utf8.DecodeRuneInString(w[cut:])
			rw := m.measure(w[cut : cut+size])
			if width+rw > room && cut > 0 {
				break
			}
			width += rw
			cut += size
		}
		m.put(w[:cut], width)
		w = w[cut:]
		if w != "" {
			m.wrap()
		}
	}
}

// measure is the width of s in the current font.
func (m *markdownPDF) measure(s string) float64 {
	m.measured += len(s)
	return m.pdf.GetStringWidth(s)
}

// put adds text of a known width to the current line.
func (m *markdownPDF) put(s string, width float64) {
	m.line = append(m.line, s...)
	m.lineWidth += width
	m.done += len(s)
	m.wrapped = false
}

// flush draws the current line's pending text as one cell, a link when it is in one.
func (m *markdownPDF) flush() {
	if len(m.line) == 0 {
		return
	}
	m.pdf.CellFormat(m.lineWidth, lineHeight, string(m.line), "", 0, "", false, 0, m.link)
	m.line, m.lineWidth = m.line[:0], 0
}

// wrap breaks the line because the text reached the margin.
func (m *markdownPDF) wrap() {
	m.flush()
	m.pdf.Ln(lineHeight)
	m.wrapped = true
}

// newLine breaks the line at a line feed of the text.
func (m *markdownPDF) newLine() {
	m.flush()
	m.pdf.Ln(lineHeight)
	m.wrapped = false
}

// fontRunes replaces what fpdf cannot encode with U+FFFD: bytes that are not UTF-8, and
// characters beyond the Basic Multilingual Plane (emoji and the like), which the
// embedded font does not have either.
func fontRunes(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return r > 0xFFFF || r == utf8.RuneError })
	if i < 0 {
		return s
	}
	return s[:i] + strings.Map(func(r rune) rune {
		if r > 0xFFFF {
			return utf8.RuneError
		}
		return r
	}, s[i:])
}
