package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/inbound"
	"github.com/unionportal/unionportal/internal/testrig"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/portal"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/webhook"
	"github.com/unionportal/unionportal/workflow"
)

// newDispatchHarness is a portal process whose dispatch workers send through sender.
func newDispatchHarness(t *testing.T, db *database.DB, sender dispatch.Sender) *harness {
	t.Helper()
	return newPortalHarness(t, db, dispatch.Options{Sender: sender, RetryBase: 200 * time.Millisecond,
		PollInterval: 50 * time.Millisecond, MaxAttempts: 25}, true)
}

// testWebhookOptions let the tests' receivers be local and retry within milliseconds.
var testWebhookOptions = webhook.Options{AllowPrivate: true, Timeout: 5 * time.Second,
	Schedule: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}}

// newPortalHarness is a portal process with the services wired as serve wires them
// (portal.New), its dispatch workers started when start is set.
func newPortalHarness(t *testing.T, db *database.DB, opts dispatch.Options, start bool) *harness {
	t.Helper()
	return newPortalHarnessWith(t, db, opts, testWebhookOptions, start)
}

// newPortalHarnessWith is newPortalHarness with webhook options of its own.
func newPortalHarnessWith(t *testing.T, db *database.DB, opts dispatch.Options, hooks webhook.Options, start bool) *harness {
	t.Helper()
	return newPortalHarnessStore(t, db, opts, hooks, start, nil)
}

// newPortalHarnessStore is newPortalHarnessWith whose services use wrap(store), if
// wrap is not nil: a store of the caller's, or the harness's own with faults.
func newPortalHarnessStore(t *testing.T, db *database.DB, opts dispatch.Options, hooks webhook.Options, start bool, wrap func(storage.Store) storage.Store) *harness {
	t.Helper()
	return newPortalHarnessMaster(t, db, opts, hooks, start, wrap, testMaster, testInboundOptions)
}

// testInboundOptions let the tests' mailboxes be on loopback.
var testInboundOptions = inbound.Options{AllowPrivate: true}

// newPortalHarnessMaster is newPortalHarnessStore for an installation with master key
// m: another installation than the other harnesses'.
func newPortalHarnessMaster(t *testing.T, db *database.DB, opts dispatch.Options, hooks webhook.Options, start bool, wrap func(storage.Store) storage.Store, m *keys.Master, in inbound.Options) *harness {
	t.Helper()
	h := newHarnessMaster(t, db, m)
	if wrap != nil {
		h.store = wrap(h.store)
	}
	if err := dispatch.MigrateQueue(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	if opts.Sender == nil {
		opts.Sender = dispatch.Outbox{Dir: t.TempDir()}
	}
	services, err := portal.New(context.Background(), db, h.store, portal.Options{Now: h.clock.Now, Keys: h.keys,
		Auth: testAuthOptions, Dispatch: opts, Webhook: hooks, Inbound: in})
	if err != nil {
		t.Fatal(err)
	}
	h.auth, h.wf, h.hooks, h.services = services.Auth, services.Workflow, services.Webhooks, services
	d := services.Dispatch
	h.srv = New(Options{Auth: h.auth, Workflow: h.wf, Dispatch: d, Webhooks: h.hooks, Inbound: services.Inbound, Metrics: services.Metrics})
	if !start {
		return h
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		d.Stop(stop)
		cancel()
	})
	return h
}

// mailpit reads what a Mailpit server received.
type mailpit struct{ api string }

type mailpitMessage struct {
	ID        string
	MessageID string
	Subject   string
	To, Cc    []struct{ Address string }
	Bcc       []struct{ Address string }
}

func (m mailpit) byMessageID(t *testing.T, messageID string) []mailpitMessage {
	t.Helper()
	resp, err := http.Get(m.api + "/api/v1/search?query=" + "message-id:" + strings.Trim(messageID, "<>") + "&limit=50")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Messages []mailpitMessage }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Messages
}

