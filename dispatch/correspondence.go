package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/logctx"
	"github.com/unionportal/unionportal/workflow"
)

// The ILO's correspondence (ADR 0036): the dispatch records answer which dispatch a
// message replies to, and the tenant's reviewers are told of each imported item,
// without its content.

var _ workflow.CorrespondenceHooks = (*Service)(nil)

// Answered returns, for the Message-IDs given (with angle brackets), the tenant's
// dispatches that sent them.
func (s *Service) Answered(ctx context.Context, tenantID string, messageIDs []string) (map[string]Dispatch, error) {
	out := map[string]Dispatch{}
	if len(messageIDs) == 0 {
		return out, nil
	}
	var ds []Dispatch
	if err := s.db.Conn(ctx).Where("tenant_id = ? AND message_id IN ?", tenantID, messageIDs).Find(&ds).Error; err != nil {
		return nil, err
	}
	for _, d := range ds {
		out[d.MessageID] = d
	}
	return out, nil
}

// ThreadEntry is one entry of a case's correspondence thread: a letter the portal
// dispatched or a message the ILO sent, in time order.
type ThreadEntry struct {
	Type           string                       `json:"type" enum:"thread_entry_type" doc:"dispatch: a letter the portal sent; correspondence: a message imported from the tenant's mailbox"`
	At             time.Time                    `json:"at" doc:"When the letter was sent (or queued), or when the message was imported"`
	Dispatch       *Dispatch                    `json:"dispatch,omitempty"`
	Correspondence *workflow.CorrespondenceItem `json:"correspondence,omitempty"`
}

// Thread is a case's correspondence with the ILO as the caller may see it: the
// dispatches of the case's submissions they may see and the imported messages,
// interleaved, oldest first.
func (s *Service) Thread(ctx context.Context, a *auth.TenantAccess, caseID string) ([]ThreadEntry, error) {
	items, err := s.wf.CaseCorrespondence(ctx, a, caseID)
	if err != nil {
		return nil, err
	}
	subs, err := s.wf.CaseSubmissionIDs(ctx, a, caseID)
	if err != nil {
		return nil, err
	}
	var ds []Dispatch
	if len(subs) > 0 {
		if err := s.db.Conn(ctx).Where("tenant_id = ? AND submission_id IN ?", a.Tenant.ID, subs).Order("created_at, id").Limit(1000).Find(&ds).Error; err != nil {
			return nil, err
		}
	}
	out := make([]ThreadEntry, 0, len(items)+len(ds))
	for i := range ds {
		d := &ds[i]
		d.Deliveries = []Delivery{}
		at := d.CreatedAt
		if d.SentAt != nil {
			at = *d.SentAt
		}
		out = append(out, ThreadEntry{Type: "dispatch", At: at, Dispatch: d})
	}
	for i := range items {
		out = append(out, ThreadEntry{Type: "correspondence", At: items[i].ReceivedAt, Correspondence: &items[i]})
	}
	slices.SortStableFunc(out, func(x, y ThreadEntry) int { return x.At.Compare(y.At) })
	return out, nil
}

// CorrespondenceArgs tells the tenant's reviewers that a message from the ILO was
// imported into a case.
type CorrespondenceArgs struct {
	TenantID   string `json:"tenant_id"`
	ItemID     string `json:"item_id"`
	CaseNumber string `json:"case_number"`
	ItemKind   string `json:"kind"`
	Warning    bool   `json:"warning"`
}

// Kind names the job for River.
func (CorrespondenceArgs) Kind() string { return "correspondence_notice" }

// InsertOpts puts these notices with the others (NoticeQueue).
func (CorrespondenceArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: NoticeQueue} }

// CorrespondenceImported enqueues the notice, in the import's transaction.
func (s *Service) CorrespondenceImported(ctx context.Context, it *workflow.CorrespondenceItem, caseNumber string) error {
	tx, ok := s.db.SQLTx(ctx)
	if !ok {
		return errors.New("dispatch: CorrespondenceImported outside a transaction")
	}
	_, err := s.client.InsertTx(ctx, tx, CorrespondenceArgs{TenantID: it.TenantID, ItemID: it.ID, CaseNumber: caseNumber,
		ItemKind: it.Kind, Warning: it.SenderWarning}, nil)
	return err
}

type correspondenceWorker struct {
	river.WorkerDefaults[CorrespondenceArgs]
	s *Service
}

var kindWords = map[string]string{
	workflow.KindAcknowledgement:       "an acknowledgement of receipt",
	workflow.KindRequestForInformation: "a request for further information",
	workflow.KindGovernmentObservation: "the government's observations",
	workflow.KindCommitteeReport:       "a report of the Committee",
}

// Work e-mails each reviewer: which case, what kind of message, and whether its sender
// could not be authenticated; never its subject, text or files.
func (w *correspondenceWorker) Work(ctx context.Context, job *river.Job[CorrespondenceArgs]) error {
	s, n := w.s, job.Args
	ctx = logctx.With(ctx, slog.String("job", job.Kind), slog.Int64("job_id", job.ID), slog.String("tenant_id", n.TenantID))
	st, err := s.wf.SettingsFor(ctx, n.TenantID)
	if err != nil {
		return err
	}
	if st.Dispatch.From.Address == "" {
		return nil
	}
	to, err := auth.EntitledEmails(ctx, s.db, auth.Entitlement{TenantID: n.TenantID, Perm: auth.PermSubmissionReview})
	if err != nil {
		return err
	}
	what := kindWords[n.ItemKind]
	if what == "" {
		what = "a message"
	}
	warning := ""
	if n.Warning {
		warning = "\nWARNING: the message claims to come from the ILO, but its sender could not be authenticated. Check it before you act on it.\n"
	}
	link := strings.TrimRight(s.opts.BaseURL.String(), "/") + "/"
	return s.sendNotice(ctx, notice{from: st.Dispatch.From, what: "correspondence notice", idPrefix: "correspondence", jobID: job.ID,
		subject: fmt.Sprintf("unionportal: new ILO correspondence on Case %s", oneLine(n.CaseNumber)),
		body: fmt.Sprintf("The portal imported %s into Case %s.\n%s\nRead it in the portal:\n%s\n\nThis message was sent by unionportal; it does not repeat the correspondence's content.\n",
			what, oneLine(n.CaseNumber), warning, link)}, to)
}
