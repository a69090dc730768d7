package scrub_test

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"strings"
	"testing"

	"golang.org/x/image/webp"

	"github.com/unionportal/unionportal/scrub"
	"github.com/unionportal/unionportal/scrub/scrubtest"
)

func clean(t *testing.T, file []byte, contentType string) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := scrub.Clean(&out, bytes.NewReader(file), int64(len(file)), contentType); err != nil {
		t.Fatalf("Clean: %v", err)
	}
	return out.Bytes()
}

func inspect(file []byte, contentType string) scrub.Report {
	return scrub.Inspect(bytes.NewReader(file), int64(len(file)), contentType)
}

// noMarkers fails when a cleaned copy still carries a fixture's metadata, and checks
// that the cleaned copy reports nothing.
func noMarkers(t *testing.T, cleaned []byte, contentType string) {
	t.Helper()
	for _, m := range scrubtest.Markers {
		if bytes.Contains(cleaned, []byte(m)) {
			t.Errorf("the cleaned copy still holds %q", m)
		}
	}
	if r := inspect(cleaned, contentType); r.Status != scrub.StatusClean || len(r.Found) != 0 {
		t.Errorf("the cleaned copy reports %+v", r)
	}
}

func wantFound(t *testing.T, r scrub.Report, want ...string) {
	t.Helper()
	all := strings.Join(r.Found, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("found %q, want it to mention %q", r.Found, w)
		}
	}
}

func samePixels(t *testing.T, a, b image.Image) {
	t.Helper()
	if a.Bounds() != b.Bounds() {
		t.Fatalf("bounds %v, want %v", b.Bounds(), a.Bounds())
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			r1, g1, b1, a1 := a.At(x, y).RGBA()
			r2, g2, b2, a2 := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				t.Fatalf("pixel %d,%d differs", x, y)
			}
		}
	}
}

