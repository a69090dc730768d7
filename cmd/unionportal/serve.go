package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/unionportal/unionportal/api"
	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/clamd"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/frontend"
	"github.com/unionportal/unionportal/inbound"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/portal"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/webhook"
	"github.com/unionportal/unionportal/workflow"
)

// drainTimeout is how long in-flight requests may run after SIGINT or SIGTERM.
const drainTimeout = 15 * time.Second

// openDatabase prepares the data directory and opens the configured database, with
// every failure reported against the setting that caused it.
func openDatabase(ctx context.Context, cfg *Config, log *slog.Logger) (*database.DB, error) {
	if err := prepareDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	db, err := database.Open(ctx, cfg.Database, database.Options{Logger: log, MaxOpenConns: cfg.DatabaseMaxConns})
	if err != nil {
		return nil, fmt.Errorf("%sDATABASE_URL: %v", envPrefix, err)
	}
	return db, nil
}

// openStorage opens the configured store: files in the data dir, or an S3 bucket
// (created if missing).
func openStorage(ctx context.Context, cfg *Config) (storage.Store, error) {
	if cfg.Storage == "s3" {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		s, err := storage.NewS3(ctx, storage.S3Config{Endpoint: cfg.S3Endpoint, Bucket: cfg.S3Bucket,
			AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, Region: cfg.S3Region, UseTLS: cfg.S3UseTLS})
		if err != nil {
			return nil, fmt.Errorf("%sS3_ENDPOINT=%q: cannot use bucket %q: %v", envPrefix, cfg.S3Endpoint, cfg.S3Bucket, err)
		}
		return s, nil
	}
	dir := filepath.Join(cfg.DataDir, "files")
	s, err := storage.NewLocal(dir)
	if err != nil {
		return nil, fmt.Errorf("%sDATA_DIR: cannot create %s: %v", envPrefix, dir, err)
	}
	return s, nil
}

// sweepInterval is how often orphaned objects are looked for; sweepGrace is how old an
// object without row must be before it is removed (an upload may be between storing its
// object and writing its row).
const (
	sweepInterval = time.Hour
	sweepGrace    = time.Hour
)

// sweep removes orphaned objects, expired idempotency keys and forgotten login counters
// every sweepInterval until ctx ends.
func (a *app) sweep(ctx context.Context) {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := a.wf.SweepOrphans(ctx, sweepGrace)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("sweep of orphaned files failed; retrying next hour", "error", err)
		} else if n > 0 {
			a.log.Info("sweep removed orphaned files", "count", n)
		}
		keys, err := a.auth.SweepIdempotencyKeys(ctx)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("sweep of expired idempotency keys failed; retrying next hour", "error", err)
		} else if keys > 0 {
			a.log.Info("sweep removed expired idempotency keys", "count", keys)
		}
		if _, err := a.auth.SweepLoginLimits(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("sweep of forgotten login counters failed; retrying next hour", "error", err)
		}
	}
}

// anchorInterval is how often the heads of tenants' audit chains are anchored in the
// platform chain (and the log), so that a chain rewound later is detected.
const anchorInterval = 10 * time.Minute

