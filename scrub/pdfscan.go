package scrub

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Bounds on what a hostile file can make the scanner do.
const (
	// pdfMaxDepth bounds the nesting of arrays and dictionaries, as pdfcpu's own
	// parser does (its MaxRecursionDepth): pdfcpu could not rewrite a deeper file.
	pdfMaxDepth = 100
	// pdfMaxRefs bounds the objects looked up by number: the Info dictionaries (one
	// per revision) and the values they refer to.
	pdfMaxRefs = 256
	// pdfMaxCollected bounds the bytes of document information kept for the report.
	pdfMaxCollected = 1 << 20
	// pdfMinInflate and pdfInflateRatio bound the bytes decompressed from object
	// streams, summed over the file, to pdfInflateRatio times its size (at least
	// pdfMinInflate, at most pdfMaxInflate): inspection then takes time linear in the
	// size, however well a stream compresses. Object streams hold dictionaries, which
	// deflate shrinks a few times; only a bomb comes near these bounds.
	pdfMinInflate   = 16 << 20
	pdfInflateRatio = 64
	pdfMaxInflate   = 1 << 30
)

var (
	errPDFEncrypted = errors.New("the PDF is encrypted")
	errPDFTooDeep   = fmt.Errorf("the PDF nests arrays or dictionaries deeper than %d", pdfMaxDepth)
	errPDFBomb      = errors.New("the PDF's object streams decompress to too many bytes")
)

type pdfRef struct{ num, gen int64 }

// pdfKey is a dictionary key the scanner looks at.
type pdfKey int

const (
	keyOther pdfKey = iota
	keyType
	keyLength
	keyFilter
	keyDecodeParms
	keyN
	keyFirst
	keyInfo
	keyEncrypt
	keyRoot
)

var pdfKeys = map[string]pdfKey{"Type": keyType, "Length": keyLength, "Filter": keyFilter, "DecodeParms": keyDecodeParms,
	"N": keyN, "First": keyFirst, "Info": keyInfo, "Encrypt": keyEncrypt, "Root": keyRoot}

// pdfFrame is an open array or dictionary.
type pdfFrame struct {
	dict    bool
	wantKey bool   // a dictionary's next name is a key (otherwise a value)
	key     pdfKey // the key whose value is being read
}

// pdfTop is what the scanner learns of a dictionary that is an object's value or a
// trailer: what a stream's data is and where it ends, and a trailer's references.
type pdfTop struct {
	objStm, xref   bool
	length         int64
	lengthDirect   bool // /Length is an integer (not a reference)
	filters        int
	flate          bool // the first filter is FlateDecode
	decodeParms    bool // a /DecodeParms other than null
	n, first       int64
	info           pdfRef
	hasInfo        bool
	infoNotRef     bool
	encrypt        bool
	root           bool
	trailer, owned bool // the dictionary is a trailer; an object's value
}

// pdfValue accumulates the tokens of a value of the top dictionary.
type pdfValue struct {
	ints      [2]int64
	nInts     int
	ref       bool
	null      bool
	container bool
	str       []byte // a string's text, when it is collected
	hex       bool
	isStr     bool
}

// pdfEntry is a document information entry: its value is a string, or refers to one.
type pdfEntry struct {
	key   string
	str   string
	hex   bool
	ref   pdfRef
	isRef bool
}

// pdfString is a string object, a value an Info entry refers to.
type pdfString struct {
	str string
	hex bool
}

// pdfObjRange is where an object looked for lies in an object stream's data.
type pdfObjRange struct {
	ref        pdfRef
	start, end int64
}

