package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/webhook"
	"github.com/unionportal/unionportal/workflow"
)

// receiver is an integrator's webhook endpoint, written from the Standard Webhooks
// specification rather than from the portal's code: it verifies the signature and the
// timestamp (5 minutes' tolerance), answers 500 to the first two attempts of every
// message, and de-duplicates by webhook-id.
type receiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	tries  map[string]int             // attempts per webhook-id
	events map[string]json.RawMessage // first accepted body per webhook-id
	dups   map[string]int             // accepted again after the first time
	bodies []string                   // every body received
}

func newReceiver(t *testing.T) (*receiver, *httptest.Server) {
	r := &receiver{t: t, tries: map[string]int{}, events: map[string]json.RawMessage{}, dups: map[string]int{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id, ts, sigs := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies = append(r.bodies, string(body))
	if err := r.verify(id, ts, sigs, body); err != nil {
		r.t.Errorf("delivery %s: %v", id, err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.tries[id]++
	if r.tries[id] <= 2 {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if _, seen := r.events[id]; seen {
		r.dups[id]++
	} else {
		r.events[id] = body
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) verify(id, ts, sigs string, body []byte) error {
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || id == "" {
		return errors.New("missing webhook-id or webhook-timestamp")
	}
	if d := time.Since(time.Unix(n, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("timestamp outside the tolerance")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.secret, "whsec_"))
	if err != nil {
		return err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "." + string(body)))
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	for _, s := range strings.Fields(sigs) {
		if v, sig, _ := strings.Cut(s, ","); v == "v1" && hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return errors.New("no valid signature in " + sigs)
}

func (r *receiver) accepted() map[string]json.RawMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]json.RawMessage, len(r.events))
	for k, v := range r.events {
		out[k] = v
	}
	return out
}

// failFirstLetter refuses the first letter for good (a 5xx); everything else goes to
// the outbox.
type failFirstLetter struct {
	dispatch.Outbox
	mu     sync.Mutex
	failed bool
}

func (f *failFirstLetter) Send(ctx context.Context, msg *mail.Msg) error {
	f.mu.Lock()
	first := !f.failed && strings.HasPrefix(strings.Join(msg.GetGenHeader(mail.HeaderSubject), ""), "[TEST]")
	f.failed = f.failed || first
	f.mu.Unlock()
	if first {
		return errors.New("550 mailbox unavailable")
	}
	return f.Outbox.Send(ctx, msg)
}

// feed reads the whole event feed from cursor as c, following next_cursor.
func feed(t *testing.T, c *client, cursor string, limit int) ([]workflow.TenantEvent, string) {
	t.Helper()
	var all []workflow.TenantEvent
	for {
		var page struct {
			Items      []workflow.TenantEvent `json:"items"`
			NextCursor string                 `json:"next_cursor"`
		}
		c.must(200, "GET", "/api/v1/tenants/alpha/events?limit="+strconv.Itoa(limit)+"&cursor="+cursor, nil).json(t, &page)
		if page.NextCursor == "" {
			t.Fatal("the feed gave no cursor to resume from")
		}
		all, cursor = append(all, page.Items...), page.NextCursor
		if len(page.Items) < limit {
			return all, cursor
		}
	}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 30 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhooksWholePath runs Case 3386 from draft to dispatch (a failed dispatch and
// its resend included), with a withdrawn and a rejected submission beside it, and
// checks what an integrator's receiver gets.
func TestWebhooksWholePath(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		sender := &failFirstLetter{Outbox: dispatch.Outbox{Dir: t.TempDir()}}
		h := newDispatchHarness(t, db, sender)
		w := h.world()
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, true))
		w.adminA.must(201, "POST", "/api/v1/tenants/alpha/users", map[string]any{"email": "sign@alpha.test", "name": "S",
			"password": testPassword, "organization_id": w.orgA1.ID, "roles": []string{"signatory"}})
		signatory := h.login("sign@alpha.test")

		all, allSrv := newReceiver(t)
		sent, sentSrv := newReceiver(t)
		var hook webhook.NewEndpoint
		r := w.adminA.must(201, "POST", "/api/v1/tenants/alpha/webhooks", map[string]any{"url": allSrv.URL + "/hooks", "events": []string{"*"}})
		r.json(t, &hook)
		if !strings.HasPrefix(hook.Secret, "whsec_") || !hook.Enabled || r.Header().Get("Location") != "/api/v1/tenants/alpha/webhooks/"+hook.ID {
			t.Fatalf("registration: %s, Location %q", r.Body, r.Header().Get("Location"))
		}
		all.secret = hook.Secret
		var only webhook.NewEndpoint
		w.adminA.must(201, "POST", "/api/v1/tenants/alpha/webhooks", map[string]any{"url": sentSrv.URL,
			"events": []string{"submission.dispatched"}, "enabled": true}).json(t, &only)
		sent.secret = only.Secret
		// The secret is shown once.
		for _, path := range []string{"/api/v1/tenants/alpha/webhooks", "/api/v1/tenants/alpha/webhooks/" + hook.ID} {
			if b := w.adminA.must(200, "GET", path, nil).Body.String(); strings.Contains(b, hook.Secret) || strings.Contains(b, "whsec_") {
				t.Errorf("GET %s shows the secret", path)
			}
		}
		_, start := feed(t, w.adminA, "", 100) // events before the webhooks existed are not delivered

		create := func(title string) string {
			var v workflow.SubmissionView
			w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
				"kind": "additional_information", "title": title + " " + secretMarker, "body": "The leader " + secretMarker + " was detained.", "language": "en"}).json(t, &v)
			return v.ID
		}
		act := func(c *client, id, action, comment string) {
			t.Helper()
			c.must(200, "POST", subPath(id, "/transitions"), map[string]string{"action": action, "comment": comment})
		}
		waitState := func(id string, want workflow.State) {
			waitUntil(t, "state "+string(want), func() bool {
				var v workflow.SubmissionView
				w.reviewerA.must(200, "GET", subPath(id), nil).json(t, &v)
				return v.State == want
			})
		}
		update := create("Update on Case 3386")
		act(w.editorA1, update, "submit", "")
		w.reviewerA.must(201, "POST", subPath(update, "/comments"), map[string]any{"body": "Who saw the arrest of " + secretMarker + "?"})
		act(w.reviewerA, update, "request_changes", "Name the witnesses "+secretMarker)
		act(w.editorA1, update, "submit", "")
		act(w.reviewerA, update, "approve", "")
		act(signatory, update, "sign", "")
		waitState(update, workflow.DispatchFailed)
		act(w.reviewerA, update, "resend", "")
		waitState(update, workflow.Dispatched)
		withdrawn := create("Withdrawn")
		act(w.editorA1, withdrawn, "submit", "")
		act(w.editorA1, withdrawn, "withdraw", "")
		rejected := create("Rejected")
		act(w.editorA1, rejected, "submit", "")
		act(w.reviewerA, rejected, "reject", "Not receivable "+secretMarker)

		want := map[string][]workflow.EventType{
			update: {"submission.created", "submission.submitted", "comment.created", "submission.changes_requested", "comment.created",
				"submission.submitted", "submission.approved", "submission.signed", "submission.dispatch_failed", "submission.dispatched"},
			withdrawn: {"submission.created", "submission.submitted", "submission.withdrawn"},
			rejected:  {"submission.created", "submission.submitted", "submission.rejected", "comment.created"},
		}
		events, _ := feed(t, w.adminA, start, 7)
		if len(events) != 17 {
			t.Fatalf("%d events in the feed, want 17", len(events))
		}
		waitUntil(t, "every event delivered", func() bool { return len(all.accepted()) == len(events) })
		waitUntil(t, "the dispatched event delivered to its subscriber", func() bool { return len(sent.accepted()) == 1 })

		got := all.accepted()
		bySubmission := map[string][]workflow.TenantEvent{}
		for i, e := range events {
			if i > 0 && e.Seq != events[i-1].Seq+1 {
				t.Errorf("the feed's seq jumps from %d to %d", events[i-1].Seq, e.Seq)
			}
			body, ok := got[e.ID]
			if !ok {
				t.Errorf("event %s (%s) never delivered", e.ID, e.Type)
				continue
			}
			// The body is the feed's object, byte for byte after decoding.
			var delivered workflow.TenantEvent
			if err := json.Unmarshal(body, &delivered); err != nil || delivered.ID != e.ID || delivered.Seq != e.Seq ||
				delivered.Type != e.Type || !delivered.Timestamp.Equal(e.Timestamp) || delivered.Data != e.Data {
				t.Errorf("delivered %s, the feed has %+v", body, e)
			}
			bySubmission[delivered.Data.SubmissionID] = append(bySubmission[delivered.Data.SubmissionID], delivered)
		}
		for id, types := range want {
			evs := bySubmission[id]
			sort.Slice(evs, func(i, j int) bool { return evs[i].Seq < evs[j].Seq })
			var gotTypes []workflow.EventType
			for _, e := range evs {
				gotTypes = append(gotTypes, e.Type)
				d := e.Data
				if d.Tenant != "alpha" || d.CaseID != w.caseA.ID || d.CaseNumber != "3386" || d.OrganizationID != w.orgA1.ID ||
					d.Links.Submission != "/api/v1/tenants/alpha/submissions/"+id || d.Kind != "additional_information" {
					t.Errorf("event data %+v", d)
				}
				if (e.Type == "comment.created") != (d.CommentID != "") {
					t.Errorf("%s: comment_id %q", e.Type, d.CommentID)
				}
			}
			if !slices.Equal(gotTypes, types) {
				t.Errorf("submission %s: events %v\nwant %v", id, gotTypes, types)
			}
		}
		last := bySubmission[update][len(bySubmission[update])-1].Data
		if last.State != "dispatched" || last.FromState != "dispatching" || last.DispatchID == "" || !strings.HasPrefix(last.MessageID, "<dispatch-") {
			t.Errorf("dispatched event %+v", last)
		}
		// Only ids, states and links leave the portal.
		for _, b := range all.bodies {
			if strings.Contains(b, secretMarker) || strings.Contains(b, "detained") || strings.Contains(b, "witnesses") {
				t.Fatalf("a payload carries a submission's or a comment's text: %s", b)
			}
		}
		if b := w.adminA.must(200, "GET", "/api/v1/tenants/alpha/events", nil).Body.String(); strings.Contains(b, secretMarker) {
			t.Error("the feed carries text")
		}
		var dispatched string
		for _, e := range events {
			if e.Type == workflow.EventDispatched {
				dispatched = e.ID
			}
		}
		if sub := sent.accepted(); len(sub) != 1 || !strings.Contains(string(sub[dispatched]), `"submission.dispatched"`) {
			t.Errorf("the endpoint subscribed to submission.dispatched got %v", sub)
		}

		// The log shows each attempt: two 500s, then the delivery, newest first.
		first := events[0]
		var log struct{ Items []webhook.Attempt }
		waitUntil(t, "the log", func() bool {
			w.adminA.must(200, "GET", "/api/v1/tenants/alpha/webhooks/"+hook.ID+"/deliveries?limit=100", nil).json(t, &log)
			return len(log.Items) == 3*len(events)
		})
		var attempts []webhook.Attempt
		for _, a := range log.Items {
			if a.EventID == first.ID {
				attempts = append(attempts, a)
			}
		}
		if len(attempts) != 3 {
			t.Fatalf("%d attempts for the first event, want 3: %+v", len(attempts), attempts)
		}
		for i, want := range []struct {
			n      int
			status string
			code   int
		}{{3, "delivered", 204}, {2, "failed", 500}, {1, "failed", 500}} {
			a := attempts[i]
			if a.Attempt != want.n || a.Status != want.status || a.ResponseCode != want.code || a.EventType != string(first.Type) ||
				(a.Status == "failed") != (a.Error != "" && a.NextAttemptAt != nil) || a.CreatedAt.IsZero() {
				t.Errorf("attempt %d: %+v, want %+v", i, a, want)
			}
		}

		// Redelivery sends the same webhook-id again; the receiver recognises it.
		w.adminA.must(202, "POST", "/api/v1/tenants/alpha/webhooks/"+hook.ID+"/deliveries/"+attempts[0].ID+"/redeliver", nil)
		waitUntil(t, "the redelivery", func() bool {
			all.mu.Lock()
			defer all.mu.Unlock()
			return all.dups[first.ID] == 1
		})
		if n := len(all.accepted()); n != len(events) {
			t.Errorf("after the redelivery %d distinct events, want %d", n, len(events))
		}
		// A disabled endpoint is not delivered to, and cannot redeliver.
		w.adminA.must(200, "PATCH", "/api/v1/tenants/alpha/webhooks/"+hook.ID, map[string]any{"enabled": false})
		if p := w.adminA.must(409, "POST", "/api/v1/tenants/alpha/webhooks/"+hook.ID+"/deliveries/"+attempts[0].ID+"/redeliver", nil).problem(t); p["code"] != "webhook_disabled" {
			t.Errorf("redelivery to a disabled endpoint: %v", p)
		}
	})
}

