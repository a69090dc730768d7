// Package scrubtest builds evidence files with known identifying metadata, for the
// tests of the scrub package and of the portal: a camera's EXIF (GPS position, serial,
// artist), XMP, IPTC and comments in JPEG, PNG and WebP images; author and creator in
// PDF files; authors of comments and tracked changes in Office and OpenDocument files.
package scrubtest

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"sort"

	"github.com/go-pdf/fpdf"
)

// The metadata the fixtures carry: none of these strings may be in a cleaned copy.
const (
	Author  = "A. Asanakunov"
	Serial  = "SN-4242-1234"
	Byline  = "B. Photographer"
	Creator = "X. Creator"
	Comment = "Taken outside the court"
	Company = "Union of Miners"
	Printer = "HP-Office-Kabinet"
	// GPS is how the scrub package reports the fixtures' position.
	GPS = "GPS position 42.87 N, 74.59 E"
)

// Markers lists every value the fixtures carry, for a search of a cleaned copy.
var Markers = []string{Author, Serial, Byline, Creator, Comment, Company, Printer, "Exif\x00", "xap/1.0", "8BIM"}

// Image is a small picture with detail in it, for comparing pixels.
func Image() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), uint8((x ^ y) * 3), 255})
		}
	}
	return img
}

type ifdEntry struct {
	tag, typ uint16
	count    uint32
	data     []byte
}

func ascii(tag uint16, s string) ifdEntry {
	return ifdEntry{tag, 2, uint32(len(s) + 1), append([]byte(s), 0)}
}

func rationals(tag uint16, vs ...uint32) ifdEntry {
	b := make([]byte, 0, len(vs)*8)
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v)
		b = binary.LittleEndian.AppendUint32(b, 1)
	}
	return ifdEntry{tag, 5, uint32(len(vs)), b}
}

func long(tag uint16, v uint32) ifdEntry {
	return ifdEntry{tag, 4, 1, binary.LittleEndian.AppendUint32(nil, v)}
}

// writeIFD appends an IFD at len(b) (its offset in the TIFF structure), its values
// after it.
func writeIFD(b []byte, entries []ifdEntry) []byte {
	sort.Slice(entries, func(i, j int) bool { return entries[i].tag < entries[j].tag })
	start := len(b)
	valuesAt := start + 2 + 12*len(entries) + 4
	var values []byte
	b = binary.LittleEndian.AppendUint16(b, uint16(len(entries)))
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.typ)
		b = binary.LittleEndian.AppendUint32(b, e.count)
		if len(e.data) <= 4 {
			v := make([]byte, 4)
			copy(v, e.data)
			b = append(b, v...)
			continue
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(valuesAt+len(values)))
		values = append(values, e.data...)
		if len(values)%2 == 1 {
			values = append(values, 0)
		}
	}
	b = binary.LittleEndian.AppendUint32(b, 0)
	return append(b, values...)
}

// EXIF is a TIFF structure as a camera writes it: artist, make and model in IFD0, the
// body serial in the EXIF IFD, the position (42°52'12" N, 74°35'24" E) in the GPS IFD.
func EXIF() []byte {
	b := []byte("II*\x00\x08\x00\x00\x00")
	// IFD0 first with placeholders for the sub-IFD offsets, then the sub-IFDs.
	ifd0 := []ifdEntry{ascii(0x013b, Author), ascii(0x010f, "Canon"), ascii(0x0110, "EOS 5D"), long(0x8769, 0), long(0x8825, 0)}
	size0 := len(writeIFD(nil, ifd0))
	exifAt := 8 + size0
	exif := writeIFD(make([]byte, exifAt), []ifdEntry{ascii(0xa431, Serial)})[exifAt:]
	gpsAt := exifAt + len(exif)
	gps := writeIFD(make([]byte, gpsAt), []ifdEntry{ascii(1, "N"), rationals(2, 42, 52, 12), ascii(3, "E"), rationals(4, 74, 35, 24)})[gpsAt:]
	ifd0[3], ifd0[4] = long(0x8769, uint32(exifAt)), long(0x8825, uint32(gpsAt))
	b = writeIFD(b, ifd0)
	b = append(b, exif...)
	return append(b, gps...)
}

// XMP is an XMP packet naming its creator.
func XMP() []byte {
	return []byte(`<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` +
		`<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="PhotoTool 1.0"><dc:creator><rdf:Seq><rdf:li>` +
		Creator + `</rdf:li></rdf:Seq></dc:creator></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`)
}

