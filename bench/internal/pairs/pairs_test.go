package pairs

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestInterleaveAlternates: pairs run A B, B A, A B …, and results come back per side.
func TestInterleaveAlternates(t *testing.T) {
	var order []string
	side := func(name string, v float64) Side {
		return Side{Name: name, Run: func() (float64, float64) { order = append(order, name); return v, 1 }}
	}
	var reported int
	as, bs, err := Interleave(4, nil, side("a", 2), side("b", 1), func(int, Result, Result) { reported++ })
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, ""); got != "abbaabba" {
		t.Errorf("order %s, want abbaabba", got)
	}
	if len(as) != 4 || len(bs) != 4 || reported != 4 {
		t.Fatalf("%d and %d results, %d reports", len(as), len(bs), reported)
	}
	for _, r := range Ratios(as, bs) {
		if r != 2 {
			t.Errorf("ratio %v, want 2", r)
		}
	}
}

func TestMedianAndSummary(t *testing.T) {
	if m := Median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median %v", m)
	}
	if m := Median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median %v", m)
	}
	if s := Summary("%.1f", []float64{3, 1, 2}); s != "2.0 (1.0-3.0)" {
		t.Errorf("summary %q", s)
	}
}

// TestMeters: this process's CPU time grows while it spins, read by getrusage and from
// /proc; a child's is counted by Tree while it runs.
func TestMeters(t *testing.T) {
	self, proc := Self("self"), Process("proc", os.Getpid())
	s0, err := self.Read()
	if err != nil {
		t.Fatal(err)
	}
	p0, err := proc.Read()
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 100*time.Millisecond; {
	}
	s1, _ := self.Read()
	p1, _ := proc.Read()
	if s1 <= s0 || p1 <= p0 {
		t.Errorf("CPU time did not grow: getrusage %v -> %v, /proc %v -> %v", s0, s1, p0, p1)
	}

	child := exec.Command("sleep", "5")
	if err := child.Start(); err != nil {
		t.Skip("no sleep command:", err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	if got := children(os.Getpid()); !slices.Contains(got, child.Process.Pid) {
		t.Errorf("children %v do not include %d", got, child.Process.Pid)
	}
	if _, err := Tree("tree", os.Getpid()).Read(); err != nil {
		t.Error(err)
	}
}
