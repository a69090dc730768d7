package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/logctx"
	"github.com/unionportal/unionportal/workflow"
)

// The CFA calendar's reminders (ADR 0035). The workflow decides who is reminded of
// which deadline and records it; this package runs it every day and sends each reminder,
// one e-mail to one person, without content.

var _ workflow.DeadlineHooks = (*Service)(nil)

// DeadlinesArgs is the daily job that sends the deadline reminders due.
type DeadlinesArgs struct{}

// Kind names the job for River.
func (DeadlinesArgs) Kind() string { return "cfa_deadlines" }

// DeadlinesJobID names the periodic job that enqueues DeadlinesArgs.
const DeadlinesJobID = "cfa_deadlines"

// DeadlinesSchedule is when the reminders are sent: every day at 06:00 UTC.
func DeadlinesSchedule() river.PeriodicSchedule { return dailyAt{hour: 6} }

// DeadlinesInsertOpts are how the periodic job enqueues a run: in the maintenance queue,
// at most one per UTC day, so several processes (and a change of River's leader) run it
// once. A rerun anyway sends nothing twice: sent reminders are recorded.
func DeadlinesInsertOpts() *river.InsertOpts {
	return &river.InsertOpts{Queue: RetentionQueue, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByPeriod: 24 * time.Hour}}
}

func deadlinesJob() *river.PeriodicJob {
	return river.NewPeriodicJob(DeadlinesSchedule(), func() (river.JobArgs, *river.InsertOpts) {
		return DeadlinesArgs{}, DeadlinesInsertOpts()
	}, &river.PeriodicJobOpts{ID: DeadlinesJobID})
}

type deadlinesWorker struct {
	river.WorkerDefaults[DeadlinesArgs]
	s *Service
}

// Work enqueues the reminders due today, for every tenant.
func (w *deadlinesWorker) Work(ctx context.Context, job *river.Job[DeadlinesArgs]) error {
	ctx = logctx.With(ctx, slog.String("job", job.Kind), slog.Int64("job_id", job.ID), slog.Int("attempt", job.Attempt))
	ctx, span := otel.Tracer("github.com/unionportal/unionportal/dispatch").Start(ctx, "job "+job.Kind)
	defer span.End()
	r, err := w.s.wf.RemindAll(ctx)
	w.s.opts.Logger.InfoContext(ctx, "deadline reminders", "tenants", r.Tenants, "reminders", r.Reminders)
	return err
}

// ReminderArgs is one deadline reminder to one person.
type ReminderArgs struct {
	TenantID    string `json:"tenant_id"`
	UserID      string `json:"user_id"`
	SessionID   string `json:"session_id"`
	SessionName string `json:"session_name"`
	Deadline    string `json:"deadline"`
	DaysLeft    int    `json:"days_left"`
}

// Kind names the job for River.
func (ReminderArgs) Kind() string { return "cfa_reminder" }

// InsertOpts puts reminders with the other notices (NoticeQueue).
func (ReminderArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: NoticeQueue} }

// RemindDeadline enqueues, in the transaction ctx carries, the reminder to one person.
func (s *Service) RemindDeadline(ctx context.Context, tenantID, userID string, session workflow.CFASession, daysLeft int) error {
	tx, ok := s.db.SQLTx(ctx)
	if !ok {
		return errors.New("dispatch: RemindDeadline outside a transaction")
	}
	_, err := s.client.InsertTx(ctx, tx, ReminderArgs{TenantID: tenantID, UserID: userID, SessionID: session.ID,
		SessionName: session.Name, Deadline: session.Deadline, DaysLeft: daysLeft}, nil)
	return err
}

type reminderWorker struct {
	river.WorkerDefaults[ReminderArgs]
	s *Service
}

// Work e-mails one reminder: the session, the deadline and a link to the portal; never
// a case, a title or a text. A person who left the tenant since is not told.
func (w *reminderWorker) Work(ctx context.Context, job *river.Job[ReminderArgs]) error {
	s, n := w.s, job.Args
	ctx = logctx.With(ctx, slog.String("job", job.Kind), slog.Int64("job_id", job.ID), slog.String("tenant_id", n.TenantID))
	st, err := s.wf.SettingsFor(ctx, n.TenantID)
	if err != nil {
		return err
	}
	if st.Dispatch.From.Address == "" {
		return nil // the tenant has no sender address yet: nothing can be sent
	}
	to, err := auth.EntitledEmails(ctx, s.db, auth.Entitlement{TenantID: n.TenantID, Perm: auth.PermTenantRead, Users: []string{n.UserID}})
	if err != nil || len(to) == 0 {
		return err
	}
	when := "today"
	if n.DaysLeft == 1 {
		when = "in 1 day"
	} else if n.DaysLeft > 1 {
		when = fmt.Sprintf("in %d days", n.DaysLeft)
	}
	return s.sendNotice(ctx, notice{from: st.Dispatch.From, what: "reminder", idPrefix: "cfa-reminder", jobID: job.ID,
		subject: fmt.Sprintf("unionportal: the CFA information deadline for the %s is %s", oneLine(n.SessionName), when),
		body: fmt.Sprintf(
			"Information for the %s of the Committee on Freedom of Association must reach the International Labour Office by %s (%s, UTC).\n\n"+
				"Drafts you edit or review, or requests for further information from the ILO, are still open. See what is due in the portal:\n%s\n\n"+
				"This message was sent by unionportal; it does not repeat the content of any submission.\n",
			oneLine(n.SessionName), n.Deadline, when, strings.TrimRight(s.opts.BaseURL.String(), "/")+"/")}, to[:1])
}
