package workflow

import (
	"context"
	"slices"

	"github.com/unionportal/unionportal/apperr"
)

// CodeDiffTimeout is the problem code of a diff stopped because its request's deadline
// passed (503).
const CodeDiffTimeout = apperr.CodeDiffTimeout

// The bounds of a diff's work. A diff first drops the words the two texts share at
// their start and end, then compares the rest line by line, then word by word inside
// each run of changed lines. Each comparison is Myers' algorithm, whose cost grows with
// the length of its inputs times the number of edits: a comparison that would need more
// than diffMaxEdits edits or more than its share of the work reports its inputs as
// deleted and inserted whole, which is still a correct diff, only coarser. A comparison
// may take diffWorkPerToken steps per piece of its inputs plus diffBaseWork, and all of
// one diff's comparisons together diffWorkPerToken per piece of both texts plus
// diffBaseWork: on top of reading the texts once as words and once as lines, a diff
// costs time linear in their size whatever they contain.
const (
	diffMaxEdits     = 1024
	diffWorkPerToken = 64
	diffBaseWork     = 1 << 14
	// diffCheckEvery is how many steps of work pass between two looks at the context.
	diffCheckEvery = 1 << 16
)

// differ computes one word-level diff within its bounds.
type differ struct {
	ctx context.Context
	// steps counts the work done: comparisons of tokens or lines, and edits explored.
	steps, nextCheck int
	// budget is the work left for the whole diff.
	budget int
	err    error
}

// tokenized is a text cut into words and the runs of white space between them, so that
// the pieces joined give the text back exactly. ids are the pieces interned as numbers,
// equal pieces having equal numbers, and start[i] is where piece i begins (start[len]
// is the length of the text).
type tokenized struct {
	text  string
	ids   []int32
	start []int32
	// breaks are the pieces of white space that hold a line feed, in order.
	breaks []int32
}

func (t *tokenized) piece(i, j int) string { return t.text[t.start[i]:t.start[j]] }

// space is the white space that separates words: \s of the regular expression the diff
// used before, ASCII only.
var space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true, '\f': true}

// interner numbers pieces of text: the same number for equal pieces.
type interner struct {
	ids map[string]int32
	// bytes numbers the pieces of one byte (a one-letter word, one space) without a
	// map lookup: a text of them has the most pieces per byte.
	bytes [256]int32
}

func newInterner() *interner {
	in := &interner{ids: map[string]int32{}}
	for i := range in.bytes {
		in.bytes[i] = -1
	}
	return in
}

func (in *interner) id(s string) int32 {
	if len(s) == 1 {
		id := in.bytes[s[0]]
		if id < 0 {
			id = in.id2(s)
			in.bytes[s[0]] = id
		}
		return id
	}
	return in.id2(s)
}

func (in *interner) id2(s string) int32 {
	id, ok := in.ids[s]
	if !ok {
		id = int32(len(in.ids))
		in.ids[s] = id
	}
	return id
}

// tokenize cuts text (shorter than 2 GiB) into words and white space, interning each.
func tokenize(text string, in *interner) *tokenized {
	n := 0
	for i := range len(text) {
		if i == 0 || space[text[i]] != space[text[i-1]] {
			n++
		}
	}
	t := &tokenized{text: text, ids: make([]int32, 0, n), start: make([]int32, 0, n+1)}
	for i := 0; i < len(text); {
		j, isSpace, lineFeed := i+1, space[text[i]], text[i] == '\n'
		for j < len(text) && space[text[j]] == isSpace {
			lineFeed = lineFeed || text[j] == '\n'
			j++
		}
		if lineFeed {
			t.breaks = append(t.breaks, int32(len(t.ids)))
		}
		t.ids = append(t.ids, in.id(text[i:j]))
		t.start = append(t.start, int32(i))
		i = j
	}
	t.start = append(t.start, int32(len(text)))
	return t
}

// run is a stretch of n pieces equal in both texts, from a in the first and b in the
// second.
type run struct{ a, b, n int }

