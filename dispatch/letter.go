// Package dispatch sends approved submissions to the ILO: it renders the signed letter
// as a PDF, builds the e-mail with the letter and the evidence, and delivers it through a
// durable queue (River) exactly once per dispatch, over SMTP or into an outbox folder.
package dispatch

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-pdf/fpdf"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/unionportal/unionportal/workflow"
)

// DejaVu Sans covers Latin, Cyrillic (Russian and Kyrgyz ң ү ө), Greek and more; its
// licence allows embedding (fonts/LICENSE-DejaVu.txt).
var (
	//go:embed fonts/DejaVuSans.ttf
	fontRegular []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	fontBold []byte
	//go:embed fonts/DejaVuSans-Oblique.ttf
	fontItalic []byte
	//go:embed fonts/DejaVuSans-BoldOblique.ttf
	fontBoldItalic []byte
)

// SandboxMark is printed on every page of a letter rendered in sandbox mode.
const SandboxMark = "TEST — not sent to the ILO"

// Letter is what a letter is made of.
type Letter struct {
	Settings   workflow.DispatchSettings
	Case       workflow.Case
	Submission workflow.Submission
	Date       time.Time
	// Sandbox marks every page as a test.
	Sandbox bool
}

// CountryName is the English name of an ISO 3166-1 alpha-2 code ("KG" -> "Kyrgyzstan").
func CountryName(code string) string {
	r, err := language.ParseRegion(code)
	if err != nil {
		return code
	}
	if name := display.English.Regions().Name(r); name != "" {
		return name
	}
	return code
}

// Subject is the letter's subject line, from the case and the kind of submission, in
// the form the CFA's correspondence uses ("Update on Case 3386 on Kyrgyzstan").
func Subject(c workflow.Case, kind string) string {
	country := CountryName(c.Country)
	switch {
	case kind == workflow.KindComplaint && c.Number == "":
		return "Complaint against the Government of " + country
	case kind == workflow.KindComplaint:
		return "Complaint in Case " + c.Number + " on " + country
	case kind == workflow.KindAssociation:
		return "Association with the complaint in Case " + c.Number + " on " + country
	case kind == workflow.KindFollowUp:
		return "Follow-up on Case " + c.Number + " on " + country
	default:
		return "Update on Case " + c.Number + " on " + country
	}
}

// addressee is the first "to" recipient, whom the letter is written to.
func (l *Letter) addressee() workflow.Recipient {
	for _, r := range l.Settings.Recipients {
		if r.Kind == "to" {
			return r
		}
	}
	return workflow.Recipient{Name: "Chief, Freedom of Association Branch"}
}

const (
	fontFamily = "dejavu"
	bodySize   = 10.5
	lineHeight = 5.2
)

