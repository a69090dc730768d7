// Package inbound reads the ILO's answers from each tenant's IMAP mailbox (ADR 0036): a
// River job polls the mailbox, matches each new message to a case (by the dispatch
// whose Message-ID its In-Reply-To or References carry, or by the case number in its
// subject), checks who sent it, and imports it through the workflow, once per
// Message-ID however many processes poll. Unmatched messages are left as they are; the
// mailbox is never changed but for the flag or folder the tenant chose for imported
// messages. The package owns the mailboxes table; it sits above webhook in the
// layering and is wired by portal.
package inbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/webhook"
	"github.com/unionportal/unionportal/workflow"
)

// TLS modes of a mailbox.
const (
	TLSImplicit = "implicit" // IMAPS, usually port 993
	TLSStartTLS = "starttls" // IMAP with STARTTLS required before login, usually 143
)

// What happens to an imported message in the mailbox.
const (
	AfterLeave = "leave" // nothing: the mailbox is opened read-only
	AfterFlag  = "flag"  // the keyword ImportedFlag is set on it
	AfterMove  = "move"  // it is moved to the folder MoveTo
)

// ImportedFlag is the IMAP keyword set on imported messages with AfterFlag.
const ImportedFlag = "$UnionportalImported"

// Mailbox is a tenant's mailbox settings and polling state, as stored.
type Mailbox struct {
	TenantID          string `gorm:"primaryKey"`
	Enabled           bool
	Host              string
	Port              int
	TLS               string `gorm:"column:tls"`
	Username          string
	SealedPassword    string `gorm:"column:password"`
	Folder            string
	AfterImport       string
	MoveTo            string
	TrustedAuthservID string `gorm:"column:trusted_authserv_id"`
	UIDValidity       uint32
	LastUID           uint32 `gorm:"column:last_uid"`
	LastPolledAt      *time.Time
	LastError         string
	Imported          int64
	UpdatedAt         time.Time
}

// TableName names the table.
func (Mailbox) TableName() string { return "mailboxes" }

// MailboxSettings are a tenant's mailbox settings as the API shows them: never the
// password, only whether one is stored.
type MailboxSettings struct {
	Enabled           bool       `json:"enabled" doc:"Poll the mailbox"`
	Host              string     `json:"host" doc:"The IMAP server's host name"`
	Port              int        `json:"port" doc:"Its port: usually 993 with implicit TLS, 143 with STARTTLS"`
	TLS               string     `json:"tls" enum:"mailbox_tls" doc:"implicit (IMAPS) or starttls; TLS is always required, with a certificate valid for host"`
	Username          string     `json:"username"`
	PasswordSet       bool       `json:"password_set" doc:"A password (or app password) is stored, encrypted; it is never shown"`
	Folder            string     `json:"folder" doc:"The folder read, INBOX by default"`
	AfterImport       string     `json:"after_import" enum:"mailbox_after_import" doc:"leave: the mailbox is only read; flag: imported messages get the keyword $UnionportalImported; move: they are moved to move_to"`
	MoveTo            string     `json:"move_to" doc:"The folder imported messages are moved to (after_import move)"`
	TrustedAuthservID string     `json:"trusted_authserv_id" doc:"The authserv-id of the receiving server whose Authentication-Results the portal trusts for SPF, DKIM and DMARC; empty: the portal checks DKIM signatures itself"`
	LastPolledAt      *time.Time `json:"last_polled_at" doc:"When the mailbox was last read"`
	LastError         string     `json:"last_error" doc:"Why the last poll failed, if it did"`
	Imported          int64      `json:"imported" doc:"How many messages were imported from it"`
}