// WordDiff compares a and b word by word, as Diff does for revisions, within the
// bounds above; it fails (diff_timeout) only when ctx ends first.
func WordDiff(ctx context.Context, a, b string) ([]DiffOp, error) {
	d := &differ{ctx: ctx}
	ops := d.diff(a, b)
	return ops, d.err
}

func (d *differ) diff(a, b string) []DiffOp {
	if d.stopped() {
		return nil
	}
	in := newInterner()
	ta, tb := tokenize(a, in), tokenize(b, in)
	na, nb := len(ta.ids), len(tb.ids)
	d.steps += na + nb
	d.budget = diffWorkPerToken*(na+nb) + diffBaseWork
	if d.stopped() {
		return nil
	}
	// The words both texts start and end with.
	pre := 0
	for pre < na && pre < nb && ta.ids[pre] == tb.ids[pre] {
		pre++
	}
	suf := 0
	for suf < na-pre && suf < nb-pre && ta.ids[na-1-suf] == tb.ids[nb-1-suf] {
		suf++
	}
	runs := []run{{0, 0, pre}}
	runs = append(runs, d.lines(ta, tb, pre, na-suf, pre, nb-suf)...)
	runs = append(runs, run{na - suf, nb - suf, suf})
	if d.err != nil {
		return nil
	}
	return ops(ta, tb, runs)
}

// lines compares pieces a[a0:a1] and b[b0:b1] line by line, then word by word within
// the lines that differ, and returns the runs they share.
func (d *differ) lines(ta, tb *tokenized, a0, a1, b0, b1 int) []run {
	if a0 == a1 || b0 == b1 {
		return nil
	}
	// Lines end after a piece of white space holding a line feed.
	in := newInterner()
	split := func(t *tokenized, from, to int) (lineIDs []int32, bounds []int) {
		bounds = append(bounds, from)
		first, _ := slices.BinarySearch(t.breaks, int32(from))
		for _, b := range t.breaks[first:] {
			if int(b) >= to-1 {
				break
			}
			lineIDs = append(lineIDs, in.id(t.piece(bounds[len(bounds)-1], int(b)+1)))
			bounds = append(bounds, int(b)+1)
		}
		lineIDs = append(lineIDs, in.id(t.piece(bounds[len(bounds)-1], to)))
		return lineIDs, append(bounds, to)
	}
	la, ba := split(ta, a0, a1)
	lb, bb := split(tb, b0, b1)
	d.steps += a1 - a0 + b1 - b0
	lineRuns, ok := d.myers(la, lb)
	if !ok {
		if d.err != nil {
			return nil
		}
		return d.words(ta, tb, a0, a1, b0, b1)
	}
	// Equal lines are equal pieces; the lines between them are compared word by word.
	var out []run
	pa, pb := 0, 0
	for _, r := range append(lineRuns, run{len(la), len(lb), 0}) {
		out = append(out, d.words(ta, tb, ba[pa], ba[r.a], bb[pb], bb[r.b])...)
		if r.n > 0 {
			out = append(out, run{ba[r.a], bb[r.b], ba[r.a+r.n] - ba[r.a]})
		}
		pa, pb = r.a+r.n, r.b+r.n
	}
	return out
}

// words compares pieces a[a0:a1] and b[b0:b1] word by word and returns the runs they
// share, none when the comparison exceeds its bounds.
func (d *differ) words(ta, tb *tokenized, a0, a1, b0, b1 int) []run {
	if a0 == a1 || b0 == b1 || d.err != nil {
		return nil
	}
	runs, ok := d.myers(ta.ids[a0:a1], tb.ids[b0:b1])
	if !ok {
		return nil
	}
	for i := range runs {
		runs[i].a += a0
		runs[i].b += b0
	}
	return runs
}

// stopped tells whether the diff must end because its context ended, looking at it
// every diffCheckEvery steps.
func (d *differ) stopped() bool {
	if d.err != nil {
		return true
	}
	if d.steps < d.nextCheck {
		return false
	}
	d.nextCheck = d.steps + diffCheckEvery
	if d.ctx.Err() != nil {
		d.err = apperr.Stopped(d.ctx, CodeDiffTimeout, "Comparing the revisions took longer than allowed. Try again later.")
		return true
	}
	return false
}

