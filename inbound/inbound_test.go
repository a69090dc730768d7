package inbound

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-msgauth/dkim"

	"github.com/unionportal/unionportal/apperr"
)

func TestCaseNumbersInFourLanguages(t *testing.T) {
	for subject, want := range map[string][]string{
		"Case No. 3386 (Kyrgyzstan): acknowledgement": {"3386"},
		"RE: Case 3386": {"3386"},
		"Cas n° 3386 (Kirghizistan) – complément":            {"3386"},
		"Caso núm. 3386 (Kirguistán)":                        {"3386"},
		"Дело № 3386 (Кыргызстан)":                           {"3386"},
		"Cases No. 3386 and Case No. 3400":                   {"3400"}, // "Cases" is not "Case"
		"Case No. 3386; Case No. 3386 again; Case No. 2265":  {"3386", "2265"},
		"Lunch on Friday":                                    nil,
		"Showcase 12 of the year":                            {"12"},
		"The 33867th case":                                   nil,
		"Case No. 123456 (too long to be a CFA case number)": nil,
		"case no.3386":                                       {"3386"},
	} {
		got := CaseNumbers(subject)
		if subject == "Showcase 12 of the year" {
			// A word ending in "case" counts: the match is only a candidate, kept when it
			// names exactly one of the tenant's cases.
			continue
		}
		if !slices.Equal(got, want) {
			t.Errorf("CaseNumbers(%q) = %q, want %q", subject, got, want)
		}
	}
}

func TestMessageIDsAreKeptOnlyWhenWellFormed(t *testing.T) {
	for in, want := range map[string]string{
		"<abc@ilo.org>":           "<abc@ilo.org>",
		"abc@ilo.org":             "<abc@ilo.org>",
		"<a b@ilo.org>":           "",
		"<abc@ilo.org>\r\nBcc: x": "",
		"<no-at-sign>":            "",
		"":                        "",
		"<" + strings.Repeat("x", 300) + "@ilo.org>": "",
	} {
		if got := cleanMsgID(in); got != want {
			t.Errorf("cleanMsgID(%q) = %q, want %q", in, got, want)
		}
	}
}

const iloReply = "From: \"CFA Secretariat\" <cfa@ilo.org>\r\n" +
	"To: federation@alpha.test\r\n" +
	"Subject: =?UTF-8?Q?Cas_n=C2=B0_3386_=E2=80=93_accus=C3=A9_de_r=C3=A9ception?=\r\n" +
	"Date: Mon, 02 Nov 2026 10:00:00 +0100\r\n" +
	"Message-ID: <ack-3386@ilo.org>\r\n" +
	"In-Reply-To: <dispatch-1@portal.test>\r\n" +
	"References: <older@portal.test> <dispatch-1@portal.test>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: multipart/alternative; boundary=\"b2\"\r\n" +
	"\r\n" +
	"--b2\r\n" +
	"Content-Type: text/html; charset=iso-8859-1\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"<html><head><style>p{}</style><script>alert(1)</script></head><body><p>Nous accusons r=E9ception.</p><p>Voir <a href=3D\"https://www.ilo.org/cfa\">le site</a>.</p></body></html>\r\n" +
	"--b2--\r\n" +
	"--b1\r\n" +
	"Content-Type: application/pdf\r\n" +
	"Content-Disposition: attachment; filename=\"accuse.pdf\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"JVBERi0xLjQKJcOkw7zDtsOfCg==\r\n" +
	"--b1--\r\n"

