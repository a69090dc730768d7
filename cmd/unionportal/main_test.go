package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/internal/testrig"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/workflow"
)

// runMainEnv makes the test binary act as the unionportal binary, so tests can send it
// real signals without building it separately.
const runMainEnv = "UNIONPORTAL_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func runCLI(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, env, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCommandLine(t *testing.T) {
	dataDir := t.TempDir()
	fileAsDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(fileAsDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		env        []string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"no command", nil, nil, 2, "usage: unionportal"},
		{"unknown command", nil, []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown flag", nil, []string{"serve", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{"demo is not a migrate flag", nil, []string{"migrate", "--demo"}, 2, "flag provided but not defined: -demo"},
		{"stray argument", nil, []string{"migrate", "now"}, 2, `unexpected argument "now"`},
		{"bad setting", []string{"UNIONPORTAL_LOG_LEVEL=loud"}, []string{"serve"}, 1, "UNIONPORTAL_LOG_LEVEL"},
		{"bad database URL", []string{"UNIONPORTAL_DATA_DIR=" + dataDir, "UNIONPORTAL_DATABASE_URL=oracle://db"}, []string{"serve"}, 1, "UNIONPORTAL_DATABASE_URL: unsupported scheme"},
		{"unreachable PostgreSQL", []string{"UNIONPORTAL_DATA_DIR=" + dataDir, "UNIONPORTAL_DATABASE_URL=postgres://up:hunter2hunter2@127.0.0.1:1/up"}, []string{"migrate"}, 1, "UNIONPORTAL_DATABASE_URL: cannot connect to PostgreSQL at postgres://up:xxxxx@127.0.0.1:1/up"},
		{"data dir is a file", []string{"UNIONPORTAL_DATA_DIR=" + fileAsDir}, []string{"serve"}, 1, "UNIONPORTAL_DATA_DIR=" + `"` + fileAsDir + `": cannot create it: not a directory`},
		{"address in use", []string{"UNIONPORTAL_DATA_DIR=" + dataDir, "UNIONPORTAL_ADDR=" + busyAddr(t)}, []string{"serve"}, 1, "cannot listen: address already in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.env, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr:\n%s\nwant it to contain %q", stderr, tt.wantStderr)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "hunter2") {
				t.Errorf("stderr shows a stack trace or a password:\n%s", stderr)
			}
			if tt.wantCode == 1 {
				// One clear line: the JSON log lines are not errors, the last line is.
				lines := strings.Split(strings.TrimSpace(stderr), "\n")
				last := lines[len(lines)-1]
				if !strings.HasPrefix(last, "unionportal: ") {
					t.Errorf("last stderr line %q is not the error", last)
				}
			}
		})
	}
}

// busyAddr returns an address that something else is listening on for the rest of t.
func busyAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runCLI(t, nil, "version")
	if code != 0 || !strings.HasPrefix(stdout, "unionportal ") {
		t.Fatalf("version: exit %d, %q", code, stdout)
	}
}

func TestMigrateCommand(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, d database.Dialect) {
		tg := dbtest.Target(t, d)
		env := []string{"UNIONPORTAL_DATA_DIR=" + t.TempDir(), "UNIONPORTAL_DATABASE_URL=" + rawURL(tg), "UNIONPORTAL_MASTER_KEY=" + keys.GenerateMaster()}
		for i := 0; i < 2; i++ {
			code, stdout, stderr := runCLI(t, env, "migrate")
			if code != 0 {
				t.Fatalf("run %d: exit %d: %s", i+1, code, stderr)
			}
			if i == 1 && !strings.Contains(stdout, "schema up to date") {
				t.Errorf("second run printed %q, want 'schema up to date'", stdout)
			}
		}
	})
}

func rawURL(tg database.Target) string {
	if tg.Dialect == database.SQLite {
		return "sqlite://" + tg.DSN
	}
	return tg.DSN
}

