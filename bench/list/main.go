// Command list measures the submission list and detail (docs/benchmarks.md, P1, P2, P3, P4, P8) on PostgreSQL
// with 1,000,000 submissions:
//
//	P2  portal GET …/submissions?limit=50 requests/s at 16 connections, over a bare
//	    net/http + pgx handler running the same keyset query (target >= 0.60)
//	P3  portal latency at page 2,000 over page 1 (target <= 1.2)
//	P8  queries per request for the list (5 and 50 rows) and the detail (constant)
//	P1  portal GET of one submission (encrypted) requests/s, over bare pgx running the
//	    statements the portal ran (target >= 0.75), and over one query
//	P4  the same GET with 10,000 more rules in the policy over none (target >= 0.95)
//
// It starts its own throwaway PostgreSQL cluster and measures the real portal: the
// unionportal binary, built from this checkout and run as `serve`, logging as it does in
// production (JSON at Info, to a file). Queries are counted by PostgreSQL
// (pg_stat_statements), outside the portal. P2 and P3 run 11 pairs in alternating order
// (bench/internal/pairs) and report, beside the ratios, the CPU time per request of the
// portal, of PostgreSQL (postmaster and backends) and of this process (the load
// generator, and on the baseline side the bare handler too). Run it with `make bench`.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/bench/internal/pairs"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/internal/testrig"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/workflow"
)

var (
	rows     = flag.Int("rows", 1_000_000, "submissions to load")
	nPairs   = flag.Int("pairs", pairs.DefaultPairs, "A/B pairs per figure, in alternating order")
	duration = flag.Duration("duration", 3*time.Second, "length of each throughput run")
	conns    = flag.Int("conns", 16, "concurrent connections")
	poolSize = flag.Int("pool", 20, "PostgreSQL connections of the portal (UNIONPORTAL_DATABASE_MAX_CONNS; 20 is its default) and of the bare handlers alike")
	profile  = flag.String("cpuprofile", "", "have the portal write a CPU profile of its whole run to this file (UNIONPORTAL_CPU_PROFILE)")
)