// pdfScanner reads a PDF file from start to end, the decompressed object streams
// included, without following its cross-reference tables: every object in the file is
// seen, those of older revisions too. A survey pass notes trailers, encryption and
// /Metadata; a collecting pass keeps the objects in targets (Info dictionaries, then
// the strings their entries refer to).
type pdfScanner struct {
	file    *pdfFile
	lex     pdfLexer
	targets map[pdfRef]bool

	stack []pdfFrame
	depth int // may exceed len(stack) only on the way to errPDFTooDeep
	top   pdfTop
	val   pdfValue
	key   []byte // the top dictionary's current key, when collecting

	cur        pdfRef // the object being read
	inObject   bool
	collecting bool
	trailer    bool // the next dictionary is a trailer
	ints       [2]int64
	nInts      int // integers just before the current token, for "N G obj"
	stream     pdfTop
	hasStream  bool // stream holds the dictionary a "stream" keyword would follow
	inObjStm   bool
	ranges     []pdfObjRange

	section     pdfSection
	zin         *bufio.Reader // the compressed bytes
	zr          io.ReadCloser
	limit       pdfInflateLimit
	br          *bufio.Reader               // the decompressed bytes
	inflate     int64                       // bytes object streams may still decompress to
	probe       [64 + len("endstream")]byte // endstreamAt's, kept: a buffer handed to ReadAt escapes
	noEndstream int64                       // no "endstream" from there to the end of the file
	collected   int

	// What the scan found.
	err        error
	roots      int // trailers naming the catalog
	infoRefs   []pdfRef
	metadata   bool
	entries    []pdfEntry
	strings    map[pdfRef][]pdfString
	unreadable []string
}

func newPDFScanner(r io.ReaderAt, size int64) *pdfScanner {
	return &pdfScanner{file: newPDFFile(r, size), stack: make([]pdfFrame, 0, pdfMaxDepth),
		zin: bufio.NewReaderSize(nil, 16<<10), br: bufio.NewReaderSize(nil, 16<<10)}
}

// run reads the whole file, keeping the objects of targets (none: a survey).
func (s *pdfScanner) run(targets map[pdfRef]bool) {
	s.targets = targets
	s.inflate = min(max(pdfMinInflate, pdfInflateRatio*s.file.size), pdfMaxInflate)
	s.noEndstream = s.file.size + 1
	s.file.seek(0)
	s.lex.reset(s.file)
	s.reset()
	s.nInts = 0
	for s.err == nil {
		t := s.lex.next()
		if t == tokEOF {
			break
		}
		if t == tokKeyword && s.fileKeyword() {
			s.nInts = 0
			continue
		}
		s.token(t)
		if t == tokInt {
			s.ints[0], s.ints[1] = s.ints[1], s.lex.num
			s.nInts = min(s.nInts+1, 2)
		} else {
			s.nInts = 0
		}
	}
	if s.err == nil {
		s.err = s.file.err
	}
}

// fileKeyword handles the keywords that structure the file; they cannot be inside a
// dictionary, so one in a dictionary left open (a damaged file) closes it.
func (s *pdfScanner) fileKeyword() bool {
	switch string(s.lex.text) {
	case "obj":
		if s.nInts < 2 {
			return false
		}
		s.reset()
		s.cur, s.inObject = pdfRef{s.ints[0], s.ints[1]}, true
		s.collecting = s.targets[s.cur]
	case "endobj", "xref", "startxref":
		s.reset()
	case "trailer":
		s.reset()
		s.trailer = true
	case "stream":
		if s.depth == 0 && s.hasStream {
			s.skipStream(s.stream)
		}
		s.reset()
	default:
		return false
	}
	return true
}

func (s *pdfScanner) reset() {
	s.stack, s.depth = s.stack[:0], 0
	s.inObject, s.collecting, s.trailer, s.hasStream = false, false, false, false
}

// token follows the nesting of arrays and dictionaries, and the keys and values of
// dictionaries: any dictionary's /Metadata key or /Type /Metadata is XMP metadata.
func (s *pdfScanner) token(t pdfToken) {
	var parent *pdfFrame
	if s.depth > 0 && s.depth <= len(s.stack) {
		parent = &s.stack[s.depth-1]
	}
	if t == tokDictClose || t == tokArrayClose {
		s.close()
		return
	}
	if parent != nil && parent.dict && parent.wantKey && t == tokName {
		parent.wantKey = false
		s.newKey(parent)
		return
	}
	// A value; or a stray token where a key should be, which is read as a value.
	if parent != nil && parent.dict {
		if t == tokName && parent.key == keyType && string(s.lex.text) == "Metadata" {
			s.metadata = true
		}
		parent.wantKey = true
	}
	if s.depth == 0 && s.collecting && (t == tokString || t == tokHexString) {
		s.collectString(t == tokHexString)
	}
	if s.depth == 1 && parent != nil && parent.dict {
		s.topValue(t, parent.key)
	}
	if s.depth == 2 && s.stack[0].dict && s.stack[0].key == keyFilter && !s.stack[1].dict && t == tokName {
		s.filter()
	}
	if t == tokDictOpen || t == tokArrayOpen {
		s.open(t == tokDictOpen)
	}
}