func freeAddr(t *testing.T) string {
	t.Helper()
	port, err := testrig.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

func waitStatus(t *testing.T, url string, want int, within time.Duration) (time.Duration, *http.Response, []byte) {
	t.Helper()
	client := &http.Client{Timeout: 3 * time.Second}
	start := time.Now()
	var last string
	for time.Since(start) < within {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == want {
				return time.Since(start), resp, body
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("GET %s did not answer %d within %s; last: %s", url, want, within, last)
	return 0, nil, nil
}

// TestServeBinaryStartsAndStopsOnSIGTERM runs the real process on the embedded default
// and stops it as an orchestrator would.
func TestServeBinaryStartsAndStopsOnSIGTERM(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	profile := filepath.Join(t.TempDir(), "cpu.pprof")
	cmd := exec.Command(os.Args[0], "serve", "--demo")
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "UNIONPORTAL_DATA_DIR="+dataDir, "UNIONPORTAL_ADDR="+addr, "UNIONPORTAL_LOG_FORMAT=json",
		"UNIONPORTAL_CPU_PROFILE="+profile)
	var logs, out syncBuffer
	cmd.Stderr, cmd.Stdout = &logs, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()

	waitStatus(t, "http://"+addr+"/healthz", 200, 15*time.Second)
	waitStatus(t, "http://"+addr+"/readyz", 200, 5*time.Second)
	if _, err := os.Stat(filepath.Join(dataDir, "unionportal.db")); err != nil {
		t.Errorf("the SQLite file was not created in the data dir: %v", err)
	}
	// A printed demo login works.
	var password string
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[1] == "editor@mmtuk.example" {
			password = f[2]
		}
	}
	resp, err := http.Post("http://"+addr+"/api/v1/auth/login", "application/json",
		strings.NewReader(`{"email":"editor@mmtuk.example","password":"`+password+`"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("demo login with %q: %v %v", password, err, resp)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("still running 20s after SIGTERM\n%s", logs.String())
	}
	for _, want := range []string{`"msg":"unionportal serving"`, `"msg":"shutting down`, `"msg":"database closed; stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
	// UNIONPORTAL_CPU_PROFILE: a complete profile (pprof's format is gzipped protobuf) was
	// written when the process stopped.
	if f, err := os.Open(profile); err != nil {
		t.Errorf("no CPU profile: %v", err)
	} else {
		zr, err := gzip.NewReader(f)
		n, err2 := int64(0), err
		if err == nil {
			n, err2 = io.Copy(io.Discard, zr)
		}
		f.Close()
		if err2 != nil || n == 0 {
			t.Errorf("the CPU profile is not a complete gzip stream: %d bytes, %v", n, err2)
		}
	}
	// --demo seeded the empty database and printed the logins.
	for _, want := range []string{"admin@industriall.example", "editor@mmtuk.example", "viewer@mmtuk.example", "demo-"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	// The draft of Case 3386 is there.
	db, err := database.Open(context.Background(), database.Target{Dialect: database.SQLite, DSN: filepath.Join(dataDir, "unionportal.db")}, database.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var title, body string
	db.Conn(context.Background()).Raw("SELECT title, body FROM submissions").Row().Scan(&title, &body)
	// And two messages from the ILO on it, their texts sealed: the second unauthenticated.
	var items, warned, files int
	var subject string
	db.Conn(context.Background()).Raw("SELECT count(*), sum(CASE WHEN sender_warning THEN 1 ELSE 0 END), max(subject) FROM correspondence_items").Row().Scan(&items, &warned, &subject)
	db.Conn(context.Background()).Raw("SELECT count(*) FROM correspondence_files").Row().Scan(&files)
	db.Close()
	if items != 2 || warned != 1 || files != 1 || !keys.IsSealed(subject) {
		t.Errorf("demo correspondence: %d items, %d with a warning, %d files, subject stored as %.40q", items, warned, files, subject)
	}
	// Its text is stored encrypted.
	if title != "Update on Case 3386 on Kyrgyzstan" || !keys.IsSealed(body) || strings.Contains(body, "Jogorku") {
		t.Errorf("demo draft %q, body stored as %.40q", title, body)
	}
	// A second --demo run leaves the database alone.
	var second bytes.Buffer
	if code := run(context.Background(), []string{"migrate"}, []string{"UNIONPORTAL_DATA_DIR=" + dataDir}, strings.NewReader(""), &second, &second); code != 0 {
		t.Fatal(second.String())
	}
	cfg, _ := loadConfig([]string{"UNIONPORTAL_DATA_DIR=" + dataDir}, "")
	a, err := newApp(context.Background(), cfg, newLogger(cfg, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	second.Reset()
	if err := seedDemo(context.Background(), a, &second); err != nil || !strings.Contains(second.String(), "not empty") {
		t.Errorf("second seeding: %v %q", err, second.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a process's output and a test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestReadinessFollowsPostgreSQL stops and restarts a PostgreSQL server under a running
// portal: /readyz and database-backed requests answer 503 quickly while it is gone and
// recover by themselves when it is back.
func TestReadinessFollowsPostgreSQL(t *testing.T) {
	pg := testrig.PrivatePostgres(t)
	cfg, err := loadConfig([]string{
		"UNIONPORTAL_DATA_DIR=" + t.TempDir(),
		"UNIONPORTAL_DATABASE_URL=" + pg.URL("postgres"), "UNIONPORTAL_MASTER_KEY=" + keys.GenerateMaster(),
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(context.Background(), cfg, newLogger(cfg, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	// A route that needs the database, as every domain route will.
	a.srv.Echo().GET("/test/db", func(c echo.Context) error {
		var one int
		if err := a.db.Conn(c.Request().Context()).Raw("SELECT 1").Scan(&one).Error; err != nil {
			return err
		}
		return c.JSON(http.StatusOK, one)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx, ln) }()
	defer func() { cancel(); <-done }()
	base := "http://" + ln.Addr().String()

	waitStatus(t, base+"/readyz", 200, 5*time.Second)
	waitStatus(t, base+"/test/db", 200, 5*time.Second)

	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	// The first probe after the stop must already say so, and in time.
	start := time.Now()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with PostgreSQL stopped: %d, want 503", resp.StatusCode)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("/readyz took %s with PostgreSQL stopped, want under 2s", d)
	}
	_, resp, body := waitStatus(t, base+"/test/db", http.StatusServiceUnavailable, 5*time.Second)
	var p map[string]any
	if resp.Header.Get("Content-Type") != "application/problem+json" || json.Unmarshal(body, &p) != nil || p["code"] != "database_unavailable" {
		t.Errorf("request while PostgreSQL is down: %s %s", resp.Header.Get("Content-Type"), body)
	}

	if err := pg.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, base+"/readyz", 200, 10*time.Second)
	waitStatus(t, base+"/test/db", 200, 10*time.Second)
}

func TestCreateSuperadmin(t *testing.T) {
	dataDir := t.TempDir()
	env := []string{"UNIONPORTAL_DATA_DIR=" + dataDir}
	runWithStdin := func(stdin string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, env, strings.NewReader(stdin), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	if code, _, stderr := runWithStdin("", "admin", "create-superadmin"); code != 2 || !strings.Contains(stderr, "--email is required") {
		t.Errorf("without --email: %d %s", code, stderr)
	}
	if code, _, stderr := runWithStdin("", "admin", "frobnicate"); code != 2 || !strings.Contains(stderr, "create-superadmin") {
		t.Errorf("unknown admin command: %d %s", code, stderr)
	}
	if code, _, stderr := runWithStdin("", "admin", "create-superadmin", "--email", "root@fed.test"); code != 1 || !strings.Contains(stderr, "no password on standard input") {
		t.Errorf("no password: %d %s", code, stderr)
	}
	if code, _, stderr := runWithStdin("short\n", "admin", "create-superadmin", "--email", "root@fed.test"); code != 1 || !strings.Contains(stderr, "password: must be at least 12 characters") {
		t.Errorf("short password: %d %s", code, stderr)
	}
	code, stdout, stderr := runWithStdin("a long enough password\n", "admin", "create-superadmin", "--email", "Root@Fed.test")
	if code != 0 || !strings.Contains(stdout, "superadmin root@fed.test") {
		t.Fatalf("create: %d %s %s", code, stdout, stderr)
	}
	db, err := database.Open(context.Background(), database.Target{Dialect: database.SQLite, DSN: filepath.Join(dataDir, "unionportal.db")}, database.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var super bool
	if err := db.Conn(context.Background()).Raw("SELECT is_superadmin FROM users WHERE email = 'root@fed.test'").Scan(&super).Error; err != nil || !super {
		t.Errorf("is_superadmin = %v (%v)", super, err)
	}
	// Running it again resets the password of the same account.
	if code, _, stderr := runWithStdin("another long password\n", "admin", "create-superadmin", "--email", "root@fed.test"); code != 0 {
		t.Errorf("second run: %d %s", code, stderr)
	}
	var n int64
	db.Conn(context.Background()).Raw("SELECT count(*) FROM users").Scan(&n)
	if n != 1 {
		t.Errorf("%d users after two runs, want 1", n)
	}
}

func TestAuditVerifyCommand(t *testing.T) {
	dataDir := t.TempDir()
	env := []string{"UNIONPORTAL_DATA_DIR=" + dataDir}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"admin", "create-superadmin", "--email", "root@fed.test"}, env,
		strings.NewReader("a long enough password\n"), &out, &errOut); code != 0 {
		t.Fatalf("create-superadmin: %s", errOut.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"audit", "verify"}, env, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("verify on an intact trail: exit %d: %s %s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "platform: 1 events, chain intact") {
		t.Errorf("output %q", out.String())
	}
	db, err := database.Open(context.Background(), database.Target{Dialect: database.SQLite, DSN: filepath.Join(dataDir, "unionportal.db")}, database.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Conn(context.Background()).Exec("UPDATE events SET ip = '10.9.9.9'")
	db.Close()
	out.Reset()
	code := run(context.Background(), []string{"audit", "verify"}, env, strings.NewReader(""), &out, &errOut)
	if code != 1 || !strings.Contains(out.String(), "BROKEN") || !strings.Contains(out.String(), "sequence number 1") {
		t.Errorf("verify on an edited trail: exit %d, %q", code, out.String())
	}
	if code := run(context.Background(), []string{"audit", "verify", "--tenant", "nope"}, env, strings.NewReader(""), &out, &errOut); code != 1 {
		t.Errorf("unknown tenant: exit %d", code)
	}
}

// TestWorkerSendsToOutbox runs `serve` and `worker` as separate processes on one
// SQLite file, as a scaled-out deployment would: an approval made through the portal is
// delivered by the worker into the outbox, as one .eml with the dispatch's Message-ID.
func TestWorkerSendsToOutbox(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	env := []string{"UNIONPORTAL_DATA_DIR=" + dataDir}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"migrate"}, env, strings.NewReader(""), &out, &out); code != 0 {
		t.Fatal(out.String())
	}
	cfg, err := loadConfig(env, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(context.Background(), cfg, newLogger(cfg, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if err := seedDemo(context.Background(), a, io.Discard); err != nil {
		t.Fatal(err)
	}
	a.close()

	metricsAddr := freeAddr(t)
	cmd := exec.Command(os.Args[0], "worker")
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "UNIONPORTAL_DATA_DIR="+dataDir, "UNIONPORTAL_LOG_FORMAT=json",
		"UNIONPORTAL_WORKER_METRICS_ADDR="+metricsAddr)
	var logs syncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	// Approve the demo draft in this process (its queue is not started: only the
	// worker process works jobs).
	a, err = newApp(context.Background(), cfg, newLogger(cfg, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	ctx := context.Background()
	demoAct(t, a, "editor@mmtuk.example", workflow.ActionSubmit)
	subID := demoAct(t, a, "reviewer@industriall.example", workflow.ActionApprove)
	deadline := time.Now().Add(30 * time.Second)
	var emls []string
	for len(emls) == 0 {
		emls, _ = filepath.Glob(filepath.Join(dataDir, "outbox", "dispatch-*.eml"))
		if time.Now().After(deadline) {
			t.Fatalf("no e-mail in the outbox; worker log:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := os.ReadFile(emls[0])
	// Unfold the headers (RFC 5322 folds long ones onto continuation lines).
	eml := strings.NewReplacer("\r\n ", " ", "\n ", " ").Replace(string(b))
	for _, want := range []string{"Message-ID: <dispatch-", "To: \"Sandbox\" <sandbox@industriall.example>",
		"Subject: [TEST] Case No. 3386 (Kyrgyzstan): Update on Case 3386 on Kyrgyzstan", "Case-3386-letter.pdf"} {
		if !strings.Contains(eml, want) {
			t.Errorf("the .eml lacks %q", want)
		}
	}
	if len(emls) != 1 {
		t.Errorf("%d dispatch e-mails in the outbox, want 1", len(emls))
	}
	// The worker's own metrics count what it sent.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		var body []byte
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if strings.Contains(string(body), "unionportal_dispatch_sent_total 1") && strings.Contains(string(body), "go_goroutines") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker's /metrics: %v\n%s", err, grepText(string(body), "unionportal_dispatch"))
		}
	}
	// The reviewers were told of the submission, the author of the dispatch, without
	// the submission's text.
	for time.Now().Before(deadline) {
		notes, _ := filepath.Glob(filepath.Join(dataDir, "outbox", "notify-*.eml"))
		if len(notes) >= 2 { // submitted: to the reviewer; dispatched: to the editor
			var all string
			for _, n := range notes {
				b, _ := os.ReadFile(n)
				all += strings.NewReplacer("\r\n ", " ", "\n ", " ").Replace(string(b))
			}
			for _, want := range []string{"To: <reviewer@industriall.example>", "To: <editor@mmtuk.example>",
				"Subject: unionportal: a submission on Case 3386 was submitted for review", "was sent to the ILO"} {
				if !strings.Contains(all, want) {
					t.Errorf("notifications lack %q", want)
				}
			}
			if strings.Contains(all, "Jogorku") {
				t.Error("a notification repeats the submission's text")
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var state string
	deadline = time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		a.db.Conn(ctx).Raw("SELECT state FROM submissions WHERE id = ?", subID).Scan(&state)
		if state == "dispatched" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if state != "dispatched" {
		t.Errorf("state %s, want dispatched", state)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
}

// demoAct takes a workflow action on the demo draft as the demo user with this e-mail,
// and returns the draft's id.
func demoAct(t *testing.T, a *app, email string, action workflow.Action) string {
	t.Helper()
	ctx := context.Background()
	var userID, subID string
	a.db.Conn(ctx).Raw("SELECT id FROM users WHERE email = ?", email).Scan(&userID)
	a.db.Conn(ctx).Raw("SELECT id FROM submissions ORDER BY created_at LIMIT 1").Scan(&subID)
	ta, err := a.auth.ResolveTenant(ctx, &auth.Principal{User: auth.User{ID: userID, Active: true}}, "industriall")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.wf.Transition(ctx, ta, subID, action, ""); err != nil {
		t.Fatal(err)
	}
	return subID
}

// grepText keeps the lines of text that contain substr.
func grepText(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// demoApp opens the portal configured by env, seeded with the demo data; the caller
// closes it.
func demoApp(t *testing.T, env []string) (*app, *Config) {
	t.Helper()
	cfg, err := loadConfig(env, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := seedDemo(context.Background(), a, io.Discard); err != nil {
		t.Fatal(err)
	}
	return a, cfg
}
