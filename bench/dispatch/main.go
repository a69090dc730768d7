// Command dispatch measures dispatch throughput (docs/benchmarks.md, P7): approved
// submissions delivered per second through the portal's queue (render the letter, build
// the e-mail, SMTP, record), over a plain go-mail loop sending equally large messages to
// the same Mailpit with as many senders as the portal has workers (target >= 0.80).
// It starts its own PostgreSQL and Mailpit. Run it with `make bench-dispatch`.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/wneessen/go-mail"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/internal/testrig"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/portal"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

var (
	pairs   = flag.Int("pairs", 5, "A/B pairs")
	batch   = flag.Int("batch", 40, "dispatches per run")
	workers = flag.Int("workers", 2, "dispatch workers, and baseline senders")
	profile = flag.String("cpuprofile", "", "write a CPU profile of the portal runs to this file")
)

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	ctx := context.Background()
	pg, cleanup, err := testrig.TempPostgres(ctx)
	check(err)
	defer cleanup()
	bin, err := testrig.EnsureTool(ctx, "mailpit", testrig.MailpitModule, testrig.MailpitVersion, func(m string) { log.Print(m) })
	check(err)
	dir, err := os.MkdirTemp("", "unionportal-bench-dispatch-")
	check(err)
	defer os.RemoveAll(dir)
	pit, err := testrig.StartMailpit(ctx, bin, dir)
	check(err)
	defer pit.Stop()

	target, err := database.ParseURL(pg.URL("postgres"), "")
	check(err)
	db, err := database.Open(ctx, target, database.Options{})
	check(err)
	defer db.Close()
	_, err = db.Migrate(ctx, nil)
	check(err)
	check(dispatch.MigrateQueue(ctx, db))
	store, err := storage.NewLocal(filepath.Join(dir, "files"))
	check(err)
	quiet := slog.New(slog.DiscardHandler)
	smtp, err := dispatch.NewSMTP("smtp://" + pit.SMTPAddr)
	check(err)
	base, _ := url.Parse("http://bench.local")
	authOpts := auth.Options{SecretKey: []byte("bench-secret-bench-secret-bench-secret"),
		PasswordParams: &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}

	var p7 []float64
	var letterSize int
	for i := 0; i < *pairs; i++ {
		// A: the portal. A fresh dispatch service per run, started once the jobs wait.
		services, err := portal.New(ctx, db, store, portal.Options{Logger: quiet, Keys: keys.NewService(db, keys.NewMaster()), Auth: authOpts,
			Dispatch: dispatch.Options{Sender: smtp, BaseURL: base, PollInterval: 20 * time.Millisecond, Workers: *workers}})
		check(err)
		d, wf := services.Dispatch, services.Workflow
		ids := prepare(ctx, db, services.Auth, wf, i)
		if *profile != "" && i == 0 {
			f, err := os.Create(*profile)
			check(err)
			check(pprof.StartCPUProfile(f))
			defer pprof.StopCPUProfile()
		}
		start := time.Now()
		check(d.Start(ctx))
		waitDispatched(ctx, db, ids)
		portal := float64(len(ids)) / time.Since(start).Seconds()
		if *profile != "" && i == 0 {
			pprof.StopCPUProfile()
		}
		check(d.Stop(ctx))
		if letterSize == 0 {
			var key string
			db.Conn(ctx).Raw("SELECT letter_key FROM dispatches LIMIT 1").Scan(&key)
			info, err := store.Stat(ctx, key)
			check(err)
			letterSize = int(info.Size)
		}
		// B: go-mail, messages of the same size, as many senders.
		plain := baseline(ctx, smtp, *batch, letterSize)
		log.Printf("P7 pair %d: portal %.1f dispatches/s, plain go-mail %.1f messages/s, ratio %.3f", i+1, portal, plain, portal/plain)
		p7 = append(p7, portal/plain)
	}
	slices.Sort(p7)
	fmt.Printf("machine: %s/%s, %d CPUs; %d dispatches per run, %d workers; %d pairs\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), *batch, *workers, *pairs)
	fmt.Printf("P7 portal/plain-go-mail %.3f (spread %.3f-%.3f)\n", p7[len(p7)/2], p7[0], p7[len(p7)-1])
}

