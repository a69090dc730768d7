package scrub

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// TIFF tags that identify a person, a device or a place, in IFD0, the EXIF IFD and the
// GPS IFD. EXIF inside JPEG, PNG and WebP files is a TIFF structure too.
const (
	tagImageDescription = 0x010e
	tagMake             = 0x010f
	tagModel            = 0x0110
	tagSoftware         = 0x0131
	tagArtist           = 0x013b
	tagHostComputer     = 0x013c
	tagCopyright        = 0x8298
	tagExifIFD          = 0x8769
	tagGPSIFD           = 0x8825
	tagXMP              = 0x02bc
	tagIPTC             = 0x83bb
	tagPhotoshop        = 0x8649
	tagXPAuthor         = 0x9c9d
	tagXPComment        = 0x9c9c
	tagUserComment      = 0x9286
	tagMakerNote        = 0x927c
	tagDateTimeOriginal = 0x9003
	tagImageUniqueID    = 0xa420
	tagCameraOwnerName  = 0xa430
	tagBodySerialNumber = 0xa431
	tagLensSerialNumber = 0xa435
	gpsLatitudeRef      = 1
	gpsLatitude         = 2
	gpsLongitudeRef     = 3
	gpsLongitude        = 4
)

// tiff reads the IFDs of a TIFF structure.
type tiff struct {
	r     io.ReaderAt
	size  int64
	order binary.ByteOrder
	seen  map[int64]bool
}

type ifdEntry struct {
	tag, typ uint16
	count    uint32
	value    []byte // the value's bytes, at most maxValue of them
}

const maxValue = 64 << 10

var errNotTIFF = errors.New("not a TIFF structure")

func newTIFF(r io.ReaderAt, size int64) (*tiff, int64, error) {
	var h [8]byte
	if _, err := r.ReadAt(h[:], 0); err != nil {
		return nil, 0, errNotTIFF
	}
	t := &tiff{r: r, size: size, seen: map[int64]bool{}}
	switch string(h[:2]) {
	case "II":
		t.order = binary.LittleEndian
	case "MM":
		t.order = binary.BigEndian
	default:
		return nil, 0, errNotTIFF
	}
	if t.order.Uint16(h[2:]) != 42 {
		return nil, 0, errNotTIFF
	}
	return t, int64(t.order.Uint32(h[4:])), nil
}

var typeSizes = map[uint16]int{1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}

// ifd reads the IFD at off: its entries and the offset of the next one.
func (t *tiff) ifd(off int64) ([]ifdEntry, int64, error) {
	if off <= 0 || off+2 > t.size || t.seen[off] {
		return nil, 0, nil
	}
	t.seen[off] = true
	var nb [2]byte
	if _, err := t.r.ReadAt(nb[:], off); err != nil {
		return nil, 0, err
	}
	n := int64(t.order.Uint16(nb[:]))
	raw := make([]byte, n*12+4)
	if _, err := t.r.ReadAt(raw, off+2); err != nil {
		return nil, 0, fmt.Errorf("truncated IFD: %w", err)
	}
	entries := make([]ifdEntry, 0, n)
	for i := range n {
		e := raw[i*12 : i*12+12]
		en := ifdEntry{tag: t.order.Uint16(e), typ: t.order.Uint16(e[2:]), count: t.order.Uint32(e[4:])}
		total := int64(typeSizes[en.typ]) * int64(en.count)
		switch {
		case total <= 4:
			en.value = append([]byte(nil), e[8:8+total]...)
		case total <= maxValue:
			at := int64(t.order.Uint32(e[8:]))
			if at+total > t.size {
				continue
			}
			en.value = make([]byte, total)
			if _, err := t.r.ReadAt(en.value, at); err != nil {
				continue
			}
		}
		entries = append(entries, en)
	}
	return entries, int64(t.order.Uint32(raw[n*12:])), nil
}

func (t *tiff) text(e ifdEntry) string {
	v := e.value
	if e.tag == tagXPAuthor || e.tag == tagXPComment { // UCS-2 little endian
		var b strings.Builder
		for i := 0; i+1 < len(v); i += 2 {
			if c := rune(binary.LittleEndian.Uint16(v[i:])); c != 0 {
				b.WriteRune(c)
			}
		}
		return b.String()
	}
	if e.tag == tagUserComment && len(v) >= 8 { // an 8-byte character code comes first
		v = v[8:]
	}
	return strings.TrimSpace(strings.TrimRight(string(v), "\x00 "))
}

