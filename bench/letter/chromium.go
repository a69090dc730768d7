package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/unionportal/unionportal/bench/internal/pairs"
)

// chromiumBinary is Debian's Chromium, or an error saying how to install it.
func chromiumBinary() (string, error) {
	p, err := exec.LookPath("chromium")
	if err != nil {
		return "", errors.New("chromium is not on PATH: the Chromium baselines need Debian's Chromium (`make chromium`, or apt-get install chromium)")
	}
	return p, nil
}

// chromiumFlags are the flags both baselines start Chromium with: headless, a private
// profile, and --no-sandbox when running as root (Chromium refuses to start otherwise).
func chromiumFlags(profile string) []string {
	f := []string{"--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
		"--disable-extensions", "--disable-background-networking", "--user-data-dir=" + profile}
	if os.Geteuid() == 0 {
		f = append(f, "--no-sandbox")
	}
	return f
}

// groups are the process groups of the Chromiums started, killed by killAll at the end
// whatever happens.
var groups struct {
	sync.Mutex
	pids map[int]bool
}

func track(pid int) {
	groups.Lock()
	defer groups.Unlock()
	if groups.pids == nil {
		groups.pids = map[int]bool{}
	}
	groups.pids[pid] = true
}

// killGroup kills the process group pid leads (Chromium and every process it started).
func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	groups.Lock()
	delete(groups.pids, pid)
	groups.Unlock()
}

// killAll kills every Chromium still running.
func killAll() {
	groups.Lock()
	pids := make([]int, 0, len(groups.pids))
	for pid := range groups.pids {
		pids = append(pids, pid)
	}
	groups.Unlock()
	for _, pid := range pids {
		killGroup(pid)
	}
}

// browser is one long-running headless Chromium driven over its DevTools pipe: the
// warm baseline.
type browser struct {
	cmd    *exec.Cmd
	dt     *devtools
	page   *page
	stderr *os.File
}

// startBrowser starts Chromium with --remote-debugging-pipe (its descriptors 3 and 4
// are the pipes' ends), opens a tab and attaches to it.
func startBrowser(bin, profile, logPath string) (*browser, error) {
	cmdR, cmdW, err := os.Pipe() // commands: we write, Chromium reads on 3
	if err != nil {
		return nil, err
	}
	evR, evW, err := os.Pipe() // answers and events: Chromium writes on 4
	if err != nil {
		return nil, err
	}
	stderr, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append(chromiumFlags(profile), "--remote-debugging-pipe", "about:blank")...)
	cmd.ExtraFiles = []*os.File{cmdR, evW}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	track(cmd.Process.Pid)
	cmdR.Close()
	evW.Close()
	b := &browser{cmd: cmd, dt: newDevtools(evR, cmdW, 30*time.Second), stderr: stderr}
	if _, err := b.dt.call("", "Browser.getVersion", nil); err != nil {
		b.close()
		return nil, fmt.Errorf("chromium over its DevTools pipe (log in %s): %w", logPath, err)
	}
	if b.page, err = b.dt.newPage(); err != nil {
		b.close()
		return nil, fmt.Errorf("chromium: opening a tab (log in %s): %w", logPath, err)
	}
	return b, nil
}

// print loads url in the tab and prints it: one letter.
func (b *browser) print(url string) ([]byte, error) {
	if err := b.page.load(url); err != nil {
		return nil, err
	}
	return b.page.printToPDF()
}

func (b *browser) close() {
	killGroup(b.cmd.Process.Pid)
	_ = b.cmd.Wait()
	b.stderr.Close()
}

// coldPrint is the cold baseline: a new Chromium for one letter, printing htmlPath to
// out with --print-to-pdf, as a portal shelling out to it per letter does.
func coldPrint(bin, profile, htmlPath, out string) ([]byte, error) {
	_ = os.Remove(out)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(chromiumFlags(profile), "--no-pdf-header-footer",
		"--print-to-pdf="+out, "file://"+htmlPath)...)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	track(cmd.Process.Pid)
	err := cmd.Wait()
	killGroup(cmd.Process.Pid) // what the browser left behind, if anything
	if err != nil {
		return nil, fmt.Errorf("chromium --print-to-pdf: %w\n%s", err, tail(output.String(), 2000))
	}
	pdf, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("chromium --print-to-pdf wrote no PDF: %w\n%s", err, tail(output.String(), 2000))
	}
	return pdf, checkPDF(pdf)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// descendants meters the CPU time of process pid and of every process under it, at any
// depth: Chromium's renderers are children of its zygote, not of the browser process,
// so pairs.Tree (the process and its direct children) would miss them. Each process
// counts its own time and that of the children it has reaped (pairs.Process); a
// process that ends between two readings moves its time into its parent's reaped
// figure, if the parent reaps it.
func descendants(name string, pid int) pairs.Meter {
	return pairs.Meter{Name: name, Read: func() (time.Duration, error) {
		total, err := pairs.Process(name, pid).Read()
		if err != nil {
			return 0, err
		}
		for _, p := range subtree(pid) {
			if d, err := pairs.Process(name, p).Read(); err == nil {
				total += d
			}
		}
		return total, nil
	}}
}

// subtree lists the running processes under pid, at any depth.
func subtree(pid int) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	parent := map[int]int{}
	for _, d := range dirs {
		p, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		parent[p] = pp
	}
	var out []int
	for p := range parent {
		for a := parent[p]; a > 1; a = parent[a] {
			if a == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// children meters the processes this one has started and reaped (getrusage
// RUSAGE_CHILDREN, which includes what they reaped in turn): the cold Chromiums, each
// ended and waited for within its run.
func children(name string) pairs.Meter {
	return pairs.Meter{Name: name, Read: func() (time.Duration, error) {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
			return 0, err
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
	}}
}
