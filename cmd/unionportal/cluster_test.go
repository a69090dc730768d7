package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/unionportal/unionportal/internal/testrig"
)

// Helpers for tests that run several portal processes behind a reverse proxy, as a
// scaled-out installation does (scaleout_test.go).

// portalProcess is one unionportal process (the test binary acting as the portal, as
// in kill_test.go) in a process group of its own, so that it and anything it started
// can be killed together. It can be stopped and started again with the same settings;
// its log keeps every run's lines.
type portalProcess struct {
	t    *testing.T
	name string
	env  []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	state  *os.ProcessState

	logs   syncBuffer // standard error of every run
	stdout syncBuffer
}

// newPortalProcess prepares a process; t.Cleanup kills its group, whatever happened.
// When t has failed, the end of its log is printed.
func newPortalProcess(t *testing.T, name string, env []string) *portalProcess {
	p := &portalProcess{t: t, name: name, env: env}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- the last lines of %s's log:\n%s", name, lastLines(p.logs.String(), 8))
		}
	})
	return p
}

// start runs the portal with args (serve, worker, …).
func (p *portalProcess) start(args ...string) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		select {
		case <-p.exited:
		default:
			p.t.Fatalf("%s is already running", p.name)
		}
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), runMainEnv+"=1", "UNIONPORTAL_LOG_FORMAT=json"), p.env...)
	cmd.Stderr, cmd.Stdout = &p.logs, &p.stdout
	// Its own group, so that SIGKILL reaches all of it; Pdeathsig, so that a test
	// binary killed outright leaves no portal behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		p.mu.Lock()
		p.state = cmd.ProcessState
		p.mu.Unlock()
		close(exited)
	}()
	p.cmd, p.exited, p.state = cmd, exited, nil
}

// signal sends sig to the process (not its group: SIGTERM is for the portal to handle).
func (p *portalProcess) signal(sig syscall.Signal) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %s: %v", p.name, err)
	}
}

// wait waits up to within for the process to exit and returns its state.
func (p *portalProcess) wait(within time.Duration) *os.ProcessState {
	p.t.Helper()
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	select {
	case <-exited:
	case <-time.After(within):
		p.t.Fatalf("%s still running %s later", p.name, within)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// kill sends SIGKILL to the process group and waits for the process.
func (p *portalProcess) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// haproxyBinary finds Debian's haproxy: missing, the test skips with the reason, or
// fails when the rig requires every service (make test installs it).
func haproxyBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err == nil {
		return bin
	}
	if testrig.Required() {
		t.Fatalf("haproxy is not installed although %s=1 (make haproxy installs it: apt-get install haproxy)", testrig.EnvRequireServices)
	}
	t.Skip("haproxy not installed (apt-get install haproxy, or make haproxy)")
	return ""
}

// haproxy is a reverse proxy in front of the serve processes: round-robin, active
// health checks on /readyz, and retries only of connections that failed (a request
// that reached a backend is never sent again).
type haproxy struct {
	URL      string // the frontend, http://127.0.0.1:port
	statsURL string
}

// haproxyConfig is the configuration: %d the frontend port, %s the server lines, %d the
// stats port.
const haproxyConfig = `global
    maxconn 1024

defaults
    mode http
    balance roundrobin
    option forwardfor
    # A connection that could not be made is retried (on the other server: redispatch);
    # nothing else is, so a request that reached a portal process is never sent twice.
    retries 3
    retry-on conn-failure
    option redispatch 1
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout queue 5s
    timeout check 1s

frontend portal
    bind 127.0.0.1:%d
    default_backend serve

backend serve
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 200ms fall 2 rise 2
%s
listen stats
    bind 127.0.0.1:%d
    stats enable
    stats uri /stats
`

// startHAProxy checks and starts haproxy in the foreground with servers (name →
// host:port); t.Cleanup stops it, also when the test fails.
func startHAProxy(t *testing.T, bin string, servers [][2]string) *haproxy {
	t.Helper()
	front, stats := freeAddr(t), freeAddr(t)
	var lines strings.Builder
	for _, s := range servers {
		fmt.Fprintf(&lines, "    server %s %s check\n", s[0], s[1])
	}
	var frontPort, statsPort int
	fmt.Sscanf(front[strings.LastIndex(front, ":")+1:], "%d", &frontPort)
	fmt.Sscanf(stats[strings.LastIndex(stats, ":")+1:], "%d", &statsPort)
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(haproxyConfig, frontPort, lines.String(), statsPort)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-db", "-f", cfg)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if t.Failed() {
			t.Logf("--- haproxy's output:\n%s", lastLines(logs.String(), 25))
		}
	})
	h := &haproxy{URL: "http://" + front, statsURL: "http://" + stats + "/stats;csv"}
	waitStatus(t, h.statsURL, http.StatusOK, 10*time.Second)
	return h
}

// serverStatus returns HAProxy's view of a server of the serve backend: UP, DOWN, …
func (h *haproxy) serverStatus(server string) string {
	resp, err := http.Get(h.statsURL)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("# "))))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) == 0 {
		return "unreadable stats"
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, row := range rows[1:] {
		if len(row) > col["status"] && row[col["pxname"]] == "serve" && row[col["svname"]] == server {
			return row[col["status"]]
		}
	}
	return "no such server"
}

// waitServer waits until HAProxy reports server in status want (UP, DOWN).
func (h *haproxy) waitServer(t *testing.T, server, want string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var got string
	for time.Since(start) < within {
		if got = h.serverStatus(server); strings.HasPrefix(got, want) {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("haproxy reports server %s %q, not %s, after %s", server, got, want, within)
	return 0
}

// apiClient calls the portal's API as one logged-in user, on any base URL: the session
// cookie and CSRF token go with every request.
type apiClient struct {
	hc      *http.Client
	cookies []*http.Cookie
	csrf    string
}

func newHTTPClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 10 * time.Second}}
}

// login logs in at base and returns the client.
func login(t *testing.T, base, email, password string) *apiClient {
	t.Helper()
	c := &apiClient{hc: newHTTPClient()}
	resp, err := c.hc.Post(base+"/api/v1/auth/login", "application/json",
		strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)))
	if err != nil {
		t.Fatalf("login %s at %s: %v", email, base, err)
	}
	defer resp.Body.Close()
	var res struct {
		CSRFToken string `json:"csrf_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != http.StatusOK || res.CSRFToken == "" {
		t.Fatalf("login %s at %s: %d %v", email, base, resp.StatusCode, err)
	}
	c.cookies, c.csrf = resp.Cookies(), res.CSRFToken
	return c
}

// apiResult is one answer: its status, headers and body. err is a transport error.
type apiResult struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func (r apiResult) String() string {
	if r.err != nil {
		return r.err.Error()
	}
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body))
}

// do sends one request; in (if not nil) is sent as JSON, hdr are extra headers.
func (c *apiClient) do(method, url string, in any, hdr ...string) apiResult {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return apiResult{err: err}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return apiResult{err: err}
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-CSRF-Token", c.csrf)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	for _, ck := range c.cookies {
		req.AddCookie(ck)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return apiResult{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return apiResult{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

// must sends a request that must answer want, and decodes the answer into out.
func (c *apiClient) must(t *testing.T, want int, method, url string, in, out any) {
	t.Helper()
	r := c.do(method, url, in)
	if r.err != nil || r.status != want {
		t.Fatalf("%s %s: %s, want %d", method, url, r, want)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
}

// parallel runs fn(i) for i in [0, n) on at most workers goroutines.
func parallel(n, workers int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}