func (s *pdfScanner) open(dict bool) {
	s.depth++
	if s.depth > pdfMaxDepth {
		s.err = errPDFTooDeep
		return
	}
	s.stack = append(s.stack, pdfFrame{dict: dict, wantKey: true})
	if s.depth == 1 && dict {
		s.top = pdfTop{trailer: s.trailer && !s.inObjStm, owned: s.inObject}
		s.val = pdfValue{str: s.val.str[:0]}
		s.hasStream = false
	}
}

func (s *pdfScanner) close() {
	if s.depth == 0 {
		return // a stray delimiter
	}
	if s.depth == 1 && s.stack[0].dict {
		s.endValue(s.stack[0].key)
		s.endTop()
	}
	s.depth--
	s.stack = s.stack[:s.depth]
}

// newKey starts a dictionary's next entry.
func (s *pdfScanner) newKey(f *pdfFrame) {
	name := s.lex.text
	if string(name) == "Metadata" {
		s.metadata = true
	}
	if s.depth != 1 {
		f.key = keyOther
		if string(name) == "Type" {
			f.key = keyType
		}
		return
	}
	s.endValue(f.key)
	f.key = pdfKeys[string(name)]
	s.val = pdfValue{str: s.val.str[:0]}
	if s.collecting {
		s.key = append(s.key[:0], name...)
	}
}

// topValue notes a token of a value of the top dictionary.
func (s *pdfScanner) topValue(t pdfToken, key pdfKey) {
	v := &s.val
	switch t {
	case tokInt:
		if v.nInts < 2 {
			v.ints[v.nInts] = s.lex.num
		}
		v.nInts++
	case tokKeyword:
		switch string(s.lex.text) {
		case "R":
			v.ref = v.nInts == 2
		case "null":
			v.null = true
		}
	case tokName:
		switch {
		case key == keyType && string(s.lex.text) == "ObjStm":
			s.top.objStm = true
		case key == keyType && string(s.lex.text) == "XRef":
			s.top.xref = true
		case key == keyFilter:
			s.filter()
		}
	case tokString, tokHexString:
		v.isStr, v.hex = true, t == tokHexString
		if s.collecting {
			v.str = append(v.str[:0], s.lex.text...)
		}
	case tokDictOpen, tokArrayOpen:
		v.container = true
	}
}

func (s *pdfScanner) filter() {
	if s.top.filters == 0 {
		s.top.flate = string(s.lex.text) == "FlateDecode"
	}
	s.top.filters++
}

// endValue applies the value of key, now complete, to the top dictionary.
func (s *pdfScanner) endValue(key pdfKey) {
	v := &s.val
	direct := v.nInts == 1 && !v.ref
	switch key {
	case keyLength:
		s.top.length, s.top.lengthDirect = v.ints[0], direct
	case keyN:
		s.top.n = v.ints[0]
	case keyFirst:
		s.top.first = v.ints[0]
	case keyInfo:
		if v.ref {
			s.top.info, s.top.hasInfo = pdfRef{v.ints[0], v.ints[1]}, true
		} else if v.container {
			s.top.infoNotRef = true
		}
	case keyEncrypt:
		s.top.encrypt = !v.null
	case keyRoot:
		s.top.root = v.ref
	case keyDecodeParms:
		s.top.decodeParms = !v.null
	}
	if s.collecting && len(s.key) > 0 && (v.isStr || v.ref) {
		s.collectEntry()
	}
	s.key = s.key[:0]
}

