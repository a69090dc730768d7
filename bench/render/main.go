// Command render measures P10 (docs/benchmarks.md): the letter render and the revision diff of
// adversarial 1 MiB bodies (one code block; one word repeated) against a plain 1 MiB
// body of prose (target <= 1.5: linear whatever the body holds), and the diff against
// merely reading both bodies word by word. Each round runs every side once, in an order
// that alternates from round to round; the ratios of wall and CPU time are taken per
// round, and their median and spread reported. Run it with `make bench-render`.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/workflow"
)

var (
	pairs = flag.Int("pairs", 11, "rounds: each runs every side once, in alternating order")
	size  = flag.Int("size", 1<<20, "body size in bytes")
	edits = flag.Int("edits", 5, "edits between the two revisions of a diff")
	all   = flag.Bool("all", false, "also measure other shapes of body, reported before the last line")
)

func main() {
	flag.Parse()
	log.SetFlags(0)
	n := *size
	plain := prose(n)
	code := "```\n" + strings.Repeat("abcdefghij", n/10) + "\n```\n"
	word := strings.Repeat("a ", n/2)

	letter := func(body string) func() {
		return func() {
			l := dispatch.Letter{Settings: settings(), Case: workflow.Case{Number: "3386", Country: "KG"},
				Submission: workflow.Submission{Kind: workflow.KindFollowUp, Body: body}, Date: time.Now()}
			if _, err := l.RenderBytesContext(context.Background()); err != nil {
				log.Fatal(err)
			}
		}
	}
	plainEdited, wordEdited := edit(plain, *edits), edit(word, *edits)
	diff := func(a, b string) func() {
		return func() {
			if _, err := workflow.WordDiff(context.Background(), a, b); err != nil {
				log.Fatal(err)
			}
		}
	}
	// Reading both bodies: cut each into words and compare them in order, the least a
	// word diff must do.
	read := func() {
		wa, wb := strings.Fields(word), strings.Fields(wordEdited)
		same := 0
		for i := range min(len(wa), len(wb)) {
			if wa[i] == wb[i] {
				same++
			}
		}
		sink += same
	}

	renders := sides{{"plain", letter(plain)}, {"code block", letter(code)}, {"repeated word", letter(word)}}
	diffs := sides{{"plain", diff(plain, plainEdited)}, {"repeated word", diff(word, wordEdited)}, {"read both", read}}
	if *all {
		for _, s := range []struct{ name, body string }{
			{"inline code", "`" + strings.Repeat("abcdefghij", n/10) + "`"},
			{"html block", "<div>\n" + strings.Repeat("<b>", n/3) + "\n</div>\n"},
			{"link text", "[" + strings.Repeat("abcdefghij", n/10) + "](https://www.ilo.org/)"},
			{"tiny paragraphs", strings.Repeat("a\n\n", n/3)},
			{"list markers", strings.Repeat("- ", n/2)},
			{"nested lists", nested(n)},
			{"brackets", strings.Repeat("[", n)},
			{"autolinks", strings.Repeat("<https://ilo.org> ", n/18)},
		} {
			renders = append(renders, side{s.name, letter(s.body)})
		}
		sparse := strings.Repeat(strings.Repeat("a ", 999)+"b ", n/2000)
		diffs = append(diffs, side{"every word changed", diff(word, strings.Repeat("b ", n/2))},
			side{"an edit per 1000 words", diff(word, sparse)})
	}
	r := renders.measure(*pairs)
	d := diffs.measure(*pairs)
	for i := range *pairs {
		log.Printf("round %2d: render code/plain wall %.3f cpu %.3f, word/plain wall %.3f cpu %.3f | diff word/plain wall %.3f cpu %.3f, word/read wall %.3f",
			i+1, r.ratio(1, 0, false)[i], r.ratio(1, 0, true)[i], r.ratio(2, 0, false)[i], r.ratio(2, 0, true)[i],
			d.ratio(1, 0, false)[i], d.ratio(1, 0, true)[i], d.ratio(1, 2, false)[i])
	}
	fmt.Printf("machine: %s/%s, %d CPUs, %s; bodies of %d bytes, %d edits; %d rounds\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), n, *edits, *pairs)
	fmt.Printf("times (median): render plain %s, code block %s, repeated word %s | diff plain %s, repeated word %s, read both %s\n",
		r.median(0), r.median(1), r.median(2), d.median(0), d.median(1), d.median(2))
	for i := 3; i < len(renders); i++ {
		fmt.Printf("render %s/plain %s\n", renders[i].name, summary(r, i, 0))
	}
	for i := 3; i < len(diffs); i++ {
		fmt.Printf("diff %s/plain %s\n", diffs[i].name, summary(d, i, 0))
	}
	fmt.Printf("P10 render code-block/plain %s | render repeated-word/plain %s | diff repeated-word/plain %s | diff repeated-word/read-both %s\n",
		summary(r, 1, 0), summary(r, 2, 0), summary(d, 1, 0), summary(d, 1, 2))
}

var sink int

// side is one thing measured.
type side struct {
	name string
	run  func()
}

type sides []side

// times are the wall and CPU times of every side, by round.
type times struct{ wall, cpu [][]time.Duration }

// measure runs every side once per round, forwards in even rounds and backwards in odd
// ones, after one unmeasured warm-up round.
func (ss sides) measure(rounds int) times {
	t := times{wall: make([][]time.Duration, len(ss)), cpu: make([][]time.Duration, len(ss))}
	for _, s := range ss {
		s.run()
	}
	for round := range rounds {
		for j := range ss {
			i := j
			if round%2 == 1 {
				i = len(ss) - 1 - j
			}
			runtime.GC()
			c0, w0 := cpuTime(), time.Now()
			ss[i].run()
			t.wall[i] = append(t.wall[i], time.Since(w0))
			t.cpu[i] = append(t.cpu[i], cpuTime()-c0)
		}
	}
	return t
}

// ratio is side a's time over side b's, round by round.
func (t times) ratio(a, b int, cpu bool) []float64 {
	x := t.wall
	if cpu {
		x = t.cpu
	}
	out := make([]float64, len(x[a]))
	for i := range out {
		out[i] = float64(x[a][i]) / float64(x[b][i])
	}
	return out
}

func (t times) median(i int) string {
	w, c := slices.Clone(t.wall[i]), slices.Clone(t.cpu[i])
	slices.Sort(w)
	slices.Sort(c)
	return fmt.Sprintf("%s (cpu %s)", w[len(w)/2].Round(time.Millisecond/10), c[len(c)/2].Round(time.Millisecond/10))
}

// summary is the median ratio of wall times with its spread, and that of CPU times.
func summary(t times, a, b int) string {
	w, c := t.ratio(a, b, false), t.ratio(a, b, true)
	slices.Sort(w)
	slices.Sort(c)
	return fmt.Sprintf("%.2f (%.2f-%.2f), cpu %.2f (%.2f-%.2f)", w[len(w)/2], w[0], w[len(w)-1], c[len(c)/2], c[0], c[len(c)-1])
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// prose is n bytes of plain paragraphs, lines of about 80 characters.
func prose(n int) string {
	words := strings.Fields(`the committee on freedom of association examined the complaint of the national
		union of miners concerning the arrest of its leaders the dismissal of members and the
		refusal to register the organization government authorities replied that the measures
		were taken under the law on trade unions adopted by the parliament in june and that
		workers remain free to join organizations of their own choosing without previous
		authorization Жогорку Кеңеш профсоюз свобода объединения`)
	rng := rand.New(rand.NewPCG(3386, 2023))
	var sb strings.Builder
	line := 0
	for sb.Len() < n {
		w := words[rng.IntN(len(words))]
		sb.WriteString(w)
		line += len(w) + 1
		switch {
		case rng.IntN(60) == 0:
			sb.WriteString(".\n\n")
			line = 0
		case line > 80:
			sb.WriteString("\n")
			line = 0
		default:
			sb.WriteString(" ")
		}
	}
	return sb.String()[:n]
}

// nested is n bytes of lists, each item one level deeper than the last.
func nested(n int) string {
	var sb strings.Builder
	for depth := 0; sb.Len() < n; depth++ {
		sb.WriteString(strings.Repeat("  ", depth) + "- x\n")
	}
	return sb.String()
}

// edit makes k edits spread over s: a word replaced, inserted or deleted.
func edit(s string, k int) string {
	for i := range k {
		at := len(s) * (2*i + 1) / (2 * k)
		for at < len(s) && s[at] != ' ' {
			at++
		}
		switch i % 3 {
		case 0:
			s = s[:at] + " replaced" + s[min(len(s), at+2):]
		case 1:
			s = s[:at] + " inserted" + s[at:]
		case 2:
			end := strings.IndexByte(s[min(len(s), at+1):], ' ')
			if end > 0 {
				s = s[:at] + s[at+1+end:]
			}
		}
	}
	return s
}

func settings() workflow.DispatchSettings {
	return workflow.DispatchSettings{
		Recipients: []workflow.Recipient{{Name: "Chief, Freedom of Association Branch", Address: "cfa@ilo.example", Kind: "to"}},
		Letterhead: workflow.Letterhead{Organization: "IndustriALL Global Union", AddressLines: []string{"54 bis, route des Acacias", "1227 Geneva"}, Place: "Geneva"},
		Signatory:  workflow.Person{Name: "Atle Hoie", Title: "General Secretary"},
	}
}