// anchorAudit anchors the audit chains at start and every anchorInterval until ctx ends.
func (a *app) anchorAudit(ctx context.Context) {
	t := time.NewTicker(anchorInterval)
	defer t.Stop()
	for {
		if _, err := audit.Anchor(ctx, a.db, a.log); err != nil && ctx.Err() == nil {
			a.log.Warn("anchoring the audit chains failed; retrying later", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func migrateDB(ctx context.Context, db *database.DB, log *slog.Logger) ([]int64, error) {
	applied, err := db.Migrate(ctx, log)
	if err != nil {
		return applied, fmt.Errorf("database migration failed on %s: %v", db, err)
	}
	if err := dispatch.MigrateQueue(ctx, db); err != nil {
		return applied, fmt.Errorf("database migration failed on %s: %v", db, err)
	}
	return applied, nil
}

// newSender is how dispatches leave: over SMTP when UNIONPORTAL_SMTP_URL is set, else
// into <data dir>/outbox.
func newSender(cfg *Config) (dispatch.Sender, error) {
	if cfg.SMTPURL == "" {
		return dispatch.Outbox{Dir: filepath.Join(cfg.DataDir, "outbox")}, nil
	}
	smtp, err := dispatch.NewSMTP(cfg.SMTPURL)
	if err != nil {
		// A url.Error quotes the URL, password included.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = errors.New("not a valid URL")
		}
		return nil, fmt.Errorf("%sSMTP_URL: %v", envPrefix, err)
	}
	return smtp, nil
}

func migrate(ctx context.Context, cfg *Config, log *slog.Logger, stdout io.Writer) error {
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := migrateDB(ctx, db, log)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "%s: schema up to date\n", db)
	} else {
		fmt.Fprintf(stdout, "%s: applied %d migration(s), now at version %d\n", db, len(applied), applied[len(applied)-1])
	}
	return nil
}

// app is the assembled portal: configuration, database and HTTP server.
type app struct {
	cfg      *Config
	log      *slog.Logger
	db       *database.DB
	store    storage.Store
	auth     *auth.Service
	wf       *workflow.Service
	dispatch *dispatch.Service
	srv      *api.Server
	services *portal.Services
	keys     *keys.Service
}

// newApp opens and migrates the database and builds the server. The caller owns the
// result and ends it with run (or close, if it never runs).
func newApp(ctx context.Context, cfg *Config, log *slog.Logger) (*app, error) {
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, db: db}
	if err := loadSecretKey(cfg); err != nil {
		a.db.Close() // quietly: the error is the one line to show
		return nil, err
	}
	if err := loadMasterKey(cfg); err != nil {
		a.db.Close() // quietly: the error is the one line to show
		return nil, err
	}
	if _, err := migrateDB(ctx, db, log); err != nil {
		a.db.Close() // quietly: the error is the one line to show
		return nil, err
	}
	// A wrong master key stops the process here, not requests later.
	a.keys = keys.NewService(db, cfg.Master, cfg.PreviousMasters...)
	if err := a.keys.Check(ctx); err != nil {
		a.db.Close() // quietly: the error is the one line to show
		return nil, fmt.Errorf("%sMASTER_KEY (key id %s) does not open this installation's tenant keys: %v", envPrefix, cfg.Master.ID, err)
	}
	if a.store, err = openStorage(ctx, cfg); err != nil {
		a.db.Close() // quietly: the error is the one line to show
		return nil, err
	}
	sender, err := newSender(cfg)
	if err != nil {
		a.db.Close() // quietly: the error is the one line to show
		return nil, err
	}
	opts := portal.Options{Logger: log, Keys: a.keys,
		Auth: auth.Options{SecretKey: []byte(cfg.SecretKey), SessionIdle: cfg.SessionIdle, SessionAbsolute: cfg.SessionAbsolute,
			StepUpWindow: cfg.StepUpWindow,
			// Security keys are bound to the host users reach the portal at.
			Origin: cfg.BaseURL.Scheme + "://" + cfg.BaseURL.Host},
		Workflow: workflow.Options{Limits: workflow.Limits{MaxFileBytes: cfg.MaxFileBytes, MaxSubmissionBytes: cfg.MaxSubmission}},
		Dispatch: dispatch.Options{Sender: sender, BaseURL: cfg.BaseURL, JobTimeout: cfg.DispatchTimeout, LinkSecret: []byte(cfg.SecretKey)},
		Webhook:  webhook.Options{AllowPrivate: cfg.WebhookAllowPrivate},
		Inbound:  inbound.Options{AllowPrivate: cfg.MailboxAllowPrivate, PollEvery: cfg.MailboxPollInterval}}
	if opts.Inbound.TLS, err = mailboxTLS(cfg.MailboxCAFile); err != nil {
		a.db.Close()
		return nil, err
	}
	if cfg.ClamdAddr != "" {
		client := &clamd.Client{Addr: cfg.ClamdAddr}
		opts.Workflow.Scanner = func(ctx context.Context) (workflow.Scan, error) { return client.Start(ctx) }
	}
	services, err := portal.New(ctx, db, a.store, opts)
	if err != nil {
		a.db.Close() // quietly: the error is the one line to show
		return nil, fmt.Errorf("starting the services: %v", err)
	}
	a.auth, a.wf, a.dispatch, a.services = services.Auth, services.Workflow, services.Dispatch, services
	reg := services.Metrics
	a.srv = api.New(api.Options{
		Metrics:              reg,
		Auth:                 a.auth,
		Workflow:             a.wf,
		Dispatch:             a.dispatch,
		Webhooks:             services.Webhooks,
		Inbound:              services.Inbound,
		MaxConcurrentUploads: cfg.MaxUploads,
		SessionAbsolute:      cfg.SessionAbsolute,
		Logger:               log,
		HTTPS:                cfg.BaseURL.Scheme == "https",
		MaxBodyBytes:         cfg.MaxBodyBytes,
		TrustedProxies:       cfg.TrustedProxies,
		IPRetention:          cfg.IPRetention,
		Version:              buildVersion(),
		Checks:               []api.Check{{Name: "database", Fn: db.Ping}, {Name: "storage", Fn: a.store.Check}},
		UI:                   frontend.Assets(),
		UIPlaceholder:        frontend.Placeholder(),
	})
	return a, nil
}

