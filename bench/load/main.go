// Command load measures the portal's capacity on one machine (docs/benchmarks.md, P12):
// simulated users, each with think time, working through the public API as the web UI
// does (lists, views, the case and its correspondence, comments, drafts with small
// evidence files, submissions, approvals), for a fixed time, against
//
//	embedded  the default installation: SQLite in the data directory, local file
//	          storage, dispatch to the outbox
//	postgres  PostgreSQL 15 and MinIO, started privately (internal/testrig), with a
//	          master key from the environment
//
// It reports, per route (the OpenAPI operation; transitions by action), the count,
// p50, p99 and max latency and the errors — every answer that is not 2xx and not an
// expected refusal (an approval that another reviewer made first: 409) is an error, and
// there must be none —, the portal's peak memory (VmHWM) and CPU time, and for postgres
// the CPU time of PostgreSQL and MinIO (bench/internal/pairs' meters). The portal is the
// real binary, built from this checkout and run as `serve`, logging as in production.
//
// Everything is set up through the public API: a superadmin (`admin create-superadmin`,
// the supported way), then tenants, organizations, members, a case and one API token per
// member. Reviewers approve, which needs step-up: each reviewer enrols an authenticator
// app (TOTP, codes computed from the enrolment secret), which makes the session fresh,
// and creates a token with the scope step_up from it (ADR 0032). Editors' tokens have the
// default scopes. The portal is restarted after the set-up, so that its peak memory and
// CPU time are the load's, not the set-up's password hashing. Run it with `make
// bench-load`; the full measurement (100 users, 60 s) belongs on a quiet machine.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/bench/internal/pairs"
	"github.com/unionportal/unionportal/internal/testrig"
	"github.com/unionportal/unionportal/keys"
)

var (
	nUsers        = flag.Int("users", 100, "simulated users, spread over the tenants")
	nTenants      = flag.Int("tenants", 5, "tenants (federations)")
	duration      = flag.Duration("duration", 60*time.Second, "how long the users work")
	think         = flag.Duration("think", time.Second, "mean think time between a user's steps (each drawn from 0.5x to 1.5x)")
	reviewerShare = flag.Float64("reviewers", 0.2, "share of the users who are reviewers (the rest are editors)")
	fileKiB       = flag.Int("file-kib", 8, "size of each evidence file, in KiB")
	keep          = flag.Bool("keep", false, "keep the temporary directory (the portals' logs and data) and print its path")
	backends      = flag.String("backends", "embedded,postgres", "which installations to measure, comma-separated: embedded, postgres")
)

const password = "bench password 123"

// atExit holds what must be stopped however the benchmark ends: fatalf runs it, since
// log.Fatal skips deferred calls.
var (
	atExitMu sync.Mutex
	atExit   []func()
)

func onExit(f func()) {
	atExitMu.Lock()
	defer atExitMu.Unlock()
	atExit = append(atExit, f)
}

func fatalf(format string, args ...any) {
	atExitMu.Lock()
	for i := len(atExit) - 1; i >= 0; i-- {
		atExit[i]()
	}
	atExit = nil
	atExitMu.Unlock()
	log.Fatalf(format, args...)
}