// endTop ends the top dictionary: a trailer's (or cross-reference stream's) Info and
// Encrypt entries are noted, and the dictionary kept for a stream that may follow.
func (s *pdfScanner) endTop() {
	t := s.top
	s.trailer = false
	if t.trailer || t.xref && !s.inObjStm {
		if t.root {
			s.roots++
		}
		if t.encrypt {
			s.err = errPDFEncrypted
		}
		if t.hasInfo {
			s.addInfoRef(t.info)
		}
		if t.infoNotRef {
			s.unread("document information not stored as an object")
		}
	}
	s.stream, s.hasStream = t, t.owned && !s.inObjStm
}

func (s *pdfScanner) addInfoRef(r pdfRef) {
	for _, have := range s.infoRefs {
		if have == r {
			return
		}
	}
	if len(s.infoRefs) >= pdfMaxRefs {
		s.unread("too many revisions")
		return
	}
	s.infoRefs = append(s.infoRefs, r)
}

func (s *pdfScanner) unread(why string) {
	for _, have := range s.unreadable {
		if have == why {
			return
		}
	}
	s.unreadable = append(s.unreadable, why)
}

// collect reports whether n more bytes of document information may be kept.
func (s *pdfScanner) collect(n int) bool {
	if s.collected+n > pdfMaxCollected {
		s.unread("too much document information")
		return false
	}
	s.collected += n
	return true
}

func (s *pdfScanner) collectEntry() {
	e := pdfEntry{key: string(s.key), hex: s.val.hex}
	if s.val.ref {
		e.ref, e.isRef = pdfRef{s.val.ints[0], s.val.ints[1]}, true
	} else {
		e.str = string(s.val.str)
	}
	if s.collect(len(e.key) + len(e.str)) {
		s.entries = append(s.entries, e)
	}
}

func (s *pdfScanner) collectString(hex bool) {
	if !s.collect(len(s.lex.text)) {
		return
	}
	if s.strings == nil {
		s.strings = map[pdfRef][]pdfString{}
	}
	s.strings[s.cur] = append(s.strings[s.cur], pdfString{string(s.lex.text), hex})
}

// skipStream moves past a stream's data, reading it first if it is an object stream.
// The data ends /Length bytes on when "endstream" follows there; otherwise (an indirect
// or wrong length) at the next "endstream". With none, the data is read as if it were
// objects, so that nothing after it goes unseen.
func (s *pdfScanner) skipStream(t pdfTop) {
	f := s.file
	if c, err := f.ReadByte(); err == nil {
		switch c {
		case '\r':
			if c, err := f.ReadByte(); err == nil && c != '\n' {
				f.UnreadByte()
			}
		case '\n':
		default:
			f.UnreadByte()
		}
	}
	start := f.pos()
	end, resume, ok := int64(0), int64(0), false
	if t.lengthDirect && t.length >= 0 && t.length <= f.size-start {
		end = start + t.length
		resume, ok = s.endstreamAt(end)
	}
	// A search that reached the end of the file without finding "endstream" is not
	// made again from a later point: a file of many unterminated streams costs one
	// search, not one each.
	if !ok && start < s.noEndstream {
		f.seek(start)
		end, ok = f.find("endstream")
		resume = end + int64(len("endstream"))
		if !ok {
			s.noEndstream = start
		}
	}
	if !ok {
		f.seek(start)
		if t.objStm {
			s.unread("an object stream without its end")
		}
		return
	}
	if t.objStm {
		s.objectStream(start, end, t)
	}
	f.seek(resume)
}

// endstreamAt reports whether "endstream" follows at, after white space, and where
// it ends. It reads a few bytes on their own, not through the window, so that a file
// of many streams with lengths pointing afar costs a few bytes a stream.
func (s *pdfScanner) endstreamAt(at int64) (int64, bool) {
	const kw = "endstream"
	buf := s.probe[:]
	n, _ := s.file.r.ReadAt(buf[:min(int64(len(buf)), s.file.size-at)], at)
	b := buf[:n]
	i := 0
	for i < len(b) && isPDFSpace(b[i]) {
		i++
	}
	if !bytes.HasPrefix(b[i:], []byte(kw)) {
		return 0, false
	}
	return at + int64(i+len(kw)), true
}

