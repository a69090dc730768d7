// Package dispatch sends approved submissions to the ILO: it renders the signed letter
// as a PDF, builds the e-mail with the letter and the evidence, and delivers it through a
// durable queue (River) exactly once per dispatch, over SMTP or into an outbox folder.
package dispatch

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
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

// maxCompressedPages is the longest letter whose pages are compressed (see Render).
const maxCompressedPages = 1000

const (
	fontFamily = "dejavu"
	bodySize   = 10.5
	lineHeight = 5.2
)

// Render writes the letter as an A4 PDF, without a deadline: for tools and tests. The
// portal renders with RenderContext.
func (l *Letter) Render(w io.Writer) error {
	return l.RenderContext(context.Background(), w)
}

// RenderContext writes the letter as an A4 PDF. Its cost is linear in the body's size;
// when ctx ends first it stops and returns an apperr error with code render_timeout
// (KindUnavailable), having written nothing to w.
func (l *Letter) RenderContext(ctx context.Context, w io.Writer) error {
	l = l.printable()
	pdf := l.document()
	pdf.AddPage()
	l.letterhead(pdf)
	l.opening(pdf)
	if err := (&markdownPDF{pdf: pdf}).render(ctx, []byte(l.Submission.Body)); err != nil {
		return err
	}
	l.closing(pdf)
	if err := pdf.Error(); err != nil {
		return err
	}
	// fpdf compresses every page with a new zlib writer, about a megabyte to allocate
	// and clear: a third of a millisecond per page, which a body of many tiny blocks
	// turns into seconds (a megabyte of one-letter paragraphs fills 10,000 pages).
	// Beyond any real letter's length, pages go uncompressed.
	if pdf.PageNo() > maxCompressedPages {
		pdf.SetCompression(false)
	}
	return pdf.Output(w)
}

// document is an empty A4 letter: metadata, fonts, margins, the sandbox mark in the
// header and page numbers in the footer.
func (l *Letter) document() *fpdf.Fpdf {
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
	return pdf
}

// letterhead is the sender's block, top right.
func (l *Letter) letterhead(pdf *fpdf.Fpdf) {
	lh := l.Settings.Letterhead
	if lh.Organization == "" {
		return
	}
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

// opening is the place and date, the addressee at the ILO, the subject and the
// salutation.
func (l *Letter) opening(pdf *fpdf.Fpdf) {
	pdf.SetFont(fontFamily, "", bodySize)
	place := l.Settings.Letterhead.Place
	if place == "" {
		place = "Geneva"
	}
	pdf.CellFormat(0, lineHeight, place+", "+l.Date.Format("2 January 2006"), "", 1, "L", false, 0, "")
	pdf.Ln(lineHeight)

	to := l.addressee()
	for _, line := range []string{to.Name, to.Title, "International Labour Office", "Route des Morillons 4", "CH-1211 Geneva 22", "Switzerland"} {
		if line != "" {
			pdf.CellFormat(0, lineHeight, line, "", 1, "L", false, 0, "")
		}
	}
	pdf.Ln(lineHeight)

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
}

// closing is the greeting and the signatory.
func (l *Letter) closing(pdf *fpdf.Fpdf) {
	pdf.Ln(lineHeight)
	pdf.SetFont(fontFamily, "", bodySize)
	pdf.CellFormat(0, lineHeight, "With best regards,", "", 1, "L", false, 0, "")
	pdf.Ln(lineHeight * 3)
	sig := l.Settings.Signatory
	pdf.SetFont(fontFamily, "B", bodySize)
	pdf.CellFormat(0, lineHeight, sig.Name, "", 1, "L", false, 0, "")
	pdf.SetFont(fontFamily, "", bodySize)
	pdf.CellFormat(0, lineHeight, sig.Title, "", 1, "L", false, 0, "")
	if org := l.Settings.Letterhead.Organization; org != "" {
		pdf.CellFormat(0, lineHeight, org, "", 1, "L", false, 0, "")
	}
}

// printable is a copy of l whose letterhead, addressee and signatory fpdf can encode:
// an emoji or a stray byte in the settings becomes U+FFFD instead of a panic.
func (l *Letter) printable() *Letter {
	c := *l
	lh := &c.Settings.Letterhead
	lh.Organization, lh.Place = fontRunes(lh.Organization), fontRunes(lh.Place)
	lh.AddressLines = make([]string, len(l.Settings.Letterhead.AddressLines))
	for i, line := range l.Settings.Letterhead.AddressLines {
		lh.AddressLines[i] = fontRunes(line)
	}
	c.Settings.Recipients = make([]workflow.Recipient, len(l.Settings.Recipients))
	for i, r := range l.Settings.Recipients {
		r.Name, r.Title = fontRunes(r.Name), fontRunes(r.Title)
		c.Settings.Recipients[i] = r
	}
	c.Settings.Signatory.Name, c.Settings.Signatory.Title = fontRunes(c.Settings.Signatory.Name), fontRunes(c.Settings.Signatory.Title)
	c.Case.Number = fontRunes(c.Case.Number)
	return &c
}

// RenderBytes renders the letter into memory, without a deadline: for tools and tests.
func (l *Letter) RenderBytes() ([]byte, error) {
	return l.RenderBytesContext(context.Background())
}

// RenderBytesContext renders the letter into memory; see RenderContext.
func (l *Letter) RenderBytesContext(ctx context.Context) ([]byte, error) {
	var buf bytes.Buffer
	if err := l.RenderContext(ctx, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
