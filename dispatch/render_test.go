package dispatch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/workflow"

	"github.com/unionportal/unionportal/internal/testrig"
)

// adversarial are bodies whose cost grew with the square of the length of one run of
// text (issue 9, item 1), by the number of bytes n of that run.
var adversarial = map[string]func(n int) string{
	"code block":    func(n int) string { return "```\n" + strings.Repeat("x", n) + "\n```\n" },
	"indented code": func(n int) string { return "    " + strings.Repeat("y", n) + "\n" },
	"inline code":   func(n int) string { return "Text `" + strings.Repeat("z", n) + "` text." },
	"html block":    func(n int) string { return "<div>\n" + strings.Repeat("h", n) + "\n</div>\n" },
	"inline html":   func(n int) string { return "Text <span title=\"" + strings.Repeat("t", n) + "\"> text." },
	"link text":     func(n int) string { return "[" + strings.Repeat("l", n) + "](https://www.ilo.org/)" },
	"long word":     func(n int) string { return strings.Repeat("w", n) },
	"repeated word": func(n int) string { return strings.Repeat("a ", n/2) },
	"cyrillic":      func(n int) string { return "```\n" + strings.Repeat("ң", n/2) + "\n```\n" },
	"line feeds":    func(n int) string { return "```\n" + strings.Repeat("\n", n) + "```\n" },
	"spaces":        func(n int) string { return "```\n" + strings.Repeat("x"+strings.Repeat(" ", 999), n/1000) + "\n```\n" },
	"paragraphs":    func(n int) string { return strings.Repeat("a\n\n", n/3) },
	"list markers":  func(n int) string { return strings.Repeat("- ", n/2) + "x" },
	"quote markers": func(n int) string { return strings.Repeat("> ", n/2) + "x" },
	"nested lists": func(n int) string {
		var sb strings.Builder
		for depth := 0; sb.Len() < n; depth++ {
			sb.WriteString(strings.Repeat("  ", depth) + "- x\n")
		}
		return sb.String()
	},
}

func letterOf(body string) *Letter {
	return &Letter{Settings: demoSettings(), Case: workflow.Case{Number: "3386", Country: "KG"},
		Submission: workflow.Submission{Kind: workflow.KindFollowUp, Body: body}, Date: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}
}

// allocatedBy is the number of bytes allocated while laying body out and writing the
// PDF: a count of the render's work that does not depend on the machine's speed (fpdf's
// Write allocated a copy of its whole argument for every character it placed). Pages
// are not compressed, since each page's compressor costs a large step of allocation.
func allocatedBy(t *testing.T, body string) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m := renderBody(t, context.Background(), body)
	if err := m.pdf.Output(io.Discard); err != nil || m.err != nil {
		t.Fatal(err, m.err)
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestLetterRenderWorkIsLinear: the work of rendering one run of text grows with its
// length, not with its square, for every kind of run. Work is counted, never timed:
// the bytes measured and laid out (at most twice and once each), and the bytes
// allocated per byte of the run (fpdf's Write allocated a copy of its whole argument
// for every character it placed: 64 KiB per byte at this size, where a linear render
// stays under a few hundred).
func TestLetterRenderWorkIsLinear(t *testing.T) {
	const n = 16 << 10
	for name, body := range adversarial {
		t.Run(name, func(t *testing.T) {
			for _, size := range []int{n, 2 * n} {
				m := renderBody(t, context.Background(), body(size))
				if m.measured > 2*size+64 || m.done > 2*size+64 {
					t.Errorf("%d bytes of body: %d measured, %d laid out, want at most %d", size, m.measured, m.done, 2*size+64)
				}
			}
			base := allocatedBy(t, body(0)) // a letter's own cost: fonts, chrome
			if perByte := (int64(allocatedBy(t, body(n))) - int64(base)) / n; perByte > 1<<10 {
				t.Errorf("a run of %d bytes allocated %d bytes per byte, want linear work (at most 1 KiB per byte)", n, perByte)
			}
		})
	}
}

// TestLetterNestingIsBounded: lists and quotes nest at most maxNesting deep. goldmark's
// parse costs the square of the depth (40 KB of "- " took a second, a megabyte would
// take minutes); deeper markers stay text.
func TestLetterNestingIsBounded(t *testing.T) {
	for _, body := range []string{adversarial["list markers"](40000), adversarial["quote markers"](40000),
		strings.Repeat(">", 20000) + " x", strings.Repeat("1. ", 10000) + "x", adversarial["nested lists"](100000)} {
		doc := markdown.Parser().Parse(text.NewReader([]byte(body)))
		deepest := 0
		ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
			if entering && (n.Kind() == ast.KindList || n.Kind() == ast.KindBlockquote) {
				depth := 0
				for p := n; p != nil; p = p.Parent() {
					if p.Kind() == ast.KindList || p.Kind() == ast.KindBlockquote {
						depth++
					}
				}
				deepest = max(deepest, depth)
			}
			return ast.WalkContinue, nil
		})
		if deepest > maxNesting {
			t.Errorf("%.20q…: nested %d deep, want at most %d", body, deepest, maxNesting)
		}
	}
	pdf, err := letterOf(strings.Repeat("- ", 40) + "deep").RenderBytes()
	if err != nil {
		t.Fatal(err)
	}
	if txt := pdfText(t, pdf); !strings.Contains(txt, "deep") || strings.Count(txt, "-") < 40-maxNesting {
		t.Errorf("the markers beyond the deepest level are not kept as text:\n%s", txt)
	}
}

