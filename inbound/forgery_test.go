package inbound

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

// signer signs messages for domains with one key and answers DNS with the key and
// the records given.
type signer struct {
	key ed25519.PrivateKey
	dns map[string]string
}

func newSigner(t *testing.T, records map[string]string) *signer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := &signer{key: priv, dns: map[string]string{}}
	for k, v := range records {
		s.dns[k] = v
	}
	s.dns["pub"] = "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	return s
}

func (s *signer) sign(t *testing.T, msg, domain string, headerKeys ...string) string {
	t.Helper()
	s.dns["sel._domainkey."+domain] = s.dns["pub"]
	var b bytes.Buffer
	if err := dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{Domain: domain, Selector: "sel", Signer: s.key, HeaderKeys: headerKeys}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func (s *signer) lookup(name string) ([]string, error) {
	if v, ok := s.dns[name]; ok {
		return []string{v}, nil
	}
	return nil, errors.New("no such record")
}

// TestAuthenticateForgeries: what a sender may do to a message, or to a genuine ILO
// message it holds (one sent to it, replayed), to have it taken for the ILO's.
func TestAuthenticateForgeries(t *testing.T) {
	const plain = "From: CFA <cfa@ilo.org>\r\nTo: x@alpha.test\r\nSubject: Newsletter of the Office\r\nDate: Mon, 02 Nov 2026 10:00:00 +0100\r\n" +
		"Message-ID: <news-1@ilo.org>\r\n\r\nThe Office's newsletter.\r\n"
	ctx := context.Background()
	s := newSigner(t, map[string]string{"_dmarc.ilo.org": "v=DMARC1; p=reject"})
	v := &Verifier{LookupTXT: s.lookup}
	genuine := s.sign(t, plain, "ilo.org")
	if a := v.Authenticate(ctx, strings.NewReader(genuine), header(t, genuine), "", nil); !a.Authenticated {
		t.Fatalf("the genuine message: %+v", a)
	}

	t.Run("a Subject added above the signed one", func(t *testing.T) {
		// The signature covers the last Subject; the portal reads (and matches) the first.
		msg := "Subject: Case No. 3386: request for further information\r\n" + genuine
		if a := v.Authenticate(ctx, strings.NewReader(msg), header(t, msg), "", nil); a.Authenticated || !a.Warning {
			t.Errorf("%+v", a)
		}
	})
	t.Run("a From added above the signed one", func(t *testing.T) {
		msg := "From: Registry <registry@ilo.org>\r\n" + genuine
		if a := v.Authenticate(ctx, strings.NewReader(msg), header(t, msg), "", nil); a.Authenticated {
			t.Errorf("%+v", a)
		}
	})
	t.Run("a signature that does not sign the Subject", func(t *testing.T) {
		unsigned := s.sign(t, plain, "ilo.org", "From", "To", "Date", "Message-ID")
		msg := strings.Replace(unsigned, "Subject: Newsletter of the Office", "Subject: Case No. 3386: request", 1)
		if a := v.Authenticate(ctx, strings.NewReader(msg), header(t, msg), "", nil); a.Authenticated || a.DKIM != "pass" {
			t.Errorf("%+v", a)
		}
	})
	t.Run("a subdomain's signature where the ILO asks for strict alignment", func(t *testing.T) {
		strict := newSigner(t, map[string]string{"_dmarc.ilo.org": "v=DMARC1; p=reject; adkim=s"})
		msg := strict.sign(t, plain, "news.ilo.org")
		if a := (&Verifier{LookupTXT: strict.lookup}).Authenticate(ctx, strings.NewReader(msg), header(t, msg), "", nil); a.Authenticated || a.DMARC != "fail" {
			t.Errorf("strict: %+v", a)
		}
		relaxed := s.sign(t, plain, "news.ilo.org")
		if a := v.Authenticate(ctx, strings.NewReader(relaxed), header(t, relaxed), "", nil); !a.Authenticated {
			t.Errorf("relaxed alignment (the default) accepts the subdomain: %+v", a)
		}
	})
	t.Run("many signatures", func(t *testing.T) {
		// Six signatures of the sender's own domain: the first five are checked (none
		// aligned), the error about the rest is not a pass.
		msg := plain
		for range 6 {
			msg = s.sign(t, msg, "attacker.example")
		}
		if a := v.Authenticate(ctx, strings.NewReader(msg), header(t, msg), "", nil); a.Authenticated || a.DKIM != "pass" || a.DMARC != "fail" {
			t.Errorf("%+v", a)
		}
	})
	t.Run("a forged Authentication-Results below another server's", func(t *testing.T) {
		msg := "Authentication-Results: spam.alpha.test; spam=none\r\n" +
			"Received: from attacker.example by mx.alpha.test; Mon, 02 Nov 2026 10:00:01 +0100\r\n" +
			"Authentication-Results: mx.alpha.test; spf=pass; dkim=pass header.d=ilo.org; dmarc=pass header.from=ilo.org\r\n" +
			strings.Replace(plain, "Newsletter of the Office", "Case No. 3386", 1)
		if a := v.Authenticate(ctx, strings.NewReader(msg), header(t, msg), "mx.alpha.test", nil); a.Source != SourceVerified || a.Authenticated || !a.Warning {
			t.Errorf("%+v", a)
		}
		// The receiving server's own results on top are believed, not a forged pass below.
		msg = "Authentication-Results: mx.alpha.test; spf=fail; dkim=none; dmarc=fail header.from=ilo.org\r\n" + msg
		if a := v.Authenticate(ctx, strings.NewReader(msg), header(t, msg), "mx.alpha.test", nil); a.Source != SourceTrustedHeader || a.DMARC != "fail" || a.Authenticated {
			t.Errorf("%+v", a)
		}
	})
	t.Run("a signer whose DNS never answers", func(t *testing.T) {
		hang := make(chan struct{})
		defer close(hang)
		slow := &Verifier{QueryTimeout: 50 * time.Millisecond, Budget: 200 * time.Millisecond,
			LookupTXT: func(string) ([]string, error) { <-hang; return nil, errors.New("never") }}
		msg := plain
		for range 5 {
			msg = s.sign(t, msg, "attacker.example")
		}
		done := make(chan struct{})
		start := time.Now()
		go func() {
			defer close(done)
			if a := slow.Authenticate(ctx, strings.NewReader(msg), header(t, msg), "", nil); a.Authenticated || a.DKIM != "temperror" {
				t.Errorf("%+v", a)
			}
		}()
		select {
		case <-done:
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %s", d)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Authenticate waits for a DNS that never answers")
		}
	})
}