func (t *tiff) uint(e ifdEntry) int64 {
	switch {
	case e.typ == 3 && len(e.value) >= 2:
		return int64(t.order.Uint16(e.value))
	case (e.typ == 4 || e.typ == 13) && len(e.value) >= 4:
		return int64(t.order.Uint32(e.value))
	}
	return 0
}

// degrees reads three rationals (degrees, minutes, seconds).
func (t *tiff) degrees(e ifdEntry) (float64, bool) {
	if e.typ != 5 || len(e.value) < 24 {
		return 0, false
	}
	var d float64
	for i, scale := range []float64{1, 60, 3600} {
		num, den := t.order.Uint32(e.value[i*8:]), t.order.Uint32(e.value[i*8+4:])
		if den == 0 {
			continue
		}
		d += float64(num) / float64(den) / scale
	}
	return d, !math.IsNaN(d)
}

// findEXIF reports the identifying tags of a TIFF structure: EXIF in an image, or a
// TIFF file itself.
func findEXIF(f *findings, r io.ReaderAt, size int64) error {
	t, first, err := newTIFF(r, size)
	if err != nil {
		return err
	}
	next := first
	for range 16 { // IFD0, the thumbnail's IFD1, and any others
		entries, following, err := t.ifd(next)
		if err != nil {
			return err
		}
		if entries == nil {
			break
		}
		if err := t.report(f, entries); err != nil {
			return err
		}
		next = following
	}
	return nil
}

// textTags are the identifying text tags, by what they are called in a finding.
var textTags = map[uint16]string{
	tagArtist: "artist", tagXPAuthor: "artist", tagCopyright: "copyright", tagMake: "camera", tagModel: "camera",
	tagSoftware: "creator tool", tagHostComputer: "computer name", tagCameraOwnerName: "camera owner",
	tagBodySerialNumber: "camera serial", tagLensSerialNumber: "lens serial", tagImageUniqueID: "unique image id",
	tagDateTimeOriginal: "date taken",
}

func (t *tiff) report(f *findings, entries []ifdEntry) error {
	for _, e := range entries {
		if label, ok := textTags[e.tag]; ok {
			f.add("%s %s", label, quote(t.text(e)))
			continue
		}
		switch e.tag {
		case tagImageDescription, tagXPComment, tagUserComment:
			if s := t.text(e); s != "" {
				f.add("description %s", quote(s))
			}
		case tagMakerNote:
			f.add("camera maker notes (may hold a serial number)")
		case tagXMP:
			findXMP(f, e.value)
		case tagIPTC:
			findIPTC(f, e.value)
		case tagPhotoshop:
			findPhotoshop(f, e.value)
		case tagExifIFD:
			sub, _, err := t.ifd(t.uint(e))
			if err != nil {
				return err
			}
			if err := t.report(f, sub); err != nil {
				return err
			}
		case tagGPSIFD:
			gps, _, err := t.ifd(t.uint(e))
			if err != nil {
				return err
			}
			t.reportGPS(f, gps)
		}
	}
	return nil
}