func main() {
	flag.Parse()
	log.SetFlags(0)
	ctx := context.Background()

	pg, cleanup := startPostgres(ctx)
	defer cleanup()
	binary, dataDir, removeBinary := buildPortal(ctx)
	defer removeBinary()
	url := pg.URL("postgres")
	target, err := database.ParseURL(url, "")
	check(err)
	db, err := database.Open(ctx, target, database.Options{MaxOpenConns: 32})
	check(err)
	defer db.Close()
	_, err = db.Migrate(ctx, nil)
	check(err)

	quiet := slog.New(slog.DiscardHandler)
	authSvc, err := auth.NewService(ctx, db, auth.Options{Logger: quiet, SecretKey: []byte(secretKey),
		PasswordParams: &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}})
	check(err)
	master, err := keys.ParseMaster(masterKey)
	check(err)
	wf := workflow.NewService(db, workflow.Options{Logger: quiet, Keys: keys.NewService(db, master)})
	token, tenantID := seed(ctx, db, authSvc, wf)
	log.Printf("loading %d submissions…", *rows)
	start := time.Now()
	load(ctx, db, tenantID)
	log.Printf("loaded in %s", time.Since(start).Round(time.Second))

	portal, portalPID, stopPortal := runPortal(ctx, binary, dataDir, url)
	defer stopPortal()
	// The bare handlers may open as many connections as the portal: on a machine with
	// few cores, PostgreSQL's cost per statement grows with its busy backends.
	pool, err := pgxpool.New(ctx, url+"&pool_max_conns="+strconv.Itoa(*poolSize))
	check(err)
	defer pool.Close()
	bare := serve(bareHandler(pool, tenantID))

	listPath := "/api/v1/tenants/bench/submissions?limit=50"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conns * 2}}
	get := func(base, path string) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		check(err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			log.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
	}
	detailPath := "/api/v1/tenants/bench/submissions/" + benchSubmission
	// Warm both sides.
	for i := 0; i < 200; i++ {
		get(portal, listPath)
		get(bare, listPath)
	}

	meters := []pairs.Meter{pairs.Process("portal", portalPID), pairs.Tree("PostgreSQL", pg.PID()), pairs.Self("bench process")}

	// P2: throughput, A B, B A, …
	p2Portal, p2Bare, err := pairs.Interleave(*nPairs, meters,
		pairs.Side{Name: "portal", Run: func() (float64, float64) { return throughput(func() { get(portal, listPath) }) }},
		pairs.Side{Name: "bare pgx", Run: func() (float64, float64) { return throughput(func() { get(bare, listPath) }) }},
		func(i int, a, b pairs.Result) {
			log.Printf("P2 pair %d: portal %.0f req/s, bare pgx %.0f req/s, ratio %.3f", i, a.Value, b.Value, a.Value/b.Value)
		})
	check(err)
	p2 := pairs.Ratios(p2Portal, p2Bare)

	// P3: latency of page 2,000 (rows 99,951-100,000) against page 1.
	var createdAt time.Time
	var id string
	check(pool.QueryRow(ctx, `SELECT created_at, id::text FROM submissions WHERE tenant_id = $1
		ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1`, tenantID, min(1999*50, *rows/2)-1).Scan(&createdAt, &id))
	page2000 := listPath + "&cursor=" + database.Cursor(createdAt.UTC().Format(time.RFC3339Nano), id)
	p3Far, p3First, err := pairs.Interleave(*nPairs, meters,
		pairs.Side{Name: "page 2000", Run: func() (float64, float64) { return latency(func() { get(portal, page2000) }) }},
		pairs.Side{Name: "page 1", Run: func() (float64, float64) { return latency(func() { get(portal, listPath) }) }},
		func(i int, a, b pairs.Result) {
			log.Printf("P3 pair %d: page 2000 %.2f ms, page 1 %.2f ms, ratio %.3f", i, a.Value, b.Value, a.Value/b.Value)
		})
	check(err)
	p3 := pairs.Ratios(p3Far, p3First)

	check(db.Conn(ctx).Exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").Error)
	// statements runs one request and returns the statements it ran, as PostgreSQL
	// recorded them (the portal's own: without River's queue polling and maintenance,
	// which run whatever the requests do, and without these statistics queries).
	statements := func(path string) []string {
		const ours = `query NOT ILIKE '%river%' AND query NOT ILIKE '%pg_stat_statements%' AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`
		type stat struct {
			Queryid int64
			Calls   int
			Query   string
		}
		read := func() map[int64]stat {
			var rows []stat
			check(db.Conn(ctx).Raw("SELECT queryid, calls, query FROM pg_stat_statements WHERE " + ours).Find(&rows).Error)
			m := make(map[int64]stat, len(rows))
			for _, r := range rows {
				m[r.Queryid] = r
			}
			return m
		}
		before := read()
		get(portal, path)
		var out []string
		for id, r := range read() {
			for i := before[id].Calls; i < r.Calls; i++ {
				out = append(out, r.Query)
			}
		}
		return out
	}
	count := func(path string) int { return len(statements(path)) }
	// The same-statements baseline runs exactly what the portal ran, once warm (the
	// first request reads the tenant's key, which the portal then keeps).
	get(portal, detailPath)
	ran := statements(detailPath)
	slices.Sort(ran)
	if want := slices.Sorted(slices.Values(detailStatements)); !slices.Equal(ran, want) {
		for _, q := range ran {
			log.Printf("P1: the portal's detail request ran: %s", q)
		}
		log.Fatalf("P1: the baseline's statements (detailStatements) are no longer the portal's; copy those above")
	}

	// P1: one submission, against the same statements run bare, and against one query.
	var tokenHash string
	check(pool.QueryRow(ctx, "SELECT token_hash FROM api_tokens WHERE id = $1", benchToken).Scan(&tokenHash))
	args := [][]any{{"bench", tokenHash, 1, 1}, {benchUser, benchUser, tenantID, benchSubmission, 1}}
	same := serve(bareDetail(pool, detailStatements, args))
	one := serve(bareDetail(pool, []string{"SELECT * FROM submissions WHERE id = $1"}, [][]any{{benchSubmission}}))
	for i := 0; i < 200; i++ {
		get(portal, detailPath)
		get(same, detailPath)
		get(one, detailPath)
	}
	detailSide := pairs.Side{Name: "portal detail", Run: func() (float64, float64) { return throughput(func() { get(portal, detailPath) }) }}
	p1Portal, p1Same, err := pairs.Interleave(*nPairs, meters, detailSide,
		pairs.Side{Name: "same statements", Run: func() (float64, float64) { return throughput(func() { get(same, detailPath) }) }},
		func(i int, a, b pairs.Result) {
			log.Printf("P1 pair %d: portal %.0f req/s, bare pgx running its statements %.0f req/s, ratio %.3f", i, a.Value, b.Value, a.Value/b.Value)
		})
	check(err)
	p1Portal2, p1One, err := pairs.Interleave(*nPairs, meters, detailSide,
		pairs.Side{Name: "one query", Run: func() (float64, float64) { return throughput(func() { get(one, detailPath) }) }},
		func(i int, a, b pairs.Result) {
			log.Printf("P1 pair %d: portal %.0f req/s, bare pgx running one query %.0f req/s, ratio %.3f", i, a.Value, b.Value, a.Value/b.Value)
		})
	check(err)

	// P4: the detail with 10,000 more rules in the policy (other users' roles in other
	// tenants) against the same with none; each run first makes the portal reload
	// its policy (the policy version is bumped), outside the measurement.
	extraRules := func(n int) pairs.Side {
		return pairs.Side{Name: fmt.Sprintf("%d extra rules", n),
			Prepare: func() {
				_, err := pool.Exec(ctx, `DELETE FROM casbin_rule WHERE v0 LIKE 'bench-extra-%'`)
				check(err)
				_, err = pool.Exec(ctx, `INSERT INTO casbin_rule (ptype, v0, v1, v2)
					SELECT 'g', 'bench-extra-' || g, (ARRAY['editor','viewer','reviewer'])[1 + g % 3], 'bench-tenant-' || (g % 500)
					FROM generate_series(1, $1::int) AS g`, n)
				check(err)
				_, err = pool.Exec(ctx, `UPDATE authz_state SET version = version + 1 WHERE id = 1`)
				check(err)
				for i := 0; i < 200; i++ { // the first reloads the policy
					get(portal, detailPath)
				}
			},
			Run: func() (float64, float64) { return throughput(func() { get(portal, detailPath) }) }}
	}
	p4Many, p4Few, err := pairs.Interleave(*nPairs, meters, extraRules(10_000), extraRules(0),
		func(i int, a, b pairs.Result) {
			log.Printf("P4 pair %d: 10,000 extra rules %.0f req/s, none %.0f req/s, ratio %.3f", i, a.Value, b.Value, a.Value/b.Value)
		})
	check(err)
	var policy int
	check(pool.QueryRow(ctx, "SELECT count(*) FROM casbin_rule").Scan(&policy))

	// P8: queries per request.
	var first struct {
		Items []struct{ ID string } `json:"items"`
	}
	req, _ := http.NewRequest(http.MethodGet, portal+"/api/v1/tenants/bench/submissions?limit=1", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	check(err)
	check(json.NewDecoder(resp.Body).Decode(&first))
	resp.Body.Close()
	q5, q50 := count("/api/v1/tenants/bench/submissions?limit=5"), count(listPath)
	qDetail := count("/api/v1/tenants/bench/submissions/" + first.Items[0].ID)
	log.Printf("P8: list of 5 rows %d queries, list of 50 rows %d queries, detail %d queries", q5, q50, qDetail)

	fmt.Printf("machine: %s/%s, %d CPUs; %d submissions; %d pairs in alternating order\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), *rows, *nPairs)
	fmt.Printf("P2 requests/s: portal %s, bare pgx %s\n", pairs.Summary("%.0f", pairs.Values(p2Portal)), pairs.Summary("%.0f", pairs.Values(p2Bare)))
	fmt.Println(pairs.CPUReport(meters, "request", map[string][]pairs.Result{"P2 portal": p2Portal, "P2 bare pgx": p2Bare}, "P2 portal", "P2 bare pgx"))
	fmt.Printf("P1 requests/s: portal %s, bare same statements %s; portal %s, bare one query %s\n",
		pairs.Summary("%.0f", pairs.Values(p1Portal)), pairs.Summary("%.0f", pairs.Values(p1Same)),
		pairs.Summary("%.0f", pairs.Values(p1Portal2)), pairs.Summary("%.0f", pairs.Values(p1One)))
	fmt.Println(pairs.CPUReport(meters, "request", map[string][]pairs.Result{"P1 portal": p1Portal, "P1 same statements": p1Same}, "P1 portal", "P1 same statements"))
	fmt.Println(pairs.CPUReport(meters, "request", map[string][]pairs.Result{"P1 portal": p1Portal2, "P1 one query": p1One}, "P1 portal", "P1 one query"))
	fmt.Printf("P4 requests/s: 10,000 extra rules %s, none (%d rules) %s\n", pairs.Summary("%.0f", pairs.Values(p4Many)), policy, pairs.Summary("%.0f", pairs.Values(p4Few)))
	fmt.Println(pairs.CPUReport(meters, "request", map[string][]pairs.Result{"P4 10,000 extra rules": p4Many, "P4 none": p4Few}, "P4 10,000 extra rules", "P4 none"))
	fmt.Printf("P4 10k-rules/few-rules %s | P1 detail/same-statements %s detail/one-query %s | P2 list/bare-pgx %s | P3 page2000/page1 %s | P8 queries list5=%d list50=%d detail=%d\n",
		pairs.Summary("%.3f", pairs.Ratios(p4Many, p4Few)), pairs.Summary("%.3f", pairs.Ratios(p1Portal, p1Same)), pairs.Summary("%.3f", pairs.Ratios(p1Portal2, p1One)),
		pairs.Summary("%.3f", p2), pairs.Summary("%.3f", p3), q5, q50, qDetail)
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// secretKey is shared by the seeding and the portal: API tokens are keyed with it.
const secretKey = "bench-secret-bench-secret-bench-secret"

// masterKey is shared by the seeding and the portal too: it wraps the tenant key that
// wraps the P1 submission's data key.
var masterKey = keys.GenerateMaster()

func startPostgres(ctx context.Context) (*testrig.Postgres, func()) {
	pg, cleanup, err := testrig.TempPostgres(ctx, "shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all")
	check(err)
	log.Printf("PostgreSQL %s on 127.0.0.1:%d", pg.Version, pg.Port)
	return pg, cleanup
}

// seed creates the tenant, an organization, a reviewer (who sees every submission) with
// an API token, and a case.
func seed(ctx context.Context, db *database.DB, a *auth.Service, wf *workflow.Service) (token, tenantID string) {
	platform := &auth.Principal{User: auth.User{IsSuperadmin: true, Active: true}}
	t, err := a.CreateTenant(ctx, platform, "bench", "Bench Federation")
	check(err)
	admin, err := a.ResolveTenant(ctx, platform, "bench")
	check(err)
	org, err := a.CreateOrganization(ctx, admin, auth.OrganizationInput{Name: "Secretariat", Country: "CH", Kind: "secretariat"})
	check(err)
	m, err := a.CreateUser(ctx, admin, auth.UserInput{Email: "reviewer@bench.test", Name: "R", Password: "bench password 123",
		OrganizationID: org.ID, Roles: []string{"reviewer", "editor"}})
	check(err)
	p := &auth.Principal{User: auth.User{ID: m.ID, Email: m.Email, Active: true}}
	tok, err := a.CreateToken(ctx, p, auth.TokenInput{Name: "bench"})
	check(err)
	access, err := a.ResolveTenant(ctx, p, "bench")
	check(err)
	num, country, title := "1", "CH", "Bench case"
	c, err := wf.CreateCase(ctx, access, workflow.CaseInput{Number: &num, Country: &country, Title: &title})
	check(err)
	// The submission P1 reads, created as the portal creates one: its title and body
	// sealed under its own data key (encryption at rest is on).
	kind, title2, body, lang := "additional_information", "Case 3386: further information", "The union reports further violations.", "en"
	v, err := wf.CreateSubmission(ctx, access, workflow.SubmissionInput{CaseID: &c.ID, Kind: &kind, Title: &title2, Body: &body, Language: &lang})
	check(err)
	_, err = wf.Transition(ctx, access, v.ID, workflow.ActionSubmit, "")
	check(err)
	check(db.Conn(ctx).Exec("UPDATE tenants SET settings = '{}' WHERE id = ?", t.ID).Error)
	benchCase, benchOrg, benchUser, benchSubmission, benchToken = c.ID, org.ID, m.ID, v.ID, tok.ID
	return tok.Token, t.ID
}

var benchCase, benchOrg, benchUser, benchSubmission, benchToken string

// load inserts the submissions in one statement, newest first one second apart.
func load(ctx context.Context, db *database.DB, tenantID string) {
	err := db.Conn(ctx).Exec(`INSERT INTO submissions (id, tenant_id, case_id, organization_id, author_id, kind, title, body,
		language, state, version, revision, created_at, updated_at)
		SELECT gen_random_uuid(), ?, ?, ?, ?, 'additional_information', 'Submission ' || g, 'Body of submission ' || g, 'en',
		(ARRAY['draft','submitted','in_review','approved','dispatched'])[1 + g % 5], 1, 0,
		now() - g * interval '1 second', now()
		FROM generate_series(1, ?) AS g`, tenantID, benchCase, benchOrg, benchUser, *rows).Error
	check(err)
	check(db.Conn(ctx).Exec("ANALYZE submissions").Error)
}

// bareHandler serves the same keyset query with pgx and encoding/json, nothing else.
func bareHandler(pool *pgxpool.Pool, tenantID string) http.Handler {
	type item struct {
		ID, CaseID, OrganizationID, AuthorID, Kind, Title, Language, State string
		Version                                                            int64
		Revision                                                           int
		CreatedAt, UpdatedAt                                               time.Time
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rows, err := pool.Query(r.Context(), `SELECT id::text, case_id::text, organization_id::text, author_id::text, kind, title,
			language, state, version, revision, created_at, updated_at FROM submissions WHERE tenant_id = $1
			ORDER BY created_at DESC, id DESC LIMIT 51`, tenantID)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		var items []item
		for rows.Next() {
			var it item
			if err := rows.Scan(&it.ID, &it.CaseID, &it.OrganizationID, &it.AuthorID, &it.Kind, &it.Title, &it.Language,
				&it.State, &it.Version, &it.Revision, &it.CreatedAt, &it.UpdatedAt); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			items = append(items, it)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"items": items[:min(50, len(items))], "next_cursor": "x"})
	})
}

// detailStatements are the statements the portal runs for GET …/submissions/{id}, as
// PostgreSQL recorded them (main checks they still are): the credentials with the
// tenant, the membership and the policy version; the submission with its wrapped data
// key, the caller's facts and its approval count. Their arguments are in main's args,
// in this order.
var detailStatements = []string{
	`SELECT users.*, api_tokens.id AS token_id, api_tokens.name AS token_name, api_tokens.created_at AS token_created, api_tokens.expires_at AS token_expires, api_tokens.last_used_at AS token_used, api_tokens.can_create_tokens AS token_can_create, api_tokens.parent_id AS token_parent, api_tokens.scopes AS token_scopes, tenants.id AS tenant_id, tenants.slug AS tenant_slug, tenants.name AS tenant_name, tenants.created_at AS tenant_created_at, tenants.updated_at AS tenant_updated_at, tenants.settings AS tenant_settings, memberships.id AS member_id, memberships.organization_id AS member_org, memberships.created_at AS member_since, (SELECT version FROM authz_state WHERE id = $4) AS policy_version FROM "api_tokens" JOIN users ON users.id = api_tokens.user_id LEFT JOIN tenants ON tenants.slug = $1 LEFT JOIN memberships ON memberships.tenant_id = tenants.id AND memberships.user_id = users.id AND memberships.active WHERE api_tokens.token_hash = $2 AND api_tokens.revoked_at IS NULL AND users.active LIMIT $3`,
	`SELECT submissions.*, (SELECT submission_keys.wrapped FROM submission_keys WHERE submission_keys.submission_id = CAST(submissions.id AS TEXT)) AS wrapped_submission_key, (SELECT COUNT(*) FROM submission_contributors sc WHERE sc.submission_id = submissions.id AND sc.user_id = $1) AS contributed, (SELECT COUNT(*) FROM approvals ap WHERE ap.submission_id = submissions.id AND ap.revision = submissions.revision AND ap.reviewer_id = $2) AS approved_by_me, (SELECT COUNT(*) FROM approvals ap WHERE ap.submission_id = submissions.id AND ap.revision = submissions.revision) AS approvals FROM "submissions" WHERE submissions.tenant_id = $3 AND submissions.id = $4 LIMIT $5`,
}

// bareDetail runs the statements with their arguments through pgx, reads every row
// into column → value maps, and answers the last statement's row as JSON: nothing else.
func bareDetail(pool *pgxpool.Pool, statements []string, args [][]any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var answer map[string]any
		for i, q := range statements {
			rows, err := pool.Query(r.Context(), q, args[i]...)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			var got map[string]any
			for rows.Next() {
				vals, err := rows.Values()
				if err != nil {
					rows.Close()
					http.Error(w, err.Error(), 500)
					return
				}
				got = make(map[string]any, len(vals))
				for j, fd := range rows.FieldDescriptions() {
					got[fd.Name] = vals[j]
				}
			}
			rows.Close()
			if got == nil {
				http.Error(w, "no row", 404)
				return
			}
			answer = got
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer)
	})
}

