package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/internal/testrig"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/workflow"
)

// slowProxy forwards TCP to target, holding every answer of the server back for delay,
// so that an SMTP session lasts long enough to be interrupted. It counts sessions.
func slowProxy(t *testing.T, target string, delay time.Duration) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var sessions atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sessions.Add(1)
			go func() {
				defer c.Close()
				s, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer s.Close()
				go io.Copy(s, c)
				buf := make([]byte, 32<<10)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						time.Sleep(delay)
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), &sessions
}

// TestDispatchSurvivesSIGKILL kills the worker process in the middle of an SMTP session
// and starts another: the dispatch is delivered, and every copy that reached the server
// carries the dispatch's one Message-ID.
func TestDispatchSurvivesSIGKILL(t *testing.T) {
	bin := testrig.SkipOrFail(t, testrig.EnvMailpitBin, "the Mailpit binary")
	dbtest.EachDialect(t, func(t *testing.T, d database.Dialect) {
		t.Parallel() // each waits about 40 s for the queue's rescuer
		survivesSIGKILL(t, bin, d)
	})
}

func survivesSIGKILL(t *testing.T, bin string, dialect database.Dialect) {
	pit, err := testrig.StartMailpit(context.Background(), bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer pit.Stop()
	proxy, sessions := slowProxy(t, pit.SMTPAddr, 250*time.Millisecond)

	dataDir := filepath.Join(t.TempDir(), "data")
	env := []string{"UNIONPORTAL_DATA_DIR=" + dataDir, "UNIONPORTAL_SMTP_URL=smtp://" + proxy, "UNIONPORTAL_DISPATCH_TIMEOUT=3s"}
	if dialect == database.Postgres {
		env = append(env, "UNIONPORTAL_DATABASE_URL="+dbtest.Target(t, database.Postgres).DSN, "UNIONPORTAL_MASTER_KEY="+keys.GenerateMaster())
	}
	cfg, err := loadConfig(env, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(context.Background(), cfg, newLogger(cfg, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	ctx := context.Background()
	if err := seedDemo(ctx, a, io.Discard); err != nil {
		t.Fatal(err)
	}
	startWorker := func() (*exec.Cmd, *syncBuffer) {
		cmd := exec.Command(os.Args[0], "worker")
		cmd.Env = append(os.Environ(), runMainEnv+"=1", "UNIONPORTAL_LOG_FORMAT=json")
		cmd.Env = append(cmd.Env, env...)
		logs := &syncBuffer{}
		cmd.Stderr = logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, logs
	}
	first, _ := startWorker()
	defer first.Process.Kill()

	demoAct(t, a, "editor@mmtuk.example", workflow.ActionSubmit)
	before := sessions.Load() // the notification of the submit may use a session too
	subID := demoAct(t, a, "reviewer@industriall.example", workflow.ActionApprove)
	// Kill the worker once the dispatch's SMTP session is under way.
	deadline := time.Now().Add(30 * time.Second)
	for sessions.Load() <= before {
		if time.Now().After(deadline) {
			t.Fatal("the worker never connected to the SMTP server")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(700 * time.Millisecond)
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.Wait()

	second, logs := startWorker()
	defer second.Process.Kill()
	var state string
	deadline = time.Now().Add(120 * time.Second)
	for state != "dispatched" {
		if time.Now().After(deadline) {
			t.Fatalf("state %q two minutes after the restart; worker log:\n%s", state, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
		a.db.Conn(ctx).Raw("SELECT state FROM submissions WHERE id = ?", subID).Scan(&state)
	}
	var messageID string
	a.db.Conn(ctx).Raw("SELECT message_id FROM dispatches WHERE submission_id = ?", subID).Scan(&messageID)

	resp, err := http.Get(pit.APIURL + "/api/v1/messages?limit=200")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Messages []struct{ MessageID, Subject string }
	}
	json.NewDecoder(resp.Body).Decode(&list)
	copies := 0
	for _, m := range list.Messages {
		if strings.Contains(m.Subject, "Case No. 3386") {
			copies++
			if "<"+m.MessageID+">" != messageID {
				t.Errorf("a second, different e-mail was sent: Message-ID %s, the dispatch's is %s", m.MessageID, messageID)
			}
		}
	}
	if copies == 0 {
		t.Fatal("the dispatch reached the SMTP server never")
	}
	t.Logf("%d cop(ies) with Message-ID %s", copies, messageID)
	second.Process.Signal(os.Interrupt)
	second.Wait()
}
