package scrub_test

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"
)

// pdfBuilder writes a PDF file object by object, for the tests of FindPDF: classic
// cross-reference tables or cross-reference streams, object streams, incremental
// updates. It writes to any io.Writer, so that large files go straight to disk.
type pdfBuilder struct {
	w       *bufio.Writer
	off     int64
	objs    map[int]pdfEntry // the objects since the last cross-reference section
	size    int              // the highest object number + 1
	prev    int64            // the last cross-reference section, for /Prev
	hasPrev bool
	err     error
}

// pdfEntry is where an object is: at an offset, or the index-th object of a stream.
type pdfEntry struct {
	off           int64
	stream, index int
	compressed    bool
}

func newPDFBuilder(w io.Writer) *pdfBuilder {
	p := &pdfBuilder{w: bufio.NewWriterSize(w, 64<<10), objs: map[int]pdfEntry{}}
	p.printf("%%PDF-1.7\n%%\xe2\xe3\xcf\xd3\n")
	return p
}

func (p *pdfBuilder) printf(format string, args ...any) {
	p.write([]byte(fmt.Sprintf(format, args...)))
}

func (p *pdfBuilder) write(b []byte) {
	n, err := p.w.Write(b)
	p.off += int64(n)
	if err != nil && p.err == nil {
		p.err = err
	}
}

func (p *pdfBuilder) note(num int, e pdfEntry) {
	p.objs[num] = e
	p.size = max(p.size, num+1)
}

// obj writes object num with body as its value.
func (p *pdfBuilder) obj(num int, body string) {
	p.note(num, pdfEntry{off: p.off})
	p.printf("%d 0 obj\n%s\nendobj\n", num, body)
}

// stream writes object num, a stream of data; dict is its dictionary without
// /Length, which is added as a direct integer.
func (p *pdfBuilder) stream(num int, dict string, data []byte) {
	p.note(num, pdfEntry{off: p.off})
	p.printf("%d 0 obj\n<< %s /Length %d >>\nstream\n", num, dict, len(data))
	p.write(data)
	p.printf("\nendstream\nendobj\n")
}

// streamFrom writes a stream whose n bytes of data fill writes to w.
func (p *pdfBuilder) streamFrom(num int, dict string, n int64, fill func(w io.Writer)) {
	p.note(num, pdfEntry{off: p.off})
	p.printf("%d 0 obj\n<< %s /Length %d >>\nstream\n", num, dict, n)
	c := &countingWriter{w: p.w}
	fill(c)
	p.off += c.n
	if c.n != n {
		panic(fmt.Sprintf("stream %d: %d bytes written, %d announced", num, c.n, n))
	}
	p.printf("\nendstream\nendobj\n")
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// objStm writes object num, an object stream holding bodies (object number → value),
// compressed with zlib.
func (p *pdfBuilder) objStm(num int, bodies map[int]string) {
	nums := make([]int, 0, len(bodies))
	for n := range bodies {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	var header, objects bytes.Buffer
	for i, n := range nums {
		fmt.Fprintf(&header, "%d %d ", n, objects.Len())
		objects.WriteString(bodies[n] + "\n")
		p.note(n, pdfEntry{stream: num, index: i, compressed: true})
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(header.Bytes())
	zw.Write(objects.Bytes())
	zw.Close()
	p.stream(num, fmt.Sprintf("/Type /ObjStm /N %d /First %d /Filter /FlateDecode", len(nums), header.Len()), z.Bytes())
}

// xrefTable ends a revision with a classic cross-reference table and a trailer holding
// extra (/Root, /Info…).
func (p *pdfBuilder) xrefTable(extra string) {
	at := p.off
	p.printf("xref\n")
	if !p.hasPrev {
		p.printf("0 1\n0000000000 65535 f \n")
	}
	for _, n := range p.sortedObjs() {
		p.printf("%d 1\n%010d 00000 n \n", n, p.objs[n].off)
	}
	prev := ""
	if p.hasPrev {
		prev = fmt.Sprintf(" /Prev %d", p.prev)
	}
	p.printf("trailer\n<< /Size %d%s %s >>\nstartxref\n%d\n%%%%EOF\n", p.size, prev, extra, at)
	p.endRevision(at)
}

// xrefStream ends a revision with a cross-reference stream, object num, whose
// dictionary holds extra.
func (p *pdfBuilder) xrefStream(num int, extra string) {
	at := p.off
	p.note(num, pdfEntry{off: at})
	var data []byte
	var index []string
	if !p.hasPrev {
		index = append(index, "0 1")
		data = append(data, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff)
	}
	for _, n := range p.sortedObjs() {
		e := p.objs[n]
		index = append(index, fmt.Sprintf("%d 1", n))
		if e.compressed {
			data = append(data, 2)
			data = binary.BigEndian.AppendUint64(data, uint64(e.stream))
			data = binary.BigEndian.AppendUint16(data, uint16(e.index))
		} else {
			data = append(data, 1)
			data = binary.BigEndian.AppendUint64(data, uint64(e.off))
			data = binary.BigEndian.AppendUint16(data, 0)
		}
	}
	prev := ""
	if p.hasPrev {
		prev = fmt.Sprintf(" /Prev %d", p.prev)
	}
	p.printf("%d 0 obj\n<< /Type /XRef /Size %d /W [1 8 2] /Index [%s]%s %s /Length %d >>\nstream\n",
		num, p.size, strings.Join(index, " "), prev, extra, len(data))
	p.write(data)
	p.printf("\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", at)
	p.endRevision(at)
}

func (p *pdfBuilder) sortedObjs() []int {
	nums := make([]int, 0, len(p.objs))
	for n := range p.objs {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	return nums
}

func (p *pdfBuilder) endRevision(at int64) {
	p.prev, p.hasPrev = at, true
	p.objs = map[int]pdfEntry{}
}

func (p *pdfBuilder) close() error {
	if err := p.w.Flush(); err != nil && p.err == nil {
		p.err = err
	}
	return p.err
}

// built runs fn on a builder and returns the file.
func built(fn func(p *pdfBuilder)) []byte {
	var b bytes.Buffer
	p := newPDFBuilder(&b)
	fn(p)
	if err := p.close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// pdfPagesObjs writes the catalog (1, with extra entries), the page tree (2) and a page
// (3) with a content stream (4).
func pdfPagesObjs(p *pdfBuilder, catalogExtra, pageExtra string) {
	p.obj(1, "<< /Type /Catalog /Pages 2 0 R "+catalogExtra+" >>")
	p.obj(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	p.obj(3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R "+pageExtra+" >>")
	p.stream(4, "", []byte("BT /F1 12 Tf 10 10 Td (Hello) Tj ET"))
}
