// Command testrig starts the services the integration tests need (PostgreSQL 15, MinIO,
// Mailpit, Dovecot), runs a command with their addresses in its environment, and stops them all
// again however the command ends: success, failure or Ctrl-C.
//
//	testrig [-keep] -- go test ./...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/unionportal/unionportal/internal/testrig"
)

func main() {
	os.Exit(run())
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "testrig: "+format+"\n", args...)
}

func run() int {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: testrig [-keep] -- COMMAND [ARGS...]")
		flag.PrintDefaults()
	}
	keep := flag.Bool("keep", false, "keep the temporary directory (logs, data) after the run")
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		return 2
	}

	// The first signal stops the command and then the services; the rig never leaves
	// them behind by exiting early.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	removeStaleRuns()
	dir, err := os.MkdirTemp("", "unionportal-testrig-")
	if err != nil {
		logf("%v", err)
		return 1
	}
	_ = os.WriteFile(filepath.Join(dir, "rig.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644)
	_ = os.Chmod(dir, 0o755)
	rig := &services{}
	defer func() {
		rig.stopAll()
		if *keep {
			logf("kept %s", dir)
		} else if err := os.RemoveAll(dir); err != nil {
			logf("could not remove %s: %v", dir, err)
		} else {
			logf("removed %s", dir)
		}
	}()

	env, err := rig.startAll(ctx, dir)
	if err != nil {
		logf("%v", err)
		return 1
	}

	args := flag.Args()
	logf("running: %s", strings.Join(args, " "))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		logf("%v", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		logf("interrupted: stopping the command, then the services")
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			err = <-done
		}
		if err == nil {
			err = errors.New("interrupted")
		}
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exitErr) && exitErr.ExitCode() > 0:
		return exitErr.ExitCode()
	default:
		logf("command failed: %v", err)
		return 1
	}
}

type services struct {
	pg      *testrig.Postgres
	minio   *testrig.MinIO
	mailpit *testrig.Mailpit
	dovecot *testrig.Dovecot
}

// startAll builds what is missing and starts the four services, returning the
// environment that tells tests where they are.
func (s *services) startAll(ctx context.Context, dir string) ([]string, error) {
	pgBin, err := testrig.FindPostgresBin()
	if err != nil {
		if err := testrig.InstallPostgres(ctx, func(m string) { logf("%s", m) }); err != nil {
			return nil, err
		}
		if pgBin, err = testrig.FindPostgresBin(); err != nil {
			return nil, err
		}
	}
	// pdftotext reads the rendered letters back in the dispatch tests.
	if err := testrig.EnsureCommand(ctx, "pdftotext", "poppler-utils", func(m string) { logf("%s", m) }); err != nil {
		return nil, err
	}
	// Dovecot (Debian's) serves the IMAP mailboxes that the reply polling reads.
	if err := testrig.EnsureDovecot(ctx, func(m string) { logf("%s", m) }); err != nil {
		return nil, err
	}
	var minioBin, mailpitBin string
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		mailpitBin, err = testrig.EnsureTool(gctx, "mailpit", testrig.MailpitModule, testrig.MailpitVersion, func(m string) { logf("%s", m) })
		return err
	})
	g.Go(func() (err error) {
		minioBin, err = testrig.EnsureTool(gctx, "minio", testrig.MinIOModule, testrig.MinIOVersion, func(m string) { logf("%s", m) })
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}

	g, gctx = errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		s.pg, err = testrig.StartPostgres(gctx, pgBin, filepath.Join(dir, "postgres"))
		return err
	})
	g.Go(func() (err error) {
		s.minio, err = testrig.StartMinIO(gctx, minioBin, filepath.Join(dir, "minio"))
		return err
	})
	g.Go(func() (err error) {
		s.mailpit, err = testrig.StartMailpit(gctx, mailpitBin, filepath.Join(dir, "mailpit"))
		return err
	})
	g.Go(func() (err error) {
		s.dovecot, err = testrig.StartDovecot(gctx, filepath.Join(dir, "dovecot"))
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	logf("started PostgreSQL %s on 127.0.0.1:%d (cluster in %s)", s.pg.Version, s.pg.Port, s.pg.Dir)
	logf("started MinIO %s on %s", testrig.MinIOVersion, s.minio.Endpoint)
	logf("started Mailpit %s: SMTP on %s, API on %s", testrig.MailpitVersion, s.mailpit.SMTPAddr, s.mailpit.APIURL)
	logf("started Dovecot: IMAP over TLS on %s, with STARTTLS on %s", s.dovecot.Addr, s.dovecot.StartTLSAddr)
	return []string{
		testrig.EnvRequireServices + "=1",
		testrig.EnvPostgresURL + "=" + s.pg.URL("postgres"),
		testrig.EnvPostgresBin + "=" + pgBin,
		testrig.EnvS3Endpoint + "=" + s.minio.Endpoint,
		testrig.EnvS3AccessKey + "=" + s.minio.AccessKey,
		testrig.EnvS3SecretKey + "=" + s.minio.SecretKey,
		testrig.EnvMinIOBin + "=" + minioBin,
		testrig.EnvSMTPAddr + "=" + s.mailpit.SMTPAddr,
		testrig.EnvMailpitURL + "=" + s.mailpit.APIURL,
		testrig.EnvMailpitBin + "=" + mailpitBin,
		testrig.EnvIMAPAddr + "=" + s.dovecot.Addr,
		testrig.EnvIMAPStartTLSAddr + "=" + s.dovecot.StartTLSAddr,
		testrig.EnvIMAPPassword + "=" + s.dovecot.Password,
		testrig.EnvIMAPCA + "=" + s.dovecot.CAFile,
	}, nil
}

func (s *services) stopAll() {
	var stopped []string
	// Dovecot's master sleeps a second on its way out: stop it while the others stop.
	dovecotStopped := make(chan struct{})
	if s.dovecot != nil {
		go func() { _ = s.dovecot.Stop(); close(dovecotStopped) }()
		stopped = append(stopped, "Dovecot")
	} else {
		close(dovecotStopped)
	}
	if s.mailpit != nil {
		_ = s.mailpit.Stop()
		stopped = append(stopped, "Mailpit")
	}
	if s.minio != nil {
		_ = s.minio.Stop()
		stopped = append(stopped, "MinIO")
	}
	if s.pg != nil {
		_ = s.pg.Stop()
		stopped = append(stopped, "PostgreSQL")
	}
	<-dovecotStopped
	if len(stopped) > 0 {
		logf("stopped %s", strings.Join(stopped, ", "))
	}
}

// removeStaleRuns deletes the directories of earlier runs whose rig process is gone (a
// rig killed with SIGKILL cannot clean up after itself; its services died with it).
func removeStaleRuns() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "unionportal-testrig-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "rig.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || syscall.Kill(pid, 0) == nil {
			continue
		}
		if os.RemoveAll(d) == nil {
			logf("removed %s left by an earlier run that was killed", d)
		}
	}
}
