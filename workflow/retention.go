package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/unionportal/unionportal/auth"
)

// Retention (ADR 0030) deletes what a tenant's policy (RetentionSettings) says is no
// longer to be kept, and only that:
//
//   - a draft nobody changed for draft_days is deleted, with its evidence, its comments
//     and its data key; its editors are told RetentionWarningDays before, once per idle
//     period, and it is never deleted sooner than that after the warning;
//   - a withdrawn or rejected submission is deleted closed_days after its last change,
//     with its revisions, comments, approvals, evidence and data key;
//   - a dispatched submission's texts, comments and evidence are crypto-shredded
//     dispatched_years after its last change: its data key is deleted, its titles and
//     bodies blanked, its files deleted; its row (case, kind, organization, dates), its
//     revisions' numbers and evidence sizes and hashes, its approvals and their
//     snapshot, the dispatch records (date, recipients, Message-ID, hashes: the dispatch
//     package's, through RetentionHooks) and the audit trail stay.
//
// A submission's last change is the latest of its row's updated_at (edits, state
// changes), its evidence uploads and its comments. Nothing in another state is touched.
// Every act is its own transaction, checked again under the row's lock, and recorded in
// the audit trail without titles or texts; each run that did something adds one event
// with its counts.

// RetentionAction is what retention does to a submission.
type RetentionAction string

// The retention actions.
const (
	// RetentionWarn: the draft's editors are told it will be deleted.
	RetentionWarn RetentionAction = "warn"
	// RetentionDelete: the submission is deleted with everything of it.
	RetentionDelete RetentionAction = "delete"
	// RetentionShred: the dispatched submission's texts and evidence are shredded.
	RetentionShred RetentionAction = "shred"
)

// retentionBatch bounds how many submissions of each kind one run takes, so that a
// first run on a long history ends; the next run goes on (RetentionReport.More).
const retentionBatch = 1000

// RetentionHooks is what retention needs of the package that owns the dispatch records
// and the notifications (the dispatch package, wired by portal): the workflow never
// reads or writes another package's tables.
type RetentionHooks interface {
	// WarnDeletion tells the editors of the draft sub, without its content, that it will
	// be deleted at deleteAt, having had no change for idleDays; in the transaction ctx
	// carries.
	WarnDeletion(ctx context.Context, sub Submission, idleDays int, deleteAt time.Time) error
	// KeepSentRecord makes sure that what the submission's dispatches sent (sizes and
	// hashes) is recorded in the clear before its data key, under which their manifests
	// are encrypted, is shredded. Idempotent; outside a transaction.
	KeepSentRecord(ctx context.Context, tenantID, submissionID string) error
	// ShredSent marks the submission's dispatches as shredded at at, in the transaction
	// ctx carries, and returns how many there were and the keys of the objects they kept
	// (letters, manifests, cleaned copies of the attachments named), to delete after the
	// commit.
	ShredSent(ctx context.Context, tenantID, submissionID string, attachmentIDs []string, at time.Time) (objects []string, dispatches int, err error)
}

// UseRetentionHooks gives retention the dispatch package's hooks. It is part of the
// wiring, before the service is used; without them retention only lists.
func (s *Service) UseRetentionHooks(h RetentionHooks) { s.retentionHooks = h }

// RetentionRun is one run of retention.
type RetentionRun struct {
	// Now is the run's time; zero means the service's clock.
	Now time.Time
	// DryRun lists what is due and changes nothing.
	DryRun bool
	// By says what started the run, for the audit trail ("job", "command").
	By string
}

// RetentionItem is one submission that retention acts on, or in a dry run would: ids,
// states and ages, never a title or a text.
type RetentionItem struct {
	SubmissionID string          `json:"submission_id"`
	Action       RetentionAction `json:"action"`
	State        State           `json:"state"`
	// LastChange is the submission's last change; IdleDays the whole days since.
	LastChange time.Time `json:"last_change"`
	IdleDays   int       `json:"idle_days"`
	// DeleteAt is, for a warning, when the draft is to be deleted at the earliest.
	DeleteAt *time.Time `json:"delete_at,omitempty"`
	// Files is how many evidence files go with it.
	Files int `json:"files"`
}

// RetentionReport is what a run did, or would do, for one tenant.
type RetentionReport struct {
	TenantID   string            `json:"tenant_id"`
	TenantSlug string            `json:"tenant"`
	Policy     RetentionSettings `json:"policy"`
	DryRun     bool              `json:"dry_run"`
	// Items are the submissions acted on (in a dry run: due), oldest change first
	// within each action.
	Items []RetentionItem `json:"items"`
	// Counts of what was done (zero in a dry run).
	Warned        int `json:"warned"`
	DraftsDeleted int `json:"drafts_deleted"`
	ClosedDeleted int `json:"closed_deleted"`
	Shredded      int `json:"shredded"`
	FilesDeleted  int `json:"files_deleted"`
	// Failed counts the submissions whose act failed (they are retried next run).
	Failed int `json:"failed"`
	// More: more were due than one run takes; the next run goes on.
	More bool `json:"more"`
}

