package testrig

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// IMAPHost is the loopback address Dovecot listens on. Not 127.0.0.1: Dovecot treats a
// connection whose remote address equals its local one as secured (from localhost), and
// would then accept a password on the plain port without STARTTLS. A client on this
// machine reaches 127.0.0.2 from 127.0.0.1 (Linux routes all of 127/8 to lo), so the
// plain listener really requires STARTTLS, as a remote server does.
const IMAPHost = "127.0.0.2"

// Dovecot is an IMAP server (Debian's Dovecot) on loopback with its configuration, state
// and mail in a directory. Any user name logs in with Password and gets a mailbox of its
// own, empty until used, so every test can use a user of its own.
type Dovecot struct {
	Addr         string // host:port, IMAP over implicit TLS (imaps)
	StartTLSAddr string // host:port, plain IMAP that requires STARTTLS before login
	Password     string // the password of every user
	CAFile       string // PEM certificate the server presents (self-signed): trust it
	Dir          string
	proc         *process
}

// Stop stops the server, as if the mailbox provider went away; Start brings it back with
// the same mail.
func (d *Dovecot) Stop() error { return d.proc.stop() }

// Start starts a stopped server again.
func (d *Dovecot) Start(ctx context.Context) error { return d.proc.start(ctx) }

// FindDovecot returns the path of the dovecot binary: on PATH, else Debian's /usr/sbin
// (not on a normal user's PATH).
func FindDovecot() (string, error) {
	if p, err := exec.LookPath("dovecot"); err == nil {
		return p, nil
	}
	if fi, err := os.Stat("/usr/sbin/dovecot"); err == nil && fi.Mode().IsRegular() {
		return "/usr/sbin/dovecot", nil
	}
	return "", errors.New("dovecot is missing: install the Debian package dovecot-imapd (make dovecot)")
}

// EnsureDovecot installs Debian's dovecot-imapd when dovecot is missing and the rig runs
// as root (as EnsureCommand), then stops and disables the system service the package
// may have started: the rig runs its own instances, and port 143/993 is nobody's business.
func EnsureDovecot(ctx context.Context, progress func(string)) error {
	if _, err := FindDovecot(); err == nil {
		return nil
	}
	if err := EnsureCommand(ctx, "dovecot", "dovecot-imapd", progress); err != nil {
		return err
	}
	// Whichever init system there is; each command may fail harmlessly.
	for _, argv := range [][]string{
		{"systemctl", "disable", "--now", "dovecot.service", "dovecot.socket"},
		{"invoke-rc.d", "dovecot", "stop"},
		{"update-rc.d", "dovecot", "disable"},
	} {
		if _, err := exec.LookPath(argv[0]); err == nil {
			_ = exec.CommandContext(ctx, argv[0], argv[1:]...).Run()
		}
	}
	return nil
}

// StartDovecot writes a configuration (and a self-signed certificate) into dir and starts
// Dovecot with it in the foreground, never reading /etc/dovecot. As root, the login and
// internal processes run as the package's dovenull and dovecot users and the mail belongs
// to dovecot (Dovecot refuses root for them), so dir's parents must let that user through
// (t.TempDir's do not: use os.MkdirTemp, as TempPostgres); otherwise everything runs as the
// current user.
func StartDovecot(ctx context.Context, dir string) (*Dovecot, error) {
	bin, err := FindDovecot()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	internalUser, loginUser := "dovecot", "dovenull"
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return nil, err
		}
		internalUser, loginUser = u.Username, u.Username
	}
	owner, err := user.Lookup(internalUser)
	if err != nil {
		return nil, fmt.Errorf("dovecot: no user %s to run as (is dovecot-core installed?): %w", internalUser, err)
	}
	uid, _ := strconv.Atoi(owner.Uid)
	gid, _ := strconv.Atoi(owner.Gid)
	group, err := user.LookupGroupId(owner.Gid)
	if err != nil {
		return nil, err
	}
	mail := filepath.Join(dir, "mail")
	if err := os.MkdirAll(mail, 0o755); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(mail, uid, gid); err != nil {
			return nil, err
		}
	}

	d := &Dovecot{Password: rand.Text(), CAFile: filepath.Join(dir, "cert.pem"), Dir: dir}
	keyFile := filepath.Join(dir, "key.pem")
	if err := writeSelfSigned(d.CAFile, keyFile, []string{"localhost"}, []net.IP{net.ParseIP(IMAPHost), net.IPv4(127, 0, 0, 1)}); err != nil {
		return nil, err
	}
	tlsPort, err := freePortOn(IMAPHost)
	if err != nil {
		return nil, err
	}
	plainPort, err := freePortOn(IMAPHost)
	if err != nil {
		return nil, err
	}
	d.Addr = net.JoinHostPort(IMAPHost, strconv.Itoa(tlsPort))
	d.StartTLSAddr = net.JoinHostPort(IMAPHost, strconv.Itoa(plainPort))

	conf := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(conf, []byte(dovecotConfig(dir, d.Password, keyFile, d.CAFile, internalUser, group.Name, loginUser, uid, gid, tlsPort, plainPort)), 0o600); err != nil {
		return nil, err
	}
	d.proc = &process{
		name:     "Dovecot",
		argv:     []string{bin, "-F", "-c", conf},
		stopSig:  syscall.SIGTERM,
		stopWait: 10 * time.Second,
		logPath:  filepath.Join(dir, "dovecot.log"),
		ready:    imapReady(d.StartTLSAddr),
	}
	if err := d.proc.start(ctx); err != nil {
		return nil, fmt.Errorf("dovecot: %w", err)
	}
	return d, nil
}