func check(err error) {
	if err != nil {
		fatalf("%v", err)
	}
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	if *nUsers < 2*(*nTenants) {
		fatalf("-users must be at least twice -tenants (a reviewer and an editor per tenant)")
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "unionportal-bench-load-")
	check(err)
	if *keep {
		log.Printf("keeping %s", dir)
	} else {
		defer os.RemoveAll(dir)
		onExit(func() { _ = os.RemoveAll(dir) })
	}
	bin := filepath.Join(dir, "unionportal")
	build := exec.Command("go", "build", "-o", bin, "./cmd/unionportal")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	check(build.Run())

	var summaries []string
	failed := false
	for _, name := range strings.Split(*backends, ",") {
		name = strings.TrimSpace(name)
		if name != "embedded" && name != "postgres" {
			fatalf("unknown backend %q: embedded or postgres", name)
		}
		sum, errs := measure(ctx, bin, filepath.Join(dir, name), name)
		summaries = append(summaries, sum)
		failed = failed || errs > 0
	}
	fmt.Printf("machine: %s/%s, %d CPUs; %d users (%.0f %% reviewers) in %d tenants, think %s, %s\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), *nUsers, *reviewerShare*100, *nTenants, *think, *duration)
	for _, s := range summaries {
		fmt.Println(s)
	}
	if failed {
		if !*keep {
			_ = os.RemoveAll(dir) // os.Exit skips the deferred removal
		}
		os.Exit(1)
	}
}

// portal is a running `unionportal serve`.
type portal struct {
	bin, base string
	env       []string
	log       *os.File
	cmd       *exec.Cmd
}

func (p *portal) start() {
	p.cmd = exec.Command(p.bin, "serve")
	p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = p.env, p.log, p.log
	check(p.cmd.Start())
	cmd := p.cmd
	onExit(func() { _ = cmd.Process.Kill() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(p.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			fatalf("the portal did not become ready within 60 s (log: %s)", p.log.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *portal) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}

// measure sets up one installation, runs the users against it and prints its report;
// it returns the summary line and the number of errors.
func measure(ctx context.Context, bin, dir, name string) (summary string, errs int) {
	check(os.MkdirAll(dir, 0o755))
	port, err := testrig.FreePort()
	check(err)
	p := &portal{bin: bin, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	p.env = append(os.Environ(), "UNIONPORTAL_ADDR=127.0.0.1:"+strconv.Itoa(port), "UNIONPORTAL_DATA_DIR="+filepath.Join(dir, "data"),
		"UNIONPORTAL_LOG_FORMAT=json")
	var extra []pairs.Meter
	if name == "postgres" {
		pg, cleanup, err := testrig.TempPostgres(ctx)
		check(err)
		defer cleanup()
		onExit(cleanup)
		log.Printf("%s: PostgreSQL %s on 127.0.0.1:%d", name, pg.Version, pg.Port)
		mbin, err := testrig.EnsureTool(ctx, "minio", testrig.MinIOModule, testrig.MinIOVersion, func(m string) { log.Print(m) })
		check(err)
		mio, err := testrig.StartMinIO(ctx, mbin, filepath.Join(dir, "minio"))
		check(err)
		defer mio.Stop()
		onExit(func() { _ = mio.Stop() })
		log.Printf("%s: MinIO on %s", name, mio.Endpoint)
		p.env = append(p.env, "UNIONPORTAL_DATABASE_URL="+pg.URL("postgres"), "UNIONPORTAL_MASTER_KEY="+keys.GenerateMaster(),
			"UNIONPORTAL_STORAGE=s3", "UNIONPORTAL_S3_ENDPOINT="+mio.Endpoint, "UNIONPORTAL_S3_BUCKET=evidence",
			"UNIONPORTAL_S3_ACCESS_KEY="+mio.AccessKey, "UNIONPORTAL_S3_SECRET_KEY="+mio.SecretKey, "UNIONPORTAL_S3_USE_TLS=false")
		extra = []pairs.Meter{pairs.Tree("PostgreSQL", pg.PID()), pairs.Process("MinIO", mio.PID())}
	}
	p.log, err = os.Create(filepath.Join(dir, "portal.log"))
	check(err)
	defer p.log.Close()

	admin := exec.Command(bin, "admin", "create-superadmin", "--email", "root@bench.test")
	admin.Env, admin.Stdin, admin.Stdout, admin.Stderr = p.env, strings.NewReader(password+"\n"), p.log, p.log
	check(admin.Run())
	p.start()
	start := time.Now()
	users := setup(p.base)
	log.Printf("%s: set up %d tenants and %d users in %s", name, *nTenants, len(users), time.Since(start).Round(time.Second))
	// Start afresh: the set-up's logins and new members hashed passwords with argon2id
	// (46 MiB each), which is not what the users' requests cost.
	p.stop()
	p.start()
	time.Sleep(time.Second)
	idle := procKiB(p.cmd.Process.Pid, "VmRSS")

	meters := append([]pairs.Meter{pairs.Process("portal", p.cmd.Process.Pid)}, extra...)
	meters = append(meters, pairs.Self("bench process"))
	before := readMeters(meters)
	rec := newRecorder()
	wall := run(p.base, users, rec)
	after := readMeters(meters)
	// After the measurement, not in it: the approved submissions' letters are delivered
	// in the background; wait for them, and count how they ended. The peak memory is read
	// after them, so that it covers every letter of the run.
	dispatches := settle(p.base, users)
	peak := procKiB(p.cmd.Process.Pid, "VmHWM")
	p.stop()

	logErrors, logWarnings := logLevels(p.log.Name())
	rows, total, errs, worst := rec.report()
	fmt.Printf("\n== %s: %d users, %d tenants, %s (wall %s) ==\n", name, len(users), *nTenants, *duration, wall.Round(time.Millisecond))
	fmt.Print(rows)
	var cpu []string
	for i, m := range meters {
		d := after[i] - before[i]
		cpu = append(cpu, fmt.Sprintf("%s %.1f s (%.0f %% of a core)", m.Name, d.Seconds(), 100*d.Seconds()/wall.Seconds()))
	}
	fmt.Printf("CPU: %s\n", strings.Join(cpu, "; "))
	fmt.Printf("portal memory: idle after set-up %d MiB, peak (VmHWM) %d MiB\n", idle>>10, peak>>10)
	fmt.Printf("portal log (set-up, load and the letters after it): %d errors, %d warnings (-keep keeps it)\n", logErrors, logWarnings)
	fmt.Printf("dispatch of the approved submissions (after the run): %d sent, %d failed, %d still dispatching\n",
		dispatches["dispatched"], dispatches["dispatch_failed"], dispatches["dispatching"])
	if errs > 0 {
		fmt.Printf("errors (first of each kind):\n%s", rec.errorSamples())
	}
	// A failed or stuck dispatch is no request's error, but the load's: it counts.
	errs += dispatches["dispatch_failed"] + dispatches["dispatching"]
	portalCPU := after[0] - before[0]
	summary = fmt.Sprintf("P12 %s: %d requests (%.1f/s), %d errors, worst p99 %s, %d letters sent, peak RSS %d MiB, portal CPU %.1f s (%.0f %% of a core)",
		name, total, float64(total)/wall.Seconds(), errs, worst, dispatches["dispatched"], peak>>10, portalCPU.Seconds(), 100*portalCPU.Seconds()/wall.Seconds())
	if len(extra) > 0 {
		for i := range extra {
			d := after[1+i] - before[1+i]
			summary += fmt.Sprintf(", %s %.1f s", extra[i].Name, d.Seconds())
		}
	}
	return summary, errs
}

// settle waits up to 30 s for the dispatches under way to end, then counts the
// submissions of every tenant that are dispatched, failed or still dispatching.
func settle(base string, users []*user) map[string]int {
	byTenant := map[string]*user{}
	for _, u := range users {
		if u.reviewer {
			byTenant[u.tenant] = u
		}
	}
	s := newSession(base)
	count := func(state string) int {
		n := 0
		for _, u := range byTenant {
			cursor := ""
			for {
				var page struct {
					Items      []summary `json:"items"`
					NextCursor string    `json:"next_cursor"`
				}
				s.call("GET", "/tenants/"+u.tenant+"/submissions?limit=100&state="+state+cursor, u.token, nil, &page)
				n += len(page.Items)
				if page.NextCursor == "" {
					break
				}
				cursor = "&cursor=" + page.NextCursor
			}
		}
		return n
	}
	for deadline := time.Now().Add(30 * time.Second); count("dispatching") > 0 && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
	}
	out := map[string]int{}
	for _, state := range []string{"dispatched", "dispatch_failed", "dispatching"} {
		out[state] = count(state)
	}
	return out
}

// logLevels counts the portal log's lines at ERROR and WARN: a background failure (a
// dispatch, a job) is no request's error but must not pass unnoticed.
func logLevels(path string) (errs, warnings int) {
	b, err := os.ReadFile(path)
	check(err)
	for _, line := range bytes.Split(b, []byte("\n")) {
		var l struct{ Level string }
		if json.Unmarshal(line, &l) != nil {
			continue
		}
		switch l.Level {
		case "ERROR":
			errs++
		case "WARN":
			warnings++
		}
	}
	return errs, warnings
}

func readMeters(ms []pairs.Meter) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		d, err := m.Read()
		check(err)
		out[i] = d
	}
	return out
}

// procKiB reads a memory figure of a process from /proc, in KiB.
func procKiB(pid int, field string) int64 {
	n, err := pairs.ProcStatusKiB(pid, field)
	check(err)
	return n
}

// ---- set-up, through the public API ----

// user is one simulated person: a member of a tenant with an API token.
type user struct {
	tenant, caseID string
	email, token   string
	reviewer       bool
}

// session is a browser-like client: a cookie jar and the CSRF token.
type session struct {
	base   string
	client *http.Client
	csrf   string
}

func newSession(base string) *session {
	jar, _ := cookiejar.New(nil)
	return &session{base: base, client: &http.Client{Jar: jar}}
}

// call sends a JSON request and decodes the answer into out; any status of 300 or more
// ends the benchmark.
func (s *session) call(method, path, bearer string, body, out any) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.base+"/api/v1"+path, r)
	req.Header.Set("Content-Type", "application/json")
	if s.csrf != "" {
		req.Header.Set("X-CSRF-Token", s.csrf)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := s.client.Do(req)
	check(err)
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(resp.Body)
		fatalf("set-up: %s %s: %d %s", method, path, resp.StatusCode, msg)
	}
	if out != nil {
		check(json.NewDecoder(resp.Body).Decode(out))
	}
}