// IPTC is a Photoshop APP13 block with an IPTC by-line.
func IPTC() []byte {
	iim := []byte{0x1c, 2, 80, 0, byte(len(Byline))}
	iim = append(iim, Byline...)
	b := []byte("Photoshop 3.0\x008BIM\x04\x04\x00\x00")
	b = binary.BigEndian.AppendUint32(b, uint32(len(iim)))
	b = append(b, iim...)
	if len(iim)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// ICC is a stand-in colour profile segment's payload, which cleaning keeps.
var ICC = []byte("ICC_PROFILE\x00\x01\x01fake-profile-bytes")

func segment(marker byte, data []byte) []byte {
	n := len(data) + 2
	return append([]byte{0xff, marker, byte(n >> 8), byte(n)}, data...)
}

// PlainJPEG is Image encoded as JPEG without metadata.
func PlainJPEG() []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, Image(), &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// JPEG is PlainJPEG with an ICC profile (kept by cleaning) and EXIF, XMP, IPTC and a
// comment (removed); Cleaned is what cleaning must give.
func JPEG() (file, cleaned []byte) {
	plain := PlainJPEG()
	icc := segment(0xe2, ICC)
	meta := bytes.Join([][]byte{
		segment(0xe1, append([]byte("Exif\x00\x00"), EXIF()...)),
		segment(0xe1, append([]byte("http://ns.adobe.com/xap/1.0/\x00"), XMP()...)),
		segment(0xed, IPTC()),
		segment(0xfe, []byte(Comment)),
	}, nil)
	// Go's encoder writes no APP0: the metadata goes right after SOI.
	file = bytes.Join([][]byte{plain[:2], meta, icc, plain[2:]}, nil)
	cleaned = bytes.Join([][]byte{plain[:2], icc, plain[2:]}, nil)
	return file, cleaned
}

func pngChunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(append([]byte(typ), data...)))
}

