package dispatch

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

// Dispatch is one attempt series at sending a submission: every entry into
// dispatching creates one, with its own Message-ID, reused on every retry.
type Dispatch struct {
	ID           string `json:"id"`
	TenantID     string `json:"-"`
	SubmissionID string `json:"submission_id"`
	Revision     int    `json:"revision"`
	State        string `json:"state" enum:"dispatch_state"`
	// MessageID is the e-mail's Message-ID, with its angle brackets as in the e-mail.
	MessageID   string     `json:"message_id"`
	Sandbox     bool       `json:"sandbox"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error"`
	LetterKey   string     `json:"-"`
	ManifestKey string     `json:"-"`
	CreatedAt   time.Time  `json:"created_at"`
	SentAt      *time.Time `json:"sent_at"`
	// SentFiles are the sizes and hashes of what was sent, kept in the clear so that
	// they outlive the submission's data key (ADR 0030); ShreddedAt is when retention
	// deleted the stored letter, manifest and cleaned copies.
	SentFiles  []SentFile `json:"sent_files" gorm:"serializer:json"`
	ShreddedAt *time.Time `json:"shredded_at" doc:"When the tenant's retention policy deleted this dispatch's stored letter, manifest and cleaned copies; sent_files, the deliveries and the Message-ID stay"`
	Deliveries []Delivery `json:"deliveries" gorm:"-"`
}

// SentFile is one file of a sent e-mail as the dispatch record keeps it: its role, size
// and SHA-256 (and for evidence sent cleaned, the original's), never its name.
type SentFile struct {
	Role           string `json:"role" enum:"sent_file_role"`
	Size           int64  `json:"size"`
	SHA256         string `json:"sha256"`
	OriginalSHA256 string `json:"original_sha256,omitempty"`
	Cleaned        bool   `json:"cleaned,omitempty"`
	Link           bool   `json:"link,omitempty"`
}

// The roles of a sent file.
const (
	RoleLetter   = "letter"
	RoleEvidence = "evidence"
)

// sentFiles is what the record keeps of a manifest's files: the letter comes first.
func sentFiles(files []ManifestFile) []SentFile {
	out := make([]SentFile, 0, len(files))
	for i, f := range files {
		role := RoleEvidence
		if i == 0 {
			role = RoleLetter
		}
		out = append(out, SentFile{Role: role, Size: f.Size, SHA256: f.SHA256, OriginalSHA256: f.OriginalSHA256, Cleaned: f.Cleaned, Link: f.Link})
	}
	return out
}

// Delivery is the SMTP server's answer for one recipient.
type Delivery struct {
	ID         string    `json:"-"`
	DispatchID string    `json:"-"`
	Address    string    `json:"address"`
	Kind       string    `json:"kind"`
	Status     string    `json:"status" enum:"delivery_status"`
	Response   string    `json:"response"`
	CreatedAt  time.Time `json:"created_at"`
}

// Args is the dispatch job's payload: only the dispatch id; everything else is read
// when the job runs.
type Args struct {
	DispatchID string `json:"dispatch_id"`
}

// Kind names the job for River.
func (Args) Kind() string { return "dispatch" }

// fetchCooldown is the least time between two fetches of jobs (see NewService).
const fetchCooldown = 5 * time.Millisecond

// Options configure the dispatch service.
type Options struct {
	Logger *slog.Logger
	Sender Sender
	// BaseURL is the portal's address, for links and the Message-ID's domain.
	BaseURL *url.URL
	// MaxAttempts bounds retries of temporary failures (default 10); RetryBase is the
	// first retry delay, doubling each time up to an hour (default 30 s).
	MaxAttempts int
	RetryBase   time.Duration
	// PollInterval is how often idle workers look for jobs (default 1 s).
	PollInterval time.Duration
	// Workers is how many dispatches run at once (default 2).
	Workers int
	// JobTimeout bounds one delivery attempt (default 5 minutes). A job left running by a
	// killed process is taken up again twice that long after it started.
	JobTimeout time.Duration
	// RenderTimeout bounds the rendering of one letter (default: JobTimeout). A preview
	// is bounded by its request's timeout too, and a dispatch attempt by JobTimeout. A
	// render that runs out of time answers 503 render_timeout (preview) or fails the
	// attempt, which is retried like a temporary delivery failure (dispatch).
	RenderTimeout time.Duration
	// LinkSecret signs the download links of evidence too large for e-mail (the
	// installation's secret key: every process must verify them); empty, links work only
	// in this process.
	LinkSecret []byte
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Jobs are other packages' jobs that the queue client runs too (the webhook
	// deliveries). There is one client per process: River's leader discards a stuck job
	// whose kind its own client does not know, so every client must know every kind.
	Jobs []Jobs
}

