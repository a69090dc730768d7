package inbound

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeIMAP is a TCP server on loopback that greets (or not) and answers every
// command with reply; it records the commands it read.
type fakeIMAP struct {
	ln   net.Listener
	mu   sync.Mutex
	seen []string
}

func startFake(t *testing.T, greet bool, reply func(tag, cmd string) string, tlsCfg *tls.Config) *fakeIMAP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	f := &fakeIMAP{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if !greet {
					time.Sleep(10 * time.Second)
					return
				}
				c.Write([]byte("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"))
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					tag, cmd, _ := strings.Cut(strings.TrimSpace(line), " ")
					f.mu.Lock()
					f.seen = append(f.seen, strings.ToUpper(cmd))
					f.mu.Unlock()
					if out := reply(tag, cmd); out != "DRIP" {
						c.Write([]byte(out))
						continue
					}
					// A little, forever: each response in time, the command never done.
					for {
						if _, err := c.Write([]byte("* OK still here\r\n")); err != nil {
							return
						}
						time.Sleep(20 * time.Millisecond)
					}
				}
			}()
		}
	}()
	return f
}

func (f *fakeIMAP) mailbox(host, mode string) *Mailbox {
	_, port, _ := net.SplitHostPort(f.ln.Addr().String())
	p, _ := strconv.Atoi(port)
	return &Mailbox{Host: host, Port: p, TLS: mode, Username: "cfa"}
}

func (f *fakeIMAP) commands() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.seen, "|")
}

// TestMailboxConnection: what a tenant admin's settings, or the network, may point
// the portal at.
func TestMailboxConnection(t *testing.T) {
	t.Run("a host name resolving to loopback is refused", func(t *testing.T) {
		f := startFake(t, true, func(tag, _ string) string { return tag + " OK\r\n" }, nil)
		s := NewService(nil, nil, Options{})
		_, err := s.login(context.Background(), f.mailbox("localhost", TLSStartTLS), "pw")
		if err == nil || !strings.Contains(err.Error(), "internal address") {
			t.Fatalf("localhost: %v", err)
		}
		if f.commands() != "" {
			t.Errorf("the server was spoken to: %s", f.commands())
		}
	})
	t.Run("a server without STARTTLS never gets the password", func(t *testing.T) {
		f := startFake(t, true, func(tag, cmd string) string {
			if strings.HasPrefix(strings.ToUpper(cmd), "CAPABILITY") {
				return "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + " OK\r\n"
			}
			if strings.HasPrefix(strings.ToUpper(cmd), "STARTTLS") {
				return tag + " BAD unknown command\r\n"
			}
			return tag + " OK\r\n"
		}, nil)
		s := NewService(nil, nil, Options{AllowPrivate: true})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := s.login(ctx, f.mailbox("127.0.0.1", TLSStartTLS), "secret-pw")
		if err == nil || strings.Contains(f.commands(), "LOGIN") || strings.Contains(f.commands(), "AUTHENTICATE") {
			t.Fatalf("err %v; commands %s", err, f.commands())
		}
	})
	t.Run("a STARTTLS accepted but not done", func(t *testing.T) {
		f := startFake(t, true, func(tag, cmd string) string { return tag + " OK\r\n" }, nil)
		s := NewService(nil, nil, Options{AllowPrivate: true})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := s.login(ctx, f.mailbox("127.0.0.1", TLSStartTLS), "secret-pw")
		if err == nil || strings.Contains(f.commands(), "LOGIN") {
			t.Fatalf("err %v; commands %s", err, f.commands())
		}
	})
	t.Run("a certificate for another host", func(t *testing.T) {
		// httptest's certificate names 127.0.0.1 and example.com, not localhost.
		ts := httptest.NewUnstartedServer(http.NotFoundHandler())
		ts.StartTLS()
		cert, pool := ts.TLS.Certificates[0], x509.NewCertPool()
		pool.AddCert(ts.Certificate())
		ts.Close()
		f := startFake(t, true, func(tag, _ string) string { return tag + " OK\r\n" }, &tls.Config{Certificates: []tls.Certificate{cert}})
		s := NewService(nil, nil, Options{AllowPrivate: true, TLS: &tls.Config{RootCAs: pool}})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := s.login(ctx, f.mailbox("localhost", TLSImplicit), "secret-pw")
		if err == nil || !strings.Contains(err.Error(), "certificate") || f.commands() != "" {
			t.Fatalf("err %v; commands %s", err, f.commands())
		}
		// The same server under its own name is fine.
		c, err := s.login(ctx, f.mailbox("127.0.0.1", TLSImplicit), "secret-pw")
		if err != nil {
			t.Fatalf("under its name: %v", err)
		}
		c.Close()
	})
	t.Run("a server that answers a little, forever", func(t *testing.T) {
		ts := httptest.NewUnstartedServer(http.NotFoundHandler())
		ts.StartTLS()
		cert, pool := ts.TLS.Certificates[0], x509.NewCertPool()
		pool.AddCert(ts.Certificate())
		ts.Close()
		f := startFake(t, true, func(tag, cmd string) string {
			if strings.HasPrefix(strings.ToUpper(cmd), "SELECT") || strings.HasPrefix(strings.ToUpper(cmd), "EXAMINE") {
				return "DRIP"
			}
			return tag + " OK\r\n"
		}, &tls.Config{Certificates: []tls.Certificate{cert}})
		s := NewService(nil, nil, Options{AllowPrivate: true, TLS: &tls.Config{RootCAs: pool}})
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		c, err := s.login(ctx, f.mailbox("127.0.0.1", TLSImplicit), "pw")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		done := make(chan error, 1)
		go func() {
			_, err := c.Select("INBOX", nil).Wait()
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Error("selected")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the session outlives its deadline")
		}
	})
	t.Run("a server that never answers", func(t *testing.T) {
		for _, mode := range []string{TLSImplicit, TLSStartTLS} {
			f := startFake(t, false, nil, nil)
			s := NewService(nil, nil, Options{AllowPrivate: true})
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			start := time.Now()
			_, err := s.login(ctx, f.mailbox("127.0.0.1", mode), "pw")
			cancel()
			if err == nil || time.Since(start) > 3*time.Second {
				t.Errorf("%s: %v after %s", mode, err, time.Since(start))
			}
		}
	})
}
