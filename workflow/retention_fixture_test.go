package workflow_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/portal"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

// Fixtures of the retention tests.

// secret is in every title, text, comment and file name of the fixtures: no audit
// event of retention may contain it.
const secret = "WITNESS-4417"

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

const day = 24 * time.Hour

// retentionFixture is a portal with one tenant: an admin, an editor of an affiliate, a
// reviewer of the secretariat and a case, on a clock the test moves.
type retentionFixture struct {
	t                       *testing.T
	db                      *database.DB
	s                       *portal.Services
	store                   storage.Store
	keys                    *keys.Service
	clock                   *testClock
	admin, editor, reviewer *auth.TenantAccess
	caseID                  string
	// outbox is where the portal's e-mails are written.
	outbox string
}

func newRetentionFixture(t *testing.T, db *database.DB) *retentionFixture {
	t.Helper()
	ctx := context.Background()
	if err := dispatch.MigrateQueue(ctx, db); err != nil {
		t.Fatal(err)
	}
	store, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &retentionFixture{t: t, db: db, store: store, keys: keys.NewService(db, keys.NewMaster()),
		clock: &testClock{now: time.Now().UTC().Truncate(time.Microsecond)}, outbox: t.TempDir()}
	f.s, err = portal.New(ctx, db, store, portal.Options{Keys: f.keys, Now: f.clock.Now,
		Auth: auth.Options{SecretKey: []byte("0123456789abcdef0123456789abcdef"),
			PasswordParams: &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}},
		Dispatch: dispatch.Options{Sender: dispatch.Outbox{Dir: f.outbox}, PollInterval: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	platform := &auth.Principal{User: auth.User{IsSuperadmin: true, Active: true}}
	if _, err := f.s.Auth.CreateTenant(ctx, platform, "alpha", "Alpha"); err != nil {
		t.Fatal(err)
	}
	if f.admin, err = f.s.Auth.ResolveTenant(ctx, platform, "alpha"); err != nil {
		t.Fatal(err)
	}
	org := func(name, kind string) string {
		o, err := f.s.Auth.CreateOrganization(ctx, f.admin, auth.OrganizationInput{Name: name, Country: "KG", Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		return o.ID
	}
	affiliate, secretariat := org("Union", auth.KindAffiliate), org("Secretariat", auth.KindSecretariat)
	member := func(email, orgID, role string) *auth.TenantAccess {
		m, err := f.s.Auth.CreateUser(ctx, f.admin, auth.UserInput{Email: email, Name: email, Password: "a long enough passphrase 7",
			OrganizationID: orgID, Roles: []string{role}})
		if err != nil {
			t.Fatal(err)
		}
		a, err := f.s.Auth.ResolveTenant(ctx, &auth.Principal{User: auth.User{ID: m.ID, Email: m.Email, Active: true}}, "alpha")
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	f.editor = member("editor@alpha.test", affiliate, auth.RoleEditor)
	f.reviewer = member("reviewer@alpha.test", secretariat, auth.RoleReviewer)
	num, country, title, complainants := "3386", "KG", "Kyrgyzstan", []string{"Alpha"}
	c, err := f.s.Workflow.CreateCase(ctx, f.reviewer, workflow.CaseInput{Number: &num, Country: &country, Title: &title, Complainants: &complainants})
	if err != nil {
		t.Fatal(err)
	}
	f.caseID = c.ID
	return f
}

// draft creates a draft with a text, a comment and, when withFile, one evidence file.
func (f *retentionFixture) draft(withFile bool) (*workflow.SubmissionView, *workflow.Attachment) {
	f.t.Helper()
	ctx := context.Background()
	kind, title, body, lang := workflow.KindFollowUp, "Update "+secret, "The leader "+secret+" was arrested.", "en"
	v, err := f.s.Workflow.CreateSubmission(ctx, f.editor, workflow.SubmissionInput{CaseID: &f.caseID, Kind: &kind, Title: &title, Body: &body, Language: &lang})
	if err != nil {
		f.t.Fatal(err)
	}
	var att *workflow.Attachment
	if withFile {
		if att, err = f.s.Workflow.Upload(ctx, f.editor, v.ID, "statement of "+secret+".txt", "text/plain", strings.NewReader("Statement of "+secret+"\n")); err != nil {
			f.t.Fatal(err)
		}
	}
	if _, err := f.s.Workflow.AddComment(ctx, f.editor, v.ID, "Remember "+secret, nil); err != nil {
		f.t.Fatal(err)
	}
	return v, att
}

func (f *retentionFixture) transition(a *auth.TenantAccess, id string, action workflow.Action, comment string) {
	f.t.Helper()
	if _, err := f.s.Workflow.Transition(context.Background(), a, id, action, comment); err != nil {
		f.t.Fatalf("%s: %v", action, err)
	}
}

// policy sets the tenant's retention settings, keeping the rest.
func (f *retentionFixture) policy(r workflow.RetentionSettings) {
	f.t.Helper()
	ctx := context.Background()
	st, err := f.s.Workflow.Settings(ctx, f.admin)
	if err != nil {
		f.t.Fatal(err)
	}
	st.Retention = r
	if _, err := f.s.Workflow.PutSettings(ctx, f.admin, *st); err != nil {
		f.t.Fatal(err)
	}
}

func (f *retentionFixture) retain(dryRun bool) *workflow.RetentionReport {
	f.t.Helper()
	r, err := f.s.Workflow.Retain(context.Background(), f.admin.Tenant.ID, workflow.RetentionRun{Now: f.clock.Now(), DryRun: dryRun, By: "test"})
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// gone reports whether the submission no longer exists for the reviewer.
func (f *retentionFixture) gone(id string) bool {
	f.t.Helper()
	_, err := f.s.Workflow.Submission(context.Background(), f.reviewer, id)
	if err != nil && apperr.KindOf(err) != apperr.KindNotFound {
		f.t.Fatal(err)
	}
	return err != nil
}

// objectGone reports whether key is gone from the store.
func (f *retentionFixture) objectGone(key string) bool {
	f.t.Helper()
	_, err := f.store.Stat(context.Background(), key)
	if err != nil && !errors.Is(err, storage.ErrNotExist) {
		f.t.Fatal(err)
	}
	return err != nil
}

// keyShredded reports whether the submission's data key is gone.
func (f *retentionFixture) keyShredded(id string) bool {
	f.t.Helper()
	_, err := f.keys.ExistingSubmissionKey(context.Background(), f.admin.Tenant.ID, id)
	if err != nil && !errors.Is(err, keys.ErrShredded) {
		f.t.Fatal(err)
	}
	return err != nil
}

// warnings lists the notification jobs that warn of a submission's deletion.
func (f *retentionFixture) warnings(id string) []dispatch.NotifyArgs {
	f.t.Helper()
	// River keeps the arguments as jsonb on PostgreSQL, as SQLite's JSONB on SQLite.
	text := "json(args)"
	if f.db.Dialect() == database.Postgres {
		text = "args::text"
	}
	var args []string
	if err := f.db.Conn(context.Background()).Table("river_job").Where("kind = 'notify' AND "+text+" LIKE ?", "%"+id+"%").
		Order("id").Pluck(text, &args).Error; err != nil {
		f.t.Fatal(err)
	}
	var out []dispatch.NotifyArgs
	for _, a := range args {
		var n dispatch.NotifyArgs
		if err := json.Unmarshal([]byte(a), &n); err != nil {
			f.t.Fatal(err)
		}
		if strings.Contains(n.Notice, "will be deleted") {
			out = append(out, n)
		}
	}
	return out
}

// events lists the audit events of action about object id, and checks that none says
// the fixtures' secret.
func (f *retentionFixture) events(action, id string) []audit.Event {
	f.t.Helper()
	var out []audit.Event
	if err := f.db.Conn(context.Background()).Where("action = ? AND object_id = ?", action, id).Order("seq").Find(&out).Error; err != nil {
		f.t.Fatal(err)
	}
	for _, e := range out {
		if strings.Contains(e.Details, secret) {
			f.t.Errorf("the audit event %s says the submission's content: %s", e.Action, e.Details)
		}
	}
	return out
}

func (f *retentionFixture) verifyAudit() {
	f.t.Helper()
	if brk, _, err := audit.Verify(context.Background(), f.db, f.admin.Tenant.ID); err != nil || brk != nil {
		f.t.Fatalf("audit chain: %v %v", brk, err)
	}
}

func items(r *workflow.RetentionReport) string {
	var b strings.Builder
	for _, it := range r.Items {
		b.WriteString(string(it.Action) + " " + it.SubmissionID + ";")
	}
	return b.String()
}

// dispatchSettings makes the tenant ready to dispatch, in sandbox mode.
func (f *retentionFixture) dispatchSettings() {
	f.t.Helper()
	ctx := context.Background()
	if _, err := f.s.Workflow.AddSenderDomain(ctx, f.admin, "alpha.test"); err != nil {
		f.t.Fatal(err)
	}
	st, err := f.s.Workflow.Settings(ctx, f.admin)
	if err != nil {
		f.t.Fatal(err)
	}
	st.Dispatch.SandboxRecipient = "sandbox@alpha.test"
	st.Dispatch.From = workflow.Mailbox{Name: "Alpha", Address: "cfa@alpha.test"}
	st.Dispatch.Signatory = workflow.Person{Name: "A. Secretary", Title: "General Secretary"}
	if _, err := f.s.Workflow.PutSettings(ctx, f.admin, *st); err != nil {
		f.t.Fatal(err)
	}
}
