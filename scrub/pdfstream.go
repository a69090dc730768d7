package scrub

import (
	"bytes"
	"compress/zlib"
	"io"
)

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
