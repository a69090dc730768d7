package dispatch

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wneessen/go-mail"
)

// Sender delivers a message. A temporary failure (SMTP 4xx, network) wraps
// ErrTemporary, so that the job retries; any other error is final.
type Sender interface {
	Send(ctx context.Context, msg *mail.Msg) error
}

// ErrTemporary marks a failure worth retrying.
var ErrTemporary = errors.New("temporary delivery failure")

// SMTP sends through an SMTP relay given by a smtp:// or smtps:// URL.
type SMTP struct {
	host string
	opts []mail.Option
}

var _ Sender = (*SMTP)(nil)

// NewSMTP reads smtp://user:password@host:port (STARTTLS when offered; port 587 by
// default) or smtps://… (implicit TLS; port 465 by default).
func NewSMTP(rawURL string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	s := &SMTP{host: u.Hostname()}
	port := 587
	switch u.Scheme {
	case "smtp":
		s.opts = append(s.opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case "smtps":
		port = 465
		s.opts = append(s.opts, mail.WithSSL())
	default:
		return nil, fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("bad port %q", p)
		}
	}
	s.opts = append(s.opts, mail.WithPort(port))
	if u.User != nil {
		pw, _ := u.User.Password()
		s.opts = append(s.opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(u.User.Username()), mail.WithPassword(pw))
	}
	return s, nil
}

// Send delivers msg in one SMTP session.
func (s *SMTP) Send(ctx context.Context, msg *mail.Msg) error {
	client, err := mail.NewClient(s.host, s.opts...)
	if err != nil {
		return err
	}
	err = client.DialAndSendWithContext(ctx, msg)
	if err == nil {
		return nil
	}
	var se *mail.SendError
	if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
		return err
	}
	// 4xx answers, timeouts and connection failures: try again later.
	return fmt.Errorf("%w: %v", ErrTemporary, err)
}

// Outbox writes each message as an .eml file into a directory: the embedded default,
// when no SMTP relay is configured. The file is named after the Message-ID, so a retry
// replaces, never duplicates, it.
type Outbox struct {
	Dir string
}

var _ Sender = Outbox{}

// Send writes msg atomically.
func (o Outbox) Send(_ context.Context, msg *mail.Msg) error {
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return err
	}
	name := strings.Trim(msg.GetMessageID(), "<>")
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '@' {
			return r
		}
		return '_'
	}, name)
	tmp, err := os.CreateTemp(o.Dir, ".eml-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := msg.WriteTo(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(o.Dir, name+".eml"))
}