func TestJPEG(t *testing.T) {
	file, want := scrubtest.JPEG()
	r := inspect(file, "image/jpeg")
	if r.Status != scrub.StatusCleanedOnSend {
		t.Fatalf("status %s (%s)", r.Status, r.Reason)
	}
	wantFound(t, r, scrubtest.GPS, "camera serial '"+scrubtest.Serial+"'", "artist '"+scrubtest.Author+"'",
		"camera 'Canon'", "XMP creator '"+scrubtest.Creator+"'", "creator tool 'PhotoTool 1.0'",
		"IPTC by-line '"+scrubtest.Byline+"'", "comment '"+scrubtest.Comment+"'")
	got := clean(t, file, "image/jpeg")
	if !bytes.Equal(got, want) {
		t.Fatalf("the cleaned JPEG is not the image with its ICC profile alone (%d bytes, want %d)", len(got), len(want))
	}
	noMarkers(t, got, "image/jpeg")
	a, err := jpeg.Decode(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	b, err := jpeg.Decode(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	samePixels(t, a, b)
}

func TestJPEGWithoutMetadataIsClean(t *testing.T) {
	plain := scrubtest.PlainJPEG()
	if r := inspect(plain, "image/jpeg"); r.Status != scrub.StatusClean || len(r.Found) != 0 {
		t.Fatalf("report %+v", r)
	}
	if got := clean(t, plain, "image/jpeg"); !bytes.Equal(got, plain) {
		t.Fatal("a JPEG without metadata changed")
	}
}

func TestJPEGTrailerAndProgressive(t *testing.T) {
	plain := scrubtest.PlainJPEG()
	file := append(append([]byte(nil), plain...), []byte("trailer: "+scrubtest.Author)...)
	wantFound(t, inspect(file, "image/jpeg"), "data after the end of the image")
	if got := clean(t, file, "image/jpeg"); !bytes.Equal(got, plain) {
		t.Fatal("the data after the end of the image was kept")
	}
}

func TestPNG(t *testing.T) {
	file, want := scrubtest.PNG()
	r := inspect(file, "image/png")
	wantFound(t, r, "text 'Author': '"+scrubtest.Author+"'", "XMP creator '"+scrubtest.Creator+"'", scrubtest.GPS,
		"camera serial", "modification time")
	got := clean(t, file, "image/png")
	if !bytes.Equal(got, want) {
		t.Fatal("the cleaned PNG is not the encoder's bytes")
	}
	noMarkers(t, got, "image/png")
	a, err := png.Decode(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	b, err := png.Decode(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	samePixels(t, a, b)
}

func TestWebP(t *testing.T) {
	file, want := scrubtest.WebP()
	r := inspect(file, "image/webp")
	wantFound(t, r, scrubtest.GPS, "XMP creator '"+scrubtest.Creator+"'", "artist")
	got := clean(t, file, "image/webp")
	if !bytes.Equal(got, want) {
		t.Fatalf("cleaned WebP\n%q\nwant\n%q", got, want)
	}
	noMarkers(t, got, "image/webp")
	a, err := webp.Decode(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	b, err := webp.Decode(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	samePixels(t, a, b)
}

func TestTIFFCannotBeCleaned(t *testing.T) {
	r := inspect(scrubtest.EXIF(), "image/tiff")
	if r.Status != scrub.StatusCannotClean || r.Reason == "" {
		t.Fatalf("report %+v", r)
	}
	wantFound(t, r, scrubtest.GPS, "camera serial '"+scrubtest.Serial+"'")
	err := scrub.Clean(io.Discard, bytes.NewReader(scrubtest.EXIF()), int64(len(scrubtest.EXIF())), "image/tiff")
	if !errors.Is(err, scrub.ErrCannotClean) {
		t.Fatalf("Clean: %v", err)
	}
}

func TestUnreadableAndUnknown(t *testing.T) {
	if r := inspect([]byte("\xff\xd8\xff\xe1\x00"), "image/jpeg"); r.Status != scrub.StatusCannotClean {
		t.Errorf("a truncated JPEG: %+v", r)
	}
	if r := inspect([]byte("hello"), "application/x-unknown"); r.Status != scrub.StatusCannotClean {
		t.Errorf("an unknown type: %+v", r)
	}
	if r := inspect([]byte("hello "+scrubtest.Author), "text/plain; charset=utf-8"); r.Status != scrub.StatusClean {
		t.Errorf("plain text: %+v", r)
	}
}

func TestPDF(t *testing.T) {
	file := scrubtest.PDF()
	r := inspect(file, "application/pdf")
	if r.Status != scrub.StatusCleanedOnSend {
		t.Fatalf("report %+v", r)
	}
	wantFound(t, r, "author '"+scrubtest.Author+"'", "creator tool '"+scrubtest.Creator+"'", "producer", "title", "XMP metadata")
	got := clean(t, file, "application/pdf")
	noMarkers(t, got, "application/pdf")
	before, after := pdfPages(t, file), pdfPages(t, got)
	if len(before) != len(after) || len(after) != 1 {
		t.Fatalf("pages: %d before, %d after", len(before), len(after))
	}
	for i := range before {
		if before[i] != after[i] {
			t.Errorf("page %d's content changed", i+1)
		}
	}
	if !strings.Contains(after[0], scrubtest.PDFText) {
		t.Errorf("the page's text is gone: %q", after[0])
	}
}

func TestDocx(t *testing.T) {
	file := scrubtest.Docx()
	r := inspect(file, scrub.TypeDOCX)
	if r.Status != scrub.StatusCleanedOnSend {
		t.Fatalf("report %+v", r)
	}
	wantFound(t, r, "author: '"+scrubtest.Author+"'", "last modified by: '"+scrubtest.Creator+"'", "company: '"+scrubtest.Company+"'",
		"comment and revision authors: '"+scrubtest.Author+"', '"+scrubtest.Byline+"'", "initials: 'BP'", "revision session ids",
		"template", "embedded image 'image1.jpeg': "+scrubtest.GPS, "archive comment")
	got := clean(t, file, scrub.TypeDOCX)
	noMarkers(t, got, scrub.TypeDOCX)
	parts := unzip(t, got)
	// The body is the same XML but for the removed rsids and the emptied author.
	want := strings.NewReplacer(` w:rsidR="00AB12CD"`, "", ` w:rsidRDefault="00AB12CD"`, "", ` w:rsidR="00EF5678"`, "",
		`w:author="`+scrubtest.Author+`"`, `w:author=""`).Replace(scrubtest.DocxBody)
	if got := parts["word/document.xml"]; got != want {
		t.Errorf("document.xml\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(parts["word/settings.xml"], "<w:settings") || strings.Contains(parts["word/settings.xml"], "rsid") {
		t.Errorf("settings.xml %s", parts["word/settings.xml"])
	}
	for name, body := range parts {
		if strings.HasSuffix(name, ".xml") || strings.HasSuffix(name, ".rels") {
			if err := wellFormed(body); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
	img, err := jpeg.Decode(strings.NewReader(parts["word/media/image1.jpeg"]))
	if err != nil || img.Bounds().Dx() != 64 {
		t.Errorf("the embedded photo: %v", err)
	}
}

func TestOdt(t *testing.T) {
	file := scrubtest.Odt()
	r := inspect(file, scrub.TypeODT)
	wantFound(t, r, "author: '"+scrubtest.Author+"'", "creator tool: 'LibreOffice", "comment and revision authors: '"+scrubtest.Author+"'",
		"initials: 'AA'", "printer")
	got := clean(t, file, scrub.TypeODT)
	noMarkers(t, got, scrub.TypeODT)
	zr, err := zip.NewReader(bytes.NewReader(got), int64(len(got)))
	if err != nil {
		t.Fatal(err)
	}
	if first := zr.File[0]; first.Name != "mimetype" || first.Method != zip.Store {
		t.Errorf("the first entry is %s (method %d): want mimetype, stored", first.Name, first.Method)
	}
	parts := unzip(t, got)
	if !strings.Contains(parts["content.xml"], "<text:p>Source?</text:p></office:annotation>") ||
		!strings.Contains(parts["content.xml"], "<dc:date>2024-01-02T00:00:00</dc:date>") {
		t.Errorf("content.xml lost more than the author: %s", parts["content.xml"])
	}
	if !strings.Contains(parts["settings.xml"], "AddParaTableSpacing") {
		t.Errorf("settings.xml lost more than the printer: %s", parts["settings.xml"])
	}
}

func unzip(t *testing.T, b []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Comment != "" {
		t.Errorf("archive comment %q kept", zr.Comment)
	}
	out := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		out[f.Name] = string(body)
	}
	return out
}

func wellFormed(s string) error {
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