func (m mailpit) attachments(t *testing.T, id string) map[string][]byte {
	t.Helper()
	resp, err := http.Get(m.api + "/api/v1/message/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var msg struct {
		Attachments []struct{ PartID, FileName string }
	}
	json.NewDecoder(resp.Body).Decode(&msg)
	out := map[string][]byte{}
	for _, a := range msg.Attachments {
		r, err := http.Get(m.api + "/api/v1/message/" + id + "/part/" + a.PartID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		out[a.FileName] = b
	}
	return out
}

// approveAndWait approves the fixture's submission and waits until its dispatch ends.
func approveAndWait(t *testing.T, w *world, id string, want workflow.State) dispatch.Dispatch {
	t.Helper()
	w.reviewerA.must(200, "POST", subPath(id, "/transitions"), map[string]string{"action": "approve"})
	deadline := time.Now().Add(30 * time.Second)
	for {
		var v workflow.SubmissionView
		w.reviewerA.must(200, "GET", subPath(id), nil).json(t, &v)
		if v.State == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %s after 30 s, want %s", v.State, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var ds struct{ Items []dispatch.Dispatch }
	w.reviewerA.must(200, "GET", subPath(id, "/dispatches"), nil).json(t, &ds)
	if len(ds.Items) == 0 {
		t.Fatal("no dispatch recorded")
	}
	return ds.Items[0]
}

func TestDispatchToMailpit(t *testing.T) {
	addr := testrig.SkipOrFail(t, testrig.EnvSMTPAddr, "Mailpit")
	mp := mailpit{api: testrig.SkipOrFail(t, testrig.EnvMailpitURL, "Mailpit API")}
	smtp, err := dispatch.NewSMTP("smtp://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newDispatchHarness(t, db, smtp)
		w := h.world()

		t.Run("sandbox", func(t *testing.T) {
			w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
			// The reviewer previews the letter first.
			r := w.reviewerA.must(200, "GET", subPath(w.submissionA.ID, "/letter.pdf"), nil)
			if !strings.HasPrefix(r.Body.String(), "%PDF-") || r.Header().Get("Content-Type") != "application/pdf" {
				t.Fatalf("letter preview: %s", r.Header())
			}
			d := approveAndWait(t, w, w.submissionA.ID, workflow.Dispatched)
			if d.State != "sent" || !d.Sandbox || len(d.Deliveries) != 1 || d.Deliveries[0].Address != "sandbox@alpha.test" || d.Deliveries[0].Status != "accepted" {
				t.Fatalf("dispatch %+v", d)
			}
			msgs := mp.byMessageID(t, d.MessageID)
			if len(msgs) != 1 {
				t.Fatalf("%d messages with Message-ID %s, want 1", len(msgs), d.MessageID)
			}
			m := msgs[0]
			if !strings.HasPrefix(m.Subject, "[TEST] Case No. 3386 (Kyrgyzstan): Update "+secretMarker) ||
				len(m.To) != 1 || m.To[0].Address != "sandbox@alpha.test" || len(m.Cc)+len(m.Bcc) != 0 {
				t.Errorf("message %+v", m)
			}
			files := mp.attachments(t, m.ID)
			if !strings.HasPrefix(string(files["Case-3386-letter.pdf"]), "%PDF-") {
				t.Errorf("no letter among %d attachments", len(files))
			}
			var atts struct{ Items []workflow.Attachment }
			w.reviewerA.must(200, "GET", subPath(w.submissionA.ID, "/attachments"), nil).json(t, &atts)
			sum := sha256.Sum256(files["witness statement.txt"])
			if hex.EncodeToString(sum[:]) != atts.Items[0].SHA256 {
				t.Errorf("the evidence received differs from the approved file")
			}
			// The as-sent record: the exact letter, and the manifest with every hash.
			letter := w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/dispatches/"+d.ID+"/letter.pdf", nil)
			if letter.Body.String() != string(files["Case-3386-letter.pdf"]) {
				t.Error("the stored letter differs from the one sent")
			}
			var manifest struct {
				MessageID string `json:"message_id"`
				Files     []struct{ Name, SHA256 string }
			}
			w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/dispatches/"+d.ID+"/manifest.json", nil).json(t, &manifest)
			if manifest.MessageID != d.MessageID || len(manifest.Files) != 2 || manifest.Files[1].SHA256 != atts.Items[0].SHA256 {
				t.Errorf("manifest %+v", manifest)
			}
			// Metrics.
			metrics := h.anonymous().must(200, "GET", "/metrics", nil).Body.String()
			for _, want := range []string{"unionportal_dispatch_sent_total 1", "unionportal_dispatch_queue_depth 0", `unionportal_http_responses_total{route="/api/v1/tenants/:tenant/submissions/:id",status="2xx"}`} {
				if !strings.Contains(metrics, want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
		})

		t.Run("evidence too large goes as links", func(t *testing.T) {
			st := dispatchReady(1, false)
			st["dispatch"].(map[string]any)["max_email_bytes"] = 1 << 20
			w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", st)
			var v workflow.SubmissionView
			w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
				"kind": "follow_up", "title": "Big", "body": "Text.", "language": "en"}).json(t, &v)
			// Plain text: a truncated PDF could not be cleaned, and would not be receivable.
			big := []byte(strings.Repeat("scan ", (1<<20-6)/5))
			var att workflow.Attachment
			w.editorA1.upload(201, v.ID, "scan.txt", "text/plain", big).json(t, &att)
			w.editorA1.must(200, "POST", subPath(v.ID, "/transitions"), map[string]string{"action": "submit"})
			d := approveAndWait(t, w, v.ID, workflow.Dispatched)
			msgs := mp.byMessageID(t, d.MessageID)
			if len(msgs) != 1 {
				t.Fatalf("%d messages", len(msgs))
			}
			files := mp.attachments(t, msgs[0].ID)
			if len(files) != 1 || files["Case-3386-letter.pdf"] == nil {
				t.Errorf("attachments %d, want only the letter", len(files))
			}
			resp, err := http.Get(mp.api + "/api/v1/message/" + msgs[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			var full struct{ Text string }
			json.NewDecoder(resp.Body).Decode(&full)
			resp.Body.Close()
			link := evidenceLinkPath.FindString(full.Text)
			if !strings.Contains(full.Text, "too large for e-mail") || link == "" {
				t.Fatalf("the text lacks the download link:\n%s", full.Text)
			}
			if r := h.anonymous().must(200, "GET", link, nil); r.Body.String() != string(big) {
				t.Errorf("the link gave %d bytes", r.Body.Len())
			}
		})

		t.Run("real recipients", func(t *testing.T) {
			st := dispatchReady(1, false)
			st["dispatch"].(map[string]any)["sandbox"] = false
			st["dispatch"].(map[string]any)["recipients"] = []any{
				map[string]any{"name": "Chief, FoA Branch", "title": "Chief", "address": "freedom@ilo.test", "kind": "to"},
				map[string]any{"name": "Branch", "address": "libsynd@ilo.test", "kind": "cc"},
				map[string]any{"name": "Archive", "address": "archive@alpha.test", "kind": "bcc"}}
			w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", st)
			var v workflow.SubmissionView
			w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
				"kind": "follow_up", "title": "Follow-up\r\nBcc: evil@x.test", "body": "Text.", "language": "en"}).json(t, &v)
			w.editorA1.must(200, "POST", subPath(v.ID, "/transitions"), map[string]string{"action": "submit"})
			d := approveAndWait(t, w, v.ID, workflow.Dispatched)
			msgs := mp.byMessageID(t, d.MessageID)
			if len(msgs) != 1 {
				t.Fatalf("%d messages", len(msgs))
			}
			m := msgs[0]
			if strings.HasPrefix(m.Subject, "[TEST]") || len(m.To) != 1 || m.To[0].Address != "freedom@ilo.test" ||
				len(m.Cc) != 1 || m.Cc[0].Address != "libsynd@ilo.test" {
				t.Errorf("message %+v", m)
			}
			// The title's line break became a space: "Bcc: evil@x.test" stayed subject text.
			if strings.Contains(fmt.Sprint(m.To, m.Cc, m.Bcc), "evil@x.test") || len(m.Bcc) != 1 || len(d.Deliveries) != 3 ||
				!strings.Contains(m.Subject, "Follow-up Bcc: evil@x.test") {
				t.Errorf("header injection or recipients: %+v / %+v", m, d.Deliveries)
			}
		})
	})
}

// TestDispatchRejectedAndRetried uses a private Mailpit: one that refuses a recipient
// (a permanent 5xx: dispatch_failed, with the server's answer), and one that is down
// for a while (retried until delivered, once).
func TestDispatchRejectedAndRetried(t *testing.T) {
	bin := testrig.SkipOrFail(t, testrig.EnvMailpitBin, "the Mailpit binary")
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		rejectedAndRetried(t, db, bin)
	})
}

