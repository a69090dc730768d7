// Package archtest holds tests of the code base's shape: which package may import
// which, and the repository's hygiene.
package archtest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const module = "github.com/unionportal/unionportal/"

// layer ranks the packages: a package may import only packages of a lower rank, and
// leaves. cmd -> api -> portal -> dispatch -> workflow -> auth -> audit -> database.
var layer = map[string]float64{
	"database": 1,
	"keys":     1.5,
	"audit":    2,
	"auth":     3,
	"workflow": 4,
	"dispatch": 5,
	// webhook: endpoints and deliveries of the tenant's events (ADR 0021); it listens
	// to the workflow and runs on the dispatch service's queue client, wired by portal.
	"webhook": 5.5,
	// inbound: the tenants' mailboxes, read for the ILO's answers (ADR 0036); it matches
	// them through dispatch and workflow and refuses internal addresses as webhook does.
	"inbound": 5.7,
	"portal":  6,
	"api":     7,
	// Programs: the portal's command, and the benchmarks (which measure the portal by
	// running its binary, so they never need api).
	"cmd/unionportal": 8,
	"bench/dispatch":  6.5,
	"bench/letter":    6.5,
	"bench/list":      6.5,
	"bench/load":      6.5,
	"bench/render":    6.5,
	"bench/upload":    6.5,
}

// leaves import no layered package: anyone may import them.
var leaves = map[string]bool{"apperr": true, "logctx": true, "clientip": true, "frontend": true, "storage": true, "clamd": true, "clamd/clamdtest": true, "scrub": true, "scrub/scrubtest": true,
	"internal/testrig": true, "internal/testrig/cmd/testrig": true, "internal/archtest": true, "bench/internal/pairs": true}

// helpers for tests, which may import their own layer.
var testHelpers = map[string]string{"database/dbtest": "database"}

func root(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestLayering: every package's imports point down the layers, and nothing but the
// command imports api.
func TestLayering(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
	cmd.Dir = root(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	rank := func(pkg string) (float64, bool) {
		if h, ok := testHelpers[pkg]; ok {
			pkg = h
		}
		r, ok := layer[pkg]
		return r, ok
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		pkg := strings.TrimPrefix(fields[0], module)
		from, layered := rank(pkg)
		if !layered && !leaves[pkg] {
			t.Errorf("package %s has no place in the layering: add it to layer or leaves", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			switch to, ok := rank(dep); {
			case dep == "api" && pkg != "cmd/unionportal":
				t.Errorf("%s imports api: only cmd/unionportal may", pkg)
			case leaves[dep]:
			case leaves[pkg]:
				t.Errorf("%s is a leaf but imports %s", pkg, dep)
			case !ok:
				t.Errorf("%s imports %s, which has no place in the layering", pkg, dep)
			case to >= from && !(testHelpers[pkg] != "" && to == from):
				t.Errorf("%s imports %s: imports must point down the layers", pkg, dep)
			}
		}
	}
}

// TestNoLargeFiles: no committed file over 1 MiB outside testdata (build outputs belong
// in .gitignore).
func TestNoLargeFiles(t *testing.T) {
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = root(t)
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	for _, f := range strings.Split(string(out), "\x00") {
		if f == "" || strings.Contains(f, "testdata/") {
			continue
		}
		info, err := os.Stat(filepath.Join(cmd.Dir, f))
		if err == nil && info.Size() > 1<<20 {
			t.Errorf("%s is committed and %d bytes: over 1 MiB", f, info.Size())
		}
	}
}

// TestErrorCodesInCatalogue: no problem code is written as a literal outside apperr's
// catalogue, so a client can rely on the published list.
func TestErrorCodesInCatalogue(t *testing.T) {
	literal := regexp.MustCompile(`Code:\s*"|apperr\.New\([^,]+,\s*"`)
	sourceLines(t, func(rel string, n int, line string) {
		if literal.MatchString(line) {
			t.Errorf("%s:%d: a problem code written as a literal; add it to apperr/codes.go", rel, n)
		}
	})
}

// TestNoGormScan: the portal reads rows with gorm's Find, never its Scan. Scan builds
// every statement's text with its arguments through a regexp before deciding whether
// to log it (7 % of the list's CPU, issue 17), and would log those arguments on a
// failure were it not for database's recorder filter.
func TestNoGormScan(t *testing.T) {
	scan := regexp.MustCompile(`\.Scan\([^)]*\)\.Error`)
	sourceLines(t, func(rel string, n int, line string) {
		if scan.MatchString(line) && !strings.HasPrefix(rel, "bench/") {
			t.Errorf("%s:%d: gorm's Scan; use Find", rel, n)
		}
	})
}

// sourceLines calls f with every line of every non-test Go file of the repository.
func sourceLines(t *testing.T, f func(rel string, n int, line string)) {
	dir := root(t)
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != dir {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		for i, line := range strings.Split(string(b), "\n") {
			f(rel, i+1, line)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