// Count returns how many items of action the report lists.
func (r *RetentionReport) Count(action RetentionAction) int {
	n := 0
	for _, it := range r.Items {
		if it.Action == action {
			n++
		}
	}
	return n
}

// RetainAll runs retention for every tenant, one after the other; a tenant whose run
// fails does not stop the others, and the error names each that failed.
func (s *Service) RetainAll(ctx context.Context, run RetentionRun) ([]*RetentionReport, error) {
	tenants, err := auth.AllTenants(ctx, s.db)
	if err != nil {
		return nil, err
	}
	var reports []*RetentionReport
	var errs []error
	for _, t := range tenants {
		r, err := s.Retain(ctx, t.ID, run)
		if r != nil {
			reports = append(reports, r)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", t.Slug, err))
		}
	}
	return reports, errors.Join(errs...)
}

// Retain runs retention for one tenant: in a dry run it lists what is due; otherwise it
// does it, each submission in a transaction of its own, and returns what it did. An
// error leaves what was done done; what failed is due again at the next run.
func (s *Service) Retain(ctx context.Context, tenantID string, run RetentionRun) (*RetentionReport, error) {
	if run.Now.IsZero() {
		run.Now = s.now()
	}
	run.Now = run.Now.UTC().Truncate(time.Microsecond)
	st, err := s.SettingsFor(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	slug, err := auth.TenantSlug(ctx, s.db, tenantID)
	if err != nil {
		return nil, err
	}
	r := &RetentionReport{TenantID: tenantID, TenantSlug: slug, Policy: st.Retention, DryRun: run.DryRun, Items: []RetentionItem{}}
	p := st.Retention
	if p.Never() {
		return r, nil
	}
	due, more, err := s.dueForRetention(ctx, tenantID, p, run.Now)
	if err != nil {
		return nil, err
	}
	r.More = more
	if run.DryRun {
		for _, c := range due {
			r.Items = append(r.Items, c.item)
		}
		return r, nil
	}
	if len(due) > 0 && s.retentionHooks == nil {
		return r, errors.New("workflow: retention has no hooks to the dispatch package (UseRetentionHooks)")
	}
	var errs []error
	for _, c := range due {
		if ctx.Err() != nil { // the job's deadline: the rest is due again next run
			errs = append(errs, ctx.Err())
			break
		}
		files, done, err := s.act(ctx, tenantID, c, p, run)
		if err != nil {
			r.Failed++
			errs = append(errs, fmt.Errorf("%s of submission %s: %w", c.item.Action, c.item.SubmissionID, err))
			s.opts.Logger.ErrorContext(ctx, "retention failed for a submission; it is due again next run", "tenant_id", tenantID,
				"submission_id", c.item.SubmissionID, "action", c.item.Action, "error", err)
			continue
		}
		if !done {
			continue // changed meanwhile: no longer due
		}
		c.item.Files = files
		r.Items = append(r.Items, c.item)
		switch {
		case c.item.Action == RetentionWarn:
			r.Warned++
		case c.item.Action == RetentionShred:
			r.Shredded++
		case c.item.State == Draft:
			r.DraftsDeleted++
		default:
			r.ClosedDeleted++
		}
		if c.item.Action != RetentionWarn {
			r.FilesDeleted += files
		}
	}
	if len(r.Items) > 0 || r.Failed > 0 {
		// Recorded even when the run was cut short: what it did is done.
		if err := s.retentionEvent(context.WithoutCancel(ctx), tenantID, "retention.applied", "tenant", tenantID, run.Now, map[string]any{
			"by": run.By, "policy": p, "warned": r.Warned, "drafts_deleted": r.DraftsDeleted, "closed_deleted": r.ClosedDeleted,
			"shredded": r.Shredded, "files_deleted": r.FilesDeleted, "failed": r.Failed, "more": r.More}); err != nil {
			errs = append(errs, err)
		}
		s.opts.Logger.InfoContext(ctx, "retention applied", "tenant_id", tenantID, "warned", r.Warned, "drafts_deleted", r.DraftsDeleted,
			"closed_deleted", r.ClosedDeleted, "shredded", r.Shredded, "files_deleted", r.FilesDeleted, "failed", r.Failed)
	}
	return r, errors.Join(errs...)
}

// retentionCandidate is a submission retention may act on, with its last change.
type retentionCandidate struct {
	sub  Submission
	last time.Time
	item RetentionItem
}

// dueForRetention lists what the policy says is due at now, each kind oldest first.
func (s *Service) dueForRetention(ctx context.Context, tenantID string, p RetentionSettings, now time.Time) ([]retentionCandidate, bool, error) {
	var due []retentionCandidate
	more := false
	add := func(states []State, changedBefore time.Time) error {
		cs, m, err := s.retentionCandidates(ctx, tenantID, "", states, changedBefore)
		if err != nil {
			return err
		}
		more = more || m
		for _, c := range cs {
			if item, ok := retentionDue(c.sub, c.last, p, now); ok {
				c.item = item
				due = append(due, c)
			}
		}
		return nil
	}
	if p.DraftDays > 0 {
		if err := add([]State{Draft}, now.AddDate(0, 0, -(p.DraftDays-RetentionWarningDays))); err != nil {
			return nil, false, err
		}
	}
	if p.ClosedDays > 0 {
		if err := add([]State{Withdrawn, Rejected}, now.AddDate(0, 0, -p.ClosedDays)); err != nil {
			return nil, false, err
		}
	}
	if p.DispatchedYears > 0 {
		if err := add([]State{Dispatched}, now.AddDate(-p.DispatchedYears, 0, 0)); err != nil {
			return nil, false, err
		}
	}
	return due, more, nil
}

// retentionDue decides what, if anything, the policy does at now to sub, last changed
// at last. A draft is warned first; it is deleted once it is past draft_days and was
// warned, during this idle period, at least RetentionWarningDays before.
func retentionDue(sub Submission, last time.Time, p RetentionSettings, now time.Time) (RetentionItem, bool) {
	item := RetentionItem{SubmissionID: sub.ID, State: sub.State, LastChange: last.UTC(), IdleDays: int(now.Sub(last) / (24 * time.Hour))}
	if sub.ShreddedAt != nil {
		return item, false
	}
	switch sub.State {
	case Draft:
		if p.DraftDays == 0 || last.After(now.AddDate(0, 0, -(p.DraftDays-RetentionWarningDays))) {
			return item, false
		}
		deleteAt := last.AddDate(0, 0, p.DraftDays)
		warned := sub.RetentionWarnedAt
		if warned == nil || !warned.After(last) {
			// Not told during this idle period: told now, deleted no sooner than a week on.
			if earliest := now.AddDate(0, 0, RetentionWarningDays); deleteAt.Before(earliest) {
				deleteAt = earliest
			}
			item.Action, item.DeleteAt = RetentionWarn, &deleteAt
			return item, true
		}
		if earliest := warned.AddDate(0, 0, RetentionWarningDays); deleteAt.Before(earliest) {
			deleteAt = earliest
		}
		if now.Before(deleteAt) {
			return item, false // told; its time has not come
		}
		item.Action = RetentionDelete
		return item, true
	case Withdrawn, Rejected:
		if p.ClosedDays == 0 || last.After(now.AddDate(0, 0, -p.ClosedDays)) {
			return item, false
		}
		item.Action = RetentionDelete
		return item, true
	case Dispatched:
		if p.DispatchedYears == 0 || last.After(now.AddDate(-p.DispatchedYears, 0, 0)) {
			return item, false
		}
		item.Action = RetentionShred
		return item, true
	}
	return item, false
}

// retentionCandidates lists the tenant's submissions in states whose row last changed
// before changedBefore (or the one submission id, when given, locked), not shredded,
// with their last change: the latest of the row, its evidence and its comments. A row
// changed later cannot be due, so the query narrows on it; evidence and comments are
// read for the few it finds.
func (s *Service) retentionCandidates(ctx context.Context, tenantID, id string, states []State, changedBefore time.Time) ([]retentionCandidate, bool, error) {
	q := s.db.Conn(ctx).Select("id, tenant_id, case_id, organization_id, author_id, kind, state, version, revision, created_at, updated_at, shredded_at, retention_warned_at").
		Where("tenant_id = ? AND state IN ? AND shredded_at IS NULL AND updated_at <= ?", tenantID, states, changedBefore)
	if id != "" {
		q = s.forUpdate(q.Where("id = ?", id))
	} else {
		q = q.Order("updated_at, id").Limit(retentionBatch + 1)
	}
	var subs []Submission
	if err := q.Find(&subs).Error; err != nil {
		return nil, false, err
	}
	more := len(subs) > retentionBatch
	if more {
		subs = subs[:retentionBatch]
	}
	if len(subs) == 0 {
		return nil, more, nil
	}
	ids := make([]string, len(subs))
	last := make(map[string]time.Time, len(subs))
	for i, sub := range subs {
		ids[i], last[sub.ID] = sub.ID, sub.UpdatedAt
	}
	// Scanned as rows rather than MAX(): SQLite returns an aggregate of times as text.
	for _, table := range []string{"attachments", "comments"} {
		rows, err := s.db.Conn(ctx).Table(table).Select("submission_id, created_at").Where("submission_id IN ?", ids).Rows()
		if err != nil {
			return nil, false, err
		}
		for rows.Next() {
			var sid string
			var at time.Time
			if err := rows.Scan(&sid, &at); err != nil {
				rows.Close()
				return nil, false, err
			}
			if at.After(last[sid]) {
				last[sid] = at
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, false, err
		}
	}
	out := make([]retentionCandidate, 0, len(subs))
	for _, sub := range subs {
		out = append(out, retentionCandidate{sub: sub, last: last[sub.ID]})
	}
	slices.SortStableFunc(out, func(a, b retentionCandidate) int { return a.last.Compare(b.last) })
	return out, more, nil
}
