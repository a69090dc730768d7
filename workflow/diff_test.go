package workflow

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/apperr"

	"github.com/unionportal/unionportal/internal/testrig"
)

func eq(s string) DiffOp  { return DiffOp{Op: "equal", Text: s} }
func ins(s string) DiffOp { return DiffOp{Op: "insert", Text: s} }
func del(s string) DiffOp { return DiffOp{Op: "delete", Text: s} }

// mustDiff diffs a and b and checks what every diff must satisfy: the kept and deleted
// pieces give a back, the kept and inserted ones give b, and no two pieces in a row
// have the same operation.
func mustDiff(t *testing.T, a, b string) ([]DiffOp, *differ) {
	t.Helper()
	d := &differ{ctx: context.Background()}
	out := d.diff(a, b)
	if d.err != nil {
		t.Fatal(d.err)
	}
	var ga, gb strings.Builder
	for i, op := range out {
		switch op.Op {
		case "equal":
			ga.WriteString(op.Text)
			gb.WriteString(op.Text)
		case "delete":
			ga.WriteString(op.Text)
		case "insert":
			gb.WriteString(op.Text)
		default:
			t.Fatalf("op %q", op.Op)
		}
		if op.Text == "" || i > 0 && out[i-1].Op == op.Op {
			t.Fatalf("diff %q -> %q: piece %d %+v empty or repeats its operation: %+v", a, b, i, op, out)
		}
	}
	if ga.String() != a || gb.String() != b {
		t.Fatalf("diff %q -> %q does not give the texts back: %+v", a, b, out)
	}
	return out, d
}