// login logs in with the password; for a user who must have a second factor and has
// none (the superadmin, reviewers under the default policy), it enrols an authenticator
// app, which leaves the session within its step-up window.
func (s *session) login(email string) {
	var answer struct {
		CSRF       string `json:"csrf_token"`
		MustEnrol  bool   `json:"second_factor_enrolment_required"`
		MustAnswer bool   `json:"second_factor_required"`
	}
	s.call("POST", "/auth/login", "", map[string]string{"email": email, "password": password}, &answer)
	if answer.MustAnswer {
		fatalf("set-up: %s already has a second factor", email)
	}
	s.csrf = answer.CSRF
	if answer.MustEnrol {
		var factor struct{ ID, Secret string }
		s.call("POST", "/me/factors", "", map[string]string{"type": "totp"}, &factor)
		s.call("POST", "/me/factors/"+factor.ID+"/activate", "", map[string]string{"code": auth.TOTPCode(factor.Secret, time.Now())}, nil)
	}
}

// token creates an API token from the session (a step-up act: the session is fresh).
func (s *session) token(stepUp bool) string {
	in := map[string]any{"name": "bench-load"}
	if stepUp {
		in["scopes"] = []string{"read", "write", "step_up"}
	}
	var tok struct{ Token string }
	s.call("POST", "/me/tokens", "", in, &tok)
	return tok.Token
}

