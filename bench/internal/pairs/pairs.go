// Package pairs runs the two sides of a benchmark in interleaved pairs, in alternating
// order, reading the CPU time of the processes involved around each run, and summarises
// the results as BENCHMARKS.md asks: the median ratio with its spread (min-max), and CPU
// time per unit of work (request, megabyte, dispatch) beside the rate.
package pairs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultPairs is how many pairs a benchmark runs unless told otherwise (BENCHMARKS.md:
// at least 11).
const DefaultPairs = 11

// Meter reads a CPU time (user + system) that only grows: of this process, of another,
// or of a process and its children.
type Meter struct {
	Name string
	Read func() (time.Duration, error)
}

// Self meters this process (getrusage): the load generator, and whatever else runs in
// it.
func Self(name string) Meter {
	return Meter{Name: name, Read: func() (time.Duration, error) {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return 0, err
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
	}}
}

// Process meters process pid: its own CPU time and that of its children it has reaped.
func Process(name string, pid int) Meter {
	return Meter{Name: name, Read: func() (time.Duration, error) { return procCPU(pid, true) }}
}

// Tree meters process pid and its children: those it has reaped (through its stat's
// cutime and cstime) and those still running. For PostgreSQL, pid is the postmaster
// and the children its backends and background workers.
func Tree(name string, pid int) Meter {
	return Meter{Name: name, Read: func() (time.Duration, error) {
		total, err := procCPU(pid, true)
		if err != nil {
			return 0, err
		}
		for _, child := range children(pid) {
			// A child that exits between the listing and the read has either been
			// counted in the parent's cutime already or is counted at the next read.
			if d, err := procCPU(child, false); err == nil {
				total += d
			}
		}
		return total, nil
	}}
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// procCPU reads utime + stime (and, with reaped, cutime + cstime) of pid.
func procCPU(pid int, reaped bool) (time.Duration, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	// Fields after the command, from the state (field 3 of proc(5)) on: utime is
	// field 14, stime 15, cutime 16, cstime 17.
	last := 15
	if reaped {
		last = 17
	}
	var ticks int64
	for i := 14; i <= last; i++ {
		n, err := strconv.ParseInt(f[i-3], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat field %d: %w", pid, i, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// statFields returns /proc/PID/stat's fields after the command name (which may hold
// spaces): the state first.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	return f, nil
}

// children lists the running processes whose parent is pid.
func children(pid int) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []int
	for _, d := range dirs {
		child, err := strconv.Atoi(filepath.Base(d))
		if err != nil || child == pid {
			continue
		}
		f, err := statFields(child)
		if err != nil {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// Side is one side of a comparison.
type Side struct {
	Name string
	// Prepare, if set, runs before each run, outside the measurement.
	Prepare func()
	// Run runs the side once and returns the figure compared (requests/s, MB/s, a
	// latency) and the units of work done (requests, megabytes), which CPU time is
	// divided by.
	Run func() (value, units float64)
}

// Result is one run of one side.
type Result struct {
	Value, Units float64
	// CPU is the CPU time each meter read during the run, in the meters' order.
	CPU []time.Duration
}

// Interleave runs n pairs of a and b, a first in even pairs and b first in odd ones,
// reading every meter around each run, and calls report after each pair. It returns
// the results of each side in pair order.
func Interleave(n int, meters []Meter, a, b Side, report func(pair int, a, b Result)) (as, bs []Result, err error) {
	for i := range n {
		first, second := &a, &b
		if i%2 == 1 {
			first, second = &b, &a
		}
		r1, err := measure(meters, *first)
		if err != nil {
			return nil, nil, err
		}
		r2, err := measure(meters, *second)
		if err != nil {
			return nil, nil, err
		}
		if i%2 == 1 {
			r1, r2 = r2, r1
		}
		as, bs = append(as, r1), append(bs, r2)
		if report != nil {
			report(i+1, r1, r2)
		}
	}
	return as, bs, nil
}

func measure(meters []Meter, s Side) (Result, error) {
	if s.Prepare != nil {
		s.Prepare()
	}
	before, err := read(meters)
	if err != nil {
		return Result{}, err
	}
	v, u := s.Run()
	after, err := read(meters)
	if err != nil {
		return Result{}, err
	}
	r := Result{Value: v, Units: u, CPU: make([]time.Duration, len(meters))}
	for i := range meters {
		r.CPU[i] = after[i] - before[i]
	}
	return r, nil
}

func read(meters []Meter) ([]time.Duration, error) {
	out := make([]time.Duration, len(meters))
	for i, m := range meters {
		d, err := m.Read()
		if err != nil {
			return nil, fmt.Errorf("CPU time of %s: %w", m.Name, err)
		}
		out[i] = d
	}
	return out, nil
}

// Ratios returns as[i].Value / bs[i].Value: the ratio of each pair.
func Ratios(as, bs []Result) []float64 {
	out := make([]float64, len(as))
	for i := range as {
		out[i] = as[i].Value / bs[i].Value
	}
	return out
}

// Values returns each result's value.
func Values(rs []Result) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = r.Value
	}
	return out
}

// CPUPerUnit returns, for each result, meter m's CPU time per unit of work, in
// microseconds.
func CPUPerUnit(rs []Result, m int) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = float64(r.CPU[m].Microseconds()) / r.Units
	}
	return out
}

// Median is the middle value of xs (the mean of the two middle ones for an even
// count).
func Median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Summary formats xs as its median and spread (min-max) with format, "0.412
// (0.380-0.450)" for "%.3f".
func Summary(format string, xs []float64) string {
	if len(xs) == 0 {
		return "-"
	}
	return fmt.Sprintf(format+" ("+format+"-"+format+")", Median(xs), slices.Min(xs), slices.Max(xs))
}

// CPUReport is a line per side giving each meter's CPU time per unit (median and
// spread, in microseconds), named unit ("request", "MB").
func CPUReport(meters []Meter, unit string, sides map[string][]Result, order ...string) string {
	var b strings.Builder
	for _, name := range order {
		fmt.Fprintf(&b, "CPU per %s, %s (µs, median and spread):", unit, name)
		total := make([]float64, len(sides[name]))
		for m, meter := range meters {
			per := CPUPerUnit(sides[name], m)
			for i, x := range per {
				total[i] += x
			}
			fmt.Fprintf(&b, " %s %s;", meter.Name, Summary("%.0f", per))
		}
		fmt.Fprintf(&b, " all %s", Summary("%.0f", total))
		b.WriteString("\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// ProcStatusKiB reads a memory figure of a process (VmRSS, VmHWM…) from
// /proc/<pid>/status, in KiB.
func ProcStatusKiB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			if f := strings.Fields(line); len(f) >= 2 {
				return strconv.ParseInt(f[1], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}