// buildPortal builds the unionportal binary of this checkout into a temporary
// directory, which also serves as the portal's data directory.
func buildPortal(ctx context.Context) (binary, dataDir string, remove func()) {
	dir, err := os.MkdirTemp("", "unionportal-bench-")
	check(err)
	binary = filepath.Join(dir, "unionportal")
	build := exec.CommandContext(ctx, "go", "build", "-o", binary, "./cmd/unionportal")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	check(build.Run())
	dataDir = filepath.Join(dir, "data")
	return binary, dataDir, func() { _ = os.RemoveAll(dir) }
}

// runPortal starts `unionportal serve` on the database and waits until it is ready.
// Its log goes to a file, as a production log goes somewhere: it is written, not dropped,
// at the binary's default level (Info: a line per request).
func runPortal(ctx context.Context, binary, dataDir, databaseURL string) (base string, pid int, stop func()) {
	port, err := testrig.FreePort()
	check(err)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	check(os.MkdirAll(dataDir, 0o700))
	logFile, err := os.Create(filepath.Join(filepath.Dir(dataDir), "portal.log"))
	check(err)
	cmd := exec.Command(binary, "serve")
	cmd.Env = append(os.Environ(), "UNIONPORTAL_ADDR="+addr, "UNIONPORTAL_DATA_DIR="+dataDir,
		"UNIONPORTAL_DATABASE_URL="+databaseURL, "UNIONPORTAL_SECRET_KEY="+secretKey, "UNIONPORTAL_MASTER_KEY="+masterKey,
		"UNIONPORTAL_LOG_FORMAT=json", "UNIONPORTAL_DATABASE_MAX_CONNS="+strconv.Itoa(*poolSize))
	if *profile != "" {
		abs, err := filepath.Abs(*profile)
		check(err)
		cmd.Env = append(cmd.Env, "UNIONPORTAL_CPU_PROFILE="+abs)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	check(cmd.Start())
	base = "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			log.Fatalf("the portal did not become ready within 60 s (log: %s)", logFile.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return base, cmd.Process.Pid, func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		logFile.Close()
	}
}

func serve(h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	go func() { _ = http.Serve(ln, h) }()
	return "http://" + ln.Addr().String()
}

// throughput runs do from conns goroutines for the configured duration: requests/s and
// requests.
func throughput(do func()) (perSecond, requests float64) {
	var n atomic.Int64
	deadline := time.Now().Add(*duration)
	var wg sync.WaitGroup
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				do()
				n.Add(1)
			}
		}()
	}
	start := time.Now()
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds(), float64(n.Load())
}

// latency is the median of 200 sequential requests, in milliseconds, and 200.
func latency(do func()) (ms, requests float64) {
	var ds []float64
	for i := 0; i < 200; i++ {
		start := time.Now()
		do()
		ds = append(ds, float64(time.Since(start).Microseconds())/1000)
	}
	return pairs.Median(ds), 200
}
