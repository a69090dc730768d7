package webhook

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// TestSignStandardWebhooks checks the signature against the Standard Webhooks
// specification's reference example.
func TestSignStandardWebhooks(t *testing.T) {
	sig, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; sig != want {
		t.Errorf("signature %s, want %s", sig, want)
	}
	if _, err := Sign("whsec_not base64!", "id", "1", nil); err == nil {
		t.Error("a malformed secret signed")
	}
	if s := newSecret(); !strings.HasPrefix(s, "whsec_") || len(s) != len("whsec_")+44 {
		t.Errorf("secret %q", s)
	}
}

func TestInternal(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "127.8.9.10": true, "::1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true,
		"169.254.169.254": true, "fe80::1": true, "fc00::1": true, "fd12:3456::1": true, "0.0.0.0": true, "::": true,
		"224.0.0.1": true, "ff02::1": true, "255.255.255.255": true, "100.64.0.1": true, "::ffff:127.0.0.1": true,
		"::ffff:10.0.0.1": true, "::ffff:169.254.169.254": true, "64:ff9b::a00:1": true, "2002:7f00:1::": true, "::127.0.0.1": true,
		"93.184.215.14": false, "8.8.8.8": false, "2606:4700:4700::1111": false, "::ffff:8.8.8.8": false,
	} {
		if got := Internal(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Internal(%s) = %v, want %v", addr, got, want)
		}
	}
}

// fakeResolver resolves every name to its addresses.
type fakeResolver map[string][]netip.Addr

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func TestCheckURL(t *testing.T) {
	s := NewService(nil, nil, Options{Resolver: fakeResolver{
		"hooks.example.org":  {netip.MustParseAddr("93.184.215.14")},
		"rebind.example.org": {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.0.0.7")},
	}})
	// "localhost" goes through the real resolver in the second service below.
	for raw, ok := range map[string]bool{
		"https://hooks.example.org/unionportal": true,
		"https://93.184.215.14:8443/x":          true,
		"http://hooks.example.org/unionportal":  false, // https only
		"https://127.0.0.1/x":                   false,
		"https://[::1]/x":                       false,
		"https://10.0.0.1/x":                    false,
		"https://169.254.169.254/latest":        false,
		"https://[::ffff:127.0.0.1]/x":          false,
		"https://rebind.example.org/x":          false, // one internal address is enough
		"https://unknown.example.org/x":         false,
		"https://user:pw@hooks.example.org/x":   false,
		"hooks.example.org/x":                   false,
		"":                                      false,
		"ftp://hooks.example.org/x":             false,
		"https://" + strings.Repeat("a", 2000):  false,
	} {
		f := s.checkURL(context.Background(), raw)
		if (f == nil) != ok || f != nil && f.Field != "url" {
			t.Errorf("checkURL(%q) = %v, want ok=%v", raw, f, ok)
		}
	}
	real := NewService(nil, nil, Options{})
	if f := real.checkURL(context.Background(), "https://localhost:8443/x"); f == nil {
		t.Error("localhost accepted")
	}
	allowed := NewService(nil, nil, Options{AllowPrivate: true})
	for _, raw := range []string{"http://127.0.0.1:8080/x", "https://localhost/x", "http://10.0.0.1/x"} {
		if f := allowed.checkURL(context.Background(), raw); f != nil {
			t.Errorf("with private addresses allowed, %s refused: %v", raw, f)
		}
	}
}

// TestDialerRefusesInternal: the send-time check holds whatever registration said: the
// address actually dialled is checked, and the option can be turned off afterwards.
func TestDialerRefusesInternal(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.Header.Get("webhook-id") != "evt" || !strings.HasPrefix(r.Header.Get("webhook-signature"), "v1,") {
			t.Errorf("headers %v", r.Header)
		}
		http.Redirect(w, r, "https://elsewhere.example.org/", http.StatusFound)
	}))
	defer srv.Close()
	s := NewService(nil, nil, Options{AllowPrivate: true})
	ep := &Endpoint{URL: srv.URL}
	secret := newSecret()
	code, err := s.send(context.Background(), ep, secret, "evt", []byte(`{}`))
	if err != nil || code != http.StatusFound || hits != 1 {
		t.Fatalf("allowed: %d, %v, %d hits (a redirect is an answer, not followed)", code, err, hits)
	}
	s.allowPrivate.Store(false)
	for _, u := range []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)} {
		ep.URL = strings.Replace(u, "http://", "https://", 1)
		code, err = s.send(context.Background(), ep, secret, "evt", []byte(`{}`))
		if !errors.Is(err, errInternalAddress) || code != 0 {
			t.Errorf("%s after the option was turned off: %d, %v; want refused", ep.URL, code, err)
		}
	}
	ep.URL = srv.URL
	if _, err := s.send(context.Background(), ep, secret, "evt", nil); err == nil || !strings.Contains(err.Error(), "https") {
		t.Errorf("plain http without the option: %v", err)
	}
	if hits != 1 {
		t.Errorf("%d requests reached the receiver, want 1", hits)
	}
}