// TestWebhookRegistration: who may manage webhooks, what is refused at registration
// when private addresses are not allowed, and the endpoint's life cycle.
func TestWebhookRegistration(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newPortalHarnessWith(t, db, dispatch.Options{}, webhook.Options{}, false)
		w := h.world()
		const hooks = "/api/v1/tenants/alpha/webhooks"
		public := map[string]any{"url": "https://93.184.215.14/hooks", "events": []string{"submission.approved", "comment.created"}}

		// Only tenant admins manage webhooks; another tenant's admin does not find them.
		for name, c := range map[string]*client{"reviewer": w.reviewerA, "editor": w.editorA1, "viewer": w.viewerA2} {
			if r := c.do("POST", hooks, public); r.Code != http.StatusForbidden {
				t.Errorf("%s registering: %d, want 403", name, r.Code)
			}
			if r := c.do("GET", hooks, nil); r.Code != http.StatusForbidden {
				t.Errorf("%s listing: %d, want 403", name, r.Code)
			}
		}
		w.adminB.must(404, "POST", hooks, public)

		// Internal addresses, a name that resolves to one, plain http, credentials and
		// unknown events are refused, naming the field.
		for _, u := range []string{"https://127.0.0.1/x", "https://[::1]/x", "https://10.1.2.3/x", "https://169.254.169.254/latest/meta-data",
			"https://[::ffff:127.0.0.1]/x", "https://localhost:8443/x", "http://93.184.215.14/x", "https://u:p@93.184.215.14/x", "not a url"} {
			p := w.adminA.must(422, "POST", hooks, map[string]any{"url": u, "events": []string{"*"}}).problem(t)
			if !slices.Equal(fieldNames(p), []string{"url"}) {
				t.Errorf("%s: fields %v", u, fieldNames(p))
			}
		}
		for _, events := range [][]string{{"submission.approved", "submission.exploded"}, {}} {
			p := w.adminA.must(422, "POST", hooks, map[string]any{"url": "https://93.184.215.14/x", "events": events}).problem(t)
			if !slices.Equal(fieldNames(p), []string{"events"}) {
				t.Errorf("events %v: fields %v", events, fieldNames(p))
			}
		}

		var ep webhook.NewEndpoint
		r := w.adminA.must(201, "POST", hooks, public)
		r.json(t, &ep)
		if r.Header().Get("Location") != hooks+"/"+ep.ID || !ep.Enabled || len(ep.Events) != 2 {
			t.Errorf("created %s (Location %q)", r.Body, r.Header().Get("Location"))
		}
		var got map[string]any
		w.adminA.must(200, "GET", hooks+"/"+ep.ID, nil).json(t, &got)
		if _, shown := got["secret"]; shown || got["url"] != public["url"] {
			t.Errorf("GET %v", got)
		}
		w.adminA.must(422, "PATCH", hooks+"/"+ep.ID, map[string]any{"url": "https://192.168.0.10/x"})
		var patched webhook.Endpoint
		w.adminA.must(200, "PATCH", hooks+"/"+ep.ID, map[string]any{"events": []string{"*"}, "enabled": false}).json(t, &patched)
		if patched.Enabled || !slices.Equal(patched.Events, []string{"*"}) || patched.URL != ep.URL {
			t.Errorf("patched %+v", patched)
		}
		w.reviewerA.must(403, "DELETE", hooks+"/"+ep.ID, nil)
		w.adminB.must(404, "GET", "/api/v1/tenants/beta/webhooks/"+ep.ID, nil)
		w.adminA.must(204, "DELETE", hooks+"/"+ep.ID, nil)
		w.adminA.must(404, "GET", hooks+"/"+ep.ID, nil)

		// Every change is in the audit trail, never with the secret.
		var n int64
		db.Conn(context.Background()).Table("events").Where("object_type = 'webhook' AND details NOT LIKE ?", "%whsec_%").Count(&n)
		if n != 3 {
			t.Errorf("%d audit events about the webhook, want 3 (created, updated, deleted)", n)
		}
	})
}