// setup creates the tenants, their organizations and members, a case per tenant, and a
// token per member, as a superadmin and the members themselves would.
func setup(base string) []*user {
	root := newSession(base)
	root.login("root@bench.test")
	var users []*user
	for t := range *nTenants {
		slug := fmt.Sprintf("federation-%d", t+1)
		root.call("POST", "/tenants", "", map[string]string{"slug": slug, "name": fmt.Sprintf("Federation %d", t+1)}, nil)
		// This tenant's share of the users, at least one reviewer and one editor.
		n := *nUsers / *nTenants
		if t < *nUsers%*nTenants {
			n++
		}
		reviewers := min(max(1, int(float64(n)**reviewerShare+0.5)), n-1)
		editors := n - reviewers
		// What dispatch needs before anything can be approved (the receivability checks): a
		// verified sender domain, a sender, a signatory, and, in sandbox mode (the default),
		// the sandbox recipient. Without SMTP the portal delivers to its outbox.
		domain := slug + ".example.org"
		root.call("POST", "/tenants/"+slug+"/sender-domains", "", map[string]string{"domain": domain}, nil)
		var st map[string]any
		root.call("GET", "/tenants/"+slug+"/settings", "", nil, &st)
		d := st["dispatch"].(map[string]any)
		d["from"] = map[string]string{"name": fmt.Sprintf("Federation %d", t+1), "address": "cfa@" + domain}
		d["sandbox_recipient"] = "sandbox@" + domain
		d["signatory"] = map[string]string{"name": "A. Secretary", "title": "General Secretary"}
		d["letterhead"] = map[string]any{"organization": fmt.Sprintf("Federation %d", t+1), "address_lines": []string{"1 Rue de la Paix", "1202 Geneva"}, "place": "Geneva"}
		root.call("PUT", "/tenants/"+slug+"/settings", "", st, nil)
		var secretariat struct{ ID string }
		root.call("POST", "/tenants/"+slug+"/organizations", "", map[string]string{"name": "Secretariat", "country": "CH", "kind": "secretariat"}, &secretariat)
		// Affiliates of about four editors each.
		affiliates := make([]string, max(1, (editors+3)/4))
		countries := []string{"KG", "KE", "BR", "PH", "CO", "BD", "GT", "TR"}
		for i := range affiliates {
			var org struct{ ID string }
			root.call("POST", "/tenants/"+slug+"/organizations", "", map[string]string{"name": fmt.Sprintf("Union %d", i+1),
				"country": countries[i%len(countries)], "kind": "affiliate"}, &org)
			affiliates[i] = org.ID
		}
		var members []*user
		for i := range n {
			u := &user{tenant: slug, reviewer: i < reviewers}
			org, roles := secretariat.ID, []string{"reviewer"}
			if u.reviewer {
				u.email = fmt.Sprintf("reviewer%d@%s.test", i+1, slug)
			} else {
				u.email = fmt.Sprintf("editor%d@%s.test", i-reviewers+1, slug)
				org, roles = affiliates[(i-reviewers)%len(affiliates)], []string{"editor"}
			}
			root.call("POST", "/tenants/"+slug+"/users", "", map[string]any{"email": u.email, "name": u.email,
				"password": password, "organization_id": org, "roles": roles}, nil)
			members = append(members, u)
		}
		for _, u := range members {
			s := newSession(base)
			s.login(u.email)
			u.token = s.token(u.reviewer)
		}
		// The case, recorded by an editor.
		var c struct{ ID string }
		newSession(base).call("POST", "/tenants/"+slug+"/cases", members[reviewers].token,
			map[string]any{"number": "3386", "country": "KG", "title": "Case 3386: freedom of association", "complainants": []string{"Union 1"}}, &c)
		for _, u := range members {
			u.caseID = c.ID
		}
		// The reviewers' queue is not empty when the run starts: each affiliate has one
		// submission waiting, with its evidence, as the editors' drafts will be.
		for i := range affiliates {
			seed(base, members[reviewers+i], i)
		}
		users = append(users, members...)
	}
	return users
}

