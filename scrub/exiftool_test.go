package scrub_test

import (
	"bytes"
	"encoding/json"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/internal/testrig"
	"github.com/unionportal/unionportal/scrub"
	"github.com/unionportal/unionportal/scrub/scrubtest"
)

// needExiftool returns the path of Debian's exiftool (libimage-exiftool-perl): the test
// skips without it, or fails under the rig, which installs it (make exiftool).
func needExiftool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("exiftool")
	if err == nil {
		return p
	}
	if testrig.Required() {
		t.Fatal("exiftool is missing although the test rig is required: run make exiftool")
	}
	t.Skip("exiftool not installed (apt-get install libimage-exiftool-perl, or make exiftool)")
	return ""
}

// exiftoolWrite writes a file with exiftool's arguments applied.
func exiftoolWrite(t *testing.T, bin string, file []byte, ext string, args ...string) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fixture"+ext)
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, append(append([]string{"-q", "-overwrite_original"}, args...), path)...).CombinedOutput()
	if err != nil {
		t.Fatalf("exiftool: %v\n%s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exiftoolRead returns every tag exiftool reads in a file, by group:name.
func exiftoolRead(t *testing.T, bin string, file []byte, ext string) map[string]any {
	t.Helper()
	path := filepath.Join(t.TempDir(), "read"+ext)
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-j", "-G", "-a", "-u", path).Output()
	if err != nil {
		t.Fatalf("exiftool: %v", err)
	}
	var tags []map[string]any
	if err := json.Unmarshal(out, &tags); err != nil || len(tags) != 1 {
		t.Fatalf("exiftool's answer: %v %s", err, out)
	}
	return tags[0]
}

// identifying lists the tags of identifying groups exiftool still finds.
func identifying(tags map[string]any) []string {
	var out []string
	for k, v := range tags {
		group, name, _ := strings.Cut(k, ":")
		switch {
		case group == "EXIF" || group == "XMP" || group == "IPTC" || group == "Photoshop":
			out = append(out, k)
		case group == "PDF" && (name == "Author" || name == "Creator" || name == "Title" || name == "Subject" || name == "Keywords"):
			out = append(out, k)
		case group == "PNG" && (name == "Author" || name == "Comment"):
			out = append(out, k)
		case group == "File" && name == "Comment":
			out = append(out, k)
		default:
			for _, m := range scrubtest.Markers[:7] {
				if strings.Contains(strings.ToLower(toString(v)), strings.ToLower(m)) {
					out = append(out, k)
				}
			}
		}
	}
	return out
}

func toString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

var cameraTags = []string{
	"-GPSLatitude=42.87", "-GPSLatitudeRef=N", "-GPSLongitude=74.59", "-GPSLongitudeRef=E",
	"-EXIF:Artist=" + scrubtest.Author, "-EXIF:SerialNumber=" + scrubtest.Serial, "-EXIF:OwnerName=" + scrubtest.Byline,
	"-XMP-dc:Creator=" + scrubtest.Creator,
}

func TestExiftoolJPEG(t *testing.T) {
	bin := needExiftool(t)
	file := exiftoolWrite(t, bin, scrubtest.PlainJPEG(), ".jpg", append(cameraTags,
		"-IPTC:By-line="+scrubtest.Byline, "-Comment="+scrubtest.Comment)...)
	r := inspect(file, "image/jpeg")
	wantFound(t, r, scrubtest.GPS, "camera serial '"+scrubtest.Serial+"'", "artist '"+scrubtest.Author+"'",
		"camera owner '"+scrubtest.Byline+"'", "XMP creator '"+scrubtest.Creator+"'", "IPTC by-line '"+scrubtest.Byline+"'",
		"comment '"+scrubtest.Comment+"'")
	got := clean(t, file, "image/jpeg")
	if left := identifying(exiftoolRead(t, bin, got, ".jpg")); len(left) > 0 {
		t.Errorf("exiftool still reads %v", left)
	}
	a, _ := jpeg.Decode(bytes.NewReader(file))
	b, err := jpeg.Decode(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	samePixels(t, a, b)
}

func TestExiftoolPNG(t *testing.T) {
	bin := needExiftool(t)
	_, plain := scrubtest.PNG()
	file := exiftoolWrite(t, bin, plain, ".png", append(cameraTags, "-PNG:Author="+scrubtest.Author)...)
	r := inspect(file, "image/png")
	wantFound(t, r, "XMP creator '"+scrubtest.Creator+"'", "'"+scrubtest.Author+"'")
	got := clean(t, file, "image/png")
	if left := identifying(exiftoolRead(t, bin, got, ".png")); len(left) > 0 {
		t.Errorf("exiftool still reads %v", left)
	}
	a, _ := png.Decode(bytes.NewReader(file))
	b, err := png.Decode(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	samePixels(t, a, b)
}

func TestExiftoolPDF(t *testing.T) {
	bin := needExiftool(t)
	// exiftool adds an incremental update: new info values, and an XMP stream the
	// catalog names.
	file := exiftoolWrite(t, bin, scrubtest.PDF(), ".pdf", "-PDF:Author="+scrubtest.Byline, "-XMP-dc:Creator="+scrubtest.Creator,
		"-XMP-pdf:Producer="+scrubtest.Company)
	r := inspect(file, "application/pdf")
	wantFound(t, r, "author '"+scrubtest.Byline+"'", "XMP metadata")
	got := clean(t, file, "application/pdf")
	if left := identifying(exiftoolRead(t, bin, got, ".pdf")); len(left) > 0 {
		t.Errorf("exiftool still reads %v", left)
	}
	for _, m := range []string{scrubtest.Author, scrubtest.Byline, scrubtest.Creator} {
		if bytes.Contains(got, []byte(m)) {
			t.Errorf("the cleaned PDF holds %q (an older revision?)", m)
		}
	}
	before, after := pdfPages(t, file), pdfPages(t, got)
	if len(before) != len(after) || before[0] != after[0] {
		t.Error("the pages changed")
	}
	if s := inspect(got, "application/pdf"); s.Status != scrub.StatusClean {
		t.Errorf("the cleaned copy reports %+v", s)
	}
}
