package scrub

import (
	"archive/zip"
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// zipTime is the modification time every entry of a cleaned archive gets: the times
// of the original say when, and in which time zone, the document was saved.
var zipTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// OOXML copies an Office Open XML file (.docx, .xlsx, .pptx) without its identifying
// metadata: docProps/core.xml loses its creator, last editor, dates, revision, title,
// subject, keywords, description and category; docProps/app.xml its company, manager,
// template and hyperlink base; docProps/custom.xml its properties. In every other part,
// author and initials attributes (comments, tracked changes, people.xml, the
// presentation's comment authors) are emptied, user ids removed, Word's rsid
// revision-session ids dropped, and the template path and its relationship removed.
// Embedded JPEG and PNG images are cleaned like image files. The document body keeps
// every other byte; unchanged entries are copied compressed as they were.
func OOXML(w io.Writer, r io.ReaderAt, size int64) ([]string, error) {
	return rewriteZip(w, r, size, ooxmlRules)
}

// ODF copies an OpenDocument file (.odt, .ods, .odp) without its identifying metadata:
// meta.xml loses its initial creator, creator, printer, generator, dates, editing
// statistics, title, subject, keywords, description, template and user-defined fields;
// in content.xml and styles.xml, the creators of comments and tracked changes and
// their initials are removed; settings.xml loses the printer's name and setup.
// Embedded JPEG and PNG images are cleaned like image files. The mimetype entry stays
// first and stored, as the standard requires.
func ODF(w io.Writer, r io.ReaderAt, size int64) ([]string, error) {
	return rewriteZip(w, r, size, odfRules)
}

var ooxmlCore = &xmlRules{drop: map[string]string{
	"dc:creator": "author", "cp:lastModifiedBy": "last modified by", "cp:lastPrinted": "last printed",
	"cp:revision": "revision number", "dcterms:created": "creation date", "dcterms:modified": "modification date",
	"dc:title": "title", "dc:subject": "subject", "cp:keywords": "keywords", "dc:description": "description",
	"cp:category": "category", "cp:contentStatus": "status", "dc:identifier": "identifier",
}}

var ooxmlApp = &xmlRules{drop: map[string]string{
	"Company": "company", "Manager": "manager", "Template": "template", "HyperlinkBase": "hyperlink base",
}}

var ooxmlCustom = &xmlRules{drop: map[string]string{"property": "custom properties"}}

// ooxmlParts: the attributes that name people, in comments, tracked changes and the
// lists of people of Word, Excel and PowerPoint.
var ooxmlParts = &xmlRules{
	blankAttr: map[string]string{
		"author": "comment and revision authors", "initials": "initials",
		"userId": "user ids", "providerId": "user ids", "userName": "revision authors",
		"person@displayName": "people", "cmAuthor@name": "comment authors", "author@name": "comment authors",
	},
	blankText:        map[string]string{"author": "comment authors"}, // xl/comments*.xml
	removeAttrPrefix: "rsid", removeAttrLabel: "revision session ids",
	drop: map[string]string{"w:rsids": "", "w:attachedTemplate": "template"},
}

// ooxmlRels drops the relationship to the template, a path on the author's computer.
var ooxmlRels = &xmlRules{dropWhen: func(t xml.StartElement) (string, string, bool) {
	return "template", attr(t, "Target"), t.Name.Local == "Relationship" && strings.HasSuffix(attr(t, "Type"), "/attachedTemplate")
}}

func ooxmlRules(name string) *xmlRules {
	switch {
	case name == "docProps/core.xml":
		return ooxmlCore
	case name == "docProps/app.xml":
		return ooxmlApp
	case name == "docProps/custom.xml":
		return ooxmlCustom
	case strings.HasSuffix(name, ".rels"):
		return ooxmlRels
	case strings.HasSuffix(name, ".xml") && !strings.HasPrefix(name, "docProps/"):
		return ooxmlParts
	}
	return nil
}

var odfMeta = &xmlRules{drop: map[string]string{
	"meta:initial-creator": "author", "dc:creator": "last modified by", "meta:printed-by": "printed by",
	"meta:generator": "creator tool", "meta:creation-date": "creation date", "dc:date": "modification date",
	"meta:print-date": "print date", "meta:editing-cycles": "revision number", "meta:editing-duration": "editing time",
	"dc:title": "title", "dc:subject": "subject", "meta:keyword": "keywords", "dc:description": "description",
	"meta:user-defined": "custom properties", "meta:template": "template",
}}

var odfContent = &xmlRules{drop: map[string]string{
	"dc:creator": "comment and revision authors", "meta:creator-initials": "initials", "loext:sender-initials": "initials",
}}

// odfSettings drops the printer's name and its setup (which holds the name too).
var odfSettings = &xmlRules{dropWhen: func(t xml.StartElement) (string, string, bool) {
	name := attr(t, "name")
	return "printer", "", xmlName(t.Name) == "config:config-item" && (name == "PrinterName" || name == "PrinterSetup")
}}

func odfRules(name string) *xmlRules {
	switch name {
	case "meta.xml":
		return odfMeta
	case "content.xml", "styles.xml":
		return odfContent
	case "settings.xml":
		return odfSettings
	}
	return nil
}

// embeddedImage is the scrubber for an image inside an archive, by its name.
func embeddedImage(name string) func(*findings, *bufio.Writer, io.Reader) error {
	switch strings.ToLower(path.Ext(name)) {
	case ".jpg", ".jpeg":
		return func(f *findings, w *bufio.Writer, r io.Reader) error {
			return scrubJPEG(f, w, bufio.NewReaderSize(r, 32<<10))
		}
	case ".png":
		return func(f *findings, w *bufio.Writer, r io.Reader) error { return scrubPNG(f, w, r) }
	}
	return nil
}

// rewriteZip copies an archive entry by entry: parts with rules are rewritten, embedded
// images cleaned, the others copied still compressed. Every entry gets the same time
// and loses its extra fields; the archive and entry comments are dropped. Writing to
// io.Discard only reports: unchanged entries are then not read at all.
func rewriteZip(w io.Writer, r io.ReaderAt, size int64, rulesFor func(string) *xmlRules) ([]string, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, err
	}
	report := w == io.Discard
	var f findings
	var g gathered
	if zr.Comment != "" {
		g.add("archive comment", zr.Comment)
	}
	zw := zip.NewWriter(w)
	for _, zf := range zr.File {
		rules, img := rulesFor(zf.Name), embeddedImage(zf.Name)
		if zf.Comment != "" {
			g.add("archive comment", zf.Comment)
		}
		h := zf.FileHeader
		h.Modified, h.ModifiedTime, h.ModifiedDate, h.Extra, h.Comment = zipTime, 0, 0, nil, ""
		if rules == nil && img == nil {
			if report {
				continue
			}
			if err := copyRaw(zw, zf, &h); err != nil {
				return nil, err
			}
			continue
		}
		h.CRC32, h.CompressedSize64, h.UncompressedSize64, h.CompressedSize, h.UncompressedSize = 0, 0, 0, 0, 0
		h.Flags &^= 0x8 // the writer sets the data-descriptor flag itself
		out, err := zw.CreateHeader(&h)
		if err != nil {
			return nil, err
		}
		in, err := zf.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", zf.Name, err)
		}
		if rules != nil {
			err = rewriteXML(&g, out, in, rules)
		} else {
			bw := bufio.NewWriterSize(out, 32<<10)
			var inner findings
			if err = img(&inner, bw, in); err == nil {
				err = bw.Flush()
			}
			for _, s := range inner.list {
				f.add("embedded image %s: %s", quote(path.Base(zf.Name)), s)
			}
		}
		in.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", zf.Name, err)
		}
	}
	g.report(&f)
	if report {
		return f.list, nil
	}
	return f.list, zw.Close()
}

func copyRaw(zw *zip.Writer, zf *zip.File, h *zip.FileHeader) error {
	out, err := zw.CreateRaw(h)
	if err != nil {
		return err
	}
	in, err := zf.OpenRaw()
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return err
}
