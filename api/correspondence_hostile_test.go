package api

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/inbound"
	"github.com/unionportal/unionportal/workflow"
)

// TestCorrespondenceHostileMessages: anyone may write to the mailbox naming a case. A
// message the portal can never import (here, thousands of attachments) is skipped and
// named in last_error instead of stopping every later poll at it; odd but harmless
// messages (no From, no Date, a Date decades ahead, invalid UTF-8, file names with
// path separators and bidi overrides) are imported with what can be kept.
func TestCorrespondenceHostileMessages(t *testing.T) {
	srv := imapForTest(t)
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newPortalHarnessMaster(t, db, dispatch.Options{Sender: dispatch.Outbox{Dir: t.TempDir()}}, testWebhookOptions, false, nil, testMaster,
			inbound.Options{AllowPrivate: true, TLS: srv.tls})
		w := h.world()
		user := "hostile-" + strings.ToLower(rand.Text()[:8])
		srv.addUser(user)
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/mailbox", map[string]any{"enabled": true, "host": srv.host, "port": srv.port,
			"tls": "implicit", "username": user, "password": srv.Password})

		var bomb strings.Builder
		bomb.WriteString("From: someone@attacker.example\nSubject: Case No. 3386\nMessage-ID: <bomb-" + user + "@attacker.example>\n" +
			"Content-Type: multipart/mixed; boundary=a\n\n")
		for i := range 10_000 {
			fmt.Fprintf(&bomb, "--a\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"f%d.pdf\"\n\n%%PDF\n", i)
		}
		bomb.WriteString("--a--\n")
		srv.deliver(t, user, bomb.String())
		srv.deliver(t, user, "To: cfa@alpha.test\nSubject: Case No. 3386 \xff\xfe odd\nDate: Fri, 01 Jan 2100 00:00:00 +0000\n"+
			"Message-ID: <odd-"+user+"@attacker.example>\nContent-Type: multipart/mixed; boundary=a\n\n"+
			"--a\nContent-Type: text/plain\n\nHello.\n"+
			"--a\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"../../etc/\u202Egpj.exe\"\n\nMZ\n--a--\n")
		// Two messages without a Message-ID, under one subject: two items.
		for _, day := range []string{"02", "03"} {
			srv.deliver(t, user, "From: Registry <registry@ilo.org>\nSubject: Case No. 3386\nDate: Mon, "+day+" Nov 2026 09:00:00 +0100\n\nNo id, "+day+".\n")
		}
		srv.deliver(t, user, "From: CFA <cfa@ilo.org>\nSubject: Case No. 3386: request\nDate: Wed, 04 Nov 2026 09:00:00 +0100\n"+
			"Message-ID: <rfi-"+user+"@ilo.org>\n\nThe Committee requests further information.\n")

		poller := inbound.NewService(db, h.wf, inbound.Options{Keys: h.keys, AllowPrivate: true, TLS: srv.tls, Now: h.clock.Now,
			Verifier: &inbound.Verifier{LookupTXT: func(string) ([]string, error) { return nil, fmt.Errorf("NXDOMAIN") }}})
		poller.UseDispatch(h.services.Dispatch)
		r, err := poller.Poll(context.Background(), w.tenantA.ID)
		if r.Seen != 5 || r.Imported != 4 || r.Skipped != 1 || err == nil || !strings.Contains(err.Error(), "<bomb-"+user+"@attacker.example>") {
			t.Fatalf("first poll: %+v %v", r, err)
		}
		var ms inbound.MailboxSettings
		w.adminA.must(200, "GET", "/api/v1/tenants/alpha/mailbox", nil).json(t, &ms)
		if !strings.Contains(ms.LastError, "bomb-") || ms.Imported != 4 {
			t.Errorf("settings %+v", ms)
		}
		// The next poll goes on past it.
		if r, err := poller.Poll(context.Background(), w.tenantA.ID); err != nil || r.Seen != 0 {
			t.Fatalf("second poll: %+v %v", r, err)
		}

		var inbox struct{ Items []workflow.CorrespondenceItem }
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/correspondence", nil).json(t, &inbox)
		var odd *workflow.CorrespondenceItem
		for i := range inbox.Items {
			if strings.HasPrefix(inbox.Items[i].MessageID, "<odd-") {
				odd = &inbox.Items[i]
			}
		}
		if len(inbox.Items) != 4 || odd == nil {
			t.Fatalf("inbox %+v", inbox.Items)
		}
		if odd.FromAddress != "" || odd.SentAt != nil || !strings.HasPrefix(odd.Subject, "Case No. 3386 ") || odd.Authenticated {
			t.Errorf("odd message %+v (a Date in 2100 is not believed)", odd)
		}
		if len(odd.Files) != 1 || odd.Files[0].FileName != "gpj.exe" {
			t.Errorf("files %+v", odd.Files)
		}

		// Reading a message's text is audited, as its doc says.
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/correspondence/"+odd.ID, nil)
		if e := findEvent(auditView(t, w.adminA, auditPath), "correspondence.read"); e == nil || e.ObjectID != odd.ID {
			t.Errorf("the read is not audited: %+v", e)
		}
	})
}
