package dispatch_test

import (
	"context"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/portal"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

// TestRetentionSchedule: the retention job runs every day at 03:00 UTC.
func TestRetentionSchedule(t *testing.T) {
	sched := dispatch.RetentionSchedule()
	for _, tt := range []struct{ now, next string }{
		{"2026-03-01T00:00:00Z", "2026-03-01T03:00:00Z"},
		{"2026-03-01T02:59:59Z", "2026-03-01T03:00:00Z"},
		{"2026-03-01T03:00:00Z", "2026-03-02T03:00:00Z"},
		{"2026-12-31T23:00:00Z", "2027-01-01T03:00:00Z"},
		{"2026-03-01T05:00:00+04:00", "2026-03-01T03:00:00Z"}, // 01:00 UTC
	} {
		now, _ := time.Parse(time.RFC3339, tt.now)
		want, _ := time.Parse(time.RFC3339, tt.next)
		if got := sched.Next(now); !got.Equal(want) {
			t.Errorf("after %s: %s, want %s", tt.now, got, want)
		}
	}
}

// TestRetentionJob: the queue client of every process has the daily retention job
// (River's leader enqueues it), and the job applies every tenant's policy with the
// portal's clock.
func TestRetentionJob(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		if err := dispatch.MigrateQueue(ctx, db); err != nil {
			t.Fatal(err)
		}
		store, err := storage.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		clock := func() time.Time { return now }
		s, err := portal.New(ctx, db, store, portal.Options{Keys: keys.NewService(db, keys.NewMaster()), Now: clock,
			Auth:     auth.Options{SecretKey: []byte("0123456789abcdef0123456789abcdef"), PasswordParams: &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}},
			Dispatch: dispatch.Options{Sender: dispatch.Outbox{Dir: t.TempDir()}, PollInterval: 20 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		editor, draft := seed(t, s)
		platform := &auth.Principal{User: auth.User{IsSuperadmin: true, Active: true}}
		admin, err := s.Auth.ResolveTenant(ctx, platform, "alpha")
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.Workflow.Settings(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		st.Retention.DraftDays = 30
		if _, err := s.Workflow.PutSettings(ctx, admin, *st); err != nil {
			t.Fatal(err)
		}
		// Two months on, the draft was warned (a month ago, by a run of the command).
		now = now.AddDate(0, 0, 30)
		if r, err := s.Workflow.Retain(ctx, admin.Tenant.ID, workflow.RetentionRun{By: "command"}); err != nil || r.Warned != 1 {
			t.Fatalf("warning: %+v %v", r, err)
		}
		now = now.AddDate(0, 0, 30)

		// The job: enqueued as the periodic job does, once a day whoever enqueues it,
		// and worked by the queue client.
		for i, wantSkipped := range []bool{false, true} {
			res, err := s.Dispatch.Queue().Insert(ctx, dispatch.RetentionArgs{}, dispatch.RetentionInsertOpts())
			if err != nil {
				t.Fatal(err)
			}
			if res.UniqueSkippedAsDuplicate != wantSkipped || res.Job.Queue != dispatch.RetentionQueue {
				t.Fatalf("insert %d: skipped %v in queue %s", i+1, res.UniqueSkippedAsDuplicate, res.Job.Queue)
			}
		}
		runCtx, stop := context.WithCancel(ctx)
		defer stop()
		if err := s.Dispatch.Start(runCtx); err != nil {
			t.Fatal(err)
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			s.Dispatch.Stop(stopCtx)
		}()
		// The run's audit event comes last.
		deadline := time.Now().Add(30 * time.Second)
		for {
			var runs int64
			if err := db.Conn(ctx).Table("events").Where("action = 'retention.applied' AND details LIKE ?", `%"by":"job"%`).Count(&runs).Error; err != nil {
				t.Fatal(err)
			}
			if runs == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the retention job did not run within 30 s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := s.Workflow.Submission(ctx, editor, draft); apperr.KindOf(err) != apperr.KindNotFound {
			t.Errorf("the stale draft after the job: %v", err)
		}

		// Every process's client has the periodic job.
		if !s.Dispatch.Queue().PeriodicJobs().RemoveByID(dispatch.RetentionJobID) {
			t.Error("the retention job is not among the queue client's periodic jobs")
		}
	})
}