// Render writes the letter as an A4 PDF.
func (l *Letter) Render(w io.Writer) error {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(true)
	pdf.SetCreator("unionportal", true)
	pdf.SetTitle(Subject(l.Case, l.Submission.Kind), true)
	pdf.SetAuthor(l.Settings.Letterhead.Organization, true)
	pdf.AddUTF8FontFromBytes(fontFamily, "", fontRegular)
	pdf.AddUTF8FontFromBytes(fontFamily, "B", fontBold)
	// Parsing a font is most of a letter's cost: the slanted styles only when the body
	// can use them (emphasis or a quotation).
	if strings.ContainsAny(l.Submission.Body, "*_>") {
		pdf.AddUTF8FontFromBytes(fontFamily, "I", fontItalic)
		pdf.AddUTF8FontFromBytes(fontFamily, "BI", fontBoldItalic)
	}
	pdf.SetMargins(25, 20, 25)
	pdf.SetAutoPageBreak(true, 22)
	pdf.AliasNbPages("{nb}")
	pdf.SetHeaderFunc(func() {
		if l.Sandbox {
			pdf.SetFont(fontFamily, "B", 11)
			pdf.SetTextColor(200, 30, 30)
			pdf.SetXY(25, 8)
			pdf.CellFormat(160, 6, SandboxMark, "", 0, "C", false, 0, "")
			pdf.SetTextColor(0, 0, 0)
		}
		pdf.SetY(20)
	})
	pdf.SetFooterFunc(func() {
		pdf.SetY(-15)
		pdf.SetFont(fontFamily, "", 8)
		pdf.SetTextColor(110, 110, 110)
		pdf.CellFormat(0, 5, fmt.Sprintf("Page %d of {nb}", pdf.PageNo()), "", 0, "C", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
	})
	pdf.AddPage()

	// Letterhead.
	lh := l.Settings.Letterhead
	if lh.Organization != "" {
		pdf.SetFont(fontFamily, "B", 12)
		pdf.CellFormat(0, 6, lh.Organization, "", 1, "R", false, 0, "")
		pdf.SetFont(fontFamily, "", 8.5)
		pdf.SetTextColor(90, 90, 90)
		for _, line := range lh.AddressLines {
			pdf.CellFormat(0, 4, line, "", 1, "R", false, 0, "")
		}
		pdf.SetTextColor(0, 0, 0)
		pdf.Ln(8)
	}

	// Place and date.
	pdf.SetFont(fontFamily, "", bodySize)
	place := lh.Place
	if place == "" {
		place = "Geneva"
	}
	pdf.CellFormat(0, lineHeight, place+", "+l.Date.Format("2 January 2006"), "", 1, "L", false, 0, "")
	pdf.Ln(lineHeight)

	// Addressee.
	to := l.addressee()
	for _, line := range []string{to.Name, to.Title, "International Labour Office", "Route des Morillons 4", "CH-1211 Geneva 22", "Switzerland"} {
		if line != "" {
			pdf.CellFormat(0, lineHeight, line, "", 1, "L", false, 0, "")
		}
	}
	pdf.Ln(lineHeight)

	// Subject and salutation.
	pdf.SetFont(fontFamily, "B", bodySize+0.5)
	pdf.MultiCell(0, lineHeight+0.5, Subject(l.Case, l.Submission.Kind), "", "L", false)
	pdf.Ln(lineHeight)
	pdf.SetFont(fontFamily, "", bodySize)
	salutation := "Dear Sir or Madam,"
	if to.Name != "" && !strings.Contains(to.Name, "Branch") {
		salutation = "Dear " + to.Name + ","
	}
	pdf.CellFormat(0, lineHeight, salutation, "", 1, "L", false, 0, "")
	pdf.Ln(lineHeight / 2)

	// Body.
	(&markdownPDF{pdf: pdf}).render([]byte(l.Submission.Body))

	// Closing and signatory.
	pdf.Ln(lineHeight)
	pdf.SetFont(fontFamily, "", bodySize)
	pdf.CellFormat(0, lineHeight, "With best regards,", "", 1, "L", false, 0, "")
	pdf.Ln(lineHeight * 3)
	sig := l.Settings.Signatory
	pdf.SetFont(fontFamily, "B", bodySize)
	pdf.CellFormat(0, lineHeight, sig.Name, "", 1, "L", false, 0, "")
	pdf.SetFont(fontFamily, "", bodySize)
	pdf.CellFormat(0, lineHeight, sig.Title, "", 1, "L", false, 0, "")
	if lh.Organization != "" {
		pdf.CellFormat(0, lineHeight, lh.Organization, "", 1, "L", false, 0, "")
	}
	if err := pdf.Error(); err != nil {
		return err
	}
	return pdf.Output(w)
}

// RenderBytes renders the letter into memory.
func (l *Letter) RenderBytes() ([]byte, error) {
	var buf bytes.Buffer
	if err := l.Render(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// markdownPDF writes a Markdown document into the PDF: headings, paragraphs, lists,
// block quotes, links and emphasis. Raw HTML is written as the text it is; nothing in a
// body is ever interpreted as anything but text.
type markdownPDF struct {
	pdf    *fpdf.Fpdf
	source []byte
	style  string // "", "B", "I" or "BI"
	size   float64
	indent float64
}

var markdown = goldmark.New(goldmark.WithExtensions(extension.Strikethrough, extension.Linkify))

func (m *markdownPDF) render(src []byte) {
	m.source, m.size = src, bodySize
	doc := markdown.Parser().Parse(text.NewReader(src))
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		m.block(n, 0)
	}
}

func (m *markdownPDF) setFont() { m.pdf.SetFont(fontFamily, m.style, m.size) }

// block writes one block element.
func (m *markdownPDF) block(n ast.Node, depth int) {
	pdf := m.pdf
	left, _, _, _ := pdf.GetMargins()
	switch n := n.(type) {
	case *ast.Heading:
		m.size = bodySize + float64(max(0, 4-n.Level))*1.5
		m.style = "B"
		pdf.Ln(lineHeight / 2)
		m.inlines(n)
		pdf.Ln(lineHeight + 1)
		m.size, m.style = bodySize, ""
	case *ast.Paragraph, *ast.TextBlock:
		m.inlines(n)
		pdf.Ln(lineHeight)
		if _, ok := n.(*ast.Paragraph); ok && depth == 0 {
			pdf.Ln(lineHeight / 2)
		}
	case *ast.List:
		i := n.Start
		for item := n.FirstChild(); item != nil; item = item.NextSibling() {
			marker := "•"
			if n.IsOrdered() {
				marker = fmt.Sprintf("%d.", i)
				i++
			}
			m.indent = float64(depth+1) * 6
			pdf.SetX(left + m.indent - 5)
			m.setFont()
			pdf.CellFormat(5, lineHeight, marker, "", 0, "L", false, 0, "")
			pdf.SetLeftMargin(left + m.indent)
			for c := item.FirstChild(); c != nil; c = c.NextSibling() {
				m.block(c, depth+1)
			}
			pdf.SetLeftMargin(left)
			pdf.SetX(left)
		}
		m.indent = 0
		if depth == 0 {
			pdf.Ln(lineHeight / 2)
		}
	case *ast.Blockquote:
		pdf.SetLeftMargin(left + 8)
		pdf.SetX(left + 8)
		m.style = "I"
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			m.block(c, depth)
		}
		m.style = ""
		pdf.SetLeftMargin(left)
		pdf.SetX(left)
	case *ast.ThematicBreak:
		y := pdf.GetY() + 2
		pdf.Line(left, y, 210-left, y)
		pdf.Ln(6)
	case *ast.FencedCodeBlock, *ast.CodeBlock, *ast.HTMLBlock:
		m.setFont()
		lines := n.Lines()
		for i := 0; i < lines.Len(); i++ {
			seg := lines.At(i)
			pdf.Write(lineHeight, string(seg.Value(m.source)))
		}
		pdf.Ln(lineHeight)
	default:
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			m.block(c, depth)
		}
	}
}

