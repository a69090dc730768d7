package main

import (
	"bytes"
	"io"
	"testing"

	"github.com/unionportal/unionportal/scrub"
)

// TestFileReader: the benchmark's files are well-formed PDFs of exactly the size asked.
func TestFileReader(t *testing.T) {
	for _, size := range []int64{4096, 1<<20 + 7, 3 << 20} {
		b, err := io.ReadAll(fileReader(size))
		if err != nil || int64(len(b)) != size {
			t.Fatalf("%d: %d bytes, %v", size, len(b), err)
		}
		if r := scrub.Inspect(bytes.NewReader(b), size, "application/pdf"); r.Status != scrub.StatusClean {
			t.Errorf("%d: %s %s", size, r.Status, r.Reason)
		}
	}
}