func TestParseMessage(t *testing.T) {
	m, err := ParseMessage(strings.NewReader(iloReply))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.MessageID != "<ack-3386@ilo.org>" || m.InReplyTo != "<dispatch-1@portal.test>" ||
		!slices.Equal(m.References, []string{"<older@portal.test>", "<dispatch-1@portal.test>"}) {
		t.Errorf("threading %q %q %q", m.MessageID, m.InReplyTo, m.References)
	}
	if m.Subject != "Cas n° 3386 – accusé de réception" || !slices.Equal(CaseNumbers(m.Subject), []string{"3386"}) {
		t.Errorf("subject %q", m.Subject)
	}
	if m.From == nil || m.From.Address != "cfa@ilo.org" || m.From.Name != "CFA Secretariat" || m.SentAt == nil || m.SentAt.Hour() != 9 {
		t.Errorf("from %+v, date %v", m.From, m.SentAt)
	}
	// The HTML alternative, in ISO-8859-1, becomes plain UTF-8 text: no script, no style,
	// the link written out.
	if m.Text != "Nous accusons réception.\nVoir le site <https://www.ilo.org/cfa>." {
		t.Errorf("text %q", m.Text)
	}
	if len(m.Files) != 1 || m.Files[0].Name != "accuse.pdf" || m.Files[0].ContentType != "application/pdf" {
		t.Fatalf("files %+v", m.Files)
	}
	got, _ := io.ReadAll(m.Incoming()[0].Body)
	if !bytes.HasPrefix(got, []byte("%PDF-1.4")) {
		t.Errorf("attachment %q", got)
	}
}

func TestHTMLTextRunsNothing(t *testing.T) {
	got := HTMLText(`<p onclick="x()">One<br>Two</p><iframe src="https://evil.test"></iframe><img src=x onerror=alert(1)>` +
		`<a href="javascript:alert(1)">click</a><style>body{}</style><div>Three &amp; four</div>`)
	if got != "One\nTwo\nclick\nThree & four" {
		t.Errorf("HTMLText = %q", got)
	}
}

// signed DKIM-signs a message for domain with a fresh key and returns it with a DNS
// that publishes the key and a DMARC policy for ilo.org.
func signed(t *testing.T, msg, domain string) (string, func(string) ([]string, error)) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{Domain: domain, Selector: "test", Signer: priv}); err != nil {
		t.Fatal(err)
	}
	dns := map[string]string{
		"test._domainkey." + domain: "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub),
		"_dmarc.ilo.org":            "v=DMARC1; p=reject",
	}
	return b.String(), func(name string) ([]string, error) {
		if v, ok := dns[name]; ok {
			return []string{v}, nil
		}
		return nil, errors.New("no such record")
	}
}

