package scrub

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/unionportal/unionportal/scrub/scrubtest"
)

// TestPDFMemoryBudget: a PDF is rewritten only within the memory budget; while the
// budget is taken, rewriting waits, and inspecting (which reads streaming) does not.
func TestPDFMemoryBudget(t *testing.T) {
	pdf := scrubtest.PDF()
	if err := pdfMemory.Acquire(context.Background(), PDFMemoryBudget); err != nil {
		t.Fatal(err)
	}
	if _, err := FindPDF(bytes.NewReader(pdf), int64(len(pdf))); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- CleanPDF(io.Discard, bytes.NewReader(pdf), int64(len(pdf)))
	}()
	select {
	case <-done:
		t.Fatal("a PDF was rewritten while the whole budget was taken")
	case <-time.After(100 * time.Millisecond):
	}
	pdfMemory.Release(PDFMemoryBudget)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
