// Command dispatch measures dispatch throughput (docs/benchmarks.md, P7a): approved
// submissions delivered per second through the portal's queue (build the e-mail, SMTP,
// record) with their letters already rendered, over a plain go-mail loop sending equally
// large messages to the same Mailpit with as many senders as the portal has workers
// (target >= 0.80); and the same with the letters rendered in the run (P7, which P7b's
// render time explains).
// It starts its own PostgreSQL and Mailpit. The portal's services run in this process,
// logging as the binary does (JSON at Info, to a file). 11 pairs run in alternating
// order (bench/internal/pairs); beside the ratio it reports the CPU time per message of
// this process (the portal's workers, or the go-mail senders), of PostgreSQL (postmaster
// and backends) and of Mailpit. Run it with `make bench-dispatch`.
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
	"sync"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/wneessen/go-mail"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/bench/internal/pairs"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/internal/testrig"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/logctx"
	"github.com/unionportal/unionportal/portal"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

var (
	nPairs     = flag.Int("pairs", pairs.DefaultPairs, "A/B pairs, in alternating order")
	batch      = flag.Int("batch", 40, "dispatches per run")
	workers    = flag.Int("workers", 2, "dispatch workers, and baseline senders")
	poll       = flag.Duration("poll", time.Second, "how often idle workers look for jobs (the portal's default, 1s; jobs inserted meanwhile wake them)")
	statements = flag.Bool("statements", false, "list the statements PostgreSQL ran most in the last portal run, with their calls (pg_stat_statements)")
	profile    = flag.String("cpuprofile", "", "write a CPU profile of the portal runs to this file")
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
	pg, cleanup, err := testrig.TempPostgres(ctx, "shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all")
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

	// The portal's log, as the binary writes it.
	logFile, err := os.Create(filepath.Join(dir, "portal.log"))
	check(err)
	defer logFile.Close()
	logger := logctx.NewJSON(logFile, slog.LevelInfo)

	target, err := database.ParseURL(pg.URL("postgres"), "")
	check(err)
	db, err := database.Open(ctx, target, database.Options{Logger: logger})
	check(err)
	defer db.Close()
	_, err = db.Migrate(ctx, nil)
	check(err)
	check(dispatch.MigrateQueue(ctx, db))
	check(db.Conn(ctx).Exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").Error)
	store, err := storage.NewLocal(filepath.Join(dir, "files"))
	check(err)
	smtp, err := dispatch.NewSMTP("smtp://" + pit.SMTPAddr)
	check(err)
	base, _ := url.Parse("http://bench.local")
	authOpts := auth.Options{SecretKey: []byte("bench-secret-bench-secret-bench-secret"),
		PasswordParams: &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}

	var (
		d          *dispatch.Service
		ids        []string
		portalRun  int
		letterSize int
	)
	// portalSide dispatches batch approved submissions through a fresh dispatch service
	// per run, started once the jobs wait; with prerender, their letters are rendered
	// and stored before the run, as the worker would have (P7a), else in the run (P7).
	portalSide := func(prerender bool) pairs.Side {
		return pairs.Side{Name: "portal",
			Prepare: func() {
				ks := keys.NewService(db, keys.NewMaster())
				services, err := portal.New(ctx, db, store, portal.Options{Logger: logger, Keys: ks, Auth: authOpts,
					Dispatch: dispatch.Options{Sender: smtp, BaseURL: base, PollInterval: *poll, Workers: *workers}})
				check(err)
				d = services.Dispatch
				ids = prepare(ctx, db, services.Auth, services.Workflow, portalRun)
				portalRun++
				// The notices of the approvals just made are the approvals' work, not the
				// dispatches': they are dropped, so that a run holds its dispatches and
				// what they enqueue (the authors' notices of the dispatch) and nothing else.
				check(db.Conn(ctx).Exec("DELETE FROM river_job WHERE kind = 'notify' AND state = 'available'").Error)
				if prerender {
					renderLetters(ctx, db, ks.Files(store), services.Workflow, ids)
				}
				if *statements { // count the runs' statements only
					check(db.Conn(ctx).Exec("SELECT pg_stat_statements_reset()").Error)
				}
			},
			Run: func() (float64, float64) {
				if *profile != "" && portalRun == 1 {
					f, err := os.Create(*profile)
					check(err)
					check(pprof.StartCPUProfile(f))
					defer pprof.StopCPUProfile()
				}
				start := time.Now()
				check(d.Start(ctx))
				waitDone(ctx, db, ids, false)
				rate := float64(len(ids)) / time.Since(start).Seconds()
				// The notices the dispatches enqueued (to their authors) run in their own
				// queue, found by its next poll: they are the run's work, metered, but
				// the letters' rate is taken when the last letter is sent.
				waitDone(ctx, db, ids, true)
				check(d.Stop(ctx))
				if letterSize == 0 {
					var key string
					db.Conn(ctx).Raw("SELECT letter_key FROM dispatches LIMIT 1").Find(&key)
					info, err := store.Stat(ctx, key)
					check(err)
					letterSize = int(info.Size)
				}
				return rate, float64(len(ids))
			}}
	}
	// B: go-mail, messages of the same size (known from the first pair, which runs the
	// portal first), as many senders.
	plainSide := pairs.Side{Name: "go-mail", Run: func() (float64, float64) {
		return baseline(ctx, smtp, *batch, letterSize), float64(*batch)
	}}
	meters := []pairs.Meter{pairs.Self("bench process"), pairs.Tree("PostgreSQL", pg.PID()), pairs.Process("Mailpit", pit.PID())}
	p7aPortal, p7aPlain, err := pairs.Interleave(*nPairs, meters, portalSide(true), plainSide, func(i int, a, b pairs.Result) {
		log.Printf("P7a pair %d: portal, letters rendered, %.1f dispatches/s, plain go-mail %.1f messages/s, ratio %.3f", i, a.Value, b.Value, a.Value/b.Value)
	})
	check(err)
	p7Portal, p7Plain, err := pairs.Interleave(*nPairs, meters, portalSide(false), plainSide, func(i int, a, b pairs.Result) {
		log.Printf("P7 pair %d: portal, rendering, %.1f dispatches/s, plain go-mail %.1f messages/s, ratio %.3f", i, a.Value, b.Value, a.Value/b.Value)
	})
	check(err)
	if *statements {
		var top []struct {
			Calls int
			Query string
		}
		check(db.Conn(ctx).Raw(`SELECT calls, query FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
			ORDER BY calls DESC LIMIT 60`).Find(&top).Error)
		total := 0
		for _, t := range top {
			total += t.Calls
		}
		log.Printf("statements of the last portal run and the go-mail run after it (%d dispatches): the 60 most called, %d calls in all", *batch, total)
		for _, t := range top {
			log.Printf("%7d  %.160s", t.Calls, t.Query)
		}
	}
	fmt.Printf("machine: %s/%s, %d CPUs; %d dispatches per run, %d workers; %d pairs in alternating order\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), *batch, *workers, *nPairs)
	fmt.Printf("P7a per second: portal (letters rendered) %s, go-mail %s\n", pairs.Summary("%.1f", pairs.Values(p7aPortal)), pairs.Summary("%.1f", pairs.Values(p7aPlain)))
	fmt.Println(pairs.CPUReport(meters, "message", map[string][]pairs.Result{"P7a portal": p7aPortal, "P7a go-mail": p7aPlain}, "P7a portal", "P7a go-mail"))
	fmt.Printf("P7 per second: portal (rendering) %s, go-mail %s\n", pairs.Summary("%.1f", pairs.Values(p7Portal)), pairs.Summary("%.1f", pairs.Values(p7Plain)))
	fmt.Println(pairs.CPUReport(meters, "message", map[string][]pairs.Result{"P7 portal": p7Portal, "P7 go-mail": p7Plain}, "P7 portal", "P7 go-mail"))
	fmt.Printf("P7a portal-letters-rendered/plain-go-mail %s | P7 portal-rendering/plain-go-mail %s\n",
		pairs.Summary("%.3f", pairs.Ratios(p7aPortal, p7aPlain)), pairs.Summary("%.3f", pairs.Ratios(p7Portal, p7Plain)))
}

// renderLetters renders and stores the letters of the submissions' dispatches as the
// dispatch worker does (dispatch's worker.letter: what the final approval froze, the
// dispatch's date, encrypted under the submission's key), so that the worker finds
// them and sends them as they are.
func renderLetters(ctx context.Context, db *database.DB, files *keys.Files, wf *workflow.Service, ids []string) {
	var ds []dispatch.Dispatch
	check(db.Conn(ctx).Where("submission_id IN ?", ids).Find(&ds).Error)
	if len(ds) != len(ids) {
		log.Fatalf("%d dispatches for %d approved submissions", len(ds), len(ids))
	}
	for _, d := range ds {
		in, err := wf.DispatchInputFor(ctx, d.TenantID, d.SubmissionID, d.Revision)
		check(err)
		l := dispatch.Letter{Settings: in.Snapshot.Dispatch, Case: in.Snapshot.Case.AsCase(), Submission: in.Submission, Date: d.CreatedAt, Sandbox: d.Sandbox}
		pdf, err := l.RenderBytesContext(ctx)
		check(err)
		key := keys.SealedKey(storage.LetterKey(d.TenantID, d.ID))
		check(files.Put(ctx, d.TenantID, d.SubmissionID, key, bytes.NewReader(pdf), int64(len(pdf))))
		check(db.Conn(ctx).Model(&dispatch.Dispatch{}).Where("id = ?", d.ID).Update("letter_key", key).Error)
	}
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

// waitDone waits until the submissions are dispatched and, with drained, until the
// queue holds no job left to run (the dispatches' notices to their authors included).
func waitDone(ctx context.Context, db *database.DB, ids []string, drained bool) {
	// One cheap statement every 20 ms: it runs on the PostgreSQL whose CPU is metered.
	q := `SELECT EXISTS (SELECT 1 FROM submissions WHERE id IN ? AND state <> 'dispatched')`
	if drained {
		q += ` OR EXISTS (SELECT 1 FROM river_job WHERE state IN ('available', 'running', 'retryable', 'scheduled'))`
	}
	for {
		var busy bool
		check(db.Conn(ctx).Raw(q, ids).Find(&busy).Error)
		if !busy {
			return
		}
		time.Sleep(20 * time.Millisecond)
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
