// Command letter measures P7b (BENCHMARKS.md, docs/benchmarks.md): the time to render
// the Case 3386 letter with the portal's renderer (package dispatch, fpdf) against
// headless Chromium printing the same letter, written as a simple HTML page, to PDF —
// what most portals do. Two Chromium baselines:
//
//   - warm: one long-running `chromium --headless --remote-debugging-pipe` driven over
//     the DevTools protocol (standard library only, cdp.go); one letter is loading the
//     page and Page.printToPDF;
//   - cold: `chromium --headless --print-to-pdf=out.pdf file://letter.html`, a new
//     browser per letter.
//
// Each comparison runs in pairs, in alternating order (bench/internal/pairs), with the
// CPU time of this process and of Chromium's processes; it prints each side's time per
// letter with median and spread, the CPU per letter, and the ratios on the last line.
// Run it with `make bench-letter`; it needs Debian's Chromium (`make chromium`).
package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/yuin/goldmark"

	"github.com/unionportal/unionportal/bench/internal/pairs"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/workflow"
)

var (
	nPairs    = flag.Int("pairs", pairs.DefaultPairs, "pairs of fpdf and warm Chromium")
	coldPairs = flag.Int("cold-pairs", 5, "pairs of fpdf and cold Chromium (a browser started per letter, over a second each)")
	perRun    = flag.Int("letters", 5, "letters per run of fpdf and of warm Chromium (a cold run is one letter)")
	keep      = flag.Bool("keep", false, "keep the temporary directory (the HTML letter, the PDFs, Chromium's log)")
)

const caseNumber = "3386"

// body is the Case 3386 update's text (the submission's body, Markdown), as in
// cmd/unionportal/demo and /work/shared/samples/case-3386-update.txt.
//
//go:embed testdata/case-3386-update.md
var body string

//go:embed letter.html
var letterHTML string

func main() {
	flag.Parse()
	log.SetFlags(0)
	// Chromium is killed at the end whatever happens: an error, a panic, ^C.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		killAll()
		log.Fatalf("stopped by %s", s)
	}()
	err := run()
	killAll()
	if err != nil {
		log.Fatalf("bench/letter: %v", err)
	}
}

// letter is the Case 3386 update as the portal would dispatch it.
func letter() *dispatch.Letter {
	return &dispatch.Letter{
		Settings: workflow.DispatchSettings{
			Recipients: []workflow.Recipient{{Name: "Karen Curtis", Title: "Chief, Freedom of Association Branch", Address: "curtis@ilo.example", Kind: "to"}},
			Letterhead: workflow.Letterhead{Organization: "IndustriALL Global Union",
				AddressLines: []string{"54 bis, route des Acacias", "CP 1516", "1227 Geneva", "Switzerland"}, Place: "Geneva"},
			Signatory: workflow.Person{Name: "Atle Hoie", Title: "General Secretary"},
		},
		Case:       workflow.Case{Number: caseNumber, Country: "KG"},
		Submission: workflow.Submission{Kind: workflow.KindAdditionalInformation, Body: body, Language: "en"},
		Date:       time.Date(2023, 8, 30, 12, 0, 0, 0, time.UTC),
	}
}

// renderFpdf is one letter through the portal's renderer.
func renderFpdf(l *dispatch.Letter) ([]byte, error) {
	pdf, err := l.RenderBytesContext(context.Background())
	if err != nil {
		return nil, err
	}
	return pdf, checkPDF(pdf)
}

// letterPage is l as an HTML page with the same text and layout as the PDF the
// portal renders: letterhead, place and date, addressee, subject, salutation, the body
// (Markdown rendered by goldmark, as a portal would), closing and signatory; DejaVu
// Sans, A4 with the same margins, page numbers in the footer (CSS @page margin boxes).
func letterPage(l *dispatch.Letter) ([]byte, error) {
	t, err := template.New("letter").Parse(letterHTML)
	if err != nil {
		return nil, err
	}
	var md bytes.Buffer
	if err := goldmark.Convert([]byte(l.Submission.Body), &md); err != nil {
		return nil, err
	}
	to := l.Settings.Recipients[0]
	salutation := "Dear Sir or Madam,"
	if to.Name != "" && !strings.Contains(to.Name, "Branch") {
		salutation = "Dear " + to.Name + ","
	}
	var out bytes.Buffer
	err = t.Execute(&out, map[string]any{
		"Organization": l.Settings.Letterhead.Organization,
		"AddressLines": l.Settings.Letterhead.AddressLines,
		"Place":        l.Settings.Letterhead.Place,
		"Date":         l.Date.Format("2 January 2006"),
		"To":           []string{to.Name, to.Title, "International Labour Office", "Route des Morillons 4", "CH-1211 Geneva 22", "Switzerland"},
		"Subject":      dispatch.Subject(l.Case, l.Submission.Kind),
		"Salutation":   salutation,
		// The body is the submission's own text, rendered by goldmark without raw HTML.
		"Body":      template.HTML(md.String()),
		"Signatory": l.Settings.Signatory.Name,
		"Title":     l.Settings.Signatory.Title,
	})
	return out.Bytes(), err
}

