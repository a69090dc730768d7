package scrub

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Bounds on what a hostile file can make the scanner do.
const (
	// pdfMaxDepth bounds the nesting of arrays and dictionaries the scanner follows
	// key by key. Deeper, it only counts the levels, and takes any /Metadata name for
	// XMP metadata, since it no longer tells keys from values; the file is reported as
	// not wholly inspected. pdfcpu reads (and so cleans) such files, so refusing them
	// would be harsher than before.
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
	depth int // levels open; those beyond pdfMaxDepth are not in stack
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
	if t == tokDictClose || t == tokArrayClose {
		s.close()
		return
	}
	if s.depth > len(s.stack) {
		if t == tokName && string(s.lex.text) == "Metadata" {
			s.metadata = true
		}
		if t == tokDictOpen || t == tokArrayOpen {
			s.depth++
		}
		return
	}
	var parent *pdfFrame
	if s.depth > 0 {
		parent = &s.stack[s.depth-1]
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
		s.unread(fmt.Sprintf("arrays or dictionaries nested deeper than %d", pdfMaxDepth))
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
	if s.depth > len(s.stack) {
		s.depth--
		return
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
