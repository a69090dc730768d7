package testrig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresMajor is the PostgreSQL major version the rig runs.
const PostgresMajor = "15"

// Postgres is a throwaway PostgreSQL cluster in a temporary directory.
type Postgres struct {
	Port    int
	Dir     string
	Version string
	proc    *process
}

// URL returns the superuser URL of database name.
func (p *Postgres) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, name)
}

// Stop shuts the server down (fast mode) as if PostgreSQL went away; Start brings it back
// on the same port with the same data.
func (p *Postgres) Stop() error { return p.proc.stop() }

// Start starts a stopped server again.
func (p *Postgres) Start(ctx context.Context) error { return p.proc.start(ctx) }

// PID is the postmaster's process id (the parent of every backend), 0 when stopped:
// benchmarks read PostgreSQL's CPU time from /proc with it.
func (p *Postgres) PID() int { return p.proc.pid() }

// FindPostgresBin returns the directory holding initdb and postgres: $UNIONPORTAL_TEST_PG_BIN,
// else Debian's /usr/lib/postgresql/15/bin.
func FindPostgresBin() (string, error) {
	candidates := []string{os.Getenv(EnvPostgresBin), "/usr/lib/postgresql/" + PostgresMajor + "/bin"}
	for _, d := range candidates {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL %s binaries not found in %s", PostgresMajor, strings.Join(candidates[1:], ", "))
}

// EnsureCommand makes sure the command name is on PATH, installing the Debian package
// pkg with apt-get when it is missing and the rig runs as root.
func EnsureCommand(ctx context.Context, name, pkg string, progress func(string)) error {
	if _, err := exec.LookPath(name); err == nil {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s is missing: install the Debian package %s", name, pkg)
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("%s is missing and there is no apt-get to install %s", name, pkg)
	}
	progress("installing " + pkg + " with apt-get (for " + name + ")")
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", pkg}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// InstallPostgres installs Debian's postgresql-15 package when the rig runs as root on
// a machine that has apt-get; otherwise it explains what to install.
func InstallPostgres(ctx context.Context, progress func(string)) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("install PostgreSQL %s (Debian: apt-get install postgresql-%s) or set %s", PostgresMajor, PostgresMajor, EnvPostgresBin)
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("PostgreSQL %s is missing and there is no apt-get to install it; set %s", PostgresMajor, EnvPostgresBin)
	}
	progress("installing postgresql-" + PostgresMajor + " with apt-get")
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "postgresql-" + PostgresMajor}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// StartPostgres creates a cluster in dir (which must be empty or missing) and starts it
// on a free loopback port, with settings ("name=value") added to the server's. PostgreSQL
// refuses to run as root, so under root the cluster belongs to the postgres system user.
func StartPostgres(ctx context.Context, binDir, dir string, settings ...string) (*Postgres, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, errors.New("running as root, but there is no postgres user to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), "-D", data, "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	p := &Postgres{Port: port, Dir: dir}
	extra := make([]string, 0, 2*len(settings))
	for _, kv := range settings {
		extra = append(extra, "-c", kv)
	}
	p.proc = &process{
		name: "PostgreSQL",
		argv: append([]string{filepath.Join(binDir, "postgres"), "-D", data, "-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + dir,
			"-c", "max_connections=300", "-c", "fsync=off", "-c", "synchronous_commit=off",
			"-c", "full_page_writes=off"}, extra...),
		cred:     cred,
		stopSig:  syscall.SIGINT, // fast shutdown
		stopWait: 20 * time.Second,
		logPath:  filepath.Join(dir, "postgres.log"),
		ready: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			conn, err := pgx.Connect(ctx, p.URL("postgres"))
			if err != nil {
				return err
			}
			defer conn.Close(context.Background())
			return conn.QueryRow(ctx, "SHOW server_version").Scan(&p.Version)
		},
	}
	if err := p.proc.start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}