// run serves on ln until ctx ends, then shuts down in order: stop accepting, drain
// requests for up to drainTimeout, close the database.
func (a *app) run(ctx context.Context, ln net.Listener) error {
	defer a.close()
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go a.sweep(sweepCtx)
	go a.anchorAudit(sweepCtx)
	if err := a.dispatch.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("starting the dispatch workers: %v", err)
	}
	defer a.stopQueue()
	a.log.Info("unionportal serving", "addr", ln.Addr().String(), "base_url", a.cfg.BaseURL.String(),
		"database", a.db.String(), "data_dir", a.cfg.DataDir, "version", buildVersion())
	return a.srv.Serve(ctx, ln, drainTimeout)
}

// stopQueue lets running dispatches finish (up to drainTimeout); a job cut short is
// run again after a restart, with the same Message-ID.
func (a *app) stopQueue() {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := a.dispatch.Stop(ctx); err != nil {
		a.log.Warn("stopping the dispatch workers", "error", err)
	}
}

func (a *app) close() {
	if err := a.db.Close(); err != nil {
		a.log.Warn("closing the database", "error", err)
	}
	a.log.Info("database closed; stopped")
}

// worker runs the dispatch workers without the HTTP server, until SIGINT or SIGTERM.
func worker(ctx context.Context, cfg *Config, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopTracing, err := setupTracing(ctx, "worker", log)
	if err != nil {
		return err
	}
	defer stopTracing()
	stopProfile, err := startCPUProfile(cfg.CPUProfile, log)
	if err != nil {
		return err
	}
	defer stopProfile()
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	if cfg.WorkerMetricsAddr != "" {
		stopMetrics, err := serveWorkerMetrics(cfg.WorkerMetricsAddr, a.services.Metrics, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	if err := a.dispatch.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("starting the dispatch workers: %v", err)
	}
	log.Info("unionportal worker running", "database", a.db.String(), "metrics", cfg.WorkerMetricsAddr)
	<-ctx.Done()
	log.Info("stopping: letting running dispatches finish", "timeout", drainTimeout.String())
	a.stopQueue()
	return nil
}

// serve runs the portal until SIGINT or SIGTERM.
func serve(ctx context.Context, cfg *Config, log *slog.Logger, demo bool, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal ends the process at once
	}()
	stopTracing, err := setupTracing(ctx, "serve", log)
	if err != nil {
		return err
	}
	defer stopTracing()
	stopProfile, err := startCPUProfile(cfg.CPUProfile, log)
	if err != nil {
		return err
	}
	defer stopProfile()
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	if demo {
		if err := seedDemo(ctx, a, stdout); err != nil {
			a.close()
			return fmt.Errorf("--demo: %v", err)
		}
	}
	a.warnPlaintext(ctx)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		a.close()
		return fmt.Errorf("%sADDR=%q: cannot listen: %v", envPrefix, cfg.Addr, unwrapNet(err))
	}
	return a.run(ctx, ln)
}

// warnPlaintext tells the operator of texts and files stored before encryption at
// rest, until admin encrypt-existing has encrypted them.
func (a *app) warnPlaintext(ctx context.Context) {
	texts, files, err := a.wf.PlaintextLeft(ctx)
	if err == nil && texts+files > 0 {
		a.log.Warn("texts and files stored before encryption at rest are still in clear; run unionportal admin encrypt-existing",
			"texts", texts, "files", files)
	}
}

func unwrapNet(err error) error {
	if oe, ok := err.(*net.OpError); ok && oe.Err != nil {
		if se, ok := oe.Err.(*os.SyscallError); ok {
			return se.Err
		}
		return oe.Err
	}
	return err
}

// mailboxTLS is the TLS configuration for tenants' IMAP servers: the system's roots,
// and the authorities in file (UNIONPORTAL_MAILBOX_CA_FILE) when set.
func mailboxTLS(file string) (*tls.Config, error) {
	if file == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("UNIONPORTAL_MAILBOX_CA_FILE: %v", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("UNIONPORTAL_MAILBOX_CA_FILE: %s holds no PEM certificate", file)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}, nil
}

// startCPUProfile writes a CPU profile of the process to file until the returned
// function runs (UNIONPORTAL_CPU_PROFILE); with no file it does nothing.
func startCPUProfile(file string, log *slog.Logger) (func(), error) {
	if file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("%sCPU_PROFILE: %v", envPrefix, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%sCPU_PROFILE: %v", envPrefix, err)
	}
	log.Warn("writing a CPU profile until the process stops", "file", file)
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			log.Warn("writing the CPU profile", "file", file, "error", err)
		}
	}, nil
}
