package scrub

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/unionportal/unionportal/scrub/scrubtest"
)

// TestPDFMemoryBudget: a PDF is read only within the memory budget; while the budget is
// taken, reading waits.
func TestPDFMemoryBudget(t *testing.T) {
	pdf := scrubtest.PDF()
	if err := pdfMemory.Acquire(context.Background(), PDFMemoryBudget); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := FindPDF(bytes.NewReader(pdf), int64(len(pdf)))
		done <- err
	}()
	select {
	case <-done:
		t.Fatal("a PDF was read while the whole budget was taken")
	case <-time.After(100 * time.Millisecond):
	}
	pdfMemory.Release(PDFMemoryBudget)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
