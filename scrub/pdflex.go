package scrub

import (
	"errors"
	"io"
)

// The PDF scanner reads a file through two bounded buffers: pdfFile's window on the
// file, and pdfLexer's current token. Neither grows with the file.
const (
	// pdfWindow is how much of the file is read at once.
	pdfWindow = 64 << 10
	// pdfMaxToken is the longest token kept: a longer string or name is cut there.
	// Only the first 80 characters of a value are ever reported (quote), so a cut
	// value is reported as it would be whole, shortened.
	pdfMaxToken = 64 << 10
)

// pdfFile reads a file of size bytes through a window of pdfWindow bytes; seek moves
// the reading position anywhere, which skipping a stream's data needs.
type pdfFile struct {
	r     io.ReaderAt
	size  int64
	buf   []byte
	start int64 // the file offset of buf[0]
	i, n  int   // the next byte to read is buf[i]; buf[:n] holds data
	err   error // the first read error other than the end of the file
}

func newPDFFile(r io.ReaderAt, size int64) *pdfFile {
	return &pdfFile{r: r, size: size, buf: make([]byte, pdfWindow)}
}

func (f *pdfFile) pos() int64 { return f.start + int64(f.i) }

func (f *pdfFile) seek(p int64) {
	if p >= f.start && p <= f.start+int64(f.n) {
		f.i = int(p - f.start)
		return
	}
	f.start, f.i, f.n = p, 0, 0
}

func (f *pdfFile) ReadByte() (byte, error) {
	if f.i == f.n {
		if err := f.fill(); err != nil {
			return 0, err
		}
	}
	c := f.buf[f.i]
	f.i++
	return c, nil
}

// UnreadByte steps back one byte; the lexer only ever unreads the byte it just read,
// which is still in the window.
func (f *pdfFile) UnreadByte() error {
	if f.i == 0 {
		return errors.New("pdf: nothing to unread")
	}
	f.i--
	return nil
}

func (f *pdfFile) fill() error {
	f.start += int64(f.n)
	f.i, f.n = 0, 0
	if f.err != nil || f.start >= f.size {
		return io.EOF
	}
	n, err := f.r.ReadAt(f.buf[:min(int64(len(f.buf)), f.size-f.start)], f.start)
	f.n = n
	if n == 0 {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF // the file is shorter than its size
		}
		f.err = err
		return io.EOF
	}
	return nil
}

// find moves past the next occurrence of pat and returns where it starts; false, at
// the end of the file, when there is none. It reads byte by byte through the window
// (Knuth–Morris–Pratt), so a search costs no memory whatever the distance. pat is
// at most 16 bytes long.
func (f *pdfFile) find(pat string) (int64, bool) {
	var borders [16]int
	fail := borders[:len(pat)] // fail[i]: the longest proper border of pat[:i+1]
	for i, k := 1, 0; i < len(pat); i++ {
		for k > 0 && pat[i] != pat[k] {
			k = fail[k-1]
		}
		if pat[i] == pat[k] {
			k++
		}
		fail[i] = k
	}
	k := 0
	for {
		c, err := f.ReadByte()
		if err != nil {
			return 0, false
		}
		for k > 0 && c != pat[k] {
			k = fail[k-1]
		}
		if c == pat[k] {
			k++
		}
		if k == len(pat) {
			return f.pos() - int64(len(pat)), true
		}
	}
}

// pdfByteReader is what the lexer reads: the file itself, or the decompressed bytes
// of an object stream.
type pdfByteReader interface {
	io.ByteReader
	UnreadByte() error
}

type pdfToken int

const (
	tokEOF       pdfToken = iota
	tokName               // text: the name without its slash, #xx escapes decoded
	tokString             // text: the bytes between the parentheses, escapes as written
	tokHexString          // text: the hex digits, without white space, of even count
	tokInt                // num: its value
	tokKeyword            // text: obj, R, stream, trailer, true, null, a real number…
	tokDictOpen
	tokDictClose
	tokArrayOpen
	tokArrayClose
	tokOther // a stray delimiter, a hex string with junk in it
)

// pdfLexer splits PDF syntax into tokens (ISO 32000-1, 7.2 and 7.3), skipping white
// space and comments. Its text buffer is reused from token to token.
type pdfLexer struct {
	r     pdfByteReader
	pos   int64 // bytes read from r
	start int64 // where the current token starts
	text  []byte
	num   int64
	err   error // the first read error other than the end of the input
}

