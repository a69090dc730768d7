package dispatch_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/alexedwards/argon2id"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertest"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/portal"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

// TestEnqueueIsTransactional: the notification a submit causes is inserted in the
// transaction of the submit, and vanishes with it when that transaction rolls back
// (River's rivertest helpers, on both databases).
func TestEnqueueIsTransactional(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		if err := dispatch.MigrateQueue(ctx, db); err != nil {
			t.Fatal(err)
		}
		store, err := storage.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		s, err := portal.New(ctx, db, store, portal.Options{Keys: keys.NewService(db, keys.NewMaster()),
			Auth:     auth.Options{SecretKey: []byte("0123456789abcdef0123456789abcdef"), PasswordParams: &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}},
			Dispatch: dispatch.Options{Sender: dispatch.Outbox{Dir: t.TempDir()}}})
		if err != nil {
			t.Fatal(err)
		}
		editor, submission := seed(t, s)
		wantJob := dispatch.NotifyArgs{TenantID: editor.Tenant.ID, SubmissionID: submission, State: workflow.Submitted}
		inTx := func(fn func(tx *sql.Tx)) {
			t.Helper()
			rollback := errors.New("roll back")
			err := db.WithTx(ctx, func(ctx context.Context) error {
				if _, err := s.Workflow.Transition(ctx, editor, submission, workflow.ActionSubmit, ""); err != nil {
					return err
				}
				tx, _ := db.SQLTx(ctx)
				fn(tx)
				return rollback
			})
			if !errors.Is(err, rollback) {
				t.Fatal(err)
			}
		}
		opts := &rivertest.RequireInsertedOpts{}
		inTx(func(tx *sql.Tx) {
			var job *dispatch.NotifyArgs
			if db.Dialect() == database.Postgres {
				job = rivertest.RequireInsertedTx[*riverdatabasesql.Driver](ctx, t, tx, &wantJob, opts).Args
			} else {
				job = rivertest.RequireInsertedTx[*riversqlite.Driver](ctx, t, tx, &wantJob, opts).Args
			}
			if !job.Reviewers || job.Authors || job.Notice != "was submitted for review" {
				t.Errorf("the job says %+v; the state table says reviewers are told it was submitted for review", job)
			}
		})
		// Rolled back: no job, no state change.
		tx, err := db.SQL().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if db.Dialect() == database.Postgres {
			rivertest.RequireNotInsertedTx[*riverdatabasesql.Driver](ctx, t, tx, &wantJob, nil)
		} else {
			rivertest.RequireNotInsertedTx[*riversqlite.Driver](ctx, t, tx, &wantJob, nil)
		}
	})
}

// seed makes a tenant with an editor and a draft, and returns the editor's access and
// the draft's id.
func seed(t *testing.T, s *portal.Services) (*auth.TenantAccess, string) {
	t.Helper()
	ctx := context.Background()
	platform := &auth.Principal{User: auth.User{IsSuperadmin: true, Active: true}}
	if _, err := s.Auth.CreateTenant(ctx, platform, "alpha", "Alpha"); err != nil {
		t.Fatal(err)
	}
	admin, err := s.Auth.ResolveTenant(ctx, platform, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	org, err := s.Auth.CreateOrganization(ctx, admin, auth.OrganizationInput{Name: "Union", Country: "KG", Kind: auth.KindAffiliate})
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Auth.CreateUser(ctx, admin, auth.UserInput{Email: "editor@alpha.test", Name: "E", Password: "a long enough passphrase 7",
		OrganizationID: org.ID, Roles: []string{auth.RoleEditor, auth.RoleReviewer}})
	if err != nil {
		t.Fatal(err)
	}
	editor, err := s.Auth.ResolveTenant(ctx, &auth.Principal{User: auth.User{ID: m.ID, Email: m.Email, Active: true}}, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	num, country, title := "3386", "KG", "Kyrgyzstan"
	c, err := s.Workflow.CreateCase(ctx, editor, workflow.CaseInput{Number: &num, Country: &country, Title: &title})
	if err != nil {
		t.Fatal(err)
	}
	kind, stitle, body, lang := workflow.KindFollowUp, "Update", "Text.", "en"
	sub, err := s.Workflow.CreateSubmission(ctx, editor, workflow.SubmissionInput{CaseID: &c.ID, Kind: &kind, Title: &stitle, Body: &body, Language: &lang})
	if err != nil {
		t.Fatal(err)
	}
	return editor, sub.ID
}