// seed makes one submitted submission of editor u, through the API.
func seed(base string, u *user, n int) {
	s := newSession(base)
	var v struct{ ID string }
	s.call("POST", "/tenants/"+u.tenant+"/submissions", u.token, map[string]any{"case_id": u.caseID, "kind": "additional_information",
		"title": fmt.Sprintf("Information waiting %d", n+1), "body": draftBody, "language": "en"}, &v)
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("file", "minutes.pdf")
	_, _ = fw.Write(evidence("minutes.pdf", *fileKiB<<10, n))
	_ = mw.Close()
	req, _ := http.NewRequest("POST", base+"/api/v1/tenants/"+u.tenant+"/submissions/"+v.ID+"/attachments", &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+u.token)
	resp, err := http.DefaultClient.Do(req)
	check(err)
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		fatalf("set-up: upload: %d %s", resp.StatusCode, msg)
	}
	s.call("POST", "/tenants/"+u.tenant+"/submissions/"+v.ID+"/transitions", u.token, map[string]string{"action": "submit"}, nil)
}

// ---- the load ----

// recorder keeps every request's latency and outcome, by route.
type recorder struct {
	mu     sync.Mutex
	routes map[string]*route
	// samples holds the first error of each route and status.
	samples map[string]string
}

type route struct {
	latencies []time.Duration
	expected  int // expected refusals (counted, not errors)
	errors    int
}