func (l *pdfLexer) reset(r pdfByteReader) {
	l.r, l.pos, l.start, l.err = r, 0, 0, nil
	if l.text == nil {
		l.text = make([]byte, 0, 256)
	}
}

func (l *pdfLexer) read() (byte, bool) {
	c, err := l.r.ReadByte()
	if err != nil {
		if err != io.EOF && l.err == nil {
			l.err = err
		}
		return 0, false
	}
	l.pos++
	return c, true
}

func (l *pdfLexer) unread() {
	if l.r.UnreadByte() == nil {
		l.pos--
	}
}

// keep appends c to the token's text unless the text is already pdfMaxToken long.
func (l *pdfLexer) keep(c byte) {
	if len(l.text) < pdfMaxToken {
		l.text = append(l.text, c)
	}
}

func isPDFSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isPDFDelimiter(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func hexValue(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func (l *pdfLexer) next() pdfToken {
	l.text = l.text[:0]
	for {
		c, ok := l.read()
		if !ok {
			l.start = l.pos
			return tokEOF
		}
		l.start = l.pos - 1
		switch {
		case isPDFSpace(c):
			continue
		case c == '%':
			l.skipComment()
			continue
		case c == '/':
			l.regular()
			l.decodeName()
			return tokName
		case c == '(':
			l.literalString()
			return tokString
		case c == '<':
			if c, ok := l.read(); ok {
				if c == '<' {
					return tokDictOpen
				}
				l.unread()
			}
			return l.hexString()
		case c == '>':
			if c, ok := l.read(); ok {
				if c == '>' {
					return tokDictClose
				}
				l.unread()
			}
			return tokOther
		case c == '[':
			return tokArrayOpen
		case c == ']':
			return tokArrayClose
		case isPDFDelimiter(c):
			return tokOther
		}
		l.keep(c)
		l.regular()
		if l.integer() {
			return tokInt
		}
		return tokKeyword
	}
}

func (l *pdfLexer) skipComment() {
	for {
		c, ok := l.read()
		if !ok || c == '\n' || c == '\r' {
			return
		}
	}
}

// regular reads the rest of a run of regular characters (a name, number or keyword).
func (l *pdfLexer) regular() {
	for {
		c, ok := l.read()
		if !ok {
			return
		}
		if isPDFSpace(c) || isPDFDelimiter(c) {
			l.unread()
			return
		}
		l.keep(c)
	}
}

// decodeName replaces the #xx escapes of a name by the bytes they stand for, as
// readers do: /Meta#64ata is /Metadata. A # not followed by two hex digits stays.
func (l *pdfLexer) decodeName() {
	b := l.text
	w := 0
	for r := 0; r < len(b); r++ {
		if b[r] == '#' && r+2 < len(b) {
			hi, ok1 := hexValue(b[r+1])
			lo, ok2 := hexValue(b[r+2])
			if ok1 && ok2 {
				b[w] = hi<<4 | lo
				w++
				r += 2
				continue
			}
		}
		b[w] = b[r]
		w++
	}
	l.text = b[:w]
}

// integer reports whether the token is an integer, and sets num to it. Longer
// numbers than an int64 holds are not integers here (no offset or length is).
func (l *pdfLexer) integer() bool {
	b := l.text
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return false
	}
	n := int64(0)
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int64(c-'0')
	}
	if l.text[0] == '-' {
		n = -n
	}
	l.num = n
	return true
}

// literalString reads a string up to its closing parenthesis, nested parentheses
// balanced; escapes are kept as written, for pdfcpu's decoding. An unterminated
// string ends at the end of the input.
func (l *pdfLexer) literalString() {
	depth := 1
	for {
		c, ok := l.read()
		if !ok {
			return
		}
		switch c {
		case '\\':
			l.keep(c)
			if c, ok = l.read(); !ok {
				return
			}
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return
			}
		}
		l.keep(c)
	}
}

// hexString reads a hex string up to its '>': the digits are kept, white space
// dropped, and an odd last digit completed with 0 (7.3.4.3). A string with anything
// else in it is junk, which pdfcpu skips too.
func (l *pdfLexer) hexString() pdfToken {
	junk := false
	for {
		c, ok := l.read()
		if !ok || c == '>' {
			break
		}
		if isPDFSpace(c) {
			continue
		}
		if _, ok := hexValue(c); !ok {
			junk = true
			continue
		}
		if len(l.text) < pdfMaxToken {
			l.text = append(l.text, c)
		}
	}
	if junk {
		return tokOther
	}
	if len(l.text)%2 == 1 {
		l.text = append(l.text, '0')
	}
	return tokHexString
}