func TestWordDiff(t *testing.T) {
	tests := []struct {
		name, a, b string
		want       []DiffOp
	}{
		{"both empty", "", "", []DiffOp{}},
		{"identical", "The first account.", "The first account.", []DiffOp{eq("The first account.")}},
		{"from empty", "", "New text", []DiffOp{ins("New text")}},
		{"to empty", "Old text", "", []DiffOp{del("Old text")}},
		{"insertion", "a b", "a x b", []DiffOp{eq("a "), ins("x "), eq("b")}},
		{"insertion at the end", "a b", "a b c", []DiffOp{eq("a b"), ins(" c")}},
		{"deletion", "a x b", "a b", []DiffOp{eq("a "), del("x "), eq("b")}},
		{"deletion at the start", "x a b", "a b", []DiffOp{del("x "), eq("a b")}},
		{"replacement", "The first account of events.", "The raided account of events.",
			[]DiffOp{eq("The "), del("first"), ins("raided"), eq(" account of events.")}},
		{"replacement of everything", "one two", "three", []DiffOp{del("one two"), ins("three")}},
		{"white space only", "a  b", "a b", []DiffOp{eq("a"), del("  "), ins(" "), eq("b")}},
		{"unicode", "Жогорку Кенеш принял", "Жогорку Кеңеши принял",
			[]DiffOp{eq("Жогорку "), del("Кенеш"), ins("Кеңеши"), eq(" принял")}},
		{"emoji and accents", "café ☕ ok", "café 🍵 ok", []DiffOp{eq("café "), del("☕"), ins("🍵"), eq(" ok")}},
		{"lines", "one\ntwo\nthree\nfour\n", "one\n2\nthree\nfour!\n",
			[]DiffOp{eq("one\n"), del("two"), ins("2"), eq("\nthree\n"), del("four"), ins("four!"), eq("\n")}},
		{"a line added", "one\nthree\n", "one\ntwo\nthree\n", []DiffOp{eq("one\n"), ins("two\n"), eq("three\n")}},
		{"words inside changed lines", "The union was\nraided on 3 May by the police.\nEnd.",
			"The union was\nraided on 4 May by the army.\nEnd.",
			[]DiffOp{eq("The union was\nraided on "), del("3"), ins("4"), eq(" May by the "), del("police."), ins("army."), eq("\nEnd.")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := mustDiff(t, tt.a, tt.b)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("diff %q -> %q\n got %q\nwant %q", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

// lcs is the length of the longest common subsequence of a and b, the slow way.
func lcs(a, b []int32) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for i := range a {
		for j := range b {
			if a[i] == b[j] {
				cur[j+1] = prev[j] + 1
			} else {
				cur[j+1] = max(cur[j], prev[j+1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// TestWordDiffRandom: random texts with random edits give a correct diff, and on one
// line (where no line-level step intervenes) a minimal one.
func TestWordDiffRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vocabulary := []string{"a", "b", "union", "ILO", "Кеңеш", " ", " ", " ", "  ", ",", "\n"}
	text := func(n int, lines bool) string {
		var sb strings.Builder
		for range n {
			w := vocabulary[rng.IntN(len(vocabulary))]
			if w == "\n" && !lines {
				w = " "
			}
			sb.WriteString(w)
		}
		return sb.String()
	}
	edit := func(s string) string {
		for range rng.IntN(4) {
			i := rng.IntN(len(s) + 1)
			for i < len(s) && (s[i]&0xC0) == 0x80 {
				i++
			}
			j := min(len(s), i+rng.IntN(6))
			for j < len(s) && (s[j]&0xC0) == 0x80 {
				j++
			}
			s = s[:i] + text(rng.IntN(4), true) + s[j:]
		}
		return s
	}
	for i := range 500 {
		lines := i%2 == 0
		a := text(rng.IntN(60), lines)
		b := edit(a)
		if !lines {
			b = strings.ReplaceAll(b, "\n", " ")
		}
		out, _ := mustDiff(t, a, b)
		if lines {
			continue
		}
		ids := newInterner()
		ta, tb := tokenize(a, ids), tokenize(b, ids)
		kept := 0
		for _, op := range out {
			if op.Op == "equal" {
				kept += len(tokenize(op.Text, ids).ids)
			}
		}
		// Operations begin and end between pieces, so an operation's text cuts into
		// the same pieces again. Myers' script is a shortest one: it keeps a longest
		// common subsequence.
		if want := lcs(ta.ids, tb.ids); kept != want {
			t.Errorf("diff %q -> %q keeps %d pieces, the longest common subsequence has %d: %q", a, b, kept, want, out)
		}
	}
}

// TestWordDiffWorkIsBounded: texts that made the old diff quadratic (one word repeated,
// issue 9 item 2) are compared with work linear in their size, counted in steps, and
// a comparison too costly for its bounds still gives a correct, coarser diff.
func TestWordDiffWorkIsBounded(t *testing.T) {
	const n = 8000
	same := strings.Repeat("a ", n)
	tests := map[string]string{
		"one word changed":       same[:n] + "b" + same[n+1:],
		"a few words changed":    "x" + same[1:n/2] + "y" + same[n/2+1:n] + "z " + same[n+2:],
		"every word changed":     strings.Repeat("b ", n),
		"words inserted":         strings.Repeat("a a b ", n/2),
		"half deleted":           same[:n],
		"lines":                  strings.Repeat("a\n", n),
		"lines, a few changed":   strings.Repeat("a\n", n/2) + "b\n" + strings.Repeat("a\n", n/2-1),
		"reversed and shuffled ": strings.Repeat("a b ", n/2),
	}
	tokens := 2 * n
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			for _, a := range []string{same, strings.Repeat("a\n", n)} {
				_, d := mustDiff(t, a, b)
				if limit := diffWorkPerToken*2*(tokens+tokens) + 4*diffBaseWork; d.steps > limit {
					t.Errorf("%d steps for %d+%d pieces, want at most %d", d.steps, tokens, tokens, limit)
				}
			}
		})
	}
	// A few edits in a long text of one repeated word cost little more than reading it.
	_, d := mustDiff(t, same, tests["a few words changed"])
	if d.steps > 8*2*tokens {
		t.Errorf("a few edits: %d steps for %d pieces", d.steps, 2*tokens)
	}
	// Beyond the bounds, the changed part is reported deleted and inserted whole.
	out, _ := mustDiff(t, same, strings.Repeat("b ", n))
	if len(out) > 3 {
		t.Errorf("every word changed: %d pieces, want the whole text deleted and inserted", len(out))
	}
}

func TestWordDiffStopsWhenContextEnds(t *testing.T) {
	a, b := strings.Repeat("a b c ", 1<<16), strings.Repeat("c b a ", 1<<16)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := WordDiff(ctx, a, b)
	e, ok := apperr.As(err)
	if !ok || e.Code != CodeDiffTimeout || e.Kind != apperr.KindUnavailable || !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want diff_timeout (unavailable)", err)
	}
	// Ended part way: the diff stops at its next look.
	d := &differ{ctx: &testrig.StopAfter{Context: context.Background(), N: 3}}
	if out := d.diff(a, b); out != nil || d.err == nil {
		t.Fatalf("diff went on: err %v", d.err)
	}
	// Reading both texts (twice: as words, then as lines) and a few looks' worth of
	// work, where the comparison alone could take diffWorkPerToken steps per piece.
	pieces := len(strings.Fields(a)) * 4
	if d.steps > 2*pieces+4*diffCheckEvery {
		t.Errorf("%d steps for %d pieces: the diff went on after the context ended", d.steps, pieces)
	}
}