func newRecorder() *recorder {
	return &recorder{routes: map[string]*route{}, samples: map[string]string{}}
}

func (r *recorder) add(label string, d time.Duration, status int, expected bool, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rt := r.routes[label]
	if rt == nil {
		rt = &route{}
		r.routes[label] = rt
	}
	rt.latencies = append(rt.latencies, d)
	switch {
	case status >= 200 && status < 300:
	case expected:
		rt.expected++
	default:
		rt.errors++
		key := fmt.Sprintf("%s %d", label, status)
		if _, ok := r.samples[key]; !ok {
			r.samples[key] = detail
		}
	}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

// report is the table of routes, the total of requests and errors, and the worst p99.
func (r *recorder) report() (table string, total, errs int, worst string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	labels := slices.Sorted(maps.Keys(r.routes))
	var b strings.Builder
	fmt.Fprintf(&b, "%-36s %7s %8s %8s %8s %9s %7s\n", "route", "count", "p50 ms", "p99 ms", "max ms", "expected", "errors")
	var worstP99 time.Duration
	for _, l := range labels {
		rt := r.routes[l]
		s := slices.Clone(rt.latencies)
		slices.Sort(s)
		p99 := percentile(s, 0.99)
		fmt.Fprintf(&b, "%-36s %7d %8s %8s %8s %9d %7d\n", l, len(s), ms(percentile(s, 0.5)), ms(p99), ms(s[len(s)-1]), rt.expected, rt.errors)
		total += len(s)
		errs += rt.errors
		if p99 > worstP99 {
			worstP99, worst = p99, ms(p99)+" ms ("+l+")"
		}
	}
	return b.String(), total, errs, worst
}

func (r *recorder) errorSamples() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := slices.Sorted(maps.Keys(r.samples))
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s: %s\n", k, r.samples[k])
	}
	return b.String()
}

// run lets every user work for the configured duration and waits for the steps under
// way to finish; it returns the wall time.
func run(base string, users []*user, rec *recorder) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := &agent{user: u, base: base, rec: rec, rng: rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano()))),
				// Each person has a browser of their own: its own connections (six per host,
				// as browsers allow).
				client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 6, MaxConnsPerHost: 6}}}
			a.work(ctx)
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// agent is one user at work.
type agent struct {
	*user
	base   string
	rec    *recorder
	rng    *rand.Rand
	client *http.Client
	// seen is the last list of submissions the user looked at.
	seen []summary
	n    int
}

type summary struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

type view struct {
	ID             string   `json:"id"`
	State          string   `json:"state"`
	Revision       int      `json:"revision"`
	AllowedActions []string `json:"allowed_actions"`
}

// answer is what a request got: its status, headers and body.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) ok() bool { return a.status >= 200 && a.status < 300 }

