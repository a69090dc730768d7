package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-msgauth/dkim"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/inbound"
	"github.com/unionportal/unionportal/internal/testrig"
	"github.com/unionportal/unionportal/workflow"
)

// testIMAP is the IMAP server the correspondence tests read: the rig's Dovecot under
// make test, or, when the tests run alone, go-imap's in-memory server over TLS.
type testIMAP struct {
	testrig.IMAPServer
	tls *tls.Config
	// addUser creates a user's empty mailbox (the in-memory server; Dovecot makes one
	// for any user name).
	addUser func(name string)
	host    string
	port    int
}

func imapForTest(t *testing.T) *testIMAP {
	t.Helper()
	if os.Getenv(testrig.EnvIMAPAddr) != "" || testrig.Required() {
		s := testrig.IMAPFromEnv(t)
		cfg, err := s.TLSConfig()
		if err != nil {
			t.Fatal(err)
		}
		host, port, _ := net.SplitHostPort(s.Addr)
		p, _ := strconv.Atoi(port)
		return &testIMAP{IMAPServer: s, tls: cfg, addUser: func(string) {}, host: host, port: p}
	}
	// httptest's certificate is valid for 127.0.0.1.
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	ts.StartTLS()
	cert, pool := ts.TLS.Certificates[0], x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	ts.Close()
	mem := imapmemserver.New()
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:   imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		Logger: nil,
	})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	password := rand.Text()
	var mu sync.Mutex
	return &testIMAP{IMAPServer: testrig.IMAPServer{Addr: ln.Addr().String(), Password: password},
		tls: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}, host: "127.0.0.1", port: ln.Addr().(*net.TCPAddr).Port,
		addUser: func(name string) {
			mu.Lock()
			defer mu.Unlock()
			u := imapmemserver.NewUser(name, password)
			if err := u.Create("INBOX", nil); err != nil {
				t.Fatal(err)
			}
			mem.AddUser(u)
		}}
}

