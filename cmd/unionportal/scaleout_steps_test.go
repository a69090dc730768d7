package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/unionportal/unionportal/database"
)

// rollingStep is one serve process of a rolling restart: its HAProxy server name, the
// process and its address.
type rollingStep struct {
	name string
	proc *portalProcess
	addr string
}

// rollingRestart writes comments on subID through the proxy from 4 clients, each with a
// unique text and Idempotency-Key, retried with the same key after a connection error,
// 502, 503 or 409 idempotency_in_progress; meanwhile each serve process in turn gets
// SIGTERM, exits, starts again and is seen healthy by HAProxy. Afterwards every comment
// a client saw accepted exists exactly once, and no request got any other answer.
func rollingRestart(t *testing.T, proxy *haproxy, client *apiClient, tenant, subID string, steps []rollingStep, began time.Time) {
	t.Helper()
	commentsURL := proxy.URL + tenant + "/submissions/" + subID + "/comments"
	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		seq      atomic.Int64
		counts   counter
		mu       sync.Mutex
		accepted = map[string]string{} // comment text → the id its answer gave
		failures errorList
	)
	acceptedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(accepted)
	}
	const clients = 4
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := *client
			cl.hc = newHTTPClient()
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := seq.Add(1)
				text := fmt.Sprintf("rolling-restart comment %d", n)
				key := fmt.Sprintf("scaleout-comment-%d", n)
				for attempt := 1; ; attempt++ {
					r := cl.do(http.MethodPost, commentsURL, map[string]string{"body": text}, "Idempotency-Key", key)
					retry := false
					switch {
					case r.err != nil:
						counts.inc("connection error")
						retry = true
					case r.status == http.StatusCreated:
						counts.inc("201")
						if r.header.Get("Idempotent-Replayed") == "true" {
							counts.inc("201 replayed")
						}
						if attempt > 1 {
							counts.inc("accepted after a retry")
						}
						var cm struct{ ID string }
						json.Unmarshal(r.body, &cm)
						mu.Lock()
						accepted[text] = cm.ID
						mu.Unlock()
					case r.status == http.StatusBadGateway || r.status == http.StatusServiceUnavailable:
						counts.inc(strconv.Itoa(r.status))
						retry = true
					case r.status == http.StatusConflict && strings.Contains(string(r.body), "idempotency_in_progress"):
						counts.inc("409 idempotency_in_progress")
						retry = true
					default:
						counts.inc(strconv.Itoa(r.status))
						failures.add("comment %d: %s", n, r)
					}
					if !retry {
						break
					}
					if attempt == 100 {
						failures.add("comment %d: still failing after %d attempts: %s", n, attempt, r)
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	stopClients := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopClients()

	time.Sleep(time.Second) // the load is on both processes
	for _, s := range steps {
		before := acceptedCount()
		stopped := time.Now()
		s.proc.signal(syscall.SIGTERM)
		if st := s.proc.wait(40 * time.Second); !st.Success() {
			t.Errorf("serve %s after SIGTERM: %s, want exit status 0", s.name, st)
		}
		exited := time.Since(stopped)
		proxy.waitServer(t, s.name, "DOWN", 10*time.Second)
		s.proc.start("serve")
		waitStatus(t, "http://"+s.addr+"/readyz", http.StatusOK, 60*time.Second)
		proxy.waitServer(t, s.name, "UP", 10*time.Second)
		t.Logf("%s: serve %s: SIGTERM, exited in %s, restarted, haproxy saw it UP %s after the signal; %d comments accepted meanwhile",
			since(began), strings.ToUpper(s.name), exited.Round(time.Millisecond), time.Since(stopped).Round(time.Millisecond), acceptedCount()-before)
		time.Sleep(time.Second)
	}
	stopClients()
	failures.fatal(t)
	t.Logf("%s: rolling restart done; the comment clients' answers: %s", since(began), counts.String())

	var list struct {
		Items []struct{ ID, Body string }
	}
	client.must(t, http.StatusOK, http.MethodGet, commentsURL, nil, &list)
	stored := map[string][]string{}
	for _, c := range list.Items {
		if strings.HasPrefix(c.Body, "rolling-restart comment ") {
			stored[c.Body] = append(stored[c.Body], c.ID)
		}
	}
	for text, ids := range stored {
		if len(ids) > 1 {
			t.Errorf("%q is stored %d times", text, len(ids))
		}
		if _, ok := accepted[text]; !ok {
			t.Errorf("%q is stored, but its client never saw it accepted", text)
		}
	}
	for text, id := range accepted {
		if ids := stored[text]; len(ids) != 1 || ids[0] != id {
			t.Errorf("%q was accepted as %s, but is stored as %v", text, id, ids)
		}
	}
	if len(accepted) < 20 {
		t.Errorf("only %d comments were accepted during the rolling restart: too little load to tell", len(accepted))
	}
	t.Logf("%s: %d accepted comments, each stored exactly once", since(began), len(accepted))
}

// checkDispatches waits until every submission in subs is dispatched (as the API reports
// it), then checks that each has one dispatch and that Mailpit holds exactly one e-mail
// with each dispatch's Message-ID, and none other.
func checkDispatches(t *testing.T, db *database.DB, client *apiClient, tenantURL, mailpitURL string, subs []string, began time.Time) {
	t.Helper()
	ctx := context.Background()
	want := map[string]bool{}
	for _, id := range subs {
		want[id] = true
	}
	deadline := time.Now().Add(150 * time.Second)
	for {
		n := 0
		for cursor := ""; ; {
			var page struct {
				Items      []struct{ ID string }
				NextCursor string `json:"next_cursor"`
			}
			client.must(t, http.StatusOK, http.MethodGet, tenantURL+"/submissions?state=dispatched&limit=100&cursor="+url.QueryEscape(cursor), nil, &page)
			for _, it := range page.Items {
				if want[it.ID] {
					n++
				}
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if n == len(subs) {
			break
		}
		if time.Now().After(deadline) {
			var states []struct {
				State string
				N     int
			}
			db.Conn(ctx).Raw("SELECT state, count(*) AS n FROM dispatches GROUP BY state").Scan(&states)
			t.Fatalf("%d of %d submissions dispatched after waiting 150 s; dispatches by state: %+v", n, len(subs), states)
		}
		time.Sleep(time.Second)
	}
	t.Logf("%s: the API reports all %d submissions dispatched", since(began), len(subs))

	var rows []struct{ ID, SubmissionID, MessageID, State string }
	if err := db.Conn(ctx).Raw("SELECT id, submission_id, message_id, state FROM dispatches").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	perSub := map[string]int{}
	messageIDs := map[string]string{} // Message-ID → dispatch id
	for _, r := range rows {
		perSub[r.SubmissionID]++
		messageIDs[r.MessageID] = r.ID
		if r.State != "sent" {
			t.Errorf("dispatch %s of submission %s is %s", r.MessageID, r.SubmissionID, r.State)
		}
	}
	for _, id := range subs {
		if perSub[id] != 1 {
			t.Errorf("submission %s has %d dispatches, want 1", id, perSub[id])
		}
	}

	copies := map[string]int{}
	for start := 0; ; start += 250 {
		resp, err := http.Get(fmt.Sprintf("%s/api/v1/messages?start=%d&limit=250", mailpitURL, start))
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Messages []struct{ MessageID string }
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Messages {
			if strings.HasPrefix(m.MessageID, "dispatch-") {
				copies["<"+m.MessageID+">"]++
			}
		}
		if len(page.Messages) < 250 {
			break
		}
	}
	// The dispatch jobs the rescuer took from the killed worker.
	var rescuedIDs []string
	db.Conn(ctx).Raw("SELECT args->>'dispatch_id' FROM river_job WHERE kind = 'dispatch' AND errors::text LIKE '%Rescuer%'").Scan(&rescuedIDs)
	var retried int64
	db.Conn(ctx).Raw("SELECT count(*) FROM river_job WHERE kind = 'dispatch' AND attempt > 1").Scan(&retried)
	dup := 0
	for id, n := range copies {
		if _, ok := messageIDs[id]; !ok {
			t.Errorf("Mailpit holds a dispatch e-mail %s that no dispatch sent", id)
		}
		// SMTP has no two-phase commit: a worker killed between the relay's 250 and the
		// UPDATE that records it (one statement; ADR 0027) makes the rescued job send
		// the letter again, with the same Message-ID. That, and nothing else, passes.
		switch {
		case n == 2 && slices.Contains(rescuedIDs, messageIDs[id]):
			dup++
			t.Logf("a second copy of %s, whose job was rescued from the killed worker: it was killed between the relay's answer and its record", id)
		case n > 1:
			t.Errorf("Mailpit holds %d copies of %s", n, id)
		}
	}
	for id := range messageIDs {
		if copies[id] == 0 {
			t.Errorf("the e-mail of dispatch %s is not in Mailpit", id)
		}
	}
	t.Logf("%s: Mailpit holds one e-mail for each of the %d dispatches' Message-IDs (%d with a second copy, see above), none other; %d dispatch job(s) ran more than once, %d of them rescued from the killed worker",
		since(began), len(messageIDs), dup, retried, len(rescuedIDs))
}
