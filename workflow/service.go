package workflow

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/storage"
)

// Entered is what the workflow tells its listener when a submission enters a state, in
// the transaction of the change: what the state table says entering it causes.
type Entered struct {
	Submission Submission
	From       State
	// Dispatch: the submission is to be sent now, as Snapshot (the approval snapshot
	// of its revision) says.
	Dispatch bool
	Snapshot *ApprovalSnapshot
	// Notify: who is to be told that the submission Notice ("was rejected").
	Notify Audience
	Notice string
}

// Listener acts on submissions entering states, in the transaction that moved them:
// the dispatch package enqueues the dispatch job and the notifications, so that they
// exist if and only if the state change committed. The workflow never calls the
// dispatch package otherwise; calls go one way.
type Listener interface {
	Entered(ctx context.Context, e Entered) error
}

// Options configure a Service.
type Options struct {
	Logger *slog.Logger
	// Storage keeps attachments; Limits bound them; Scanner, when set, checks each
	// upload for malware before it is accepted.
	Storage storage.Store
	Limits  Limits
	Scanner Scanner
	// Keys seal texts and files at rest (required).
	Keys *keys.Service
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service is the workflow domain.
type Service struct {
	db             *database.DB
	opts           Options
	files          *keys.Files
	listeners      []Listener
	eventListeners []EventListener
	retentionHooks RetentionHooks
	deadlineHooks  DeadlineHooks
	// correspondenceHooks are told of imported correspondence (ADR 0036).
	correspondenceHooks CorrespondenceHooks
	// uploadLocks serialise the requests of one resumable upload (resumable.go).
	uploadLocks uploadLocks
}

// Subscribe adds a listener of submissions entering states (the dispatch service). It
// is part of the wiring, before the service is used.
func (s *Service) Subscribe(l Listener) { s.listeners = append(s.listeners, l) }

// NewService builds the workflow service.
func NewService(db *database.DB, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Keys == nil {
		panic("workflow: Options.Keys is required")
	}
	return &Service{db: db, opts: opts, files: opts.Keys.Files(opts.Storage), uploadLocks: uploadLocks{held: map[string]chan struct{}{}}}
}

// now is the clock, to the microsecond that PostgreSQL keeps: an answer given when a
// row is written is the answer later reads give (and so is its ETag).
func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

// event appends an audit event to the tenant's chain in the transaction carried by ctx.
func (s *Service) event(ctx context.Context, a *auth.TenantAccess, action, objectType, objectID string, details map[string]any) error {
	actor := a.Actor()
	_, err := audit.Record(ctx, s.db, audit.Entry{TenantID: a.Tenant.ID, ActorID: actor.UserID, IP: actor.IP,
		Action: action, ObjectType: objectType, ObjectID: objectID, Details: details, At: s.now()})
	return err
}

// forUpdate locks the selected rows until the transaction ends (PostgreSQL; SQLite
// transactions hold the whole database already).
func (s *Service) forUpdate(q *gorm.DB) *gorm.DB {
	if s.db.Dialect() == database.Postgres {
		return q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return q
}

func notFound(err error, what string) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return apperr.NotFound(what)
	}
	return err
}

// submissionScope is what the caller may see of submissions: the whole tenant for
// reviewers, signatories and admins, its own organization for editors and viewers.
func submissionScope(a *auth.TenantAccess) (auth.Scope, error) {
	sc, err := a.ScopeFor(auth.PermSubmissionReadAll, auth.PermSubmissionReadOwn)
	if err != nil {
		return sc, apperr.NotFound("submission")
	}
	return sc, nil
}

// load finds a submission the caller may see; others answer 404. lock takes the row
// lock for a change.
func (s *Service) load(ctx context.Context, a *auth.TenantAccess, id string, lock bool) (*Submission, error) {
	sc, err := submissionScope(a)
	if err != nil {
		return nil, err
	}
	if !database.ValidID(id) {
		return nil, apperr.NotFound("submission")
	}
	q := sc.Apply(s.db.Conn(ctx), "submissions", true).Where("id = ?", id)
	if lock {
		q = s.forUpdate(q)
	}
	var sub Submission
	if err := q.First(&sub).Error; err != nil {
		return nil, notFound(err, "submission")
	}
	return &sub, nil
}

// newActor describes the caller for the workflow table, with the permissions the
// table names decided once, not once per row and rule.
func newActor(a *auth.TenantAccess) actor {
	perms := map[auth.Permission]bool{auth.PermCommentCreate: a.Can(auth.PermCommentCreate)}
	for _, r := range table {
		if _, done := perms[r.Permission]; !done {
			perms[r.Permission] = a.Can(r.Permission)
		}
	}
	who := actor{can: func(p auth.Permission) bool { return perms[p] }}
	if a.Membership != nil {
		who.organizationID = a.Membership.OrganizationID
	}
	return who
}

// actorFor gathers what the workflow table needs to know about the caller and sub.
func (s *Service) actorFor(ctx context.Context, a *auth.TenantAccess, sub *Submission) (actor, error) {
	who := newActor(a)
	var n int64
	uid := a.Principal.User.ID
	if err := s.db.Conn(ctx).Model(&contributor{}).Where("submission_id = ? AND user_id = ?", sub.ID, uid).Count(&n).Error; err != nil {
		return who, err
	}
	who.contributor = n > 0
	if err := s.db.Conn(ctx).Model(&Approval{}).Where("submission_id = ? AND revision = ? AND reviewer_id = ?", sub.ID, sub.Revision, uid).Count(&n).Error; err != nil {
		return who, err
	}
	who.approved = n > 0
	return who, nil
}