// inlines writes the inline content of a block, flowing and wrapping.
func (m *markdownPDF) inlines(n ast.Node) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		m.inline(c)
	}
}

func (m *markdownPDF) inline(n ast.Node) {
	pdf := m.pdf
	switch n := n.(type) {
	case *ast.Text:
		m.setFont()
		m.write(string(n.Segment.Value(m.source)))
		if n.HardLineBreak() {
			pdf.Ln(lineHeight)
		} else if n.SoftLineBreak() {
			pdf.Write(lineHeight, " ")
		}
	case *ast.String:
		m.setFont()
		m.write(string(n.Value))
	case *ast.Emphasis:
		saved := m.style
		if n.Level >= 2 {
			m.style = normalizeStyle(m.style + "B")
		} else {
			m.style = normalizeStyle(m.style + "I")
		}
		m.inlines(n)
		m.style = saved
	case *ast.Link:
		m.link(string(n.Destination), n)
	case *ast.AutoLink:
		url := string(n.URL(m.source))
		m.setFont()
		m.writeLink(url, url)
	case *ast.CodeSpan:
		m.setFont()
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			if t, ok := c.(*ast.Text); ok {
				pdf.Write(lineHeight, string(t.Segment.Value(m.source)))
			}
		}
	case *ast.RawHTML:
		m.setFont()
		for i := 0; i < n.Segments.Len(); i++ {
			seg := n.Segments.At(i)
			pdf.Write(lineHeight, string(seg.Value(m.source)))
		}
	default:
		m.inlines(n)
	}
}

// write flows text word by word: fpdf's Write re-measures its whole argument for every
// line it breaks, so one long paragraph in one call costs quadratic time.
func (m *markdownPDF) write(text string) {
	for len(text) > 0 {
		n := strings.IndexByte(text, ' ')
		if n < 0 || n > 200 {
			n = min(len(text), 200)
		} else {
			n++
		}
		chunk := text[:n]
		// Never cut a UTF-8 sequence in two.
		for n < len(text) && !utf8.RuneStart(text[n]) {
			n++
			chunk = text[:n]
		}
		m.pdf.Write(lineHeight, chunk)
		text = text[n:]
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

// link writes a link's text in blue, underlined, pointing at dest when it is a web or
// mail address; other schemes (javascript:, data:) are written as plain text.
func (m *markdownPDF) link(dest string, n ast.Node) {
	var label strings.Builder
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if t, ok := c.(*ast.Text); ok {
			label.Write(t.Segment.Value(m.source))
		}
	}
	m.setFont()
	lower := strings.ToLower(dest)
	if !strings.HasPrefix(lower, "https://") && !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "mailto:") {
		m.pdf.Write(lineHeight, label.String())
		return
	}
	m.writeLink(label.String(), dest)
}

func (m *markdownPDF) writeLink(label, dest string) {
	m.pdf.SetTextColor(20, 60, 160)
	m.pdf.SetFont(fontFamily, m.style+"U", m.size)
	m.pdf.WriteLinkString(lineHeight, label, dest)
	m.pdf.SetTextColor(0, 0, 0)
	m.setFont()
}
