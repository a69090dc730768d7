package scrub

import (
	"context"
	"errors"
	"fmt"
	"io"
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