// objectStream reads the objects of an object stream (7.5.7), decompressing its data
// through a window: N pairs of object number and offset, then the objects from
// /First. A collecting pass decompresses only the streams holding a target.
func (s *pdfScanner) objectStream(start, end int64, t pdfTop) {
	if t.filters > 1 || t.filters == 1 && !t.flate || t.decodeParms {
		s.unread("an object stream in an encoding the portal does not read")
		return
	}
	// The readers are reused from stream to stream: a file of many object streams
	// allocates no more than one of few.
	s.section = pdfSection{r: s.file.r, off: start, end: end}
	var r io.Reader = &s.section
	if t.flate {
		s.zin.Reset(&s.section)
		var err error
		if s.zr == nil {
			s.zr, err = zlib.NewReader(s.zin)
		} else {
			err = s.zr.(zlib.Resetter).Reset(s.zin, nil)
		}
		if err != nil {
			s.unread("an object stream that does not decompress")
			return
		}
		r = s.zr
	}
	s.limit = pdfInflateLimit{r: r, left: &s.inflate}
	s.br.Reset(&s.limit)
	// The objects are lexed from the decompressed bytes; the file's lexer (which
	// shares the text buffer) takes over again after the stream.
	fileLex := s.lex
	s.lex.reset(s.br)
	s.reset()
	s.inObjStm = true
	defer func() {
		fileLex.text = s.lex.text
		s.lex, s.inObjStm = fileLex, false
		s.reset()
	}()

	for read := s.objectStreamHeader(t); read && s.err == nil; {
		tok := s.lex.next()
		if tok == tokEOF {
			break
		}
		if s.depth == 0 {
			s.enterObject(s.lex.start - t.first)
		}
		s.token(tok)
	}
	switch {
	case s.limit.over:
		s.err = errPDFBomb
	case s.lex.err != nil && s.err == nil:
		s.unread("an object stream that does not decompress")
	}
}

// objectStreamHeader reads the pairs of object numbers and offsets, keeping the
// ranges of the targets, and moves to the first object. It reports whether the
// objects are to be read: always in a survey, only for a target when collecting.
func (s *pdfScanner) objectStreamHeader(t pdfTop) bool {
	s.ranges = s.ranges[:0]
	var num, off int64
	for i := int64(0); i < 2*t.n && s.lex.pos < t.first; i++ {
		if s.lex.next() != tokInt {
			break
		}
		if i%2 == 0 {
			num = s.lex.num
			continue
		}
		off = s.lex.num
		if n := len(s.ranges); n > 0 && s.ranges[n-1].end < 0 {
			s.ranges[n-1].end = off // offsets increase (7.5.7)
		}
		if s.targets[pdfRef{num, 0}] && len(s.ranges) < pdfMaxRefs {
			s.ranges = append(s.ranges, pdfObjRange{pdfRef{num, 0}, off, -1})
		}
	}
	if s.targets != nil && len(s.ranges) == 0 {
		return false
	}
	for s.lex.pos < t.first {
		if _, ok := s.lex.read(); !ok {
			s.unread("an object stream whose objects could not be found")
			return false
		}
	}
	return true
}

// enterObject starts the object of an object stream that a token at offset (from
// /First) belongs to.
func (s *pdfScanner) enterObject(offset int64) {
	s.inObject, s.collecting = true, false
	// Offsets only grow, in the header as in the data: the ranges passed are done with.
	for len(s.ranges) > 0 && s.ranges[0].end >= 0 && offset >= s.ranges[0].end {
		s.ranges = s.ranges[1:]
	}
	if len(s.ranges) > 0 && offset >= s.ranges[0].start {
		s.cur, s.collecting = s.ranges[0].ref, true
	}
}

// pdfSection reads the bytes of a stream's data.
type pdfSection struct {
	r        io.ReaderAt
	off, end int64
}