// TestLetterManyPagesStayCheap: a letter of more than maxCompressedPages pages is not
// compressed page by page, each page's compressor costing a megabyte of allocation.
func TestLetterManyPagesStayCheap(t *testing.T) {
	body := strings.Repeat("a\n\n", 40000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	pdf, err := letterOf(body).RenderBytes()
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	pages := bytes.Count(pdf, []byte("/Type /Page\n"))
	if pages <= maxCompressedPages {
		t.Fatalf("%d pages, want more than %d", pages, maxCompressedPages)
	}
	if perPage := (after.TotalAlloc - before.TotalAlloc) / uint64(pages); perPage > 256<<10 {
		t.Errorf("%d bytes allocated per page", perPage)
	}
}

// renderBody lays body out on a page as a letter does, and returns the writer with its
// counts.
func renderBody(t *testing.T, ctx context.Context, body string) *markdownPDF {
	t.Helper()
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(false)
	for style, font := range map[string][]byte{"": fontRegular, "B": fontBold, "I": fontItalic, "BI": fontBoldItalic} {
		pdf.AddUTF8FontFromBytes(fontFamily, style, font)
	}
	pdf.SetMargins(25, 20, 25)
	pdf.SetAutoPageBreak(true, 22)
	pdf.AddPage()
	pdf.SetFont(fontFamily, "", bodySize)
	m := &markdownPDF{pdf: pdf}
	m.err = m.render(ctx, []byte(body))
	if err := pdf.Error(); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLetterRenderStopsWhenContextEnds(t *testing.T) {
	body := adversarial["code block"](1<<20) + strings.Repeat("Plain prose, in words. ", 1<<15)

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := letterOf(body).RenderBytesContext(ctx)
		e, ok := apperr.As(err)
		if !ok || e.Code != CodeRenderTimeout || e.Kind != apperr.KindUnavailable || !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want render_timeout (unavailable) caused by the cancellation", err)
		}
	})

	t.Run("deadline passed", func(t *testing.T) {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		_, err := letterOf(body).RenderBytesContext(ctx)
		if e, ok := apperr.As(err); !ok || e.Code != CodeRenderTimeout || e.Kind != apperr.KindUnavailable {
			t.Fatalf("err %v, want render_timeout", err)
		}
		// The deadline reaches a client as render_timeout, not as a generic timeout.
		if errors.Is(err, context.DeadlineExceeded) {
			t.Error("the error unwraps to context.DeadlineExceeded")
		}
	})

	t.Run("stops part way, in every kind of run", func(t *testing.T) {
		for name, body := range adversarial {
			ctx := &testrig.StopAfter{Context: context.Background(), N: 3}
			m := renderBody(t, ctx, body(1<<20))
			// Deeply indented lists lay out only their few letters: they may end first.
			if !isRenderStopped(m.err) && (m.err != nil || name != "nested lists") {
				t.Fatalf("%s: err %v, want render_timeout", name, m.err)
			}
			if m.done > 4*checkEvery {
				t.Errorf("%s: %d bytes laid out after the context ended at the third look, want at most %d", name, m.done, 4*checkEvery)
			}
		}
	})

	t.Run("a normal body completes", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		pdf, err := letterOf("# Heading\n\nA paragraph with `code`.\n\n```\ncode\n```\n").RenderBytesContext(ctx)
		if err != nil || !strings.HasPrefix(string(pdf), "%PDF-") {
			t.Fatalf("err %v", err)
		}
	})
}

