// Package portal assembles the portal's domain services (auth, workflow, dispatch,
// webhook, inbound) on one database and one store, wired once: serve, worker, the tests and the benchmarks
// all build them here. It sits between api and dispatch in the layering.
package portal

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/riverqueue/river"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/inbound"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/webhook"
	"github.com/unionportal/unionportal/workflow"
)

// Options configure the services. Logger and Now, when set, are given to every
// service whose own options leave them unset.
type Options struct {
	// Keys is the installation's key hierarchy (required): texts and files are stored
	// encrypted under it.
	Keys     *keys.Service
	Logger   *slog.Logger
	Now      func() time.Time
	Auth     auth.Options
	Workflow workflow.Options
	Dispatch dispatch.Options
	Webhook  webhook.Options
	Inbound  inbound.Options
}

// Services are the wired domain services.
type Services struct {
	Auth     *auth.Service
	Workflow *workflow.Service
	Dispatch *dispatch.Service
	Webhooks *webhook.Service
	// Inbound reads the tenants' mailboxes for the ILO's answers (ADR 0036).
	Inbound *inbound.Service
	// Metrics holds the dispatch metrics, for /metrics.
	Metrics *prometheus.Registry

	db    *database.DB
	store storage.Store
	keys  *keys.Service
}

// New builds the services on db (migrated, River's queue included) and store: the
// workflow's submissions entering states reach the dispatch service, which reads what
// it sends through the workflow's ports; the events of the tenants' feeds reach the
// webhook service, whose deliveries run on the dispatch service's queue client. The
// workers are not started.
func New(ctx context.Context, db *database.DB, store storage.Store, opts Options) (*Services, error) {
	if opts.Auth.Logger == nil {
		opts.Auth.Logger = opts.Logger
	}
	if opts.Auth.Now == nil {
		opts.Auth.Now = opts.Now
	}
	if opts.Workflow.Logger == nil {
		opts.Workflow.Logger = opts.Logger
	}
	if opts.Workflow.Now == nil {
		opts.Workflow.Now = opts.Now
	}
	if opts.Dispatch.Now == nil {
		opts.Dispatch.Now = opts.Now
	}
	if opts.Dispatch.Logger == nil {
		opts.Dispatch.Logger = opts.Logger
	}
	if opts.Keys == nil {
		return nil, errors.New("portal: no key service (the master key) was given")
	}
	opts.Workflow.Keys = opts.Keys
	if opts.Auth.Keys == nil {
		opts.Auth.Keys = opts.Keys
	}
	// Storage operations are timed for /metrics.
	timed := storage.Instrument(store)
	store = timed.AsStore()
	opts.Workflow.Storage = store
	a, err := auth.NewService(ctx, db, opts.Auth)
	if err != nil {
		return nil, err
	}
	if opts.Webhook.Logger == nil {
		opts.Webhook.Logger = opts.Logger
	}
	opts.Webhook.Keys = opts.Keys
	wf := workflow.NewService(db, opts.Workflow)
	hooks := webhook.NewService(db, wf, opts.Webhook)
	opts.Dispatch.Jobs = append(opts.Dispatch.Jobs, dispatch.Jobs{Register: hooks.Register,
		Queues: map[string]river.QueueConfig{webhook.QueueName: hooks.QueueConfig()}})
	if opts.Inbound.Logger == nil {
		opts.Inbound.Logger = opts.Logger
	}
	if opts.Inbound.Now == nil {
		opts.Inbound.Now = opts.Now
	}
	opts.Inbound.Keys = opts.Keys
	mail := inbound.NewService(db, wf, opts.Inbound)
	opts.Dispatch.Jobs = append(opts.Dispatch.Jobs, dispatch.Jobs{Register: mail.Register,
		Queues: map[string]river.QueueConfig{inbound.QueueName: mail.QueueConfig()}, Periodic: mail.PeriodicJobs()})
	d, err := dispatch.NewService(db, opts.Keys.Files(store), wf, opts.Dispatch)
	if err != nil {
		return nil, err
	}
	hooks.UseQueue(d.Queue())
	mail.UseDispatch(d)
	wf.UseCorrespondenceHooks(d)
	wf.Subscribe(d)
	wf.UseRetentionHooks(d)
	wf.UseDeadlineHooks(d)
	wf.SubscribeEvents(hooks)
	reg := prometheus.NewRegistry()
	reg.MustRegister(d.Collectors()...)
	reg.MustRegister(timed.Collector(), collectors.NewDBStatsCollector(db.SQL(), "unionportal"))
	return &Services{Auth: a, Workflow: wf, Dispatch: d, Webhooks: hooks, Inbound: mail, Metrics: reg, db: db, store: store, keys: opts.Keys}, nil
}