// PNG is Image encoded as PNG with text (author, comment), XMP, EXIF and time chunks;
// Cleaned is what cleaning must give: the encoder's bytes.
func PNG() (file, cleaned []byte) {
	var b bytes.Buffer
	if err := png.Encode(&b, Image()); err != nil {
		panic(err)
	}
	cleaned = b.Bytes()
	ihdrEnd := 8 + 8 + 13 + 4
	meta := bytes.Join([][]byte{
		pngChunk("tEXt", []byte("Author\x00"+Author)),
		pngChunk("tEXt", []byte("Comment\x00"+Comment)),
		pngChunk("iTXt", append([]byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"), XMP()...)),
		pngChunk("eXIf", EXIF()),
		pngChunk("tIME", []byte{0x07, 0xe8, 1, 2, 3, 4, 5}),
	}, nil)
	file = bytes.Join([][]byte{cleaned[:ihdrEnd], meta, cleaned[ihdrEnd:]}, nil)
	return file, cleaned
}

// lossless1x1 is a 1×1 lossless WebP (a white pixel): its VP8L chunk is what the
// fixture wraps.
const lossless1x1 = "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="

func riffChunk(fourCC string, data []byte) []byte {
	b := append([]byte(fourCC), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	b = append(b, data...)
	if len(data)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func riff(chunks ...[]byte) []byte {
	body := append([]byte("WEBP"), bytes.Join(chunks, nil)...)
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

// WebP is an extended WebP file (VP8X) with EXIF and XMP chunks; Cleaned is what
// cleaning must give: the same without them, their flags cleared.
func WebP() (file, cleaned []byte) {
	simple, _ := base64.StdEncoding.DecodeString(lossless1x1)
	vp8l := simple[12:] // the VP8L chunk, header included
	vp8x := func(flags byte) []byte {
		return riffChunk("VP8X", []byte{flags, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // 1×1 canvas
	}
	file = riff(vp8x(0x08|0x04), vp8l, riffChunk("EXIF", EXIF()), riffChunk("XMP ", XMP()))
	cleaned = riff(vp8x(0), vp8l)
	return file, cleaned
}

// PDF is a one-page PDF with the words Text, and author, creator, producer, title,
// subject, keywords and an XMP packet.
func PDF() []byte {
	p := fpdf.New("P", "mm", "A4", "")
	p.SetCompression(false)
	p.SetAuthor(Author, true)
	p.SetCreator(Creator, true)
	p.SetProducer("Producer "+Company, true)
	p.SetTitle("Title by "+Author, true)
	p.SetSubject("Subject", true)
	p.SetKeywords("keywords", true)
	p.SetXmpMetadata(XMP())
	p.AddPage()
	p.SetFont("Helvetica", "", 12)
	p.Cell(0, 10, PDFText)
	var b bytes.Buffer
	if err := p.Output(&b); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// PDFText is the text on the page of PDF.
const PDFText = "Evidence of the dismissal of union leaders"

// DocxBody is word/document.xml of Docx: a tracked insertion by Author, rsids, and a
// comment reference.
const DocxBody = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml" mc:Ignorable="w14"><w:body><w:p w:rsidR="00AB12CD" w:rsidRDefault="00AB12CD" w14:paraId="1A2B3C4D"><w:r><w:t xml:space="preserve">The union &amp; its members </w:t></w:r><w:ins w:id="1" w:author="` + Author + `" w:date="2024-01-02T03:04:00Z"><w:r w:rsidR="00EF5678"><w:t>were dismissed.</w:t></w:r></w:ins><w:commentRangeStart w:id="0"/><w:r><w:commentReference w:id="0"/></w:r></w:p><w:sectPr w:rsidR="00AB12CD"/></w:body></w:document>`

// Docx is a Word document whose properties, comments, people and tracked changes name
// Author and whose embedded photo is JPEG (with its GPS position).
func Docx() []byte {
	photo, _ := JPEG()
	return zipOf([][2]string{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Default Extension="jpeg" ContentType="image/jpeg"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`},
		{"_rels/.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`},
		{"docProps/core.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:title>Report</dc:title><dc:creator>` + Author + `</dc:creator><cp:lastModifiedBy>` + Creator + `</cp:lastModifiedBy><cp:revision>3</cp:revision><dcterms:created xsi:type="dcterms:W3CDTF">2024-01-01T00:00:00Z</dcterms:created></cp:coreProperties>`},
		{"docProps/app.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"><Template>Normal.dotm</Template><Pages>1</Pages><Company>` + Company + `</Company><Application>Microsoft Office Word</Application></Properties>`},
		{"word/document.xml", DocxBody},
		{"word/comments.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:comments xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:comment w:id="0" w:author="` + Byline + `" w:date="2024-01-02T00:00:00Z" w:initials="BP"><w:p><w:r><w:t>Check this</w:t></w:r></w:p></w:comment></w:comments>`},
		{"word/people.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w15:people xmlns:w15="http://schemas.microsoft.com/office/word/2012/wordml"><w15:person w15:author="` + Byline + `"><w15:presenceInfo w15:providerId="AD" w15:userId="S-1-5-21-` + Serial + `"/></w15:person></w15:people>`},
		{"word/settings.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:settings xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><w:attachedTemplate r:id="rId1"/><w:rsids><w:rsidRoot w:val="00AB12CD"/><w:rsid w:val="00EF5678"/></w:rsids></w:settings>`},
		{"word/_rels/settings.xml.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate" Target="file:///C:\Users\` + Printer + `\Templates\Normal.dotm" TargetMode="External"/></Relationships>`},
		{"word/media/image1.jpeg", string(photo)},
	}, false)
}

// OdtContent is content.xml of Odt: a comment by Author.
const OdtContent = `<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" office:version="1.3"><office:body><office:text><text:p>The union was dissolved.<office:annotation><dc:creator>` + Author + `</dc:creator><dc:date>2024-01-02T00:00:00</dc:date><meta:creator-initials>AA</meta:creator-initials><text:p>Source?</text:p></office:annotation></text:p></office:text></office:body></office:document-content>`

// Odt is an OpenDocument text whose meta.xml, comments and printer name identify
// people.
func Odt() []byte {
	return zipOf([][2]string{
		{"mimetype", "application/vnd.oasis.opendocument.text"},
		{"META-INF/manifest.xml", `<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>`},
		{"meta.xml", `<?xml version="1.0" encoding="UTF-8"?><office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/" office:version="1.3"><office:meta><meta:initial-creator>` + Author + `</meta:initial-creator><dc:creator>` + Creator + `</dc:creator><meta:generator>LibreOffice/7.4$Linux_X86_64</meta:generator><meta:document-statistic meta:page-count="1"/></office:meta></office:document-meta>`},
		{"content.xml", OdtContent},
		{"settings.xml", `<?xml version="1.0" encoding="UTF-8"?><office:document-settings xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:config="urn:oasis:names:tc:opendocument:xmlns:config:1.0"><office:settings><config:config-item-set config:name="ooo:configuration-settings"><config:config-item config:name="PrinterName" config:type="string">` + Printer + `</config:config-item><config:config-item config:name="AddParaTableSpacing" config:type="boolean">true</config:config-item></config:config-item-set></office:settings></office:document-settings>`},
	}, true)
}

// zipOf builds an archive of the named parts, the first stored when storedFirst (the
// mimetype entry of OpenDocument files).
func zipOf(parts [][2]string, storedFirst bool) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for i, p := range parts {
		h := &zip.FileHeader{Name: p[0], Method: zip.Deflate}
		if i == 0 && storedFirst {
			h.Method = zip.Store
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			panic(err)
		}
		w.Write([]byte(p[1]))
	}
	zw.SetComment("saved by " + Author)
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}