// Jobs are another package's job kinds, run by the dispatch service's queue client.
type Jobs struct {
	// Register adds their workers.
	Register func(*river.Workers) error
	// Queues are the queues they run in, besides the default one.
	Queues map[string]river.QueueConfig
	// Periodic are their periodic jobs.
	Periodic []*river.PeriodicJob
}

// Service renders letters, enqueues dispatches and works them.
type Service struct {
	db *database.DB
	// files keeps the letters, manifests and cleaned copies, encrypted under their
	// submissions' keys, and reads the evidence.
	files    *keys.Files
	linkKey  []byte
	wf       *workflow.Service
	opts     Options
	client   *river.Client[*sql.Tx]
	complete func(ctx context.Context, tx *sql.Tx, job *river.Job[Args]) error
	metrics  *metrics
}

var _ workflow.Listener = (*Service)(nil)

// queueMigrationLock is the PostgreSQL advisory lock key under which the queue's tables
// are migrated (goose's lock, for the schema, has another key).
const queueMigrationLock = 4316508127093552717

// MigrateQueue creates or updates River's tables. River's migrator takes no lock, and
// processes started together on a new database would each try to create the same
// tables (and all but one fail); on PostgreSQL they take turns under an advisory lock,
// held on a connection of its own, so the pool needs room for two.
func MigrateQueue(ctx context.Context, db *database.DB) error {
	var err error
	if db.Dialect() == database.Postgres {
		err = migratePostgresQueue(ctx, db)
	} else {
		var m *rivermigrate.Migrator[*sql.Tx]
		if m, err = rivermigrate.New(riversqlite.New(db.SQL()), nil); err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	}
	if err != nil {
		return fmt.Errorf("queue migration: %w", err)
	}
	return nil
}

func migratePostgresQueue(ctx context.Context, db *database.DB) (err error) {
	conn, err := db.SQL().Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(queueMigrationLock)); err != nil {
		return fmt.Errorf("waiting for the queue migration lock: %w", err)
	}
	defer func() {
		// If the unlock fails, close the connection rather than pool it: that ends the lock.
		if _, uerr := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(queueMigrationLock)); uerr != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	m, err := rivermigrate.New(riverdatabasesql.New(db.SQL()), nil)
	if err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

