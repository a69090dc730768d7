package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/internal/testrig"
	"github.com/unionportal/unionportal/keys"
)

// scaleOutApprovals is how many submissions are approved while a worker is killed.
const scaleOutApprovals = 200

// TestScaleOut runs an installation as README's "Scale-out, as tested here" describes:
// two serve and two worker processes on one PostgreSQL database, one MinIO bucket and
// one Mailpit, behind HAProxy on loopback. A session and a role change made through one
// serve process hold on the other; 200 approvals spread over both produce exactly 200
// dispatch e-mails while a worker is SIGKILLed and restarted; a rolling restart of the
// serve processes under load loses no accepted comment and duplicates none.
func TestScaleOut(t *testing.T) {
	haproxyBin := haproxyBinary(t)
	mailpitBin := testrig.SkipOrFail(t, testrig.EnvMailpitBin, "the Mailpit binary")
	s3 := testrig.SkipOrFail(t, testrig.EnvS3Endpoint, "MinIO")
	target := dbtest.Target(t, database.Postgres)
	began := time.Now()
	ctx := context.Background()

	// A Mailpit of the test's own: every message in it is this installation's.
	pit, err := testrig.StartMailpit(ctx, mailpitBin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pit.Stop() })

	addrA, addrB := freeAddr(t), freeAddr(t)
	proxy := startHAProxy(t, haproxyBin, [][2]string{{"a", addrA}, {"b", addrB}})
	env := []string{
		"UNIONPORTAL_DATABASE_URL=" + target.DSN, "UNIONPORTAL_MASTER_KEY=" + keys.GenerateMaster(),
		"UNIONPORTAL_STORAGE=s3", "UNIONPORTAL_S3_ENDPOINT=" + s3, "UNIONPORTAL_S3_USE_TLS=false",
		"UNIONPORTAL_S3_BUCKET=scaleout-" + strings.ToLower(rand.Text()[:10]),
		"UNIONPORTAL_S3_ACCESS_KEY=" + testrig.SkipOrFail(t, testrig.EnvS3AccessKey, "MinIO"),
		"UNIONPORTAL_S3_SECRET_KEY=" + testrig.SkipOrFail(t, testrig.EnvS3SecretKey, "MinIO"),
		"UNIONPORTAL_SMTP_URL=smtp://" + pit.SMTPAddr,
		"UNIONPORTAL_SECRET_KEY=" + rand.Text() + rand.Text(),
		"UNIONPORTAL_BASE_URL=" + proxy.URL,
		"UNIONPORTAL_TRUSTED_PROXIES=127.0.0.1/32",
		// A dispatch held by a killed worker is rescued 2×5 s after it began (plus the
		// rescuer's 30 s period and the first retry's 30 s), within the test's budget.
		"UNIONPORTAL_DISPATCH_TIMEOUT=5s",
	}
	newProc := func(name, addr string) *portalProcess {
		e := append(slices.Clone(env), "UNIONPORTAL_DATA_DIR="+t.TempDir())
		if addr != "" {
			e = append(e, "UNIONPORTAL_ADDR="+addr)
		}
		return newPortalProcess(t, name, e)
	}

	// Migrations run once, before the processes, as an upgrade does (docs/operations.md).
	migrate := newProc("migrate", "")
	migrate.start("migrate")
	if st := migrate.wait(60 * time.Second); !st.Success() {
		t.Fatalf("migrate: %s\n%s", st, migrate.logs.String())
	}
	serveA, serveB := newProc("serve A", addrA), newProc("serve B", addrB)
	worker1, worker2 := newProc("worker 1", ""), newProc("worker 2", "")
	serveA.start("serve", "--demo") // seeds the demo tenant, then serves
	waitStatus(t, "http://"+addrA+"/readyz", http.StatusOK, 60*time.Second)
	serveB.start("serve")
	worker1.start("worker")
	worker2.start("worker")
	waitStatus(t, "http://"+addrB+"/readyz", http.StatusOK, 60*time.Second)
	proxy.waitServer(t, "a", "UP", 10*time.Second)
	proxy.waitServer(t, "b", "UP", 10*time.Second)
	for _, w := range []*portalProcess{worker1, worker2} {
		waitLog(t, w, `"msg":"unionportal worker running"`, 60*time.Second)
	}
	t.Logf("%s: 2 serve and 2 worker processes up behind haproxy at %s", since(began), proxy.URL)

	passwords := demoPasswords(serveA.stdout.String())
	const tenant = "/api/v1/tenants/industriall"
	urlA, urlB := "http://"+addrA, "http://"+addrB

	// 1. A session made on serve A works on serve B, CSRF token included.
	reviewer := login(t, urlA, "reviewer@industriall.example", passwords["reviewer@industriall.example"])
	var me struct {
		User struct{ ID string } `json:"user"`
	}
	reviewer.must(t, http.StatusOK, http.MethodGet, urlB+"/api/v1/me", nil, &me)
	reviewer.must(t, http.StatusOK, http.MethodPut, urlB+"/api/v1/me/language", map[string]string{"language": "en"}, nil)
	noCSRF := *reviewer
	noCSRF.csrf = ""
	if r := noCSRF.do(http.MethodPut, urlB+"/api/v1/me/language", map[string]string{"language": "en"}); r.status != http.StatusForbidden {
		t.Errorf("serve B accepted a session's write without its CSRF token: %s", r)
	}
	t.Logf("%s: a session from serve A works on serve B (GET /me, PUT /me/language with CSRF)", since(began))

	admin := login(t, proxy.URL, "admin@industriall.example", passwords["admin@industriall.example"])
	editor := login(t, proxy.URL, "editor@mmtuk.example", passwords["editor@mmtuk.example"])
	var settings struct {
		Workflow struct {
			RequiredApprovals int `json:"required_approvals"`
		} `json:"workflow"`
		Dispatch struct {
			Sandbox          bool   `json:"sandbox"`
			SandboxRecipient string `json:"sandbox_recipient"`
		} `json:"dispatch"`
	}
	admin.must(t, http.StatusOK, http.MethodGet, proxy.URL+tenant+"/settings", nil, &settings)
	if settings.Workflow.RequiredApprovals != 1 || !settings.Dispatch.Sandbox || settings.Dispatch.SandboxRecipient == "" {
		t.Fatalf("the demo tenant's settings are not ready for dispatch: %+v", settings)
	}
	var cases struct{ Items []struct{ ID string } }
	editor.must(t, http.StatusOK, http.MethodGet, proxy.URL+tenant+"/cases", nil, &cases)
	if len(cases.Items) == 0 {
		t.Fatal("the demo tenant has no case")
	}

	// scaleOutApprovals submitted drafts and one more (spare) for the role change and the
	// comments, created through the proxy by 8 clients at once.
	subs := make([]string, scaleOutApprovals+1)
	var failures errorList
	parallel(len(subs), 8, func(i int) {
		r := editor.do(http.MethodPost, proxy.URL+tenant+"/submissions", map[string]string{"case_id": cases.Items[0].ID,
			"kind": "additional_information", "title": fmt.Sprintf("Scale-out update %03d", i), "language": "en",
			"body": fmt.Sprintf("Update %d: the government has not replied to the Committee's recommendations.", i)})
		var s struct{ ID string }
		if r.err != nil || r.status != http.StatusCreated || json.Unmarshal(r.body, &s) != nil {
			failures.add("create draft %d: %s", i, r)
			return
		}
		if r := editor.do(http.MethodPost, proxy.URL+tenant+"/submissions/"+s.ID+"/transitions", map[string]string{"action": "submit"}); r.status != http.StatusOK {
			failures.add("submit draft %d: %s", i, r)
			return
		}
		subs[i] = s.ID
	})
	failures.fatal(t)
	spare, subs := subs[scaleOutApprovals], subs[:scaleOutApprovals]
	t.Logf("%s: %d drafts created and submitted through the proxy", since(began), len(subs)+1)

	// 2. A role taken away through serve A is enforced by serve B on the next request,
	// and given back, likewise; serve B is kept busy meanwhile, as in production.
	roleChanges(t, admin, reviewer, urlA+tenant, urlB+tenant, me.User.ID, spare)
	t.Logf("%s: role changes through serve A were enforced by serve B on the next request", since(began))

	// 2b. An API token made through serve A works on serve B, on a request naming the
	// tenant (read with the token in one statement, issue 17); revoked through serve A,
	// it fails on serve B on the very next request: nothing is cached across requests.
	var tok struct{ ID, Token string }
	reviewer.must(t, http.StatusCreated, http.MethodPost, urlA+"/api/v1/me/tokens", map[string]string{"name": "scale-out"}, &tok)
	bearer := &apiClient{hc: newHTTPClient()}
	if r := bearer.do(http.MethodGet, urlB+tenant+"/submissions?limit=1", nil, "Authorization", "Bearer "+tok.Token); r.status != http.StatusOK {
		t.Fatalf("a token made on serve A, on serve B: %s", r)
	}
	reviewer.must(t, http.StatusNoContent, http.MethodDelete, urlA+"/api/v1/me/tokens/"+tok.ID, nil, nil)
	if r := bearer.do(http.MethodGet, urlB+tenant+"/submissions?limit=1", nil, "Authorization", "Bearer "+tok.Token); r.status != http.StatusUnauthorized {
		t.Errorf("a token revoked through serve A, on serve B's next request: %s, want 401", r)
	}
	t.Logf("%s: a token revoked through serve A failed on serve B's next request", since(began))

	// 3. The approvals, through the proxy; a worker is SIGKILLed once ~50 are sent.
	db, err := database.Open(ctx, target, database.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const transitionsRoute = `"route":"/api/v1/tenants/:tenant/submissions/:id/transitions","status":200`
	beforeA, beforeB := strings.Count(serveA.logs.String(), transitionsRoute), strings.Count(serveB.logs.String(), transitionsRoute)
	killed := make(chan int64, 1)
	go func() {
		deadline := time.Now().Add(90 * time.Second)
		for time.Now().Before(deadline) {
			var sent int64
			db.Conn(ctx).Raw("SELECT count(*) FROM dispatches WHERE state = 'sent'").Scan(&sent)
			if sent >= 50 {
				worker1.kill() // SIGKILL to its process group
				worker1.start("worker")
				killed <- sent
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		killed <- -1
	}()
	approvalsBegan := time.Now()
	parallel(len(subs), 8, func(i int) {
		if r := reviewer.do(http.MethodPost, proxy.URL+tenant+"/submissions/"+subs[i]+"/transitions", map[string]string{"action": "approve"}); r.status != http.StatusOK {
			failures.add("approve %d: %s", i, r)
		}
	})
	failures.fatal(t)
	// A process writes its access line just after the answer: wait for the last ones.
	var viaA, viaB int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		viaA = strings.Count(serveA.logs.String(), transitionsRoute) - beforeA
		viaB = strings.Count(serveB.logs.String(), transitionsRoute) - beforeB
		if viaA+viaB >= len(subs) || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("%s: %d approvals through the proxy in %s: %d by serve A, %d by serve B", since(began), len(subs),
		time.Since(approvalsBegan).Round(time.Millisecond), viaA, viaB)
	if viaA+viaB != len(subs) || viaA < len(subs)/4 || viaB < len(subs)/4 {
		t.Errorf("the approvals were not spread over both serve processes: %d and %d", viaA, viaB)
	}
	sentAtKill := <-killed
	if sentAtKill < 0 {
		t.Fatal("fewer than 50 dispatches were sent within 90 s")
	}
	t.Logf("%s: worker 1 SIGKILLed with %d dispatches sent, and started again", since(began), sentAtKill)

	// 4. A rolling restart of the serve processes while comments are being written; the
	// dispatches carry on meanwhile.
	rollingRestart(t, proxy, editor, tenant, spare, []rollingStep{
		{name: "a", proc: serveA, addr: addrA}, {name: "b", proc: serveB, addr: addrB}}, began)

	// Back to 3: every submission dispatched, each with one e-mail in Mailpit.
	checkDispatches(t, db, editor, proxy.URL+tenant, pit.APIURL, subs, began)
	t.Logf("%s: done", since(began))
}

// roleChanges takes the reviewer role away through serve A (tenantA) and checks serve B
// (tenantB) refuses the reviewer's approval at once; then gives it back and checks serve
// B offers the approval at once. A client polls serve B throughout, so that it has
// always just looked at the policy version when the change lands.
func roleChanges(t *testing.T, admin, reviewer *apiClient, tenantA, tenantB, reviewerID, subID string) {
	t.Helper()
	stop := make(chan struct{})
	var busy sync.WaitGroup
	busy.Add(1)
	go func() {
		defer busy.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			admin.do(http.MethodGet, tenantB, nil)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer func() { close(stop); busy.Wait() }()
	const rounds = 10
	var refusals counter
	defer func() { t.Logf("serve B's answers to the demoted reviewer's approvals: %s", refusals.String()) }()
	for i := 0; i < rounds; i++ {
		admin.must(t, http.StatusOK, http.MethodPatch, tenantA+"/users/"+reviewerID, map[string][]string{"roles": {"viewer"}}, nil)
		r := reviewer.do(http.MethodPost, tenantB+"/submissions/"+subID+"/transitions", map[string]string{"action": "approve"})
		// A viewer of the secretariat may not even see a submitted draft: 404, as the
		// portal answers for what one may not read; 403 or 409 would do as well.
		if r.status != http.StatusForbidden && r.status != http.StatusNotFound && r.status != http.StatusConflict {
			t.Fatalf("round %d: serve B let a reviewer whose role serve A had just removed approve: %s", i+1, r)
		}
		refusals.inc(strconv.Itoa(r.status))
		admin.must(t, http.StatusOK, http.MethodPatch, tenantA+"/users/"+reviewerID, map[string][]string{"roles": {"reviewer"}}, nil)
		var v struct {
			State          string   `json:"state"`
			AllowedActions []string `json:"allowed_actions"`
		}
		reviewer.must(t, http.StatusOK, http.MethodGet, tenantB+"/submissions/"+subID, nil, &v)
		if v.State != "submitted" || !slices.Contains(v.AllowedActions, "approve") {
			t.Fatalf("round %d: serve B does not offer approve to a reviewer whose role serve A had just given back: %+v", i+1, v)
		}
	}
}

// demoPasswords reads the logins serve --demo printed: e-mail → password.
func demoPasswords(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 3 && strings.Contains(f[1], "@") {
			m[f[1]] = f[2]
		}
	}
	return m
}

// waitLog waits until p has logged a line containing s.
func waitLog(t *testing.T, p *portalProcess, s string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(p.logs.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %s within %s", p.name, s, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func since(t time.Time) string { return time.Since(t).Round(100 * time.Millisecond).String() }

// errorList gathers failures of parallel requests, to fail the test once afterwards.
type errorList struct {
	mu   sync.Mutex
	msgs []string
}

func (e *errorList) add(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.msgs = append(e.msgs, fmt.Sprintf(format, args...))
}

func (e *errorList) fatal(t *testing.T) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.msgs) > 0 {
		t.Fatalf("%d request(s) failed; the first: %s", len(e.msgs), strings.Join(e.msgs[:min(len(e.msgs), 5)], "; "))
	}
}

// counter counts events by name, for the test's report.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) inc(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[name]++
}

func (c *counter) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.n))
	for k := range c.n {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%d", k, c.n[k])
	}
	return strings.TrimSpace(b.String())
}