// MailboxInput replaces a tenant's mailbox settings.
type MailboxInput struct {
	Enabled  bool   `json:"enabled"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	TLS      string `json:"tls" enum:"mailbox_tls"`
	Username string `json:"username"`
	// Password, when given, replaces the stored one; omitted or null keeps it.
	Password          *string `json:"password,omitempty" doc:"The password or app password; omit it to keep the stored one"`
	Folder            string  `json:"folder"`
	AfterImport       string  `json:"after_import" enum:"mailbox_after_import"`
	MoveTo            string  `json:"move_to"`
	TrustedAuthservID string  `json:"trusted_authserv_id"`
}

// Options configure the service.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// Keys seals the mailbox passwords under the tenants' keys (required).
	Keys *keys.Service
	// AllowPrivate lets mailboxes be on loopback or private addresses (tests, and
	// installations whose mail server is on their own network).
	AllowPrivate bool
	// TLS is the base TLS configuration (its RootCAs for a private certificate
	// authority); nil means the system's roots.
	TLS *tls.Config
	// Verifier checks senders (nil: DNS).
	Verifier *Verifier
	// PollEvery is how often every mailbox is read (default 5 minutes).
	PollEvery time.Duration
	// Timeout bounds one poll of one mailbox (default 2 minutes).
	Timeout time.Duration
	// MaxMessageBytes is the largest message imported (default 50 MiB); a larger one is
	// skipped and named in last_error.
	MaxMessageBytes int64
	// Batch is how many new messages one poll looks at, at most (default 500): their
	// header fields are fetched, and the whole of those that match.
	Batch int
}

// Service reads the mailboxes.
type Service struct {
	db   *database.DB
	wf   *workflow.Service
	d    *dispatch.Service
	opts Options
}

// NewService builds the service; UseDispatch completes it.
func NewService(db *database.DB, wf *workflow.Service, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PollEvery <= 0 {
		opts.PollEvery = 5 * time.Minute
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = 50 << 20
	}
	if opts.Batch <= 0 {
		opts.Batch = 500
	}
	return &Service{db: db, wf: wf, opts: opts}
}

// UseDispatch gives the service the dispatch service: its records of what was sent
// (to match replies) and its queue client (which runs this package's jobs). It is part
// of the wiring, before the service is used.
func (s *Service) UseDispatch(d *dispatch.Service) { s.d = d }

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

func (m *Mailbox) settings() *MailboxSettings {
	return &MailboxSettings{Enabled: m.Enabled, Host: m.Host, Port: m.Port, TLS: m.TLS, Username: m.Username,
		PasswordSet: m.SealedPassword != "", Folder: m.Folder, AfterImport: m.AfterImport, MoveTo: m.MoveTo,
		TrustedAuthservID: m.TrustedAuthservID, LastPolledAt: m.LastPolledAt, LastError: m.LastError, Imported: m.Imported}
}

// defaultSettings are what a tenant without a mailbox sees.
func defaultSettings() *MailboxSettings {
	return &MailboxSettings{Port: 993, TLS: TLSImplicit, Folder: "INBOX", AfterImport: AfterLeave}
}

func (s *Service) load(ctx context.Context, tenantID string) (*Mailbox, error) {
	var ms []Mailbox
	if err := s.db.Conn(ctx).Where("tenant_id = ?", tenantID).Limit(1).Find(&ms).Error; err != nil || len(ms) == 0 {
		return nil, err
	}
	return &ms[0], nil
}

// Settings returns the tenant's mailbox settings (tenant admins).
func (s *Service) Settings(ctx context.Context, a *auth.TenantAccess) (*MailboxSettings, error) {
	if err := a.Require(auth.PermSettingsRead); err != nil {
		return nil, err
	}
	m, err := s.load(ctx, a.Tenant.ID)
	if err != nil || m == nil {
		return defaultSettings(), err
	}
	return m.settings(), nil
}

// folderOK accepts a folder name: printable, without the characters IMAP quoting or
// mailbox patterns treat specially.
func folderOK(f string) bool {
	return f != "" && utf8.RuneCountInString(f) <= 200 && !strings.ContainsAny(f, "\"\\*%\r\n\x00")
}

func (in *MailboxInput) validate() error {
	var f []apperr.FieldError
	add := func(field, msg string) { f = append(f, apperr.FieldError{Field: field, Message: msg}) }
	in.Host, in.Username, in.Folder = strings.TrimSpace(in.Host), strings.TrimSpace(in.Username), strings.TrimSpace(in.Folder)
	in.MoveTo, in.TrustedAuthservID = strings.TrimSpace(in.MoveTo), strings.TrimSpace(in.TrustedAuthservID)
	if in.Folder == "" {
		in.Folder = "INBOX"
	}
	if in.AfterImport == "" {
		in.AfterImport = AfterLeave
	}
	if in.Host == "" || len(in.Host) > 253 || strings.ContainsAny(in.Host, " /:@\r\n") {
		add("host", "expected a host name such as imap.example.org")
	}
	if in.Port < 1 || in.Port > 65535 {
		add("port", "expected a port from 1 to 65535 (993 for implicit TLS, 143 for STARTTLS)")
	}
	if in.TLS != TLSImplicit && in.TLS != TLSStartTLS {
		add("tls", "expected implicit or starttls")
	}
	if in.Username == "" || len(in.Username) > 320 || strings.ContainsAny(in.Username, "\r\n\x00") {
		add("username", "required, at most 320 characters")
	}
	if in.Password != nil && (len(*in.Password) > 1024 || strings.ContainsAny(*in.Password, "\r\n\x00")) {
		add("password", "at most 1024 characters, without line breaks")
	}
	if !folderOK(in.Folder) {
		add("folder", "expected a folder name such as INBOX or INBOX/ILO")
	}
	switch in.AfterImport {
	case AfterLeave, AfterFlag:
	case AfterMove:
		if !folderOK(in.MoveTo) || in.MoveTo == in.Folder {
			add("move_to", "expected the name of another folder to move imported messages to")
		}
	default:
		add("after_import", "expected leave, flag or move")
	}
	if len(in.TrustedAuthservID) > 253 || strings.ContainsAny(in.TrustedAuthservID, " ;\r\n") {
		add("trusted_authserv_id", "expected a host name such as mx.example.org, or empty")
	}
	if len(f) > 0 {
		return apperr.Invalid("the mailbox settings are invalid", f...)
	}
	return nil
}

// PutSettings replaces the tenant's mailbox settings (tenant admins). A new server,
// account or folder is read from its first message again (nothing is imported twice:
// imports are by Message-ID).
func (s *Service) PutSettings(ctx context.Context, a *auth.TenantAccess, in MailboxInput) (*MailboxSettings, error) {
	if err := a.Require(auth.PermSettingsWrite); err != nil {
		return nil, err
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	var out *MailboxSettings
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		m, err := s.load(ctx, a.Tenant.ID)
		if err != nil {
			return err
		}
		fresh := m == nil
		if fresh {
			m = &Mailbox{TenantID: a.Tenant.ID}
		}
		if m.Host != in.Host || m.Port != in.Port || m.Username != in.Username || m.Folder != in.Folder {
			m.UIDValidity, m.LastUID = 0, 0
		}
		m.Enabled, m.Host, m.Port, m.TLS, m.Username = in.Enabled, in.Host, in.Port, in.TLS, in.Username
		m.Folder, m.AfterImport, m.MoveTo, m.TrustedAuthservID = in.Folder, in.AfterImport, in.MoveTo, in.TrustedAuthservID
		if m.AfterImport != AfterMove {
			m.MoveTo = ""
		}
		if in.Password != nil {
			k, err := s.opts.Keys.TenantKey(ctx, a.Tenant.ID)
			if err != nil {
				return err
			}
			m.SealedPassword = keys.SealField(k, *in.Password, a.Tenant.ID, "mailboxes", "password", a.Tenant.ID)
			if *in.Password == "" {
				m.SealedPassword = ""
			}
		}
		if m.Enabled && m.SealedPassword == "" {
			return apperr.Invalid("the mailbox settings are invalid", apperr.FieldError{Field: "password", Message: "required to enable the mailbox"})
		}
		m.LastError, m.UpdatedAt = "", s.now()
		if fresh {
			err = s.db.Conn(ctx).Create(m).Error
		} else {
			err = s.db.Conn(ctx).Save(m).Error
		}
		if err != nil {
			return err
		}
		out = m.settings()
		actor := a.Actor()
		_, err = audit.Record(ctx, s.db, audit.Entry{TenantID: a.Tenant.ID, ActorID: actor.UserID, IP: actor.IP,
			Action: "mailbox.updated", ObjectType: "mailbox", ObjectID: a.Tenant.ID, At: s.now(),
			Details: map[string]any{"enabled": m.Enabled, "host": m.Host, "port": m.Port, "tls": m.TLS, "folder": m.Folder,
				"after_import": m.AfterImport, "password_changed": in.Password != nil}})
		return err
	})
	return out, err
}

// password opens the stored password.
func (s *Service) password(ctx context.Context, m *Mailbox) (string, error) {
	k, err := s.opts.Keys.TenantKey(ctx, m.TenantID)
	if err != nil {
		return "", err
	}
	return keys.OpenField(k, m.SealedPassword, m.TenantID, "mailboxes", "password", m.TenantID)
}

// dialer refuses internal addresses unless allowed, as webhook deliveries do: a tenant
// admin must not make the portal probe its own network.
func (s *Service) dialer() *net.Dialer {
	return &net.Dialer{Timeout: 30 * time.Second, Control: func(network, address string, _ syscall.RawConn) error {
		if s.opts.AllowPrivate {
			return nil
		}
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return fmt.Errorf("the mailbox's address %s is refused", address)
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || webhook.Internal(ip) {
			return fmt.Errorf("the mailbox's address %s is an internal address, which the portal does not connect to", host)
		}
		return nil
	}}
}

func (m *Mailbox) addr() string { return net.JoinHostPort(m.Host, strconv.Itoa(m.Port)) }

var errNoMailbox = errors.New("no mailbox is configured")
