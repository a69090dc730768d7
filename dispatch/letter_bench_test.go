package dispatch

import (
	"os"
	"testing"
	"time"

	"github.com/unionportal/unionportal/workflow"
)

// BenchmarkRenderLetter measures one Case 3386 letter (see docs/benchmarks.md, P7).
func BenchmarkRenderLetter(b *testing.B) {
	body, err := os.ReadFile("../cmd/unionportal/demo/case-3386-update.md")
	if err != nil {
		b.Fatal(err)
	}
	l := Letter{Settings: demoSettings(), Case: workflow.Case{Number: "3386", Country: "KG"},
		Submission: workflow.Submission{Kind: workflow.KindAdditionalInformation, Body: string(body)}, Date: time.Now()}
	for b.Loop() {
		if _, err := l.RenderBytes(); err != nil {
			b.Fatal(err)
		}
	}
}
