// Package scrub finds and removes identifying metadata from evidence files before they
// leave the portal: EXIF (GPS position, camera serial, owner), XMP and IPTC in images;
// the document information and XMP of PDF files; authors, last editors, comment and
// tracked-change authors in Office Open XML and OpenDocument files.
//
// Each format family has one entry point that reports what it finds and, when the
// format can be cleaned safely, writes a cleaned copy. Images, Office and OpenDocument
// files are cleaned streaming, with bounded memory: the image data, pixels, document
// bodies and colour profiles are copied byte for byte. PDF files are inspected
// streaming too, and rewritten by pdfcpu, which holds the document's objects in memory.
// A format that cannot be cleaned safely (TIFF) is reported as such, never guessed at.
package scrub

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
)

// Status says what happens to a file's metadata when it leaves the portal.
type Status string

// Statuses of a file.
const (
	// StatusClean: nothing identifying was found; the file leaves as uploaded.
	StatusClean Status = "clean"
	// StatusCleanedOnSend: identifying metadata was found and is removed from every
	// copy that leaves the portal.
	StatusCleanedOnSend Status = "cleaned_on_send"
	// StatusCannotClean: the file's metadata cannot be removed automatically; it may
	// not leave the portal as it is.
	StatusCannotClean Status = "cannot_clean"
)

// Report is what Inspect found in a file.
type Report struct {
	// Found lists the identifying metadata, in short human words ("GPS position
	// 42.87 N, 74.59 E", "author 'A. Asanakunov'"); empty when none was found.
	Found  []string
	Status Status
	// Reason says why a file cannot be cleaned (StatusCannotClean only).
	Reason string
}

// ErrCannotClean is returned by Clean for a file that cannot be cleaned safely.
var ErrCannotClean = errors.New("scrub: this file's metadata cannot be removed automatically")

// Content types the package knows, beyond those the portal accepts today.
const (
	TypeJPEG = "image/jpeg"
	TypePNG  = "image/png"
	TypeWebP = "image/webp"
	TypeTIFF = "image/tiff"
	TypePDF  = "application/pdf"
	TypeDOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	TypeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	TypePPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	TypeODT  = "application/vnd.oasis.opendocument.text"
	TypeODS  = "application/vnd.oasis.opendocument.spreadsheet"
	TypeODP  = "application/vnd.oasis.opendocument.presentation"
)

// family is one format family: find reports what a file holds, clean writes the copy
// (nil when the family cannot be cleaned safely).
type family struct {
	find  func(r io.ReaderAt, size int64) ([]string, error)
	clean func(w io.Writer, r io.ReaderAt, size int64) error
}

func familyOf(contentType string) (family, bool) {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == TypeJPEG:
		return family{find: discarding(JPEG), clean: Scrubber(JPEG).clean}, true
	case mt == TypePNG:
		return family{find: discarding(PNG), clean: Scrubber(PNG).clean}, true
	case mt == TypeWebP:
		return family{find: discarding(WebP), clean: Scrubber(WebP).clean}, true
	case mt == TypeTIFF:
		return family{find: FindTIFF}, true
	case mt == TypePDF:
		return family{find: FindPDF, clean: CleanPDF}, true
	case mt == TypeDOCX || mt == TypeXLSX || mt == TypePPTX:
		return family{find: discarding(OOXML), clean: Scrubber(OOXML).clean}, true
	case strings.HasPrefix(mt, "application/vnd.oasis.opendocument."):
		return family{find: discarding(ODF), clean: Scrubber(ODF).clean}, true
	case mt == "text/plain":
		// Plain text carries no metadata beyond its words.
		return family{find: func(io.ReaderAt, int64) ([]string, error) { return nil, nil },
			clean: func(w io.Writer, r io.ReaderAt, size int64) error {
				_, err := io.Copy(w, io.NewSectionReader(r, 0, size))
				return err
			}}, true
	}
	return family{}, false
}

// Scrubber is the entry point of a family that finds and removes in one pass: it
// copies r (size bytes) to w without the identifying metadata, and returns what it
// removed.
type Scrubber func(w io.Writer, r io.ReaderAt, size int64) ([]string, error)

func (s Scrubber) clean(w io.Writer, r io.ReaderAt, size int64) error {
	_, err := s(w, r, size)
	return err
}

func discarding(s Scrubber) func(io.ReaderAt, int64) ([]string, error) {
	return func(r io.ReaderAt, size int64) ([]string, error) { return s(io.Discard, r, size) }
}

// Inspect reports the identifying metadata of a file of contentType (size bytes read
// from r) and whether it can be removed. A file that cannot be read as its type is
// reported as one that cannot be cleaned, with the reason.
func Inspect(r io.ReaderAt, size int64, contentType string) Report {
	f, ok := familyOf(contentType)
	if !ok {
		return Report{Found: []string{}, Status: StatusCannotClean, Reason: "no cleaner for files of type " + contentType}
	}
	found, err := f.find(r, size)
	if found == nil {
		found = []string{}
	}
	switch {
	case err != nil:
		return Report{Found: found, Status: StatusCannotClean, Reason: "the file could not be read to look for metadata: " + err.Error()}
	case f.clean == nil:
		return Report{Found: found, Status: StatusCannotClean, Reason: "files of type " + contentType + " cannot be cleaned safely"}
	case len(found) == 0:
		return Report{Found: found, Status: StatusClean}
	}
	return Report{Found: found, Status: StatusCleanedOnSend}
}

// Clean writes to w a copy of a file of contentType (size bytes read from r) without
// its identifying metadata; ErrCannotClean when the type cannot be cleaned safely.
func Clean(w io.Writer, r io.ReaderAt, size int64, contentType string) error {
	f, ok := familyOf(contentType)
	if !ok || f.clean == nil {
		return ErrCannotClean
	}
	if err := f.clean(w, r, size); err != nil {
		return fmt.Errorf("scrub %s: %w", contentType, err)
	}
	return nil
}

// findings collects the short descriptions of what was found, once each, in order.
type findings struct{ list []string }

func (f *findings) add(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	for _, have := range f.list {
		if have == s {
			return
		}
	}
	if len(f.list) < 50 {
		f.list = append(f.list, s)
	}
}

// quote shortens and quotes a value found in a file for a report.
func quote(v string) string {
	v = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, v))
	if rs := []rune(v); len(rs) > 80 {
		v = string(rs[:80]) + "…"
	}
	return "'" + v + "'"
}
