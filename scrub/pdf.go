package scrub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
	"golang.org/x/sync/semaphore"
)

// pdfInfoKeys are the document information entries reported by name; any other entry
// of the dictionary (custom ones included) is removed too.
var pdfInfoKeys = map[string]string{"Author": "author", "Creator": "creator tool", "Producer": "producer",
	"Title": "title", "Subject": "subject", "Keywords": "keywords"}

// pdfConfigOnce keeps pdfcpu from creating its configuration directory in the
// process's home: a setting of the library for the whole process, which only this
// package uses.
var pdfConfigOnce sync.Once

// PDFMemoryBudget bounds the memory PDF files take while they are rewritten (CleanPDF):
// pdfcpu holds a whole file, its streams included, in memory. The files being rewritten
// at once may together weigh at most this much; a larger file waits for the whole
// budget and is rewritten alone. FindPDF, which runs on every upload, needs no budget:
// it reads a file streaming, in a constant amount of memory, as other formats are read.
const PDFMemoryBudget = 48 << 20

var pdfMemory = semaphore.NewWeighted(PDFMemoryBudget)

// withPDFMemory runs fn with the budget for a file of size bytes taken.
func withPDFMemory(size int64, fn func() error) error {
	w := max(1, min(size, PDFMemoryBudget))
	if err := pdfMemory.Acquire(context.Background(), w); err != nil {
		return err
	}
	defer pdfMemory.Release(w)
	return fn()
}

func readPDF(r io.ReaderAt, size int64) (*model.Context, error) {
	pdfConfigOnce.Do(api.DisableConfigDir)
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	ctx, err := api.ReadContext(io.NewSectionReader(r, 0, size), conf)
	if err != nil {
		return nil, err
	}
	if ctx.Encrypt != nil {
		return nil, errors.New("the PDF is encrypted")
	}
	return ctx, nil
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

// CleanPDF writes a PDF file without its document information entries (all but the
// dates, which pdfcpu sets to the time of writing, and Trapped) and without any XMP
// metadata stream; pages, their content and resources are written as they were read.
// pdfcpu rewrites the whole file, so incremental updates that kept older values are
// gone too. pdfcpu names itself as the producer.
func CleanPDF(w io.Writer, r io.ReaderAt, size int64) error {
	return withPDFMemory(size, func() error { return cleanPDF(w, r, size) })
}

func cleanPDF(w io.Writer, r io.ReaderAt, size int64) error {
	ctx, err := readPDF(r, size)
	if err != nil {
		return err
	}
	if info, _ := pdfInfo(ctx); info != nil {
		for k := range info {
			if k != "Trapped" {
				info.Delete(k)
			}
		}
	}
	pdfMetadata(ctx, true)
	if err := api.WriteContext(ctx, w); err != nil {
		return fmt.Errorf("write PDF: %w", err)
	}
	return nil
}

func pdfInfo(ctx *model.Context) (types.Dict, error) {
	if ctx.Info == nil {
		return nil, nil
	}
	return ctx.DereferenceDict(*ctx.Info)
}

// pdfMetadata counts the objects with a /Metadata entry (the catalog's XMP, and those
// of pages, images or fonts), removing the entries when remove is set. The streams
// themselves are then unreferenced, and pdfcpu leaves them out of the file it writes.
func pdfMetadata(ctx *model.Context, remove bool) int {
	n := 0
	visit := func(d types.Dict) {
		if _, ok := d.Find("Metadata"); ok {
			n++
			if remove {
				d.Delete("Metadata")
			}
		}
	}
	if ctx.RootDict != nil {
		visit(ctx.RootDict)
	}
	for _, e := range ctx.Table {
		if e == nil || e.Free || e.Object == nil {
			continue
		}
		switch o := e.Object.(type) {
		case types.Dict:
			visit(o)
		case types.StreamDict:
			if t := o.Type(); t != nil && *t == "Metadata" {
				n++ // an XMP stream, referenced or not
			}
			visit(o.Dict)
		}
	}
	return n
}