// TestEventFeed: a client catches up after a gap, and sees only what it may.
func TestEventFeed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		create := func(c *client, title string) string {
			var v workflow.SubmissionView
			c.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
				"kind": "follow_up", "title": title, "body": "text", "language": "en"}).json(t, &v)
			return v.ID
		}
		// The fixture made three events (created, submitted, a comment); two more here.
		a2 := create(w.editorA2, "A2 one")
		w.editorA2.must(200, "POST", subPath(a2, "/transitions"), map[string]string{"action": "submit"})
		first, cursor := feed(t, w.adminA, "", 2)
		if len(first) != 5 {
			t.Fatalf("%d events, want 5", len(first))
		}
		// Nothing new: an empty page still gives the cursor to poll with.
		again, same := feed(t, w.adminA, cursor, 2)
		if len(again) != 0 || same != cursor {
			t.Errorf("polling with nothing new: %d events, cursor %q (was %q)", len(again), same, cursor)
		}
		// Offline for a while; then the rest, exactly, in order.
		a1 := create(w.editorA1, "A1 two")
		w.reviewerA.must(201, "POST", subPath(w.submissionA.ID, "/comments"), map[string]any{"body": "More, please."})
		w.editorA1.must(200, "POST", subPath(a1, "/transitions"), map[string]string{"action": "submit"})
		w.editorA2.must(200, "POST", subPath(a2, "/transitions"), map[string]string{"action": "withdraw"})
		rest, _ := feed(t, w.adminA, cursor, 3)
		var types []workflow.EventType
		for i, e := range rest {
			types = append(types, e.Type)
			if e.Seq != first[4].Seq+int64(i)+1 {
				t.Errorf("event %d has seq %d", i, e.Seq)
			}
		}
		if want := []workflow.EventType{"submission.created", "comment.created", "submission.submitted", "submission.withdrawn"}; !slices.Equal(types, want) {
			t.Errorf("after the gap %v, want %v", types, want)
		}
		// Editors see their own organization's events only, with the cursors working
		// across what they do not see.
		for c, org := range map[*client]string{w.editorA1: w.orgA1.ID, w.editorA2: w.orgA2.ID, w.viewerA2: w.orgA2.ID} {
			evs, _ := feed(t, c, "", 2)
			want := 0
			for _, e := range append(first, rest...) {
				if e.Data.OrganizationID == org {
					want++
				}
			}
			for _, e := range evs {
				if e.Data.OrganizationID != org {
					t.Errorf("an event of organization %s shown to a member of %s", e.Data.OrganizationID, org)
				}
			}
			if len(evs) != want || want == 0 {
				t.Errorf("%d events for organization %s, want %d", len(evs), org, want)
			}
		}
		w.adminB.must(404, "GET", "/api/v1/tenants/alpha/events", nil)
		var beta struct{ Items []workflow.TenantEvent }
		w.adminB.must(200, "GET", "/api/v1/tenants/beta/events", nil).json(t, &beta)
		if len(beta.Items) != 0 {
			t.Errorf("tenant beta's feed shows %d events", len(beta.Items))
		}
		for _, bad := range []string{"nonsense", database.Cursor("-1"), database.Cursor("x")} {
			w.adminA.must(400, "GET", "/api/v1/tenants/alpha/events?cursor="+bad, nil)
		}
	})
}