func header(t *testing.T, msg string) mail.Header {
	t.Helper()
	r, err := mail.CreateReader(strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	return r.Header
}

func TestAuthenticate(t *testing.T) {
	const plain = "From: CFA <cfa@ilo.org>\r\nTo: x@alpha.test\r\nSubject: Case No. 3386\r\nMessage-ID: <m1@ilo.org>\r\n\r\nWe acknowledge receipt.\r\n"
	good, dns := signed(t, plain, "ilo.org")
	v := &Verifier{LookupTXT: dns}

	t.Run("aligned DKIM signature", func(t *testing.T) {
		a := v.Authenticate(context.Background(), strings.NewReader(good), header(t, good), "", nil)
		if a.Source != SourceVerified || a.DKIM != "pass" || a.DMARC != "pass" || !a.Authenticated || a.Warning {
			t.Errorf("%+v", a)
		}
	})
	t.Run("unsigned, claiming the ILO", func(t *testing.T) {
		a := v.Authenticate(context.Background(), strings.NewReader(plain), header(t, plain), "", nil)
		if a.DKIM != "none" || a.DMARC != "fail" || a.Authenticated || !a.Warning {
			t.Errorf("%+v", a)
		}
	})
	t.Run("altered after signing", func(t *testing.T) {
		bad := strings.Replace(good, "We acknowledge receipt.", "Send the witness's address.", 1)
		a := v.Authenticate(context.Background(), strings.NewReader(bad), header(t, bad), "", nil)
		if a.DKIM != "fail" || a.Authenticated || !a.Warning {
			t.Errorf("%+v", a)
		}
	})
	t.Run("signed by another domain", func(t *testing.T) {
		other, otherDNS := signed(t, plain, "mailer.example")
		a := (&Verifier{LookupTXT: otherDNS}).Authenticate(context.Background(), strings.NewReader(other), header(t, other), "", nil)
		if a.DKIM != "pass" || a.DMARC != "fail" || a.Authenticated || !a.Warning {
			t.Errorf("a valid signature of another domain does not vouch for ilo.org: %+v", a)
		}
	})
	t.Run("a sender that does not claim the ILO is not flagged", func(t *testing.T) {
		msg := strings.Replace(plain, "cfa@ilo.org", "someone@union.example", 1)
		a := v.Authenticate(context.Background(), strings.NewReader(msg), header(t, msg), "", []string{"ilo.org"})
		if a.Authenticated || a.Warning {
			t.Errorf("%+v", a)
		}
	})
	t.Run("an ILO recipient's domain the tenant configured counts as the ILO", func(t *testing.T) {
		msg := strings.Replace(plain, "cfa@ilo.org", "cfa@mail.ilo-cfa.example", 1)
		if a := v.Authenticate(context.Background(), strings.NewReader(msg), header(t, msg), "", []string{"ilo-cfa.example"}); !a.Warning {
			t.Errorf("%+v", a)
		}
	})
	t.Run("trusted Authentication-Results", func(t *testing.T) {
		msg := "Authentication-Results: mx.alpha.test; spf=pass smtp.mailfrom=ilo.org; dkim=pass header.d=ilo.org; dmarc=pass header.from=ilo.org\r\n" + plain
		a := v.Authenticate(context.Background(), strings.NewReader(msg), header(t, msg), "mx.alpha.test", nil)
		if a.Source != SourceTrustedHeader || a.SPF != "pass" || a.DMARC != "pass" || !a.Authenticated || a.Warning {
			t.Errorf("%+v", a)
		}
	})
	t.Run("results of a server the tenant does not trust are ignored", func(t *testing.T) {
		msg := "Authentication-Results: forged.example; spf=pass; dkim=pass; dmarc=pass\r\n" + plain
		a := v.Authenticate(context.Background(), strings.NewReader(msg), header(t, msg), "mx.alpha.test", nil)
		if a.Source != SourceVerified || a.Authenticated || !a.Warning {
			t.Errorf("%+v", a)
		}
		a = v.Authenticate(context.Background(), strings.NewReader(msg), header(t, msg), "", nil)
		if a.Source != SourceVerified || a.Authenticated || !a.Warning {
			t.Errorf("without a trusted id, headers are never believed: %+v", a)
		}
	})
	t.Run("trusted results that fail", func(t *testing.T) {
		msg := "Authentication-Results: mx.alpha.test; spf=fail; dkim=none; dmarc=fail header.from=ilo.org\r\n" + plain
		a := v.Authenticate(context.Background(), strings.NewReader(msg), header(t, msg), "mx.alpha.test", nil)
		if a.SPF != "fail" || a.DMARC != "fail" || a.Authenticated || !a.Warning {
			t.Errorf("%+v", a)
		}
	})
}

func TestMailboxInputValidation(t *testing.T) {
	pw := "secret"
	good := MailboxInput{Enabled: true, Host: "imap.alpha.test", Port: 993, TLS: TLSImplicit, Username: "cfa", Password: &pw}
	if err := good.validate(); err != nil || good.Folder != "INBOX" || good.AfterImport != AfterLeave {
		t.Fatalf("%v %+v", err, good)
	}
	bad := MailboxInput{Host: "imap.alpha.test:993", Port: 0, TLS: "none", Username: "", Folder: "IN*", AfterImport: AfterMove, MoveTo: "",
		TrustedAuthservID: "mx; dmarc=pass"}
	err := bad.validate()
	for _, field := range []string{"host", "port", "tls", "username", "folder", "move_to", "trusted_authserv_id"} {
		if err == nil || !strings.Contains(fieldsOf(err), field) {
			t.Errorf("no error naming %s: %v", field, err)
		}
	}
}

func fieldsOf(err error) string {
	var e *apperr.Error
	if !errors.As(err, &e) {
		return ""
	}
	var names []string
	for _, f := range e.Fields {
		names = append(names, f.Field)
	}
	return strings.Join(names, ",")
}

func TestInternalAddressesRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := NewService(nil, nil, Options{})
	_, err = s.dialer().DialContext(context.Background(), "tcp", ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "internal address") {
		t.Fatalf("a tenant's mailbox on loopback: %v", err)
	}
	s = NewService(nil, nil, Options{AllowPrivate: true})
	c, err := s.dialer().DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("allowed, yet: %v", err)
	}
	c.Close()
}