func rejectedAndRetried(t *testing.T, db *database.DB, bin string) {
	pit, err := testrig.StartMailpit(context.Background(), bin, t.TempDir(), "--smtp-allowed-recipients", `^sandbox@`)
	if err != nil {
		t.Fatal(err)
	}
	defer pit.Stop()
	smtp, err := dispatch.NewSMTP("smtp://" + pit.SMTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	h := newDispatchHarness(t, db, smtp)
	w := h.world()

	st := dispatchReady(1, false)
	st["dispatch"].(map[string]any)["sandbox_recipient"] = "nobody@alpha.test"
	w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", st)
	d := approveAndWait(t, w, w.submissionA.ID, workflow.DispatchFailed)
	if d.State != "failed" || !strings.Contains(d.LastError, "550") || d.Deliveries[0].Status != "rejected" {
		t.Fatalf("rejected dispatch %+v", d)
	}

	// Fixing the settings does not change what was approved: a resend goes to the
	// approved (wrong) address again.
	st["dispatch"].(map[string]any)["sandbox_recipient"] = "sandbox@alpha.test"
	w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", st)
	w.reviewerA.must(200, "POST", subPath(w.submissionA.ID, "/transitions"), map[string]string{"action": "resend"})
	var ds struct{ Items []dispatch.Dispatch }
	deadline := time.Now().Add(30 * time.Second)
	for {
		w.reviewerA.must(200, "GET", subPath(w.submissionA.ID, "/dispatches"), nil).json(t, &ds)
		if len(ds.Items) == 2 && ds.Items[0].State != "queued" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("resend not finished after 30 s: %+v", ds.Items)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d := ds.Items[0]; d.State != "failed" || len(d.Deliveries) != 1 || d.Deliveries[0].Address != "nobody@alpha.test" {
		t.Fatalf("resend did not send the approved snapshot: %+v", d)
	}

	// A submission approved with the fixed settings, with Mailpit down at first: retried,
	// then delivered once.
	var sub workflow.SubmissionView
	w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
		"kind": "follow_up", "title": "Second", "body": "Body.", "language": "en"}).json(t, &sub)
	w.editorA1.must(200, "POST", subPath(sub.ID, "/transitions"), map[string]string{"action": "submit"})
	if err := pit.Stop(); err != nil {
		t.Fatal(err)
	}
	w.reviewerA.must(200, "POST", subPath(sub.ID, "/transitions"), map[string]string{"action": "approve"})
	// A first attempt fails and is recorded; the dispatch stays queued for a retry.
	deadline = time.Now().Add(30 * time.Second)
	for {
		w.reviewerA.must(200, "GET", subPath(sub.ID, "/dispatches"), nil).json(t, &ds)
		if ds.Items[0].Attempts > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ds.Items[0].State != "queued" || ds.Items[0].Attempts == 0 || ds.Items[0].LastError == "" {
		t.Fatalf("while Mailpit is down: %+v", ds.Items[0])
	}
	if err := pit.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		w.reviewerA.must(200, "GET", subPath(sub.ID, "/dispatches"), nil).json(t, &ds)
		if ds.Items[0].State == "sent" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered after Mailpit came back: %+v", ds.Items[0])
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(mailpit{api: pit.APIURL}.byMessageID(t, ds.Items[0].MessageID)); n != 1 {
		t.Errorf("%d copies delivered, want 1", n)
	}
}

// heldLetters holds every message to the sandbox recipient (a letter to the ILO) until
// released, and records the others (notices) as they are sent.
type heldLetters struct {
	release chan struct{}
	mu      sync.Mutex
	notices []string
}

func (h *heldLetters) Send(ctx context.Context, m *mail.Msg) error {
	for _, to := range m.GetTo() {
		if to.Address == "sandbox@alpha.test" {
			select {
			case <-h.release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.notices = append(h.notices, strings.Join(m.GetToString(), ","))
	return nil
}

func (h *heldLetters) sent() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.notices)
}

// TestNoticesDoNotWaitForLetters: notices have a queue and workers of their own, so
// that a letter to the ILO held up by its mail server (or many letters) keeps no
// notice waiting, and a burst of notices keeps no letter waiting.
func TestNoticesDoNotWaitForLetters(t *testing.T) {
	db := dbtest.New(t, database.SQLite)
	sender := &heldLetters{release: make(chan struct{})}
	h := newPortalHarness(t, db, dispatch.Options{Sender: sender, Workers: 1, PollInterval: 50 * time.Millisecond}, true)
	w := h.world()
	w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
	// The only dispatch worker takes the letter, whose delivery hangs.
	w.reviewerA.must(200, "POST", subPath(w.submissionA.ID, "/transitions"), map[string]string{"action": "approve"})
	waitFor(t, 10*time.Second, func() bool {
		var n int64
		db.Conn(context.Background()).Table("river_job").Where("kind = 'dispatch' AND state = 'running'").Count(&n)
		return n == 1
	})
	// A draft submitted meanwhile: its reviewers are told at once.
	before := sender.sent()
	var sub workflow.SubmissionView
	w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
		"kind": "follow_up", "title": "Second", "body": "Body.", "language": "en"}).json(t, &sub)
	w.editorA1.must(200, "POST", subPath(sub.ID, "/transitions"), map[string]string{"action": "submit"})
	waitFor(t, 10*time.Second, func() bool { return sender.sent() > before })
	var queues []string
	db.Conn(context.Background()).Table("river_job").Where("kind = 'notify'").Distinct().Pluck("queue", &queues)
	if !slices.Equal(queues, []string{dispatch.NoticeQueue}) {
		t.Errorf("notices went to the queues %v, want %s", queues, dispatch.NoticeQueue)
	}
	close(sender.release)
	approveDone := func() bool {
		var v workflow.SubmissionView
		w.reviewerA.must(200, "GET", subPath(w.submissionA.ID), nil).json(t, &v)
		return v.State == workflow.Dispatched
	}
	waitFor(t, 10*time.Second, approveDone)
}
