package api

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

// serveReal serves h's services on a loopback port with the given slow-client options
// (a real connection: deadlines need one).
func serveReal(t *testing.T, h *harness, opts Options) string {
	t.Helper()
	opts.Auth, opts.Workflow = h.auth, h.wf
	srv := New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, ln, time.Second); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// rawRequest opens a connection and sends head and the first part of a body.
func rawRequest(t *testing.T, addr, head, body string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.Write([]byte(head + "\r\n" + body)); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

// status reads the answer's status, or -1 when the server closed the connection
// without one; it gives up (failing the test) after patience.
func status(t *testing.T, conn net.Conn, r *bufio.Reader, patience time.Duration) int {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(patience))
	res, err := http.ReadResponse(r, nil)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("no answer and no close after %s: the slow client is still being served", patience)
		}
		return -1
	}
	res.Body.Close()
	return res.StatusCode
}

// TestSlowClientsAreCutOff: a trickling upload loses its slot instead of holding it,
// slow request bodies time out, and one address cannot hold many unauthenticated
// requests open (issue 9, item 3).
func TestSlowClientsAreCutOff(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		addr := serveReal(t, h, Options{MaxConcurrentUploads: 1, BodyReadTimeout: 300 * time.Millisecond,
			MinTransferBytes: 1024, TransferWindow: 300 * time.Millisecond, MaxPublicPerAddress: 3})
		patience := 10 * time.Second

		t.Run("trickling upload", func(t *testing.T) {
			const boundary = "b0undary"
			preamble := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.txt\"\r\nContent-Type: text/plain\r\n\r\n"
			head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nCookie: %s=%s\r\nX-CSRF-Token: %s\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: 100000\r\n",
				subPath(w.submissionA.ID, "/attachments"), w.editorA1.cookie.Name, w.editorA1.cookie.Value, w.editorA1.csrf, boundary)
			// The fixture's submission was submitted; uploads need a draft.
			var sub struct{ ID string }
			w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
				"kind": "follow_up", "title": "T", "body": "B", "language": "en"}).json(t, &sub)
			head = strings.Replace(head, subPath(w.submissionA.ID, "/attachments"), subPath(sub.ID, "/attachments"), 1)
			conn, r := rawRequest(t, addr, head, preamble)
			stop := make(chan struct{})
			defer close(stop)
			go func() { // one byte every 100 ms: far below the floor
				for {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
						if _, err := conn.Write([]byte("a")); err != nil {
							return
						}
					}
				}
			}()
			if got := status(t, conn, r, patience); got != http.StatusRequestTimeout && got != -1 {
				t.Errorf("trickling upload: status %d, want 408 or a closed connection", got)
			}
			// The only upload slot is free again.
			w.editorA1.upload(201, sub.ID, "quick.txt", "text/plain", []byte("quick\n"))
		})

		t.Run("steady upload longer than the window", func(t *testing.T) {
			// 4 KiB every 100 ms, above the floor, for a second and a half: five windows
			// pass before the answer is written, and it must still reach the client.
			const boundary = "b0undary"
			preamble := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"steady.txt\"\r\nContent-Type: text/plain\r\n\r\n"
			epilogue := "\r\n--" + boundary + "--\r\n"
			const chunk, chunks = 4096, 15
			var sub struct{ ID string }
			w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
				"kind": "follow_up", "title": "T", "body": "B", "language": "en"}).json(t, &sub)
			head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nCookie: %s=%s\r\nX-CSRF-Token: %s\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n",
				subPath(sub.ID, "/attachments"), w.editorA1.cookie.Name, w.editorA1.cookie.Value, w.editorA1.csrf, boundary,
				len(preamble)+chunk*chunks+len(epilogue))
			conn, r := rawRequest(t, addr, head, preamble)
			for i := 0; i < chunks; i++ {
				time.Sleep(100 * time.Millisecond)
				if _, err := conn.Write([]byte(strings.Repeat("s", chunk))); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := conn.Write([]byte(epilogue)); err != nil {
				t.Fatal(err)
			}
			if got := status(t, conn, r, patience); got != http.StatusCreated {
				t.Errorf("steady upload: status %d, want 201", got)
			}
		})

		t.Run("slow login bodies", func(t *testing.T) {
			head := "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n"
			type open struct {
				conn net.Conn
				r    *bufio.Reader
			}
			var held []open
			for i := 0; i < 3; i++ {
				c, r := rawRequest(t, addr, head, `{"email": "`)
				held = append(held, open{c, r})
			}
			time.Sleep(100 * time.Millisecond) // let the server take the three
			c, r := rawRequest(t, addr, head, `{"email": "`)
			if got := status(t, c, r, patience); got != http.StatusTooManyRequests {
				t.Errorf("fourth open login from one address: %d, want 429", got)
			}
			for i, o := range held {
				if got := status(t, o.conn, o.r, patience); got != http.StatusRequestTimeout && got != -1 {
					t.Errorf("slow login body %d: %d, want 408 or closed", i, got)
				}
			}
		})
	})
}