// NewService builds the service and its River client (not started).
func NewService(db *database.DB, files *keys.Files, wf *workflow.Service, opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 10
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = 30 * time.Second
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.JobTimeout <= 0 {
		opts.JobTimeout = 5 * time.Minute
	}
	if opts.RenderTimeout <= 0 {
		opts.RenderTimeout = opts.JobTimeout
	}
	if opts.BaseURL == nil {
		opts.BaseURL, _ = url.Parse("http://localhost:8080")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{db: db, files: files, wf: wf, opts: opts, metrics: newMetrics(), linkKey: linkKey(opts.LinkSecret)}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &worker{s: s}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &notifyWorker{s: s}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &retentionWorker{s: s}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &deadlinesWorker{s: s}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &reminderWorker{s: s}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &correspondenceWorker{s: s}); err != nil {
		return nil, err
	}
	// Letters to the ILO have the default queue's workers to themselves; notices to the
	// portal's users as many of their own (jobs enqueued in the default queue before
	// notices had theirs run there).
	queues := map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers}, NoticeQueue: {MaxWorkers: opts.Workers},
		RetentionQueue: {MaxWorkers: 1}}
	periodic := []*river.PeriodicJob{retentionJob(), deadlinesJob()}
	for _, j := range opts.Jobs {
		periodic = append(periodic, j.Periodic...)
		if err := j.Register(workers); err != nil {
			return nil, err
		}
		for name, q := range j.Queues {
			queues[name] = q
		}
	}
	cfg := &river.Config{
		Logger:            opts.Logger.With("component", "queue"),
		Queues:            queues,
		Workers:           workers,
		MaxAttempts:       opts.MaxAttempts,
		RetryPolicy:       &retryPolicy{base: opts.RetryBase},
		FetchPollInterval: opts.PollInterval,
		// A worker that finishes a job while more wait fetches the next at once, but
		// River fetches at most once per cooldown: at its default (100 ms) a backlog of
		// short jobs drained at about ten a second whatever the workers (issue 17, P7a).
		// A fetch runs only when a slot is free and work may wait, so a shorter
		// cooldown costs nothing when the queue is idle.
		FetchCooldown:        min(opts.PollInterval, fetchCooldown),
		JobTimeout:           opts.JobTimeout,
		RescueStuckJobsAfter: 2 * opts.JobTimeout,
		PeriodicJobs:         periodic,
	}
	var err error
	if db.Dialect() == database.Postgres {
		s.client, err = river.NewClient(riverdatabasesql.New(db.SQL()), cfg)
		s.complete = func(ctx context.Context, tx *sql.Tx, job *river.Job[Args]) error {
			_, err := river.JobCompleteTx[*riverdatabasesql.Driver](ctx, tx, job)
			return err
		}
	} else {
		s.client, err = river.NewClient(riversqlite.New(db.SQL()), cfg)
		s.complete = func(ctx context.Context, tx *sql.Tx, job *river.Job[Args]) error {
			_, err := river.JobCompleteTx[*riversqlite.Driver](ctx, tx, job)
			return err
		}
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Queue is the queue client, for the packages whose Jobs it runs to enqueue theirs
// (InsertTx, in the transaction of the change they follow).
func (s *Service) Queue() *river.Client[*sql.Tx] { return s.client }

// Start starts the workers; Stop waits for running jobs to finish (or ctx to end).
func (s *Service) Start(ctx context.Context) error { return s.client.Start(ctx) }

// Stop stops fetching jobs and waits for those running.
func (s *Service) Stop(ctx context.Context) error { return s.client.Stop(ctx) }

// retryPolicy doubles the delay from base, up to an hour.
type retryPolicy struct{ base time.Duration }

func (p *retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	d := p.base << min(job.Attempt-1, 20)
	if d > time.Hour || d <= 0 {
		d = time.Hour
	}
	return time.Now().Add(d)
}

// Entered acts, in the workflow's transaction, on a submission entering a state: it
// creates the dispatch and its job when the submission is to be sent, and the
// notification job when people are to be told. They exist if and only if the state
// change commits.
func (s *Service) Entered(ctx context.Context, e workflow.Entered) error {
	tx, ok := s.db.SQLTx(ctx)
	if !ok {
		return errors.New("dispatch: Entered outside a transaction")
	}
	sub := e.Submission
	if e.Dispatch {
		if e.Snapshot == nil {
			return errors.New("dispatch: a dispatch without its approval snapshot")
		}
		id := database.NewID()
		// What goes out is what the final approval froze, never today's settings.
		d := Dispatch{ID: id, TenantID: sub.TenantID, SubmissionID: sub.ID, Revision: sub.Revision, State: "queued",
			MessageID: "<dispatch-" + id + "@" + s.opts.BaseURL.Hostname() + ">", Sandbox: e.Snapshot.Dispatch.Sandbox, CreatedAt: time.Now().UTC(), SentFiles: []SentFile{}}
		if err := s.db.Conn(ctx).Create(&d).Error; err != nil {
			return err
		}
		if _, err := s.client.InsertTx(ctx, tx, Args{DispatchID: id}, nil); err != nil {
			return err
		}
	}
	if e.Notify == (workflow.Audience{}) {
		return nil
	}
	_, err := s.client.InsertTx(ctx, tx, NotifyArgs{TenantID: sub.TenantID, SubmissionID: sub.ID, State: sub.State,
		Authors: e.Notify.Authors, Reviewers: e.Notify.Reviewers, Notice: e.Notice}, nil)
	return err
}

// Letter renders the letter of a submission the caller may see: before the final
// approval as it would be sent today (reviewers preview it before approving), after it
// from the approval snapshot, as it will be sent. Each preview is recorded in the
// tenant's audit trail (letter.previewed). It stops with a render_timeout error when
// ctx ends or RenderTimeout passes.
func (s *Service) Letter(ctx context.Context, a *auth.TenantAccess, submissionID string) ([]byte, error) {
	v, err := s.wf.Submission(ctx, a, submissionID)
	if err != nil {
		return nil, err
	}
	if v.ShreddedAt != nil {
		return nil, apperr.Shredded("this submission's texts were deleted under the tenant's retention policy; its letter can no longer be rendered")
	}
	var l Letter
	snap, err := s.wf.SnapshotFor(ctx, a.Tenant.ID, v.ID, v.Revision)
	approved := err == nil
	switch {
	case approved:
		l = Letter{Settings: snap.Dispatch, Case: snap.Case.AsCase(), Submission: v.Submission, Date: time.Now(), Sandbox: snap.Dispatch.Sandbox}
	case apperr.KindOf(err) != apperr.KindNotFound:
		return nil, err
	default:
		c, err := s.wf.Case(ctx, a, v.CaseID)
		if err != nil {
			return nil, err
		}
		st, err := s.wf.Settings(ctx, a)
		if err != nil {
			return nil, err
		}
		l = Letter{Settings: st.Dispatch, Case: *c, Submission: v.Submission, Date: time.Now(), Sandbox: st.Dispatch.Sandbox}
	}
	pdf, err := s.render(ctx, &l)
	if err != nil {
		return nil, err
	}
	// A letter is never shown without its record.
	if err := s.event(ctx, a, workflow.ActionLetterPreviewed, v.ID, map[string]any{"revision": v.Revision, "approved": approved}); err != nil {
		return nil, err
	}
	return pdf, nil
}

// event records in the tenant's audit trail an act of the caller on a submission.
func (s *Service) event(ctx context.Context, a *auth.TenantAccess, action, submissionID string, details map[string]any) error {
	actor := a.Actor()
	_, err := audit.Record(ctx, s.db, audit.Entry{TenantID: a.Tenant.ID, ActorID: actor.UserID, IP: actor.IP,
		Action: action, ObjectType: "submission", ObjectID: submissionID, Details: details, At: s.opts.Now()})
	return err
}

// render renders l within RenderTimeout.
func (s *Service) render(ctx context.Context, l *Letter) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RenderTimeout)
	defer cancel()
	return l.RenderBytesContext(ctx)
}