// pdfLinks lists the distinct destinations of a PDF's link annotations (fpdf writes
// them into the uncompressed page objects; a link whose text changes style or wraps has
// one annotation per piece).
func pdfLinks(pdf []byte) []string {
	var out []string
	for _, m := range regexp.MustCompile(`/S /URI /URI \(((?:[^\\)]|\\.)*)\)`).FindAllSubmatch(pdf, -1) {
		out = append(out, string(m[1]))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestLetterLinkAllowList: only http, https and mailto destinations become links in a
// letter, whatever the Markdown syntax (inline link, autolink, bare URL); anything else
// is printed as plain text.
func TestLetterLinkAllowList(t *testing.T) {
	tests := []struct {
		body string
		want []string
	}{
		{"<javascript:alert(1)>", nil},
		{"<JavaScript:alert(1)>", nil},
		{"<file:///etc/passwd>", nil},
		{"<smb://x/y>", nil},
		{"<data:text/html,x>", nil},
		{"<vbscript:msgbox>", nil},
		{"<ftp://ftp.example.org/x>", nil},
		{"ftp://ftp.example.org/x", nil},
		{"[x](javascript:alert(1))", nil},
		{"[x](JAVASCRIPT:alert(1))", nil},
		{"[x](file:///etc/passwd)", nil},
		{"[x](/relative/path)", nil},
		{"[x](https:no-host)", nil},
		{"[x](<java\tscript:x>)", nil},
		{"<https://ilo.org>", []string{"https://ilo.org"}},
		{"<mailto:cfa@ilo.org>", []string{"mailto:cfa@ilo.org"}},
		{"<cfa@ilo.org>", []string{"mailto:cfa@ilo.org"}},
		{"[the *ILO*](http://www.ilo.org/x?a=1)", []string{"http://www.ilo.org/x?a=1"}},
		{"See https://normlex.ilo.org/case today", []string{"https://normlex.ilo.org/case"}},
	}
	for _, tt := range tests {
		pdf, err := letterOf(tt.body).RenderBytes()
		if err != nil {
			t.Fatalf("%q: %v", tt.body, err)
		}
		if got := pdfLinks(pdf); strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%q: links %q, want %q", tt.body, got, tt.want)
		}
	}
	// An unsafe link's text is still there, as text.
	pdf, err := letterOf("Before <javascript:alert(1)> after [label](javascript:x).").RenderBytes()
	if err != nil {
		t.Fatal(err)
	}
	if txt := squash(pdfText(t, pdf)); !strings.Contains(txt, "Before javascript:alert(1) after label.") {
		t.Errorf("the unsafe links' text is missing:\n%s", txt)
	}
}

func TestSafeLink(t *testing.T) {
	for dest, want := range map[string]bool{
		"https://ilo.org": true, "HTTP://ilo.org/a": true, "mailto:cfa@ilo.org": true,
		"javascript:alert(1)": false, "data:text/html,x": false, "file:///etc/passwd": false, "smb://x/y": false,
		"https://": false, "mailto:": false, "//ilo.org": false, "ilo.org": false, "": false,
		"https://ilo.org/\nx": false, " https://ilo.org": false,
	} {
		if got := safeLink(dest); got != want {
			t.Errorf("safeLink(%q) = %v, want %v", dest, got, want)
		}
	}
}

// TestLetterOddCharacters: emoji and bytes that are not UTF-8, in the body or in the
// settings, render as U+FFFD instead of panicking inside fpdf.
func TestLetterOddCharacters(t *testing.T) {
	l := letterOf("Emoji 😀 in text, `in code 😀`, and a stray \xff byte.\n\n```\n😀😀😀\n```\n")
	l.Settings.Letterhead.Organization = "Union 😀"
	l.Settings.Signatory.Name = "Name \xfe"
	pdf, err := l.RenderBytes()
	if err != nil {
		t.Fatal(err)
	}
	if txt := pdfText(t, pdf); !strings.Contains(txt, "Emoji \uFFFD in text") || !strings.Contains(txt, "Union \uFFFD") {
		t.Errorf("text:\n%s", txt)
	}
}

// TestMailBodiesMakeNoLinks: the dispatch e-mail's HTML part is the cover note as
// escaped text; nothing from a submission becomes a link or markup in it (the letter is
// the PDF, and notifications carry no submission text at all).
func TestMailBodiesMakeNoLinks(t *testing.T) {
	sub := workflow.Submission{Kind: workflow.KindFollowUp,
		Title: `<a href="javascript:alert(1)">x</a> [y](javascript:z) <javascript:q> <img src=x onerror=alert(1)>`}
	text, html := bodies(demoSettings(), workflow.Case{Number: "3386", Country: "KG"}, sub, []string{"scan.pdf: https://files.example/x"}, false)
	for _, bad := range []string{"<a", "<img"} {
		if strings.Contains(strings.ToLower(html), bad) {
			t.Errorf("the HTML part contains %q:\n%s", bad, html)
		}
	}
	if !strings.Contains(text, sub.Title) || !strings.Contains(html, "&lt;a href=") {
		t.Errorf("the title is not kept as text:\n%s\n%s", text, html)
	}
}
