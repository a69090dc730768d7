package main

import (
	"bytes"
	"testing"

	"github.com/unionportal/unionportal/scrub"
)

// TestEvidence: the benchmark's evidence files are what the portal accepts as clean,
// of about the size asked.
func TestEvidence(t *testing.T) {
	for _, name := range []string{"minutes.pdf", "statement.txt"} {
		b := evidence(name, 8<<10, 1)
		if len(b) < 7<<10 || len(b) > 10<<10 {
			t.Errorf("%s: %d bytes", name, len(b))
		}
		mt := "application/pdf"
		if name == "statement.txt" {
			mt = "text/plain"
		}
		if r := scrub.Inspect(bytes.NewReader(b), int64(len(b)), mt); r.Status != scrub.StatusClean {
			t.Errorf("%s: %s %s", name, r.Status, r.Reason)
		}
	}
}
