package scrub

import (
	"io"
	"sort"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

// FindPDFWithPdfcpu is the oracle of the differential tests: what FindPDF did before
// it read files streaming, through pdfcpu, which holds the whole file in memory. It
// sees the current revision only (the objects the cross-reference chain names).
func FindPDFWithPdfcpu(r io.ReaderAt, size int64) ([]string, error) {
	ctx, err := readPDF(r, size)
	if err != nil {
		return nil, err
	}
	var f findings
	if info, _ := pdfInfo(ctx); info != nil {
		keys := make([]string, 0, len(info))
		for k := range info {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s, err := ctx.DereferenceStringOrHexLiteral(info[k], model.V10, nil)
			if err != nil || s == "" {
				continue
			}
			if k == "Producer" && strings.HasPrefix(s, "pdfcpu ") {
				continue // what a cleaned copy says
			}
			if name, ok := pdfInfoKeys[k]; ok {
				f.add("%s %s", name, quote(s))
			} else if k != "CreationDate" && k != "ModDate" && k != "Trapped" {
				f.add("document property %s: %s", quote(k), quote(s))
			}
		}
	}
	if n := pdfMetadata(ctx, false); n > 0 {
		f.add("XMP metadata")
	}
	return f.list, nil
}