// TestSubmissionsUpdatedSince filters the list by the time of the last change.
func TestSubmissionsUpdatedSince(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		var other workflow.SubmissionView
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
			"kind": "follow_up", "title": "Old", "body": "text", "language": "en"}).json(t, &other)
		h.clock.Advance(time.Hour)
		since := h.clock.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		w.reviewerA.must(200, "POST", subPath(w.submissionA.ID, "/transitions"), map[string]string{"action": "start_review"})
		var l struct{ Items []workflow.SubmissionSummary }
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/submissions?updated_since="+since, nil).json(t, &l)
		if len(l.Items) != 1 || l.Items[0].ID != w.submissionA.ID {
			t.Errorf("updated since %s: %+v", since, l.Items)
		}
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/submissions?updated_since="+h.clock.Now().Add(-2*time.Hour).Format(time.RFC3339Nano), nil).json(t, &l)
		if len(l.Items) != 2 {
			t.Errorf("updated in the last two hours: %d, want 2", len(l.Items))
		}
		for _, bad := range []string{"yesterday", "2026-13-01T00:00:00Z", "2026-03-01"} {
			p := w.reviewerA.must(400, "GET", "/api/v1/tenants/alpha/submissions?updated_since="+bad, nil).problem(t)
			if !slices.Equal(fieldNames(p), []string{"updated_since"}) {
				t.Errorf("%s: fields %v", bad, fieldNames(p))
			}
		}
	})
}

