// Package testrig starts the real services that integration tests run against: a
// throwaway PostgreSQL cluster, a MinIO S3 server, a Mailpit SMTP server and a Dovecot
// IMAP server, each on free loopback ports in a temporary directory. The testrig command
// (used by make test) starts one of each for a whole test run; tests that must stop and
// restart a service start a private one through the same functions.
package testrig

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Environment variables through which the rig tells tests where its services are.
const (
	EnvPostgresURL      = "UNIONPORTAL_TEST_POSTGRES_URL" // admin URL of the shared cluster
	EnvPostgresBin      = "UNIONPORTAL_TEST_PG_BIN"       // directory of initdb and postgres
	EnvS3Endpoint       = "UNIONPORTAL_TEST_S3_ENDPOINT"  // host:port of MinIO
	EnvS3AccessKey      = "UNIONPORTAL_TEST_S3_ACCESS_KEY"
	EnvS3SecretKey      = "UNIONPORTAL_TEST_S3_SECRET_KEY"
	EnvMinIOBin         = "UNIONPORTAL_TEST_MINIO_BIN"
	EnvSMTPAddr         = "UNIONPORTAL_TEST_SMTP_ADDR"   // host:port of Mailpit's SMTP server
	EnvMailpitURL       = "UNIONPORTAL_TEST_MAILPIT_URL" // base URL of Mailpit's HTTP API
	EnvMailpitBin       = "UNIONPORTAL_TEST_MAILPIT_BIN"
	EnvIMAPAddr         = "UNIONPORTAL_TEST_IMAP_ADDR"          // host:port of Dovecot's IMAP over implicit TLS
	EnvIMAPStartTLSAddr = "UNIONPORTAL_TEST_IMAP_STARTTLS_ADDR" // host:port of its plain IMAP (STARTTLS required)
	EnvIMAPPassword     = "UNIONPORTAL_TEST_IMAP_PASSWORD"      // the password of every user name
	EnvIMAPCA           = "UNIONPORTAL_TEST_IMAP_CA"            // PEM certificate the server presents
	EnvRequireServices  = "UNIONPORTAL_TEST_REQUIRE_SERVICES"   // "1": a missing service fails the test
)

// Required reports whether the tests run under the rig, where a missing service is a
// failure rather than a reason to skip.
func Required() bool { return os.Getenv(EnvRequireServices) == "1" }

// SkipOrFail skips t with a one-line reason when the named service is not configured,
// or fails it when running under the rig, where every service must be present.
func SkipOrFail(t interface {
	Helper()
	Skipf(string, ...any)
	Fatalf(string, ...any)
}, env, service string) string {
	t.Helper()
	v := os.Getenv(env)
	if v != "" {
		return v
	}
	if Required() {
		t.Fatalf("%s is not set although the test rig is required: %s missing", env, service)
	}
	t.Skipf("%s not available (%s unset; run make test for the full rig)", service, env)
	return ""
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// process is a service process that can be stopped and started again with the same
// command line, as a service that went away and came back.
type process struct {
	name     string
	argv     []string
	env      []string
	cred     *syscall.Credential
	stopSig  syscall.Signal
	logPath  string
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	logFile  *os.File
	ready    func(ctx context.Context) error
	stopWait time.Duration
}

func (p *process) start(ctx context.Context) error {
	if err := p.spawn(); err != nil {
		return err
	}
	readyCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		if err := p.ready(readyCtx); err == nil {
			return nil
		}
		select {
		case <-p.exitedChan():
			_ = p.stop()
			return fmt.Errorf("%s exited during start; its log %s ends with:\n%s", p.name, p.logPath, tail(p.logPath, 15))
		case <-readyCtx.Done():
			_ = p.stop()
			return fmt.Errorf("%s not ready within 60s; its log %s ends with:\n%s", p.name, p.logPath, tail(p.logPath, 15))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *process) spawn() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s already running", p.name)
	}
	lf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	// Its own process group keeps a terminal's Ctrl-C from reaching the service before
	// the rig stops it in order; Pdeathsig ends it if the rig itself is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: p.stopSig, Credential: p.cred}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	p.cmd, p.exited, p.logFile = cmd, exited, lf
	return nil
}

// pid is the running process's id, 0 when it is stopped.
func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *process) exitedChan() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// stop ends the process (its stop signal, then SIGKILL to its group after stopWait)
// and waits for it. Stopping a stopped process does nothing.
func (p *process) stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(p.stopSig)
	select {
	case <-p.exited:
	case <-time.After(p.stopWait):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
	p.cmd = nil
	p.logFile.Close()
	return nil
}

func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

func httpReady(url string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answered %d", url, resp.StatusCode)
		}
		return nil
	}
}

// ToolsDir is where the rig keeps the MinIO and Mailpit binaries it builds, outside the
// repository so that every clone reuses them: $UNIONPORTAL_TEST_TOOLS_DIR, or the user cache
// directory.
func ToolsDir() (string, error) {
	if d := os.Getenv("UNIONPORTAL_TEST_TOOLS_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", errors.New("no cache directory: set UNIONPORTAL_TEST_TOOLS_DIR")
	}
	return filepath.Join(d, "unionportal-tools"), nil
}

// EnsureTool returns the path of binary name built from module@version, building it with
// go install into the tools directory the first time. progress receives one line per step.
func EnsureTool(ctx context.Context, name, module, version string, progress func(string)) (string, error) {
	root, err := ToolsDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, name+"-"+version)
	bin := filepath.Join(dir, name)
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	// Build into a fresh directory and rename it into place, so an interrupted build
	// never leaves a half-written binary that a later run would trust.
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(root, name+"-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	progress(fmt.Sprintf("building %s %s with go install (first run only; MinIO takes about 5 minutes)", name, version))
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "install", module+"@"+version)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	cmd.Dir = tmp
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go install %s@%s: %v\n%s", module, version, err, out)
	}
	if _, err := os.Stat(filepath.Join(tmp, name)); err != nil {
		return "", fmt.Errorf("go install %s@%s produced no %s binary", module, version, name)
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	progress(fmt.Sprintf("built %s in %s", name, time.Since(start).Round(time.Second)))
	return bin, nil
}