// pdfText is the text of a PDF through pdftotext, or "" with ok false when pdftotext
// is not installed.
func pdfText(pdf []byte, dir, name string) (string, bool, error) {
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		return "", false, nil
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pdf, 0o600); err != nil {
		return "", true, err
	}
	out, err := exec.Command(bin, "-layout", p, "-").Output()
	if err != nil {
		return "", true, fmt.Errorf("pdftotext %s: %w", p, err)
	}
	return string(out), true, nil
}

// checkText fails unless the PDF's text holds the case number, the subject and the
// body's last words: the same letter, not a blank or an error page.
func checkText(side string, pdf []byte, dir string, l *dispatch.Letter) error {
	txt, ok, err := pdfText(pdf, dir, side+".pdf")
	if err != nil {
		return err
	}
	if !ok {
		fmt.Printf("note: pdftotext is not installed (apt-get install poppler-utils): %s's text not checked\n", side)
		return nil
	}
	flat := strings.Join(strings.Fields(txt), " ")
	for _, want := range []string{"Case " + caseNumber, dispatch.Subject(l.Case, l.Submission.Kind), "Dear Karen Curtis,",
		"the continued pressure from the state authorities on trade unions in Kyrgyzstan", "Atle Hoie", "Page 2 of 2"} {
		if !strings.Contains(flat, want) {
			return fmt.Errorf("%s's PDF (%s) lacks %q", side, filepath.Join(dir, side+".pdf"), want)
		}
	}
	return nil
}