// fixtureWebhook registers a webhook of tenant alpha's (all events, to a receiver that
// accepts everything), for tests generated from the route table; the function it
// returns waits until the webhook's log has a line.
func fixtureWebhook(t *testing.T, w *world) func() {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(srv.Close)
	var hook webhook.NewEndpoint
	w.adminA.must(201, "POST", "/api/v1/tenants/alpha/webhooks", map[string]any{"url": srv.URL, "events": []string{"*"}}).json(t, &hook)
	return func() {
		t.Helper()
		waitUntil(t, "the webhook's log", func() bool {
			var log struct{ Items []webhook.Attempt }
			w.adminA.must(200, "GET", "/api/v1/tenants/alpha/webhooks/"+hook.ID+"/deliveries", nil).json(t, &log)
			return len(log.Items) > 0
		})
	}
}

// TestWebhookRefusedAddressIsNotRetried: a delivery the address policy refuses (an
// endpoint registered where private addresses were allowed, delivered by a process
// where they are not) is recorded once, not retried, and disables the endpoint with the
// reason; switching it back on checks the address again.
func TestWebhookRefusedAddressIsNotRetried(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		lenient := newPortalHarnessWith(t, db, dispatch.Options{}, testWebhookOptions, false)
		w := lenient.world()
		strict := testWebhookOptions
		strict.AllowPrivate = false
		worker := newPortalHarnessWith(t, db, dispatch.Options{PollInterval: 50 * time.Millisecond}, strict, true)
		var received atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { received.Add(1) }))
		defer srv.Close()
		var ep struct{ ID string }
		w.adminA.must(201, "POST", "/api/v1/tenants/alpha/webhooks", map[string]any{"url": srv.URL, "events": []string{"comment.created"}}).json(t, &ep)
		w.reviewerA.must(201, "POST", subPath(w.submissionA.ID, "/comments"), map[string]any{"body": "A question."})

		var log struct {
			Items []struct {
				Status, Error string
				NextAttemptAt *time.Time `json:"next_attempt_at"`
			}
		}
		for deadline := time.Now().Add(20 * time.Second); len(log.Items) == 0; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("no delivery attempt recorded")
			}
			w.adminA.must(200, "GET", "/api/v1/tenants/alpha/webhooks/"+ep.ID+"/deliveries", nil).json(t, &log)
		}
		time.Sleep(300 * time.Millisecond) // the test schedule would have retried by now
		w.adminA.must(200, "GET", "/api/v1/tenants/alpha/webhooks/"+ep.ID+"/deliveries", nil).json(t, &log)
		if len(log.Items) != 1 || log.Items[0].Status != "failed" || !strings.Contains(log.Items[0].Error, "refused") || log.Items[0].NextAttemptAt != nil {
			t.Fatalf("deliveries %+v, want one refused attempt and no retry", log.Items)
		}
		if n := received.Load(); n != 0 {
			t.Fatalf("the receiver got %d requests", n)
		}
		var got struct {
			Enabled        bool   `json:"enabled"`
			DisabledReason string `json:"disabled_reason"`
		}
		w.adminA.must(200, "GET", "/api/v1/tenants/alpha/webhooks/"+ep.ID, nil).json(t, &got)
		if got.Enabled || !strings.Contains(got.DisabledReason, "refused") {
			t.Errorf("endpoint after a refused delivery: %+v", got)
		}
		// Switched back on where private addresses are not allowed: the address is checked.
		admin := worker.login("admin@alpha.test")
		if r := admin.do("PATCH", "/api/v1/tenants/alpha/webhooks/"+ep.ID, map[string]any{"enabled": true}); r.Code != 422 || !slices.Contains(fieldNames(r.problem(t)), "url") {
			t.Errorf("re-enabling an internal address: %d %s", r.Code, r.Body)
		}
	})
}
