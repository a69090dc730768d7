package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/riverqueue/river"
	"github.com/wneessen/go-mail"
	"go.opentelemetry.io/otel"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/logctx"
	"github.com/unionportal/unionportal/workflow"
)

// NotifyArgs is a notification job: tell the people concerned that a submission
// entered a state.
type NotifyArgs struct {
	TenantID     string         `json:"tenant_id"`
	SubmissionID string         `json:"submission_id"`
	State        workflow.State `json:"state"`
	// Who is told, and what: the workflow's state table decides.
	Authors   bool   `json:"authors"`
	Reviewers bool   `json:"reviewers"`
	Notice    string `json:"notice"`
}

// Kind names the job for River.
func (NotifyArgs) Kind() string { return "notify" }

// InsertOpts puts notices in their own queue: a burst of them never keeps a letter to
// the ILO waiting for a worker (issue 17).
func (NotifyArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: NoticeQueue} }

// notifyWorker sends one notification. Its Message-ID is derived from the job, so a
// retried job repeats the same e-mail.
type notifyWorker struct {
	river.WorkerDefaults[NotifyArgs]
	s *Service
}

// Work e-mails the authors and/or the tenant's reviewers. The e-mail names the case
// and the state but not the submission's title or text: notifications leave the portal,
// drafts should not.
func (w *notifyWorker) Work(ctx context.Context, job *river.Job[NotifyArgs]) error {
	s := w.s
	ctx = logctx.With(ctx, slog.String("job", job.Kind), slog.Int64("job_id", job.ID), slog.Int("attempt", job.Attempt),
		slog.String("tenant_id", job.Args.TenantID))
	ctx, span := otel.Tracer("github.com/unionportal/unionportal/dispatch").Start(ctx, "job "+job.Kind)
	defer span.End()
	n := job.Args
	if n.Notice == "" { // a job enqueued before jobs carried their notice
		r := workflow.StateRuleOf(n.State)
		n.Authors, n.Reviewers, n.Notice = r.Notify.Authors, r.Notify.Reviewers, r.Notice
	}
	if n.Notice == "" {
		return nil
	}
	in, err := s.wf.NoticeInputFor(ctx, n.TenantID, n.SubmissionID)
	if apperr.KindOf(err) == apperr.KindNotFound {
		return river.JobCancel(err) // deleted since
	}
	if err != nil {
		return err
	}
	sub, c := in.Submission, in.Case
	if in.Sender.Address == "" {
		return nil // the tenant has no sender address yet: nothing can be sent
	}
	// Only active members whose roles entitle them now are told: authors who may still
	// see the submission, and the tenant's reviewers.
	var to []string
	if n.Authors {
		emails, err := auth.EntitledEmails(ctx, s.db, auth.Entitlement{TenantID: sub.TenantID, Perm: auth.PermSubmissionReadAll,
			OrgPerm: auth.PermSubmissionReadOwn, Organization: sub.OrganizationID, Users: in.Authors})
		if err != nil {
			return err
		}
		to = append(to, emails...)
	}
	if n.Reviewers {
		emails, err := auth.EntitledEmails(ctx, s.db, auth.Entitlement{TenantID: sub.TenantID, Perm: auth.PermSubmissionReview})
		if err != nil {
			return err
		}
		to = append(to, emails...)
	}
	if len(to) == 0 {
		return nil
	}
	case3386 := "Case " + c.Number
	if c.Number == "" {
		case3386 = "a new complaint"
	}
	// The API resource, behind the portal's login, until the web UI serves a page for it.
	link := strings.TrimRight(s.opts.BaseURL.String(), "/") + "/api/v1/tenants/" + in.TenantSlug + "/submissions/" + sub.ID
	return s.sendNotice(ctx, notice{from: in.Sender, what: "notification", idPrefix: "notify", jobID: job.ID,
		subject: fmt.Sprintf("unionportal: a submission on %s %s", case3386, n.Notice),
		body: fmt.Sprintf("A submission on %s (%s) %s.\n\nOpen it in the portal:\n%s\n\nThis message was sent by unionportal; it does not repeat the submission's content.\n",
			case3386, CountryName(c.Country), n.Notice, link)}, to)
}

// notice is an e-mail from the tenant's sender to some of its members that says
// something happened, never what a submission or a message says.
type notice struct {
	from          workflow.Mailbox
	subject, body string
	// idPrefix and jobID name each message (idPrefix-jobID-i@host): the same on a
	// retry, so a retried job repeats the same e-mails.
	idPrefix string
	jobID    int64
	// what names the notice in the log.
	what string
}

// sendNotice e-mails the notice to each address, one message per person: recipients do
// not learn each other's addresses. A temporary failure fails the job (to be retried);
// a refused or unparsable address is skipped (logged, without the address).
func (s *Service) sendNotice(ctx context.Context, n notice, to []string) error {
	for i, addr := range dedupe(to) {
		msg := mail.NewMsg()
		if err := msg.FromFormat(oneLine(n.from.Name), n.from.Address); err != nil {
			return river.JobCancel(err)
		}
		if err := msg.To(addr); err != nil {
			continue // an address that no longer parses: skip that person
		}
		msg.Subject(n.subject)
		msg.SetMessageIDWithValue(fmt.Sprintf("%s-%d-%d@%s", n.idPrefix, n.jobID, i, s.opts.BaseURL.Hostname()))
		msg.SetBodyString(mail.TypeTextPlain, n.body)
		if err := s.opts.Sender.Send(ctx, msg); err != nil {
			if errors.Is(err, ErrTemporary) {
				return err
			}
			s.opts.Logger.WarnContext(ctx, n.what+" refused", "error", err)
		}
	}
	return nil
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