// myers finds the runs shared by a shortest edit script from a to b (Myers 1986, the
// greedy forward algorithm), or reports false when that needs more than diffMaxEdits
// edits, more than this comparison's share of the work, or the context ended.
func (d *differ) myers(a, b []int32) ([]run, bool) {
	n, m := len(a), len(b)
	limit := min(diffWorkPerToken*(n+m)+diffBaseWork, d.budget)
	start := d.steps
	maxD := min(n+m, diffMaxEdits)
	off := maxD + 1
	v := make([]int32, 2*maxD+3)
	// trace[D] is v after D edits, for k from -D to D.
	var trace [][]int32
	for D := 0; D <= maxD; D++ {
		for k := -D; k <= D; k += 2 {
			var x int
			if k == -D || (k != D && v[off+k-1] < v[off+k+1]) {
				x = int(v[off+k+1]) // an insertion: down from diagonal k+1
			} else {
				x = int(v[off+k-1]) + 1 // a deletion: right from diagonal k-1
			}
			y := x - k
			x0 := x
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = int32(x)
			d.steps += x - x0 + 1
			if x >= n && y >= m {
				trace = append(trace, append([]int32(nil), v[off-D:off+D+1]...))
				d.budget -= d.steps - start
				return backtrack(trace, n, m), true
			}
			if d.steps-start > limit || d.stopped() {
				d.budget -= d.steps - start
				return nil, false
			}
		}
		trace = append(trace, append([]int32(nil), v[off-D:off+D+1]...))
	}
	d.budget -= d.steps - start
	return nil, false
}

// backtrack walks the trace of myers back from (n, m) and returns the diagonal runs
// (snakes) of the script, in order.
func backtrack(trace [][]int32, n, m int) []run {
	var runs []run
	x, y := n, m
	for D := len(trace) - 1; D > 0; D-- {
		k := x - y
		prev := trace[D-1] // indexed by k + D - 1
		var pk int
		if k == -D || (k != D && prev[k-1+D-1] < prev[k+1+D-1]) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := int(prev[pk+D-1])
		py := px - pk
		// The edit leads from (px, py) to (sx, sy); the snake from there to (x, y).
		sx := px
		if pk == k-1 {
			sx++
		}
		if x > sx {
			runs = append(runs, run{sx, sx - k, x - sx})
		}
		x, y = px, py
	}
	if x > 0 {
		runs = append(runs, run{0, 0, x})
	}
	for i, j := 0, len(runs)-1; i < j; i, j = i+1, j-1 {
		runs[i], runs[j] = runs[j], runs[i]
	}
	return runs
}

// ops turns the shared runs (in order; empty ones are skipped) into the diff: between
// two runs, what the first text has is deleted and what the second has is inserted.
// Every piece of text is a slice of a or b, never a copy.
func ops(ta, tb *tokenized, runs []run) []DiffOp {
	out := []DiffOp{}
	emit := func(op, text string) {
		if text != "" {
			out = append(out, DiffOp{Op: op, Text: text})
		}
	}
	pa, pb := 0, 0 // where the text not yet emitted begins
	for i := 0; i < len(runs); i++ {
		r := runs[i]
		if r.n == 0 {
			continue
		}
		// Runs that follow each other in both texts make one.
		for i+1 < len(runs) && runs[i+1].a == r.a+r.n && runs[i+1].b == r.b+r.n {
			r.n += runs[i+1].n
			i++
		}
		emit("delete", ta.piece(pa, r.a))
		emit("insert", tb.piece(pb, r.b))
		emit("equal", ta.piece(r.a, r.a+r.n))
		pa, pb = r.a+r.n, r.b+r.n
	}
	emit("delete", ta.piece(pa, len(ta.ids)))
	emit("insert", tb.piece(pb, len(tb.ids)))
	return out
}