// dovecotConfig is the whole configuration: nothing is included from /etc/dovecot.
func dovecotConfig(dir, password, keyFile, certFile, internalUser, internalGroup, loginUser string, uid, gid, tlsPort, plainPort int) string {
	return fmt.Sprintf(`# Written by internal/testrig (StartDovecot) for one test run.
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap
listen = %[2]s
shutdown_clients = yes

ssl = required
ssl_cert = <%[3]s
ssl_key = <%[4]s
disable_plaintext_auth = yes

default_internal_user = %[5]s
default_internal_group = %[6]s
default_login_user = %[7]s
first_valid_uid = %[8]d
last_valid_uid = 0
first_valid_gid = %[9]d

# Any user name with the one password; mail of its own under mail/<user>. Dovecot 2.3
# still answers a failed login on its next 0.5 s tick with auth_failure_delay = 0; the
# anvil penalty (2 s, 4 s... per client address, all tests share 127.0.0.1) is off below.
auth_mechanisms = plain login
auth_failure_delay = 0
auth_cache_size = 0
passdb {
  driver = static
  args = password=%[10]s
}
userdb {
  driver = static
  args = uid=%[8]d gid=%[9]d home=%[1]s/mail/%%u
}
mail_location = maildir:%[1]s/mail/%%u
mail_fsync = never

service anvil {
  chroot =
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service imap-login {
  chroot =
  inet_listener imap {
    port = %[11]d
  }
  inet_listener imaps {
    port = %[12]d
    ssl = yes
  }
}
`, dir, IMAPHost, certFile, keyFile, internalUser, internalGroup, loginUser, uid, gid, password, plainPort, tlsPort)
}

// imapReady reports whether the IMAP server at addr greets with its capabilities: until its
// authentication process is up, Dovecot greets with "Waiting for authentication process".
func imapReady(addr string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		var dialer net.Dialer
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		conn, err := dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		deadline, _ := ctx.Deadline()
		_ = conn.SetDeadline(deadline)
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if strings.HasPrefix(line, "* OK [CAPABILITY ") {
				_, _ = conn.Write([]byte("a LOGOUT\r\n"))
				return nil
			}
			if !strings.HasPrefix(line, "* OK ") {
				return fmt.Errorf("IMAP greeting %q", line)
			}
		}
	}
}

// freePortOn returns a TCP port on host that was free a moment ago.
func freePortOn(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeSelfSigned writes a self-signed ECDSA P-256 certificate for names and ips, valid
// for a week, to certFile and its key to keyFile (both PEM).
func writeSelfSigned(certFile, keyFile string, names []string, ips []net.IP) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "unionportal test IMAP server"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              names,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}

// Server describes the server as IMAPFromEnv does the rig's.
func (d *Dovecot) Server() IMAPServer {
	return IMAPServer{Addr: d.Addr, StartTLSAddr: d.StartTLSAddr, Password: d.Password, CAFile: d.CAFile}
}

// IMAPServer is an IMAP server as the tests see it (IMAPFromEnv, Dovecot.Server).
type IMAPServer struct {
	Addr         string // host:port, implicit TLS
	StartTLSAddr string // host:port, plain IMAP requiring STARTTLS before login
	Password     string // any user name logs in with it and gets a mailbox of its own
	CAFile       string // PEM certificate to trust
}

// IMAPFromEnv returns the rig's IMAP server, skipping t without the rig (or failing it when
// the rig is required). Tests should log in as a user name of their own (t.Name(), say):
// each gets an empty mailbox.
func IMAPFromEnv(t interface {
	Helper()
	Skipf(string, ...any)
	Fatalf(string, ...any)
}) IMAPServer {
	t.Helper()
	return IMAPServer{
		Addr:         SkipOrFail(t, EnvIMAPAddr, "Dovecot IMAP"),
		StartTLSAddr: SkipOrFail(t, EnvIMAPStartTLSAddr, "Dovecot IMAP (STARTTLS)"),
		Password:     SkipOrFail(t, EnvIMAPPassword, "Dovecot IMAP password"),
		CAFile:       SkipOrFail(t, EnvIMAPCA, "Dovecot IMAP certificate"),
	}
}

// TLSConfig returns a TLS configuration that trusts only the server's certificate, with
// ServerName the server's host (an IP address, which the certificate names).
func (s IMAPServer) TLSConfig() (*tls.Config, error) {
	pemBytes, err := os.ReadFile(s.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("no certificate in %s", s.CAFile)
	}
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}, nil
}