// client logs in as user.
func (s *testIMAP) client(t *testing.T, user string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialTLS(s.Addr, &imapclient.Options{TLSConfig: s.tls})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(user, s.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// deliver puts a message in user's INBOX, as the mail server would.
func (s *testIMAP) deliver(t *testing.T, user, msg string) {
	t.Helper()
	c := s.client(t, user)
	raw := strings.ReplaceAll(strings.ReplaceAll(msg, "\r\n", "\n"), "\n", "\r\n")
	cmd := c.Append("INBOX", int64(len(raw)), nil)
	if _, err := cmd.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

// flagged returns the Message-IDs of user's INBOX with their flags.
func (s *testIMAP) flagged(t *testing.T, user string) map[string][]imap.Flag {
	t.Helper()
	c := s.client(t, user)
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	bufs, err := c.Fetch(all, &imap.FetchOptions{Flags: true, Envelope: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]imap.Flag{}
	for _, b := range bufs {
		out["<"+b.Envelope.MessageID+">"] = b.Flags
	}
	return out
}

// iloDKIM signs messages as ilo.org and answers the DNS queries that check them.
type iloDKIM struct {
	key ed25519.PrivateKey
	dns map[string]string
}

func newILODKIM(t *testing.T) *iloDKIM {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &iloDKIM{key: priv, dns: map[string]string{
		"cfa._domainkey.ilo.org": "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub),
		"_dmarc.ilo.org":         "v=DMARC1; p=reject",
	}}
}

func (d *iloDKIM) sign(t *testing.T, msg string) string {
	t.Helper()
	var b bytes.Buffer
	raw := strings.ReplaceAll(strings.ReplaceAll(msg, "\r\n", "\n"), "\n", "\r\n")
	if err := dkim.Sign(&b, strings.NewReader(raw), &dkim.SignOptions{Domain: "ilo.org", Selector: "cfa", Signer: d.key}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func (d *iloDKIM) lookupTXT(name string) ([]string, error) {
	if v, ok := d.dns[name]; ok {
		return []string{v}, nil
	}
	return nil, errors.New("NXDOMAIN")
}

// outboxMessage reads the e-mail the outbox in dir holds for a Message-ID.
func outboxMessage(t *testing.T, dir, messageID string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, strings.Trim(messageID, "<>")+".eml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mustProblem expects a problem of status naming each of fields.
func (c *client) mustProblem(status int, method, path string, body any, fields ...string) {
	c.h.t.Helper()
	p := c.must(status, method, path, body).problem(c.h.t)
	for _, f := range fields {
		if !slices.Contains(fieldNames(p), f) {
			c.h.t.Errorf("%s %s: the problem does not name %s: %v", method, path, f, p)
		}
	}
}

// TestCorrespondence follows the ILO's answers to a dispatched Case 3386 letter into the
// case, through a real IMAP server: matched by thread and by case number, an unrelated
// message left alone, two pollers importing once, an unauthenticated ILO sender
// flagged, and a reply draft dispatched in the same e-mail thread.
func TestCorrespondence(t *testing.T) {
	srv := imapForTest(t)
	dkimKeys := newILODKIM(t)
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		outbox := t.TempDir()
		// The portal's own poller (the queue's) reads the test server too.
		h := newPortalHarnessMaster(t, db, dispatch.Options{Sender: dispatch.Outbox{Dir: outbox}, RetryBase: 200 * time.Millisecond,
			PollInterval: 50 * time.Millisecond, MaxAttempts: 25}, testWebhookOptions, true, nil, testMaster,
			inbound.Options{AllowPrivate: true, TLS: srv.tls, Verifier: &inbound.Verifier{LookupTXT: dkimKeys.lookupTXT}})
		w := h.world()
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
		sent := approveAndWait(t, w, w.submissionA.ID, workflow.Dispatched)

		// The mailbox: one IMAP user of its own per database run.
		user := "alpha-" + strings.ToLower(rand.Text()[:8])
		srv.addUser(user)
		w.adminA.mustProblem(422, "PUT", "/api/v1/tenants/alpha/mailbox", map[string]any{"enabled": true, "host": "", "port": 0, "tls": "none", "username": user},
			"host", "port", "tls")
		w.adminA.mustProblem(422, "PUT", "/api/v1/tenants/alpha/mailbox", map[string]any{"enabled": true, "host": srv.host, "port": srv.port, "tls": "implicit", "username": user},
			"password")
		var ms inbound.MailboxSettings
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/mailbox", map[string]any{"enabled": true, "host": srv.host, "port": srv.port,
			"tls": "implicit", "username": user, "password": srv.Password, "after_import": "flag"}).json(t, &ms)
		if !ms.PasswordSet || ms.Folder != "INBOX" {
			t.Fatalf("settings %+v", ms)
		}
		if body := w.adminA.must(200, "GET", "/api/v1/tenants/alpha/mailbox", nil).Body.String(); strings.Contains(body, srv.Password) {
			t.Fatal("the mailbox password is shown")
		}
		w.reviewerA.must(403, "PUT", "/api/v1/tenants/alpha/mailbox", map[string]any{"enabled": false, "host": "x.test", "port": 993, "tls": "implicit", "username": "u"})
		w.adminB.must(200, "GET", "/api/v1/tenants/beta/mailbox", nil) // beta has none: defaults
		w.adminB.mustProblem(409, "POST", "/api/v1/tenants/beta/mailbox/poll", nil)
		var raw []struct{ Password string }
		if err := db.Conn(context.Background()).Raw("SELECT password FROM mailboxes").Scan(&raw).Error; err != nil || len(raw) != 1 || !strings.HasPrefix(raw[0].Password, "enc1:") {
			t.Fatalf("the stored password is not sealed: %v %+v", err, raw)
		}

		// Three messages arrive: the ILO's acknowledgement of the letter (a reply to its
		// Message-ID, signed by ilo.org, with a receipt attached), a request for further
		// information naming the case (no threading headers, no signature) and an
		// unrelated message.
		receipt := []byte("%PDF-1.4 receipt of the Office " + secretMarker)
		receiptSum := sha256.Sum256(receipt)
		ack := dkimKeys.sign(t, "From: Committee on Freedom of Association <cfa@ilo.org>\n"+
			"To: cfa@alpha.test\nSubject: RE: Case No. 3386 (Kyrgyzstan)\nDate: Tue, 03 Nov 2026 09:00:00 +0100\n"+
			"Message-ID: <ack-3386-"+user+"@ilo.org>\nIn-Reply-To: "+sent.MessageID+"\nReferences: "+sent.MessageID+"\n"+
			"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain; charset=utf-8\n\n"+
			"We acknowledge receipt of your communication "+secretMarker+".\n--b\nContent-Type: application/pdf\n"+
			"Content-Disposition: attachment; filename=\"receipt.pdf\"\nContent-Transfer-Encoding: base64\n\n"+
			base64.StdEncoding.EncodeToString(receipt)+"\n--b--\n")
		request := "From: CFA <cfa@ilo.org>\nTo: cfa@alpha.test\nSubject: Cas n° 3386 – demande\nDate: Wed, 04 Nov 2026 09:00:00 +0100\n" +
			"Message-ID: <rfi-3386-" + user + "@ilo.org>\nContent-Type: text/plain; charset=utf-8\n\n" +
			"Le Comité souhaiterait recevoir un complément d'information " + secretMarker + ".\n"
		lunch := "From: friend@union.example\nTo: cfa@alpha.test\nSubject: Lunch on Friday\nMessage-ID: <lunch-" + user + "@union.example>\n\nSee you.\n"
		srv.deliver(t, user, ack)
		srv.deliver(t, user, request)
		srv.deliver(t, user, lunch)

		// (The harness's clock, which times the imports, is frozen: the letter, timed by
		// the real one, went before.)
		h.clock.Advance(time.Minute)
		// Two processes poll at once: each message is imported once.
		poller := func() *inbound.Service {
			s := inbound.NewService(db, h.wf, inbound.Options{Keys: h.keys, AllowPrivate: true, TLS: srv.tls,
				Verifier: &inbound.Verifier{LookupTXT: dkimKeys.lookupTXT}, Now: h.clock.Now})
			s.UseDispatch(h.services.Dispatch)
			return s
		}
		p1, p2 := poller(), poller()
		tenantID := w.tenantA.ID
		// A poll reads at most Batch new messages; the next goes on from there.
		small := inbound.NewService(db, h.wf, inbound.Options{Keys: h.keys, AllowPrivate: true, TLS: srv.tls, Batch: 1,
			Verifier: &inbound.Verifier{LookupTXT: dkimKeys.lookupTXT}, Now: h.clock.Now})
		small.UseDispatch(h.services.Dispatch)
		if r, err := small.Poll(context.Background(), tenantID); err != nil || r.Seen != 1 || r.Imported != 1 {
			t.Fatalf("a poll of one message: %+v %v", r, err)
		}
		var wg sync.WaitGroup
		reports := make([]inbound.PollReport, 2)
		errs := make([]error, 2)
		for i, p := range []*inbound.Service{p1, p2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				reports[i], errs[i] = p.Poll(context.Background(), tenantID)
			}()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil || reports[0].Imported+reports[1].Imported != 1 {
			t.Fatalf("two pollers: %+v %v", reports, errs)
		}
		if r, err := p1.Poll(context.Background(), tenantID); err != nil || r.Imported != 0 {
			t.Fatalf("a third poll imported %+v (%v)", r, err)
		}

		// The thread: the letter, then the two messages.
		var thread struct{ Items []dispatch.ThreadEntry }
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/cases/"+w.caseA.ID+"/correspondence", nil).json(t, &thread)
		if len(thread.Items) != 3 || thread.Items[0].Type != "dispatch" || thread.Items[0].Dispatch.ID != sent.ID ||
			thread.Items[1].Type != "correspondence" || thread.Items[2].Type != "correspondence" {
			t.Fatalf("thread %+v", thread.Items)
		}
		ackItem, rfi := thread.Items[1].Correspondence, thread.Items[2].Correspondence
		if ackItem.MessageID != "<ack-3386-"+user+"@ilo.org>" {
			ackItem, rfi = rfi, ackItem
		}
		if ackItem.MatchedBy != "thread" || ackItem.DispatchID == nil || *ackItem.DispatchID != sent.ID || ackItem.SubmissionID == nil ||
			*ackItem.SubmissionID != w.submissionA.ID || ackItem.Kind != workflow.KindAcknowledgement || ackItem.Status != "none" ||
			!ackItem.Authenticated || ackItem.SenderWarning || ackItem.DKIM != "pass" || ackItem.Body != "" {
			t.Errorf("acknowledgement %+v", ackItem)
		}
		if len(ackItem.Files) != 1 || ackItem.Files[0].FileName != "receipt.pdf" || ackItem.Files[0].SHA256 != hex.EncodeToString(receiptSum[:]) ||
			ackItem.Files[0].Size != int64(len(receipt)) {
			t.Errorf("files %+v", ackItem.Files)
		}
		if rfi.MatchedBy != "case_number" || rfi.DispatchID != nil || rfi.Kind != workflow.KindRequestForInformation || rfi.Status != "open" ||
			rfi.Authenticated || !rfi.SenderWarning || rfi.Subject != "Cas n° 3386 – demande" {
			t.Errorf("request %+v", rfi)
		}
		var full workflow.CorrespondenceItem
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/correspondence/"+ackItem.ID, nil).json(t, &full)
		if !strings.Contains(full.Body, "We acknowledge receipt") || full.FromName != "Committee on Freedom of Association" {
			t.Errorf("item %+v", full)
		}
		var reads struct {
			Items []struct {
				Action   string
				ObjectID string `json:"object_id"`
			}
		}
		w.adminA.must(200, "GET", "/api/v1/tenants/alpha/audit-events?action=correspondence.read", nil).json(t, &reads)
		if len(reads.Items) != 1 || reads.Items[0].ObjectID != ackItem.ID {
			t.Errorf("reading a message is audited once: %+v", reads.Items)
		}
		got := w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/correspondence/"+ackItem.ID+"/files/"+ackItem.Files[0].ID, nil)
		if !bytes.Equal(got.Body.Bytes(), receipt) {
			t.Error("the attachment read back differs from the one received")
		}
		// Stored sealed: the texts are not in the database in clear.
		var rows []struct{ Subject, Body string }
		db.Conn(context.Background()).Raw("SELECT subject, body FROM correspondence_items").Scan(&rows)
		for _, r := range rows {
			if strings.Contains(r.Subject+r.Body, secretMarker) || strings.Contains(r.Subject, "3386") || !strings.HasPrefix(r.Body, "enc1:") {
				t.Errorf("stored in clear: %q %q", r.Subject, r.Body)
			}
		}

		// The mailbox: the imported messages flagged, the unrelated one untouched.
		flags := srv.flagged(t, user)
		has := func(id string) bool {
			for _, f := range flags[id] {
				if strings.EqualFold(string(f), inbound.ImportedFlag) { // keywords are case-insensitive
					return true
				}
			}
			return false
		}
		if !has(ackItem.MessageID) || !has(rfi.MessageID) || has("<lunch-"+user+"@union.example>") || len(flags["<lunch-"+user+"@union.example>"]) != 0 {
			t.Errorf("flags %v", flags)
		}

		// Who sees what: the case's organization and the secretariat; not an affiliate
		// without a submission in the case, nor another tenant.
		w.viewerA2.must(404, "GET", "/api/v1/tenants/alpha/correspondence/"+ackItem.ID, nil)
		var other struct{ Items []dispatch.ThreadEntry }
		w.viewerA2.must(200, "GET", "/api/v1/tenants/alpha/cases/"+w.caseA.ID+"/correspondence", nil).json(t, &other)
		if len(other.Items) != 0 {
			t.Errorf("an affiliate without a submission in the case sees %d entries", len(other.Items))
		}
		var inbox struct{ Items []workflow.CorrespondenceItem }
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/correspondence?limit=1", nil).json(t, &inbox)
		if len(inbox.Items) != 1 || inbox.Items[0].Body != "" {
			t.Errorf("the tenant's inbox, page 1: %+v", inbox.Items)
		}
		w.viewerA2.must(200, "GET", "/api/v1/tenants/alpha/correspondence", nil).json(t, &inbox)
		if len(inbox.Items) != 0 {
			t.Errorf("an affiliate without a submission in the case sees %d messages", len(inbox.Items))
		}
		w.adminB.must(404, "GET", "/api/v1/tenants/beta/correspondence/"+ackItem.ID, nil)
		w.adminB.must(404, "GET", "/api/v1/tenants/alpha/correspondence/"+ackItem.ID, nil)
		w.editorA1.must(403, "PATCH", "/api/v1/tenants/alpha/correspondence/"+ackItem.ID, map[string]any{"kind": "other"})
		w.reviewerA.mustProblem(422, "PATCH", "/api/v1/tenants/alpha/correspondence/"+ackItem.ID, map[string]any{"kind": "gossip"}, "kind")

		// Reviewers were told, without the content.
		var notices []string
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			notices, _ = filepath.Glob(filepath.Join(outbox, "correspondence-*.eml"))
			if len(notices) >= 2 || time.Now().After(deadline) {
				break
			}
		}
		if len(notices) != 2 {
			t.Errorf("%d correspondence notices, want 2 (one per item, to the one reviewer)", len(notices))
		}
		for _, n := range notices {
			b, _ := os.ReadFile(n)
			if !strings.Contains(string(b), "reviewer@alpha.test") || strings.Contains(string(b), secretMarker) || strings.Contains(string(b), "demande") {
				t.Errorf("notice %s", b)
			}
		}

		// The unauthenticated request named the case only: the secretariat sees it, the
		// case's organization not until a reviewer shares it.
		if rfi.Shared || !ackItem.Shared {
			t.Errorf("shared: request %v, acknowledgement %v", rfi.Shared, ackItem.Shared)
		}
		w.editorA1.must(404, "GET", "/api/v1/tenants/alpha/correspondence/"+rfi.ID, nil)
		w.editorA1.must(200, "GET", "/api/v1/tenants/alpha/correspondence/"+ackItem.ID, nil)
		w.editorA1.mustProblem(422, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID, "kind": "additional_information",
			"title": "Reply", "body": "x", "language": "en", "in_reply_to": rfi.ID}, "in_reply_to")
		w.editorA1.must(403, "PATCH", "/api/v1/tenants/alpha/correspondence/"+ackItem.ID, map[string]any{"shared": false})
		w.reviewerA.must(200, "PATCH", "/api/v1/tenants/alpha/correspondence/"+rfi.ID, map[string]any{"shared": true}).json(t, &full)
		if !full.Shared {
			t.Fatal("the reviewer's sharing did not hold")
		}
		w.editorA1.must(200, "GET", "/api/v1/tenants/alpha/correspondence/"+rfi.ID, nil)

		// The request is answered with a new draft, whose letter replies in its thread.
		w.editorA1.mustProblem(422, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID, "kind": "additional_information",
			"title": "Reply", "body": "x", "language": "en", "in_reply_to": database.NewID()}, "in_reply_to")
		var reply workflow.SubmissionView
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID, "kind": "additional_information",
			"title": "Further information on Case 3386", "body": "The information requested.", "language": "en", "in_reply_to": rfi.ID}).json(t, &reply)
		if reply.ReplyToItemID == nil || *reply.ReplyToItemID != rfi.ID {
			t.Fatalf("reply %+v", reply.Submission)
		}
		w.editorA1.must(200, "POST", subPath(reply.ID, "/transitions"), map[string]string{"action": "submit"})
		replied := approveAndWait(t, w, reply.ID, workflow.Dispatched)
		letter := outboxMessage(t, outbox, replied.MessageID)
		if !strings.Contains(letter, "In-Reply-To: "+rfi.MessageID) || !strings.Contains(letter, "References: "+rfi.MessageID) {
			t.Errorf("the reply is not in the request's thread:\n%s", letter[:min(len(letter), 1500)])
		}
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/correspondence/"+rfi.ID, nil).json(t, &full)
		if full.Status != "answered" || full.AnsweredBy == nil || *full.AnsweredBy != reply.ID {
			t.Errorf("the request after its reply was dispatched: %+v", full)
		}
		// A reviewer may reopen it.
		w.reviewerA.must(200, "PATCH", "/api/v1/tenants/alpha/correspondence/"+rfi.ID, map[string]any{"status": "open"}).json(t, &full)
		if full.Status != "open" {
			t.Errorf("status %s", full.Status)
		}

		// STARTTLS (Dovecot's second listener): beta's mailbox is read, and is empty.
		if srv.StartTLSAddr != "" {
			host, port, _ := net.SplitHostPort(srv.StartTLSAddr)
			p, _ := strconv.Atoi(port)
			var betaMS inbound.MailboxSettings
			w.adminB.must(200, "PUT", "/api/v1/tenants/beta/mailbox", map[string]any{"enabled": true, "host": host, "port": p,
				"tls": "starttls", "username": "beta-" + user, "password": srv.Password}).json(t, &betaMS)
			if r, err := p1.Poll(context.Background(), w.tenantB.ID); err != nil || r.Seen != 0 {
				t.Errorf("STARTTLS poll: %+v %v", r, err)
			}
			w.adminB.must(200, "GET", "/api/v1/tenants/beta/mailbox", nil).json(t, &betaMS)
			if betaMS.LastPolledAt == nil || betaMS.LastError != "" {
				t.Errorf("beta's mailbox after a poll: %+v", betaMS)
			}
			// A wrong password is recorded for the settings screen, never shown.
			w.adminB.must(200, "PUT", "/api/v1/tenants/beta/mailbox", map[string]any{"enabled": true, "host": host, "port": p,
				"tls": "starttls", "username": "beta-" + user, "password": "wrong-" + srv.Password})
			if _, err := p1.Poll(context.Background(), w.tenantB.ID); err == nil {
				t.Error("a wrong password polled")
			}
			w.adminB.must(200, "GET", "/api/v1/tenants/beta/mailbox", nil).json(t, &betaMS)
			if !strings.Contains(betaMS.LastError, "login") || strings.Contains(betaMS.LastError, srv.Password) {
				t.Errorf("last error %q", betaMS.LastError)
			}
		}

		// Poll now, through the queue; and the settings show the last poll.
		w.reviewerA.must(202, "POST", "/api/v1/tenants/alpha/mailbox/poll", nil)
		w.editorA1.must(403, "POST", "/api/v1/tenants/alpha/mailbox/poll", nil)
		deadline := time.Now().Add(30 * time.Second)
		for {
			w.adminA.must(200, "GET", "/api/v1/tenants/alpha/mailbox", nil).json(t, &ms)
			if ms.LastPolledAt != nil && ms.Imported == 2 && ms.LastError == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("mailbox %+v", ms)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// fixtureCorrespondence imports a message from the ILO into alpha's Case 3386, with an
// attachment, so that the correspondence routes have targets.
func fixtureCorrespondence(t *testing.T, h *harness, w *world) {
	t.Helper()
	_, ok, err := h.wf.ImportCorrespondence(context.Background(), workflow.IncomingMessage{TenantID: w.tenantA.ID, CaseID: w.caseA.ID,
		MatchedBy: "case_number", MessageID: "<fixture-3386@ilo.org>", FromAddress: "cfa@ilo.org", FromName: "CFA",
		Subject: "Case No. 3386 " + secretMarker, Body: "The Committee requests further information " + secretMarker,
		Auth:  workflow.MessageAuth{Source: inbound.SourceVerified, DMARC: "pass", Authenticated: true},
		Files: []workflow.IncomingFile{{Name: "note.txt", ContentType: "text/plain", Body: strings.NewReader("note " + secretMarker)}}})
	if err != nil || !ok {
		t.Fatalf("fixture correspondence: %v %v", ok, err)
	}
}