// prepare creates a tenant with batch submitted submissions and approves them all, so
// that batch dispatch jobs wait in the queue.
func prepare(ctx context.Context, db *database.DB, a *auth.Service, wf *workflow.Service, run int) []string {
	slug := fmt.Sprintf("bench%d", run)
	platform := &auth.Principal{User: auth.User{IsSuperadmin: true, Active: true}}
	_, err := a.CreateTenant(ctx, platform, slug, "Bench")
	check(err)
	admin, err := a.ResolveTenant(ctx, platform, slug)
	check(err)
	org, err := a.CreateOrganization(ctx, admin, auth.OrganizationInput{Name: "Union", Country: "KG", Kind: "affiliate"})
	check(err)
	user := func(email, role string) *auth.TenantAccess {
		m, err := a.CreateUser(ctx, admin, auth.UserInput{Email: email, Name: role, Password: "bench password 123", OrganizationID: org.ID, Roles: []string{role}})
		check(err)
		ta, err := a.ResolveTenant(ctx, &auth.Principal{User: auth.User{ID: m.ID, Active: true}}, slug)
		check(err)
		return ta
	}
	editor, reviewer := user(slug+"-e@bench.test", "editor"), user(slug+"-r@bench.test", "reviewer")
	st := workflow.DefaultSettings()
	st.Dispatch.SandboxRecipient = "sandbox@bench.test"
	st.Dispatch.From = workflow.Mailbox{Name: "Bench", Address: "cfa@bench.test"}
	st.Dispatch.Signatory = workflow.Person{Name: "A. Secretary", Title: "General Secretary"}
	_, err = wf.AddSenderDomain(ctx, admin, "bench.test")
	check(err)
	_, err = wf.PutSettings(ctx, admin, st)
	check(err)
	num, country, title := "3386", "KG", "Kyrgyzstan"
	complainants := []string{"Union"}
	c, err := wf.CreateCase(ctx, reviewer, workflow.CaseInput{Number: &num, Country: &country, Title: &title, Complainants: &complainants})
	check(err)
	body := string(bytes.Repeat([]byte("The union reports further violations of freedom of association. "), 60))
	var ids []string
	for i := 0; i < *batch; i++ {
		kind, t, lang := workflow.KindAdditionalInformation, fmt.Sprintf("Update %d", i), "en"
		v, err := wf.CreateSubmission(ctx, editor, workflow.SubmissionInput{CaseID: &c.ID, Kind: &kind, Title: &t, Body: &body, Language: &lang})
		check(err)
		_, err = wf.Transition(ctx, editor, v.ID, workflow.ActionSubmit, "")
		check(err)
		_, err = wf.Transition(ctx, reviewer, v.ID, workflow.ActionApprove, "")
		check(err)
		ids = append(ids, v.ID)
	}
	return ids
}

func waitDispatched(ctx context.Context, db *database.DB, ids []string) {
	for {
		var n int64
		check(db.Conn(ctx).Table("submissions").Where("id IN ? AND state = 'dispatched'", ids).Count(&n).Error)
		if int(n) == len(ids) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// baseline sends n messages with a PDF-sized attachment from as many goroutines as the
// portal has workers, and returns messages per second.
func baseline(ctx context.Context, s dispatch.Sender, n, attachment int) float64 {
	pdf := make([]byte, attachment)
	copy(pdf, "%PDF-1.4\n")
	jobs := make(chan int, n)
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				m := mail.NewMsg()
				check(m.From("cfa@bench.test"))
				check(m.To("sandbox@bench.test"))
				m.Subject(fmt.Sprintf("Case No. 3386 (Kyrgyzstan): Update %d", i))
				m.SetBodyString(mail.TypeTextPlain, "Please find attached our letter.")
				check(m.AttachReader("letter.pdf", bytes.NewReader(pdf)))
				check(s.Send(ctx, m))
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}