func (s *pdfSection) Read(p []byte) (int, error) {
	if s.off >= s.end {
		return 0, io.EOF
	}
	n, err := s.r.ReadAt(p[:min(int64(len(p)), s.end-s.off)], s.off)
	s.off += int64(n)
	if n > 0 && err == io.EOF {
		err = nil
	}
	return n, err
}

// pdfInflateLimit ends an object stream's data when the file's budget of decompressed
// bytes is spent.
type pdfInflateLimit struct {
	r    io.Reader
	left *int64
	over bool
}

func (l *pdfInflateLimit) Read(p []byte) (int, error) {
	if *l.left <= 0 {
		l.over = true
		return 0, io.EOF
	}
	n, err := l.r.Read(p[:min(int64(len(p)), *l.left)])
	*l.left -= int64(n)
	return n, err
}

// FindPDF reports the document information entries of a PDF file and its XMP
// metadata (the document's and any object's). It reads the file streaming, in a
// constant amount of memory whatever its size: a survey finds the trailers and any
// /Metadata, a second pass the Info dictionaries, a third the strings their entries
// refer to, if any.
//
// Every Info dictionary a trailer refers to is reported, not only the current one:
// an incremental update leaves the older ones in the file, where any reader of the
// bytes finds them, and CleanPDF removes them all.
func FindPDF(r io.ReaderAt, size int64) ([]string, error) {
	if !pdfHeader(r, size) {
		return nil, errors.New("not a PDF file: no %PDF- header")
	}
	s := newPDFScanner(r, size)
	s.run(nil)
	if s.err != nil {
		return nil, s.err
	}
	if s.roots == 0 {
		// Not a document a reader could show; pdfcpu refused it too.
		return nil, errors.New("the PDF has no trailer naming its catalog")
	}
	metadata, unreadable := s.metadata, s.unreadable
	var entries []pdfEntry
	var values map[pdfRef][]pdfString
	if len(s.infoRefs) > 0 {
		s.run(refSet(s.infoRefs))
		entries = s.entries
		var refs []pdfRef
		for _, e := range entries {
			if e.isRef && len(refs) < pdfMaxRefs {
				refs = append(refs, e.ref)
			}
		}
		if len(refs) > 0 {
			s.entries, s.strings = nil, nil
			s.run(refSet(refs))
			values = s.strings
		}
		if s.err != nil {
			return nil, s.err
		}
		unreadable = s.unreadable
	}
	var f findings
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	for _, e := range entries {
		vs := []pdfString{{e.str, e.hex}}
		if e.isRef {
			vs = values[e.ref]
		}
		for _, v := range vs {
			reportInfo(&f, e.key, v)
		}
	}
	if metadata {
		f.add("XMP metadata")
	}
	for _, why := range unreadable {
		f.add("parts that could not be inspected (%s)", why)
	}
	return f.list, nil
}

// reportInfo adds an Info entry's value, decoded as pdfcpu decodes it.
func reportInfo(f *findings, key string, v pdfString) {
	var s string
	var err error
	if v.hex {
		s, err = types.HexLiteralToString(types.HexLiteral(v.str))
	} else {
		s, err = types.StringLiteralToString(types.StringLiteral(v.str))
	}
	if err != nil || s == "" {
		return
	}
	if key == "Producer" && strings.HasPrefix(s, "pdfcpu ") {
		return // what a cleaned copy says
	}
	if name, ok := pdfInfoKeys[key]; ok {
		f.add("%s %s", name, quote(s))
	} else if key != "CreationDate" && key != "ModDate" && key != "Trapped" {
		f.add("document property %s: %s", quote(key), quote(s))
	}
}

func refSet(refs []pdfRef) map[pdfRef]bool {
	m := make(map[pdfRef]bool, len(refs))
	for _, r := range refs {
		m[r] = true
	}
	return m
}

// pdfHeader reports whether "%PDF-" is in the first kilobyte, where readers look for it.
func pdfHeader(r io.ReaderAt, size int64) bool {
	b := make([]byte, min(size, 1024))
	n, _ := r.ReadAt(b, 0)
	return bytes.Contains(b[:n], []byte("%PDF-"))
}
