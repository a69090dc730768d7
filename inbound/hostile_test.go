package inbound

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

// hostileHeader starts a message that names Case 3386, as anyone may send.
const hostileHeader = "From: someone@attacker.example\r\nSubject: Case No. 3386\r\nMessage-ID: <h@attacker.example>\r\n"

// TestParseMessageHostileStructure: a message built to exhaust the parser (nesting,
// thousands of parts or attachments) is refused as the message's fault, with bounded
// memory and no panic; one in a charset or transfer encoding nobody knows is read as
// it is.
func TestParseMessageHostileStructure(t *testing.T) {
	refused := func(t *testing.T, msg string) {
		t.Helper()
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m, err := ParseMessage(strings.NewReader(msg))
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		var bad *MessageError
		if m != nil || !errors.As(err, &bad) {
			t.Fatalf("parsed: %v, %v", m, err)
		}
		if grown := after.TotalAlloc - before.TotalAlloc; grown > 64<<20 {
			t.Errorf("parsing it allocated %d MiB", grown>>20)
		}
	}
	t.Run("nested 50,000 deep", func(t *testing.T) {
		// Each level reads through every level above it: unbounded, the cost grows with
		// the square of the depth (and the stack with it).
		var b strings.Builder
		b.WriteString(hostileHeader + "Content-Type: multipart/mixed; boundary=b0\r\n\r\n")
		for i := range 50_000 {
			fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i, i+1)
		}
		b.WriteString("--b50000\r\nContent-Type: text/plain\r\n\r\nhello\r\n")
		refused(t, b.String())
	})
	t.Run("10,000 attachments", func(t *testing.T) {
		var b strings.Builder
		b.WriteString(hostileHeader + "Content-Type: multipart/mixed; boundary=a\r\n\r\n")
		for i := range 10_000 {
			fmt.Fprintf(&b, "--a\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"f%d.pdf\"\r\n\r\n%%PDF\r\n", i)
		}
		b.WriteString("--a--\r\n")
		refused(t, b.String())
	})
	t.Run("10,000 empty multiparts side by side", func(t *testing.T) {
		var b strings.Builder
		b.WriteString(hostileHeader + "Content-Type: multipart/mixed; boundary=a\r\n\r\n")
		for range 10_000 {
			b.WriteString("--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b--\r\n")
		}
		b.WriteString("--a--\r\n")
		refused(t, b.String())
	})
	t.Run("a header of megabytes", func(t *testing.T) {
		refused(t, hostileHeader+"X-Junk: "+strings.Repeat("x", 4<<20)+"\r\n\r\nhello\r\n")
	})
	t.Run("an attachment whose base64 does not decode", func(t *testing.T) {
		refused(t, hostileHeader+"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!****\r\n")
	})
	t.Run("an unknown charset is read as it is", func(t *testing.T) {
		m, err := ParseMessage(strings.NewReader(hostileHeader + "Content-Type: text/plain; charset=x-klingon\r\n\r\nqapla\xff'\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if m.Text != "qapla\uFFFD'\n" {
			t.Errorf("text %q", m.Text)
		}
	})
	t.Run("an unknown transfer encoding keeps the file undecoded", func(t *testing.T) {
		m, err := ParseMessage(strings.NewReader(hostileHeader + "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: text/plain\r\n\r\nSee the file.\r\n" +
			"--a\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: x-evil\r\nContent-Disposition: attachment; filename=x.pdf\r\n\r\n%PDF\r\n--a--\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if len(m.Files) != 1 {
			t.Fatalf("files %+v", m.Files)
		}
		if b, _ := io.ReadAll(m.Incoming()[0].Body); string(b) != "%PDF" {
			t.Errorf("file %q", b)
		}
	})
	t.Run("within the limits", func(t *testing.T) {
		var b strings.Builder
		b.WriteString(hostileHeader + "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: text/plain\r\n\r\nFiles.\r\n")
		for i := range maxParts - 1 {
			fmt.Fprintf(&b, "--a\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"f%d.pdf\"\r\n\r\n%%PDF\r\n", i)
		}
		b.WriteString("--a--\r\n")
		m, err := ParseMessage(strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if len(m.Files) != maxParts-1 || m.Text != "Files." {
			t.Errorf("%d files, text %q", len(m.Files), m.Text)
		}
	})
}

// TestHTMLTextWritesOutNoMarkup: a link's address is written out only when nothing of
// it can read as markup; an unclosed tag or an attribute of megabytes costs nothing.
func TestHTMLTextWritesOutNoMarkup(t *testing.T) {
	for in, want := range map[string]string{
		`<a href="https://x.test/?q=<script>alert(1)</script>">x</a>`:                   "x",
		`<a href="https://x.test/&quot;&gt;&lt;img src=x onerror=alert(1)&gt;">y</a>`:   "y",
		`<a href="JavaScript:alert(1)">z</a>`:                                           "z",
		`<a href=" HTTPS://www.ilo.org/cfa ">site</a>`:                                  "site <HTTPS://www.ilo.org/cfa>",
		`<p>Open <b>never closed <i>text`:                                               "Open never closed text",
		`<a href="https://x.test/` + strings.Repeat("a", 1<<20) + `">long</a> after`:    "long after",
		`<div title="` + strings.Repeat("&lt;", 1<<16) + `">Body</div><scr<script>ipt>`: "Body\nipt>",
	} {
		got := HTMLText(in)
		if got != want {
			t.Errorf("HTMLText(%.60q) = %.80q, want %q", in, got, want)
		}
		if strings.Contains(strings.ReplaceAll(got, " <HTTPS://www.ilo.org/cfa>", ""), "<") {
			t.Errorf("markup in %.80q", got)
		}
	}
}
