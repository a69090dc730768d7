package testrig

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// TestRigIMAP checks the rig's Dovecot as the reply polling will use it: two users log in,
// one over implicit TLS and one with STARTTLS, each sees only its own mailbox; a wrong
// password, and a password before STARTTLS, are refused.
func TestRigIMAP(t *testing.T) {
	srv := IMAPFromEnv(t)
	tlsConf, err := srv.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	opts := &imapclient.Options{TLSConfig: tlsConf}
	// Users of this run only, so that a second run (-count=2) starts with empty mailboxes.
	run := strings.ToLower(rand.Text()[:8])
	alice, bob := "alice-"+run+"@union.example", "bob-"+run

	a, err := imapclient.DialTLS(srv.Addr, opts)
	if err != nil {
		t.Fatalf("implicit TLS: %v", err)
	}
	defer a.Close()
	if err := a.Login(alice, srv.Password).Wait(); err != nil {
		t.Fatalf("login over implicit TLS: %v", err)
	}
	b, err := imapclient.DialStartTLS(srv.StartTLSAddr, opts)
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	defer b.Close()
	if err := b.Login(bob, srv.Password).Wait(); err != nil {
		t.Fatalf("login after STARTTLS: %v", err)
	}

	const subject = "Re: Our letter of 3 March"
	msg := []byte("From: ilo@authority.example\r\nTo: " + alice + "\r\nSubject: " + subject +
		"\r\nMessage-ID: <reply-" + run + "@authority.example>\r\n\r\nWe have received your letter.\r\n")
	appendCmd := a.Append("INBOX", int64(len(msg)), nil)
	if _, err := appendCmd.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := appendCmd.Close(); err != nil {
		t.Fatal(err)
	}
	appended, err := appendCmd.Wait()
	if err != nil {
		t.Fatalf("APPEND: %v", err)
	}

	if _, err := a.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	found, err := a.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "3 March"}}}, nil).Wait()
	if err != nil {
		t.Fatalf("UID SEARCH: %v", err)
	}
	uids := found.AllUIDs()
	if len(uids) != 1 || (appended.UID != 0 && uids[0] != appended.UID) {
		t.Fatalf("UID SEARCH found %v; want the appended message, UID %d", uids, appended.UID)
	}
	msgs, err := a.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{Envelope: true, UID: true}).Collect()
	if err != nil {
		t.Fatalf("UID FETCH: %v", err)
	}
	if len(msgs) != 1 || msgs[0].Envelope == nil || msgs[0].Envelope.Subject != subject {
		t.Fatalf("UID FETCH returned %+v; want the message %q", msgs, subject)
	}

	mbox, err := b.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if mbox.NumMessages != 0 {
		t.Errorf("%s's INBOX has %d messages; want none (alice's message must not show)", bob, mbox.NumMessages)
	}
	all, err := b.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if uids := all.AllUIDs(); len(uids) != 0 {
		t.Errorf("UID SEARCH ALL as %s found %v; want nothing", bob, uids)
	}
	for _, c := range []*imapclient.Client{a, b} {
		if err := c.Logout().Wait(); err != nil {
			t.Error(err)
		}
	}

	t.Run("wrong password", func(t *testing.T) {
		c, err := imapclient.DialTLS(srv.Addr, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(alice, srv.Password+"x").Wait(); err == nil {
			t.Fatal("logged in with a wrong password")
		}
	})
	t.Run("no login before STARTTLS", func(t *testing.T) {
		c, err := imapclient.DialInsecure(srv.StartTLSAddr, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(alice, srv.Password).Wait(); err == nil {
			t.Fatal("logged in over plain IMAP without STARTTLS")
		}
	})
}

// TestPrivateDovecotStopStart starts a Dovecot of the test's own, stops it and starts it
// again: the mail is still there.
func TestPrivateDovecotStopStart(t *testing.T) {
	SkipOrFail(t, EnvIMAPAddr, "Dovecot")
	ctx := context.Background()
	// Not t.TempDir: as root the mail belongs to the dovecot user, which must get through.
	dir, err := os.MkdirTemp("", "unionportal-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d, err := StartDovecot(ctx, filepath.Join(dir, "dovecot"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop() })
	t.Logf("Dovecot started in %s", time.Since(start).Round(time.Millisecond))
	srv := d.Server()
	tlsConf, err := srv.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	count := func() (uint32, error) {
		c, err := imapclient.DialTLS(srv.Addr, &imapclient.Options{TLSConfig: tlsConf})
		if err != nil {
			return 0, err
		}
		defer c.Close()
		if err := c.Login("carol", srv.Password).Wait(); err != nil {
			return 0, err
		}
		mbox, err := c.Select("INBOX", nil).Wait()
		if err != nil {
			return 0, err
		}
		if mbox.NumMessages == 0 {
			msg := []byte("Subject: kept\r\n\r\nacross a restart\r\n")
			cmd := c.Append("INBOX", int64(len(msg)), nil)
			if _, err := cmd.Write(msg); err != nil {
				return 0, err
			}
			if err := cmd.Close(); err != nil {
				return 0, err
			}
			if _, err := cmd.Wait(); err != nil {
				return 0, err
			}
		}
		return mbox.NumMessages, c.Logout().Wait()
	}
	if n, err := count(); err != nil || n != 0 {
		t.Fatalf("first session: %d messages, %v; want an empty INBOX", n, err)
	}
	start = time.Now()
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Dovecot stopped in %s", time.Since(start).Round(time.Millisecond))
	if _, err := count(); err == nil {
		t.Fatal("Dovecot still answers after Stop")
	}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := count(); err != nil || n != 1 {
		t.Fatalf("after Start: %d messages, %v; want the one appended before", n, err)
	}
}