func (t *tiff) reportGPS(f *findings, entries []ifdEntry) {
	var lat, lon float64
	var latRef, lonRef string
	var haveLat, haveLon bool
	for _, e := range entries {
		switch e.tag {
		case gpsLatitudeRef:
			latRef = t.text(e)
		case gpsLongitudeRef:
			lonRef = t.text(e)
		case gpsLatitude:
			lat, haveLat = t.degrees(e)
		case gpsLongitude:
			lon, haveLon = t.degrees(e)
		}
	}
	switch {
	case haveLat && haveLon:
		f.add("GPS position %.2f %s, %.2f %s", lat, orDefault(latRef, "N"), lon, orDefault(lonRef, "E"))
	case len(entries) > 0:
		f.add("GPS data")
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// FindTIFF reports the identifying metadata of a TIFF file. TIFF files are not cleaned:
// their tags point at image data by absolute offsets, sub-IFDs and maker notes use
// offsets of their own, and a rewrite that misses one corrupts the image; so every
// TIFF is reported as one that cannot be cleaned safely (see ADR 0028).
func FindTIFF(r io.ReaderAt, size int64) ([]string, error) {
	var f findings
	err := findEXIF(&f, r, size)
	return f.list, err
}

// findXMP reports an XMP packet: its creators and creator tool when it names them.
func findXMP(f *findings, packet []byte) {
	creators := xmpValues(packet, "dc:creator")
	for _, c := range creators {
		f.add("XMP creator %s", quote(c))
	}
	for _, p := range [][2]string{{"xmp:CreatorTool", "creator tool"}, {"photoshop:AuthorsPosition", "XMP author's position"},
		{"xmpRights:Owner", "XMP owner"}, {"photoshop:City", "XMP city"}, {"Iptc4xmpCore:Location", "XMP location"}} {
		for _, v := range xmpValues(packet, p[0]) {
			f.add("%s %s", p[1], quote(v))
		}
	}
	if lat := xmpValues(packet, "exif:GPSLatitude"); len(lat) > 0 {
		f.add("XMP GPS position %s", quote(strings.Join(append(lat, xmpValues(packet, "exif:GPSLongitude")...), ", ")))
	}
	f.add("XMP metadata")
}

// xmpValues finds the values of a property in an XMP packet, as an element (with
// rdf:li items or text) or as an attribute. It is a report, not a parser: the packet
// is dropped whole when the file is cleaned.
func xmpValues(packet []byte, name string) []string {
	var out []string
	s := string(packet)
	if i := strings.Index(s, name+`="`); i >= 0 {
		rest := s[i+len(name)+2:]
		if j := strings.IndexByte(rest, '"'); j >= 0 {
			out = append(out, rest[:j])
		}
	}
	open, close := "<"+name, "</"+name+">"
	i := strings.Index(s, open)
	if i < 0 {
		return out
	}
	body := s[i+len(open):]
	j := strings.Index(body, close)
	k := strings.IndexByte(body, '>')
	if j < 0 || k < 0 || k > j {
		return out
	}
	body = body[k+1 : j]
	if !strings.Contains(body, "<rdf:li") {
		if v := strings.TrimSpace(body); v != "" {
			out = append(out, v)
		}
		return out
	}
	for {
		a := strings.Index(body, "<rdf:li")
		if a < 0 {
			break
		}
		body = body[a:]
		b := strings.IndexByte(body, '>')
		e := strings.Index(body, "</rdf:li>")
		if b < 0 || e < 0 || b > e {
			break
		}
		if v := strings.TrimSpace(body[b+1 : e]); v != "" {
			out = append(out, v)
		}
		body = body[e+len("</rdf:li>"):]
	}
	return out
}

// findPhotoshop reports the image resources of a Photoshop APP13 segment or TIFF tag:
// the IPTC record (resource 0x0404) is what names people.
func findPhotoshop(f *findings, b []byte) {
	b = bytes.TrimPrefix(b, []byte("Photoshop 3.0\x00"))
	found := false
	for len(b) >= 12 && string(b[:4]) == "8BIM" {
		id := binary.BigEndian.Uint16(b[4:])
		nameLen := int(b[6])
		p := 7 + nameLen
		if p%2 == 1 {
			p++
		}
		if p+4 > len(b) {
			break
		}
		n := int(binary.BigEndian.Uint32(b[p:]))
		p += 4
		if p+n > len(b) || n < 0 {
			break
		}
		if id == 0x0404 {
			findIPTC(f, b[p:p+n])
			found = true
		}
		p += n
		if n%2 == 1 {
			p++
		}
		if p > len(b) {
			break
		}
		b = b[p:]
	}
	if !found {
		f.add("Photoshop metadata")
	}
}

// IPTC-IIM datasets of record 2 that name or place someone.
var iptcNames = map[byte]string{80: "IPTC by-line", 85: "IPTC by-line title", 90: "IPTC city", 95: "IPTC province",
	101: "IPTC country", 110: "IPTC credit", 115: "IPTC source", 116: "IPTC copyright", 118: "IPTC contact",
	120: "IPTC caption", 122: "IPTC caption writer"}

// findIPTC reports an IPTC-IIM block.
func findIPTC(f *findings, b []byte) {
	for len(b) >= 5 && b[0] == 0x1c {
		rec, ds, n := b[1], b[2], int(binary.BigEndian.Uint16(b[3:]))
		if n&0x8000 != 0 || 5+n > len(b) {
			break
		}
		if name, ok := iptcNames[ds]; ok && rec == 2 {
			f.add("%s %s", name, quote(string(b[5:5+n])))
		}
		b = b[5+n:]
	}
	f.add("IPTC metadata")
}
