package dispatch

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unionportal/unionportal/internal/testrig"
	"github.com/unionportal/unionportal/workflow"
)

// pdfText extracts a PDF's text with poppler's pdftotext (installed by the test rig).
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		if testrig.Required() {
			t.Fatal("pdftotext is missing although the test rig is required")
		}
		t.Skip("pdftotext not available (Debian: poppler-utils; make test installs it)")
	}
	in := filepath.Join(t.TempDir(), "letter.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", "-enc", "UTF-8", in, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

func demoSettings() workflow.DispatchSettings {
	return workflow.DispatchSettings{
		Recipients: []workflow.Recipient{{Name: "Karen Curtis", Title: "Chief, Freedom of Association Branch", Address: "curtis@ilo.example", Kind: "to"}},
		Letterhead: workflow.Letterhead{Organization: "IndustriALL Global Union", AddressLines: []string{"54 bis, route des Acacias", "1227 Geneva"}, Place: "Geneva"},
		Signatory:  workflow.Person{Name: "Atle Hoie", Title: "General Secretary"},
	}
}

func TestLetterCase3386(t *testing.T) {
	body, err := os.ReadFile("../cmd/unionportal/demo/case-3386-update.md")
	if err != nil {
		t.Fatal(err)
	}
	l := Letter{Settings: demoSettings(),
		Case:       workflow.Case{Number: "3386", Country: "KG", Title: "Kyrgyzstan"},
		Submission: workflow.Submission{Kind: workflow.KindAdditionalInformation, Title: "Update", Body: string(body), Language: "en"},
		Date:       time.Date(2023, 8, 30, 12, 0, 0, 0, time.UTC)}
	pdf, err := l.RenderBytes()
	if err != nil {
		t.Fatal(err)
	}
	txt := pdfText(t, pdf)
	for _, want := range []string{"IndustriALL Global Union", "Geneva, 30 August 2023", "Karen Curtis", "Chief, Freedom of Association Branch",
		"International Labour Office", "Update on Case 3386 on Kyrgyzstan", "Dear Karen Curtis,",
		"I am writing this letter to you as General Secretary of IndustriALL Global Union",
		"Jogorku Kenesh", "Deputies of the Jogorku Kenesh", "With best regards,", "Atle Hoie", "General Secretary", "Page 1 of 2"} {
		if !strings.Contains(squash(txt), squash(want)) {
			t.Errorf("the letter lacks %q", want)
		}
	}
	if strings.Contains(txt, SandboxMark) {
		t.Error("a real letter carries the sandbox mark")
	}
	if !strings.HasPrefix(string(pdf), "%PDF-") || !strings.Contains(string(pdf), "/MediaBox [0 0 595.28 841.89]") {
		t.Error("not an A4 PDF")
	}
}

func TestLetterRussianAndKyrgyzInSandbox(t *testing.T) {
	body, err := os.ReadFile("testdata/russian.md")
	if err != nil {
		t.Fatal(err)
	}
	l := Letter{Settings: demoSettings(), Sandbox: true,
		Case:       workflow.Case{Number: "3386", Country: "KG"},
		Submission: workflow.Submission{Kind: workflow.KindFollowUp, Body: string(body), Language: "ru"},
		Date:       time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)}
	pdf, err := l.RenderBytes()
	if err != nil {
		t.Fatal(err)
	}
	txt := squash(pdfText(t, pdf))
	for _, want := range []string{"Follow-up on Case 3386 on Kyrgyzstan", "Дополнительная информация", "новых нарушениях",
		"Председатель профсоюза задержан 3 мая.", "Жогорку Кеңеши", "жөнүндө", "(ң ү ө)", SandboxMark,
		`<script>alert("x")</script>`} {
		if !strings.Contains(txt, squash(want)) {
			t.Errorf("the letter lacks %q", want)
		}
	}
}

// squash folds runs of whitespace, since pdftotext lays text out in columns.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestSubjects(t *testing.T) {
	c := workflow.Case{Number: "3386", Country: "KG"}
	tests := map[string]string{
		workflow.KindAdditionalInformation: "Update on Case 3386 on Kyrgyzstan",
		workflow.KindFollowUp:              "Follow-up on Case 3386 on Kyrgyzstan",
		workflow.KindAssociation:           "Association with the complaint in Case 3386 on Kyrgyzstan",
		workflow.KindComplaint:             "Complaint in Case 3386 on Kyrgyzstan",
	}
	for kind, want := range tests {
		if got := Subject(c, kind); got != want {
			t.Errorf("Subject(%s) = %q, want %q", kind, got, want)
		}
	}
	if got := Subject(workflow.Case{Country: "FR"}, workflow.KindComplaint); got != "Complaint against the Government of France" {
		t.Errorf("new complaint: %q", got)
	}
}

// FuzzLetterMarkdown renders arbitrary bodies and titles: never a panic or an error,
// and the PDF is always produced.
func FuzzLetterMarkdown(f *testing.F) {
	for _, s := range []string{"# H\n\n*a* **b** [l](javascript:x)", "<script>x</script>", "- a\n  - b\n    1. c", "```\ncode\n```", "> q\n> > q2", "\x00\xff", "ң ү ө",
		"😀 `😀` \xf0\x9f", "<javascript:alert(1)> <a@b.c> https://x.org", "[*a* `b`](https://x.org)", "- - - - - - - - - - - - - - - - - - x", "a\r\n\tb  \n\n    c"} {
		f.Add(s, "Title")
	}
	f.Fuzz(func(t *testing.T, body, title string) {
		l := Letter{Settings: demoSettings(), Case: workflow.Case{Number: "1", Country: "KG"},
			Submission: workflow.Submission{Kind: workflow.KindFollowUp, Title: title, Body: body}, Date: time.Now()}
		pdf, err := l.RenderBytes()
		if err != nil || !strings.HasPrefix(string(pdf), "%PDF-") {
			t.Fatalf("body %q: %v", body, err)
		}
	})
}

// FuzzOneLine: text bound for a mail header never keeps a line break or control byte.
func FuzzOneLine(f *testing.F) {
	for _, s := range []string{"a\r\nBcc: x@y", "tab\there", "\x00", "ok"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := oneLine(s)
		for _, r := range out {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("%q -> %q keeps %U", s, out, r)
			}
		}
	})
}