// Dispatches lists a submission's dispatches with their deliveries, newest first.
func (s *Service) Dispatches(ctx context.Context, a *auth.TenantAccess, submissionID string) ([]Dispatch, error) {
	if err := s.wf.Visible(ctx, a, submissionID); err != nil {
		return nil, err
	}
	var out []Dispatch
	if err := s.db.Conn(ctx).Where("submission_id = ? AND tenant_id = ?", submissionID, a.Tenant.ID).Order("created_at DESC").Find(&out).Error; err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].SentFiles == nil {
			out[i].SentFiles = []SentFile{}
		}
	}
	if len(out) == 0 {
		return out, nil
	}
	ids := make([]string, len(out))
	for i, d := range out {
		ids[i] = d.ID
	}
	var dels []Delivery
	if err := s.db.Conn(ctx).Where("dispatch_id IN ?", ids).Order("created_at, address").Find(&dels).Error; err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Deliveries = []Delivery{}
		for _, dl := range dels {
			if dl.DispatchID == out[i].ID {
				out[i].Deliveries = append(out[i].Deliveries, dl)
			}
		}
	}
	return out, nil
}

// AsSent opens the exact letter ("letter.pdf") or manifest ("manifest.json") of a sent
// dispatch of a submission the caller may see, decrypted, and records the download in
// the tenant's audit trail (dispatch.file_downloaded). They never change after sending.
func (s *Service) AsSent(ctx context.Context, a *auth.TenantAccess, dispatchID, which string) (storage.Object, error) {
	if !database.ValidID(dispatchID) {
		return nil, apperr.NotFound("dispatch")
	}
	var d Dispatch
	if err := s.db.Conn(ctx).Where("id = ? AND tenant_id = ?", dispatchID, a.Tenant.ID).First(&d).Error; err != nil {
		return nil, apperr.NotFound("dispatch")
	}
	// Visibility follows the submission's.
	if err := s.wf.Visible(ctx, a, d.SubmissionID); err != nil {
		return nil, apperr.NotFound("dispatch")
	}
	if d.ShreddedAt != nil {
		return nil, apperr.Shredded("this dispatch's stored " + which + " was deleted under the tenant's retention policy; " +
			"its date, recipients, Message-ID and the hashes of what was sent remain on record")
	}
	key := d.LetterKey
	if which == "manifest.json" {
		key = d.ManifestKey
	}
	if key == "" || d.State != "sent" {
		return nil, apperr.NotFound("sent " + which)
	}
	obj, err := s.files.Open(ctx, d.TenantID, d.SubmissionID, key)
	if err != nil {
		return nil, s.wf.StoredFileError(ctx, d.TenantID, d.SubmissionID, "dispatches", d.ID, err)
	}
	if err := s.event(ctx, a, workflow.ActionDispatchFileDownloaded, d.SubmissionID,
		map[string]any{"dispatch_id": d.ID, "file": which}); err != nil {
		obj.Close()
		return nil, err
	}
	return obj, nil
}