func run() error {
	if *nPairs < 1 || *perRun < 1 {
		return errors.New("-pairs and -letters must be at least 1")
	}
	bin, err := chromiumBinary()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-letter-")
	if err != nil {
		return err
	}
	if *keep {
		fmt.Printf("files in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	l := letter()

	// The portal's letter, checked.
	fp, err := renderFpdf(l)
	if err != nil {
		return fmt.Errorf("fpdf: %w", err)
	}
	if err := checkText("fpdf", fp, dir, l); err != nil {
		return err
	}

	// The same letter as HTML, for Chromium.
	page, err := letterPage(l)
	if err != nil {
		return err
	}
	htmlPath := filepath.Join(dir, "letter.html")
	if err := os.WriteFile(htmlPath, page, 0o600); err != nil {
		return err
	}
	url := "file://" + htmlPath

	// Warm: one browser for the whole run; a first letter checked and not timed.
	warm, err := startBrowser(bin, filepath.Join(dir, "profile-warm"), filepath.Join(dir, "chromium-warm.log"))
	if err != nil {
		return err
	}
	defer warm.close()
	wp, err := warm.print(url)
	if err != nil {
		return fmt.Errorf("warm chromium: %w", err)
	}
	if err := checkText("chromium-warm", wp, dir, l); err != nil {
		return err
	}
	coldOut, coldProfile := filepath.Join(dir, "cold.pdf"), filepath.Join(dir, "profile-cold")
	cp, err := coldPrint(bin, coldProfile, htmlPath, coldOut)
	if err != nil {
		return fmt.Errorf("cold chromium: %w", err)
	}
	if err := checkText("chromium-cold", cp, dir, l); err != nil {
		return err
	}
	fmt.Printf("machine: %s/%s, %d CPUs, %s; %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), chromiumVersion(bin))
	fmt.Printf("letter: Case %s, %d-byte body; PDFs of %d bytes (fpdf), %d (chromium warm), %d (chromium cold), each checked with pdftotext\n",
		caseNumber, len(body), len(fp), len(wp), len(cp))

	// A side renders n letters and returns the time per letter in milliseconds.
	fpdfSide := func(n int) pairs.Side {
		return pairs.Side{Name: "fpdf", Prepare: runtime.GC, Run: timed(n, func() error {
			_, err := renderFpdf(l)
			return err
		})}
	}
	warmSide := pairs.Side{Name: "chromium warm", Prepare: runtime.GC, Run: timed(*perRun, func() error {
		_, err := warm.print(url)
		return err
	})}
	coldSide := pairs.Side{Name: "chromium cold", Prepare: runtime.GC, Run: timed(1, func() error {
		_, err := coldPrint(bin, coldProfile, htmlPath, coldOut)
		return err
	})}

	// The bench's own process (the fpdf renders, the DevTools client) and Chromium's
	// processes: the warm browser's tree, and the cold browsers as reaped children.
	warmMeters := []pairs.Meter{pairs.Self("bench process"), descendants("chromium (warm)", warm.cmd.Process.Pid)}
	fmt.Printf("\nfpdf / warm chromium: %d pairs, %d letters per run, time per letter (ms)\n", *nPairs, *perRun)
	fa, wa, err := pairs.Interleave(*nPairs, warmMeters, fpdfSide(*perRun), warmSide, func(i int, a, b pairs.Result) {
		fmt.Printf("pair %2d: fpdf %7.2f ms, chromium warm %7.2f ms, ratio %.3f\n", i, a.Value, b.Value, a.Value/b.Value)
	})
	if err != nil {
		return err
	}
	if failed != nil {
		return failed
	}
	coldMeters := []pairs.Meter{pairs.Self("bench process"), children("chromium (cold)")}
	fmt.Printf("\nfpdf / cold chromium: %d pairs, fpdf %d letters per run, chromium one letter per run, time per letter (ms)\n", *coldPairs, *perRun)
	fc, cc, err := pairs.Interleave(*coldPairs, coldMeters, fpdfSide(*perRun), coldSide, func(i int, a, b pairs.Result) {
		fmt.Printf("pair %2d: fpdf %7.2f ms, chromium cold %7.2f ms, ratio %.4f\n", i, a.Value, b.Value, a.Value/b.Value)
	})
	if err != nil {
		return err
	}
	if failed != nil {
		return failed
	}

	fmt.Println()
	fmt.Printf("time per letter (ms, median and spread): fpdf %s and %s | chromium warm %s | chromium cold %s\n",
		pairs.Summary("%.2f", pairs.Values(fa)), pairs.Summary("%.2f", pairs.Values(fc)),
		pairs.Summary("%.1f", pairs.Values(wa)), pairs.Summary("%.0f", pairs.Values(cc)))
	fmt.Println(pairs.CPUReport(warmMeters, "letter", map[string][]pairs.Result{"fpdf": fa, "chromium warm": wa}, "fpdf", "chromium warm"))
	fmt.Println(pairs.CPUReport(coldMeters, "letter", map[string][]pairs.Result{"fpdf": fc, "chromium cold": cc}, "fpdf", "chromium cold"))
	fmt.Printf("CPU per letter, all processes, fpdf/chromium-warm %s | fpdf/chromium-cold %s\n",
		pairs.Summary("%.3f", cpuRatios(fa, wa)), pairs.Summary("%.4f", cpuRatios(fc, cc)))
	fmt.Printf("P7b fpdf/chromium-warm %s | fpdf/chromium-cold %s\n",
		pairs.Summary("%.3f", pairs.Ratios(fa, wa)), pairs.Summary("%.4f", pairs.Ratios(fc, cc)))
	return nil
}

// failed is the first error of a timed run: pairs.Side.Run cannot return one, so the
// run stops timing and the benchmark fails after the pair.
var failed error

// timed runs one letter n times and returns the wall time per letter in milliseconds,
// and n letters as the units of work.
func timed(n int, one func() error) func() (float64, float64) {
	return func() (float64, float64) {
		start := time.Now()
		for range n {
			if failed != nil {
				break
			}
			if err := one(); err != nil {
				failed = err
			}
		}
		return float64(time.Since(start).Microseconds()) / 1000 / float64(n), float64(n)
	}
}

// cpuRatios is, pair by pair, the CPU time per letter of every process during the a
// run over that during the b run.
func cpuRatios(as, bs []pairs.Result) []float64 {
	out := make([]float64, len(as))
	for i := range as {
		var a, b time.Duration
		for _, d := range as[i].CPU {
			a += d
		}
		for _, d := range bs[i].CPU {
			b += d
		}
		out[i] = (float64(a) / as[i].Units) / (float64(b) / bs[i].Units)
	}
	return out
}

func chromiumVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "chromium (version unknown)"
	}
	return strings.TrimSpace(string(out))
}
