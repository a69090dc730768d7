package testrig

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Pinned versions of the S3 and SMTP servers the tests run against (DEVELOPERS.md).
const (
	MinIOModule    = "github.com/minio/minio"
	MinIOVersion   = "v0.0.0-20260212201848-7aac2a2c5b7c"
	MailpitModule  = "github.com/axllent/mailpit"
	MailpitVersion = "v1.33.1"
)

// MinIO is an S3 server on loopback with its data in a temporary directory.
type MinIO struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
	proc      *process
}

// Stop stops the server, as if S3 went away; Start brings it back with the same data.
func (m *MinIO) Stop() error { return m.proc.stop() }

// Start starts a stopped server again.
func (m *MinIO) Start(ctx context.Context) error { return m.proc.start(ctx) }

// PID is the server's process id, 0 when stopped (benchmarks read its CPU time).
func (m *MinIO) PID() int { return m.proc.pid() }

// StartMinIO starts the MinIO binary bin with its data in dir.
func StartMinIO(ctx context.Context, bin, dir string) (*MinIO, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	consolePort, err := FreePort()
	if err != nil {
		return nil, err
	}
	m := &MinIO{Endpoint: "127.0.0.1:" + strconv.Itoa(port), AccessKey: "unionportal", SecretKey: rand.Text()}
	m.proc = &process{
		name: "MinIO",
		argv: []string{bin, "server", "--quiet", "--address", m.Endpoint,
			"--console-address", "127.0.0.1:" + strconv.Itoa(consolePort), filepath.Join(dir, "data")},
		env: []string{"MINIO_ROOT_USER=" + m.AccessKey, "MINIO_ROOT_PASSWORD=" + m.SecretKey,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off"},
		stopSig:  syscall.SIGTERM,
		stopWait: 10 * time.Second,
		logPath:  filepath.Join(dir, "minio.log"),
		ready:    httpReady("http://" + m.Endpoint + "/minio/health/cluster"),
	}
	if err := m.proc.start(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// Mailpit is an SMTP server on loopback that keeps what it receives and lists it through
// an HTTP API.
type Mailpit struct {
	SMTPAddr string // host:port
	APIURL   string // http://host:port
	proc     *process
}

// Stop stops the server, as if the SMTP relay went away; Start brings it back.
func (m *Mailpit) Stop() error { return m.proc.stop() }

// Start starts a stopped server again.
func (m *Mailpit) Start(ctx context.Context) error { return m.proc.start(ctx) }

// PID is the server's process id, 0 when stopped (benchmarks read its CPU time).
func (m *Mailpit) PID() int { return m.proc.pid() }

// StartMailpit starts the Mailpit binary bin with its database in dir. extraArgs are
// passed on, for tests that need it to refuse recipients, say.
func StartMailpit(ctx context.Context, bin, dir string, extraArgs ...string) (*Mailpit, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	smtpPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	m := &Mailpit{SMTPAddr: "127.0.0.1:" + strconv.Itoa(smtpPort), APIURL: "http://127.0.0.1:" + strconv.Itoa(httpPort)}
	argv := append([]string{bin, "--smtp", m.SMTPAddr, "--listen", "127.0.0.1:" + strconv.Itoa(httpPort),
		"--database", filepath.Join(dir, "mailpit.db"), "--disable-version-check",
		"--smtp-auth-accept-any", "--smtp-auth-allow-insecure", "--smtp-disable-rdns",
		"--max", "0"}, extraArgs...)
	m.proc = &process{
		name:     "Mailpit",
		argv:     argv,
		stopSig:  syscall.SIGTERM,
		stopWait: 10 * time.Second,
		logPath:  filepath.Join(dir, "mailpit.log"),
		ready:    httpReady(m.APIURL + "/readyz"),
	}
	if err := m.proc.start(ctx); err != nil {
		return nil, fmt.Errorf("mailpit: %w", err)
	}
	return m, nil
}
