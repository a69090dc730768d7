// Package clamd scans files with a ClamAV daemon over its INSTREAM protocol, as the
// bytes stream past: the caller writes the file, then asks for the verdict.
package clamd

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"time"
)

// Client talks to clamd at Addr ("host:port", or a unix socket path starting with /).
type Client struct {
	Addr    string
	Timeout time.Duration // per scan; 0 means 2 minutes
}

// Scan is one file being scanned. It is an io.Writer; Verdict ends it.
type Scan struct {
	conn net.Conn
	err  error
}

// InfectedError is the verdict on a file clamd flags.
type InfectedError struct{ Signature string }

func (e *InfectedError) Error() string { return "clamd: infected: " + e.Signature }

// Infected marks the error for callers that know nothing of clamd.
func (e *InfectedError) Infected() bool { return true }

// Start opens a connection and begins an INSTREAM scan.
func (c *Client) Start(ctx context.Context) (*Scan, error) {
	network := "tcp"
	if strings.HasPrefix(c.Addr, "/") {
		network = "unix"
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, c.Addr)
	if err != nil {
		return nil, fmt.Errorf("clamd: %w", err)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte("zINSTREAM\x00")); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clamd: %w", err)
	}
	return &Scan{conn: conn}, nil
}

// maxChunk keeps chunks well below clamd's default StreamMaxLength.
const maxChunk = 1 << 20

// Write sends p to clamd as INSTREAM chunks.
func (s *Scan) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	written := 0
	for len(p) > 0 {
		n := min(len(p), maxChunk)
		var size [4]byte
		binary.BigEndian.PutUint32(size[:], uint32(n))
		if _, err := s.conn.Write(size[:]); err != nil {
			s.err = fmt.Errorf("clamd: %w", err)
			return written, s.err
		}
		if _, err := s.conn.Write(p[:n]); err != nil {
			s.err = fmt.Errorf("clamd: %w", err)
			return written, s.err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

// Verdict ends the stream and reads clamd's answer: nil for a clean file, an
// *InfectedError for an infected one, another error when the scan could not be done.
// It closes the connection.
func (s *Scan) Verdict() error {
	defer s.conn.Close()
	if s.err != nil {
		return s.err
	}
	if _, err := s.conn.Write([]byte{0, 0, 0, 0}); err != nil {
		return fmt.Errorf("clamd: %w", err)
	}
	reply, err := bufio.NewReader(s.conn).ReadString(0)
	if err != nil {
		return fmt.Errorf("clamd: reading the verdict: %w", err)
	}
	reply = strings.TrimSuffix(strings.TrimSpace(strings.TrimRight(reply, "\x00")), "\x00")
	switch {
	case strings.HasSuffix(reply, " OK"):
		return nil
	case strings.HasSuffix(reply, " FOUND"):
		return &InfectedError{Signature: strings.TrimSuffix(strings.TrimPrefix(reply, "stream: "), " FOUND")}
	}
	return fmt.Errorf("clamd: %s", reply)
}

// Close abandons a scan.
func (s *Scan) Close() error { return s.conn.Close() }