// do sends one request and records it under label. expected lists the refusals that are
// part of the work (not errors). Every request is recorded, its latency counted to the
// end of the answer's body.
func (a *agent) do(label, method, path string, body io.Reader, header map[string]string, expected ...int) answer {
	req, err := http.NewRequest(method, a.base+"/api/v1/tenants/"+a.tenant+path, body)
	check(err)
	req.Header.Set("Authorization", "Bearer "+a.token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := a.client.Do(req)
	var ans answer
	if err == nil {
		ans.body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		ans.status, ans.header = resp.StatusCode, resp.Header
	}
	d := time.Since(start)
	if err != nil {
		a.rec.add(label, d, 0, false, err.Error())
		return answer{}
	}
	detail := ""
	if !ans.ok() {
		detail = fmt.Sprintf("%s %s: %.300s", method, path, ans.body)
	}
	a.rec.add(label, d, ans.status, slices.Contains(expected, ans.status), detail)
	return ans
}

func (a *agent) getJSON(label, path string, out any) bool {
	ans := a.do(label, "GET", path, nil, nil)
	if !ans.ok() {
		return false
	}
	return json.Unmarshal(ans.body, out) == nil
}

func (a *agent) sendJSON(label, method, path string, in any, header map[string]string, expected ...int) answer {
	b, _ := json.Marshal(in)
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range header {
		h[k] = v
	}
	return a.do(label, method, path, bytes.NewReader(b), h, expected...)
}

// parallel runs the requests of one page at once, as the web UI does (Promise.all).
func parallel(fs ...func()) {
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	wg.Wait()
}

// pause waits a think time; false once the run is over.
func (a *agent) pause(ctx context.Context) bool {
	d := time.Duration(float64(*think) * (0.5 + a.rng.Float64()))
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// work loops over the user's steps until the run ends. A step started finishes.
func (a *agent) work(ctx context.Context) {
	// Users arrive over the first think time, not all in the same millisecond.
	if !a.pause(ctx) {
		return
	}
	a.home()
	for a.pause(ctx) {
		x := a.rng.Float64()
		switch {
		case x < 0.25:
			a.home()
		case x < 0.50:
			a.openSubmission()
		case x < 0.65:
			a.openCase()
		case x < 0.80:
			a.comment(ctx)
		case a.reviewer:
			a.review(ctx)
		default:
			a.draft(ctx)
		}
	}
}

// home is the start page: the submissions the user may see, and what falls due.
func (a *agent) home() {
	parallel(func() {
		var page struct{ Items []summary }
		if a.getJSON("listSubmissions", "/submissions?limit=100", &page) {
			a.seen = page.Items
		}
	}, func() {
		a.do("getDue", "GET", "/due", nil, nil)
	})
}

// page opens a submission's page as the web UI does: the submission, its comments, its
// timeline, its evidence and, when it has revisions, their list; for who may approve,
// the receivability check.
func (a *agent) page(id string) (v view, ok bool) {
	parallel(func() {
		ok = a.getJSON("getSubmission", "/submissions/"+id, &v)
	}, func() {
		a.do("listComments", "GET", "/submissions/"+id+"/comments", nil, nil)
	}, func() {
		a.do("listSubmissionEvents", "GET", "/submissions/"+id+"/events", nil, nil)
	}, func() {
		a.do("listAttachments", "GET", "/submissions/"+id+"/attachments", nil, nil)
	})
	if !ok {
		return v, false
	}
	var more []func()
	if v.Revision > 0 {
		more = append(more, func() { a.do("listRevisions", "GET", "/submissions/"+id+"/revisions", nil, nil) })
	}
	if slices.Contains(v.AllowedActions, "approve") {
		more = append(more, func() { a.do("getReceivability", "GET", "/submissions/"+id+"/receivability", nil, nil) })
	}
	parallel(more...)
	return v, true
}

// pick is one of the submissions last listed, or "" when there were none.
func (a *agent) pick() string {
	if len(a.seen) == 0 {
		return ""
	}
	return a.seen[a.rng.IntN(len(a.seen))].ID
}

func (a *agent) openSubmission() {
	if id := a.pick(); id != "" {
		a.page(id)
	} else {
		a.home()
	}
}

// openCase is the case's page: the case, its submissions, its correspondence thread.
func (a *agent) openCase() {
	parallel(func() {
		a.do("getCase", "GET", "/cases/"+a.caseID, nil, nil)
	}, func() {
		a.do("listSubmissions (case)", "GET", "/submissions?limit=100&case_id="+a.caseID, nil, nil)
	}, func() {
		a.do("getCaseCorrespondence", "GET", "/cases/"+a.caseID+"/correspondence", nil, nil)
	})
}

// comment opens a submission, reads, and comments on it; the page reloads its comments.
func (a *agent) comment(ctx context.Context) {
	id := a.pick()
	if id == "" {
		a.home()
		return
	}
	if _, ok := a.page(id); !ok || !a.pause(ctx) {
		return
	}
	a.n++
	if a.sendJSON("addComment", "POST", "/submissions/"+id+"/comments",
		map[string]string{"body": fmt.Sprintf("Comment %d from %s: the dates in paragraph 2 match the minutes of the meeting.", a.n, a.email)}, nil).ok() {
		a.do("listComments", "GET", "/submissions/"+id+"/comments", nil, nil)
	}
}

// draft is an editor's new submission: the form (which lists the cases), the draft,
// its text, two evidence files, and submitting it.
func (a *agent) draft(ctx context.Context) {
	a.do("listCases", "GET", "/cases?limit=100", nil, nil)
	if !a.pause(ctx) {
		return
	}
	a.n++
	created := a.sendJSON("createSubmission", "POST", "/submissions", map[string]any{"case_id": a.caseID, "kind": "additional_information",
		"title": fmt.Sprintf("Additional information %d from %s", a.n, a.email), "body": "", "language": "en"}, nil)
	var v view
	if !created.ok() || json.Unmarshal(created.body, &v) != nil {
		return
	}
	if !a.pause(ctx) {
		return
	}
	edited := a.sendJSON("updateSubmission", "PATCH", "/submissions/"+v.ID, map[string]any{"body": draftBody},
		map[string]string{"If-Match": created.header.Get("ETag")})
	if !edited.ok() {
		return
	}
	for i, name := range []string{"minutes.pdf", "statement.txt"} {
		if !a.pause(ctx) {
			return
		}
		a.upload(v.ID, name, evidence(name, *fileKiB<<10, a.n*10+i))
		a.do("listAttachments", "GET", "/submissions/"+v.ID+"/attachments", nil, nil)
	}
	if !a.pause(ctx) {
		return
	}
	a.sendJSON("transitionSubmission (submit)", "POST", "/submissions/"+v.ID+"/transitions", map[string]string{"action": "submit"}, nil)
}

// review is a reviewer's work: the submissions waiting, one opened, read, approved. Of
// two reviewers approving the same submission, the second gets 409: expected.
func (a *agent) review(ctx context.Context) {
	var page struct{ Items []summary }
	if !a.getJSON("listSubmissions (submitted)", "/submissions?limit=100&state=submitted", &page) || len(page.Items) == 0 {
		return
	}
	id := page.Items[a.rng.IntN(min(len(page.Items), 5))].ID
	if !a.pause(ctx) {
		return
	}
	v, ok := a.page(id)
	if !ok || !slices.Contains(v.AllowedActions, "approve") || !a.pause(ctx) {
		return
	}
	a.sendJSON("transitionSubmission (approve)", "POST", "/submissions/"+id+"/transitions", map[string]string{"action": "approve"}, nil,
		http.StatusConflict)
}

// upload sends one evidence file as the web UI does: multipart/form-data, field "file".
func (a *agent) upload(id, name string, content []byte) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(content)
	_ = mw.Close()
	a.do("uploadAttachment", "POST", "/submissions/"+id+"/attachments", &b, map[string]string{"Content-Type": mw.FormDataContentType()})
}

const draftBody = `The union reports that on 12 March the management of the plant dismissed the
eleven members of the union's executive committee two days after the union was registered.

The complainant attaches the minutes of the founding meeting and a statement of one of the
dismissed members. It asks the Committee to request the Government to ensure their
reinstatement and to report on the measures taken.`

// evidence is a small evidence file of about size bytes: a well-formed one-page PDF
// whose text fills it, or plain text. seed makes each file's content its own.
func evidence(name string, size, seed int) []byte {
	line := fmt.Sprintf("Statement %d: the meeting was held on 10 March and attended by 43 members. ", seed)
	if strings.HasSuffix(name, ".txt") {
		var b bytes.Buffer
		for b.Len() < size {
			b.WriteString(line)
			b.WriteString("\n")
		}
		return b.Bytes()
	}
	var content bytes.Buffer
	content.WriteString("BT /F1 10 Tf 40 800 Td 12 TL\n")
	for content.Len() < size-600 {
		fmt.Fprintf(&content, "(%s) '\n", line)
	}
	content.WriteString("ET\n")
	return pdf(content.Bytes())
}

// pdf wraps a page's content stream in a PDF with a correct cross-reference table.
func pdf(stream []byte) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}
