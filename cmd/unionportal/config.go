package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	gbytes "github.com/labstack/gommon/bytes"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/clientip"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/keys"
)

// envPrefix starts the name of every setting.
const envPrefix = "UNIONPORTAL_"

// Config is every setting of the portal, read once at start-up from UNIONPORTAL_*
// environment variables and, optionally, a config file with the same keys.
type Config struct {
	Addr            string
	DataDir         string
	DatabaseURL     string
	Database        database.Target // DatabaseURL, parsed
	Storage         string
	S3Endpoint      string
	S3Bucket        string
	S3AccessKey     string
	S3SecretKey     string
	S3Region        string
	S3UseTLS        bool
	SMTPURL         string
	BaseURL         *url.URL
	SecretKey       string
	LogFormat       string
	LogLevel        string
	MaxBodyBytes    int64
	TrustedProxies  []*net.IPNet
	SessionIdle     time.Duration
	SessionAbsolute time.Duration
	// StepUpWindow is how long a second factor lets a session do the acts that matter.
	StepUpWindow    time.Duration
	MaxFileBytes    int64
	MaxSubmission   int64
	MaxUploads      int
	ClamdAddr       string
	DispatchTimeout time.Duration
	// WebhookAllowPrivate lets webhook endpoints be internal addresses (and http).
	WebhookAllowPrivate bool
	// MailboxAllowPrivate lets tenants' IMAP mailboxes be internal addresses;
	// MailboxPollInterval is how often they are read; MailboxCAFile adds a certificate
	// authority their servers' certificates may chain to.
	MailboxAllowPrivate bool
	MailboxPollInterval time.Duration
	MailboxCAFile       string
	// WorkerMetricsAddr is where `worker` serves /metrics and /healthz ("" for nowhere).
	WorkerMetricsAddr string
	// DatabaseMaxConns bounds each process's PostgreSQL pool.
	DatabaseMaxConns int
	// CPUProfile is a file where serve and worker write a CPU profile of their whole
	// run, for performance work ("" for none).
	CPUProfile string
	// IPRetention is how much of a client's address is stored and logged.
	IPRetention clientip.Retention
	// Master is the master key of encryption at rest (set from UNIONPORTAL_MASTER_KEY, its
	// file, or the data directory's master.key by loadMasterKey); PreviousMasters are former
	// ones, during a rotation.
	Master          *keys.Master
	MasterKeyFile   string
	PreviousMasters []*keys.Master
}

// setting describes one configuration key: its default, what it expects, and how it is
// parsed into Config. The table is the single source for parsing, validation messages
// and the documentation test that keeps the README's table complete.
type setting struct {
	key    string // without the prefix
	def    string
	expect string
	apply  func(c *Config, v string) error
}

var settings = []setting{
	{"ADDR", ":8080", "a listen address host:port, such as :8080 or 127.0.0.1:8080", func(c *Config, v string) error {
		host, port, err := net.SplitHostPort(v)
		if err != nil {
			return err
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("port %q out of range", port)
		}
		if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
			return fmt.Errorf("host %q is not an IP address or host name", host)
		}
		c.Addr = v
		return nil
	}},
	{"DATA_DIR", "./data", "a writable directory", func(c *Config, v string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New("empty")
		}
		c.DataDir = v
		return nil
	}},
	{"DATABASE_URL", "", "postgres://user:password@host:port/dbname, sqlite://PATH or a SQLite file path", func(c *Config, v string) error {
		c.DatabaseURL = v
		return nil // parsed after DATA_DIR is known, in loadConfig
	}},
	{"DATABASE_MAX_CONNS", "20", "an integer from 2 to 1000: PostgreSQL connections each process may open (SQLite always uses one)", func(c *Config, v string) (err error) {
		c.DatabaseMaxConns, err = intBetween(v, 2, 1000)
		return err
	}},
	{"STORAGE", "local", "local or s3", func(c *Config, v string) error {
		if v != "local" && v != "s3" {
			return fmt.Errorf("unknown storage %q", v)
		}
		c.Storage = v
		return nil
	}},
	{"S3_ENDPOINT", "", "host:port of the S3 server, without a scheme", func(c *Config, v string) error {
		if v != "" && strings.Contains(v, "://") {
			return errors.New("give host:port; the scheme comes from UNIONPORTAL_S3_USE_TLS")
		}
		c.S3Endpoint = v
		return nil
	}},
	{"S3_BUCKET", "", "an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)", func(c *Config, v string) error {
		if v != "" && !bucketName.MatchString(v) {
			return fmt.Errorf("invalid bucket name %q", v)
		}
		c.S3Bucket = v
		return nil
	}},
	{"S3_ACCESS_KEY", "", "the S3 access key", func(c *Config, v string) error { c.S3AccessKey = v; return nil }},
	{"S3_SECRET_KEY", "", "the S3 secret key", func(c *Config, v string) error { c.S3SecretKey = v; return nil }},
	{"S3_REGION", "", "the S3 region, if the server needs one", func(c *Config, v string) error { c.S3Region = v; return nil }},
	{"S3_USE_TLS", "true", "true or false", func(c *Config, v string) (err error) {
		c.S3UseTLS, err = strconv.ParseBool(v)
		return err
	}},
	{"SMTP_URL", "", "smtp://user:password@host:port or smtps://…; unset writes mail to <data dir>/outbox", func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		// The URL may carry a password: no message repeats any part of it, and url.Parse's
		// errors, which quote the URL, are not passed on.
		u, err := url.Parse(v)
		if err != nil {
			return errors.New("not a valid URL (is the port a number, and are special characters in the user name and password percent-encoded?)")
		}
		if u.Scheme != "smtp" && u.Scheme != "smtps" {
			return errors.New("the scheme must be smtp or smtps")
		}
		if u.Hostname() == "" {
			return errors.New("no host")
		}
		c.SMTPURL = v
		return nil
	}},
	{"BASE_URL", "http://localhost:8080", "the absolute http(s) URL users reach the portal at", func(c *Config, v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("not an absolute http or https URL")
		}
		if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return errors.New("may not carry a query, fragment or user")
		}
		u.Path = strings.TrimRight(u.Path, "/")
		c.BaseURL = u
		return nil
	}},
	{"SECRET_KEY", "", "at least 32 characters; unset generates one into <data dir>/secret.key", func(c *Config, v string) error {
		if v != "" && len(v) < 32 {
			return errors.New("too short")
		}
		c.SecretKey = v
		return nil
	}},
	{"MASTER_KEY", "", "32 random bytes in base64 or hex (unionportal admin generate-master-key); unset reads UNIONPORTAL_MASTER_KEY_FILE, or generates one into <data dir>/master.key", func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		m, err := keys.ParseMaster(v)
		if err != nil {
			return err
		}
		c.Master = m
		return nil
	}},
	{"MASTER_KEY_FILE", "", "a file holding the master key (a mounted secret), read when UNIONPORTAL_MASTER_KEY is unset", func(c *Config, v string) error {
		c.MasterKeyFile = v
		return nil
	}},
	{"PREVIOUS_MASTER_KEYS", "", "comma-separated former master keys, while unionportal admin rotate-master-key re-wraps the tenant keys", func(c *Config, v string) error {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			m, err := keys.ParseMaster(part)
			if err != nil {
				return err
			}
			c.PreviousMasters = append(c.PreviousMasters, m)
		}
		return nil
	}},
	{"LOG_FORMAT", "auto", "auto (text on a terminal, JSON otherwise), json or text", func(c *Config, v string) error {
		if v != "auto" && v != "json" && v != "text" {
			return fmt.Errorf("unknown format %q", v)
		}
		c.LogFormat = v
		return nil
	}},
	{"LOG_LEVEL", "info", "debug, info, warn or error", func(c *Config, v string) error {
		switch v {
		case "debug", "info", "warn", "error":
			c.LogLevel = v
			return nil
		}
		return fmt.Errorf("unknown level %q", v)
	}},
	{"MAX_REQUEST_BYTES", "4MiB", "a size such as 4MiB: the largest request body outside file uploads", func(c *Config, v string) (err error) {
		c.MaxBodyBytes, err = parseSize(v)
		return err
	}},
	{"SESSION_IDLE_TIMEOUT", "2h", "a duration such as 30m or 2h: a session unused this long ends", func(c *Config, v string) (err error) {
		c.SessionIdle, err = positiveDuration(v)
		return err
	}},
	{"SESSION_MAX_AGE", "12h", "a duration such as 12h: every session ends this long after login", func(c *Config, v string) (err error) {
		c.SessionAbsolute, err = positiveDuration(v)
		return err
	}},
	{"STEP_UP_WINDOW", "10m", "a duration from 10s to 10m: how long after a second factor (or, without one, the password) a session may approve, sign, reject and administer", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Second || d > auth.DefaultStepUpWindow {
			return fmt.Errorf("%q is not a duration from 10s to 10m", v)
		}
		c.StepUpWindow = d
		return nil
	}},
	{"MAX_FILE_BYTES", "50MiB", "a size such as 50MiB: the largest evidence file", func(c *Config, v string) (err error) {
		c.MaxFileBytes, err = parseSize(v)
		return err
	}},
	{"MAX_SUBMISSION_BYTES", "200MiB", "a size such as 200MiB: all evidence files of one submission", func(c *Config, v string) (err error) {
		c.MaxSubmission, err = parseSize(v)
		return err
	}},
	{"MAX_CONCURRENT_UPLOADS", "4", "an integer from 1 to 64: uploads running at once (each holds a 5 MiB part buffer with S3 storage)", func(c *Config, v string) (err error) {
		c.MaxUploads, err = intBetween(v, 1, 64)
		return err
	}},
	{"DISPATCH_TIMEOUT", "5m", "a duration such as 5m: one delivery attempt's limit; a dispatch cut off by a crash resumes twice that long after it began", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return fmt.Errorf("%q is not a duration of at least 1s", v)
		}
		c.DispatchTimeout = d
		return nil
	}},
	{"WORKER_METRICS_ADDR", "", "a listen address host:port, such as :9090, where `unionportal worker` serves /metrics and /healthz; unset, it serves nothing", func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			return errors.New("expected host:port, such as :9090")
		}
		c.WorkerMetricsAddr = v
		return nil
	}},
	{"CPU_PROFILE", "", "a file path: `serve` and `worker` write a Go CPU profile (pprof) of their whole run there, written when they stop; for performance work, unset in production", func(c *Config, v string) error {
		c.CPUProfile = v
		return nil
	}},
	{"CLAMD_ADDR", "", "host:port or a unix socket path of a ClamAV daemon; set, every upload is scanned", func(c *Config, v string) error {
		if v != "" && !strings.HasPrefix(v, "/") {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return err
			}
		}
		c.ClamdAddr = v
		return nil
	}},
	{"WEBHOOK_ALLOW_PRIVATE", "false", "true or false", func(c *Config, v string) (err error) {
		c.WebhookAllowPrivate, err = strconv.ParseBool(v)
		return err
	}},
	{"MAILBOX_ALLOW_PRIVATE", "false", "true or false", func(c *Config, v string) (err error) {
		c.MailboxAllowPrivate, err = strconv.ParseBool(v)
		return err
	}},
	{"MAILBOX_POLL_INTERVAL", "5m", "a duration of at least 1m, such as 5m", func(c *Config, v string) (err error) {
		c.MailboxPollInterval, err = time.ParseDuration(v)
		if err == nil && c.MailboxPollInterval < time.Minute {
			err = errors.New("at least 1m")
		}
		return err
	}},
	{"MAILBOX_CA_FILE", "", "path of a PEM file of certificate authorities trusted for IMAP servers, besides the system's", func(c *Config, v string) error {
		c.MailboxCAFile = v
		return nil
	}},
	{"TRUSTED_PROXIES", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed", func(c *Config, v string) error {
		c.TrustedProxies = nil
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			_, n, err := net.ParseCIDR(part)
			if err != nil {
				return fmt.Errorf("%q is not a CIDR", part)
			}
			c.TrustedProxies = append(c.TrustedProxies, n)
		}
		return nil
	}},
	{"IP_RETENTION", "truncated", "truncated (the network: /24 for IPv4, /48 for IPv6), full or none", func(c *Config, v string) (err error) {
		c.IPRetention, err = clientip.Parse(v)
		return err
	}},
}

// secretSettings hold passwords or keys: an error about one names the setting and what
// is wrong with it, never its value.
var secretSettings = map[string]bool{"DATABASE_URL": true, "S3_ACCESS_KEY": true, "S3_SECRET_KEY": true, "SMTP_URL": true, "SECRET_KEY": true,
	"MASTER_KEY": true, "PREVIOUS_MASTER_KEYS": true}

var (
	bucketName   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	hostnameRe   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)
	configFileKV = regexp.MustCompile(`^([A-Z0-9_]+)\s*=\s*(.*)$`)
)

// intBetween parses v as an integer from lo to hi.
func intBetween(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q is not an integer from %d to %d", v, lo, hi)
	}
	return n, nil
}

func parseSize(v string) (int64, error) {
	n, err := gbytes.Parse(v)
	if err != nil || n < 1024 {
		return 0, fmt.Errorf("%q is not a size of at least 1KiB", v)
	}
	return n, nil
}

func positiveDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Minute {
		return 0, fmt.Errorf("%q is not a duration of at least 1m", v)
	}
	return d, nil
}

func validHostname(h string) bool { return len(h) <= 253 && hostnameRe.MatchString(h) }

// keyConfig names the file the other settings may come from.
const keyConfig = envPrefix + "CONFIG"

// ConfigErrors lists every bad setting, one per line.
type ConfigErrors []string

func (e ConfigErrors) Error() string { return strings.Join(e, "\n") }

// loadConfig reads the settings: defaults, then the config file (file, or
// UNIONPORTAL_CONFIG), then the environment, which wins. It reports every bad or
// unknown key at once, each by name with what was expected.
func loadConfig(environ []string, file string) (*Config, error) {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, envPrefix) {
			env[k] = v
		}
	}
	if file == "" {
		file = env[keyConfig]
	}
	values := map[string]string{}
	var errs ConfigErrors
	if file != "" {
		fromFile, err := readConfigFile(file)
		if err != nil {
			return nil, ConfigErrors{fmt.Sprintf("%s: %v", keyConfig, err)}
		}
		for k, v := range fromFile {
			values[k] = v
		}
	}
	for k, v := range env {
		values[k] = v
	}

	known := map[string]bool{keyConfig: true}
	c := &Config{}
	for _, s := range settings {
		key := envPrefix + s.key
		known[key] = true
		v, ok := values[key]
		if !ok {
			v = s.def
		}
		if err := s.apply(c, v); err != nil {
			if secretSettings[s.key] {
				errs = append(errs, fmt.Sprintf("%s: %v; expected %s (the value is secret, so not shown)", key, err, s.expect))
			} else {
				errs = append(errs, fmt.Sprintf("%s=%q: %v; expected %s", key, v, err, s.expect))
			}
		}
	}
	var unknown []string
	for k := range values {
		// The test rig's variables share the prefix but are not settings.
		if !known[k] && !strings.HasPrefix(k, envPrefix+"TEST_") {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		errs = append(errs, fmt.Sprintf("%s: unknown setting (a typo?); see the configuration table in README.md", k))
	}
	if c.DataDir != "" {
		t, err := database.ParseURL(c.DatabaseURL, c.DataDir)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%sDATABASE_URL: %v", envPrefix, err))
		}
		c.Database = t
	}
	if c.Storage == "s3" {
		for key, v := range map[string]string{"S3_ENDPOINT": c.S3Endpoint, "S3_BUCKET": c.S3Bucket, "S3_ACCESS_KEY": c.S3AccessKey, "S3_SECRET_KEY": c.S3SecretKey} {
			if v == "" {
				errs = append(errs, fmt.Sprintf("%s%s: required when UNIONPORTAL_STORAGE=s3", envPrefix, key))
			}
		}
	}
	if c.SessionIdle > c.SessionAbsolute && c.SessionAbsolute > 0 {
		errs = append(errs, fmt.Sprintf("%sSESSION_IDLE_TIMEOUT: %s is longer than UNIONPORTAL_SESSION_MAX_AGE (%s)", envPrefix, c.SessionIdle, c.SessionAbsolute))
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, errs
	}
	return c, nil
}

// readConfigFile reads KEY=value lines; blank lines and lines starting with # are
// skipped, and a value may be wrapped in double quotes.
func readConfigFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the config file: %v", unwrapPath(err))
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := configFileKV.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("%s line %d: expected KEY=value", path, n)
		}
		v := m[2]
		if uq, err := strconv.Unquote(v); err == nil && strings.HasPrefix(v, `"`) {
			v = uq
		}
		out[m[1]] = v
	}
	return out, sc.Err()
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// prepareDataDir creates the data directory if needed, makes it private to the portal's
// user (0700, also when it existed with a wider mode: it holds the database, the
// secret key and the evidence files) and checks that it is writable.
func prepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%sDATA_DIR=%q: cannot create it: %v", envPrefix, dir, unwrapPath(err))
	}
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("%sDATA_DIR=%q: %v", envPrefix, dir, unwrapPath(err))
	} else if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("%sDATA_DIR=%q: cannot make it private (mode 0700): %v", envPrefix, dir, unwrapPath(err))
		}
	}
	probe, err := os.CreateTemp(dir, ".write-test-")
	if err != nil {
		return fmt.Errorf("%sDATA_DIR=%q: not writable: %v", envPrefix, dir, unwrapPath(err))
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// loadMasterKey finds the master key: UNIONPORTAL_MASTER_KEY, else the file named by
// UNIONPORTAL_MASTER_KEY_FILE, else <data dir>/master.key, generated (mode 0600) on first
// start of the embedded default. Back it up apart from the data: without it nothing
// encrypted can be read.
func loadMasterKey(c *Config) error {
	if c.Master != nil {
		return nil
	}
	setting, path := envPrefix+"MASTER_KEY_FILE", c.MasterKeyFile
	if path == "" {
		setting, path = envPrefix+"MASTER_KEY", filepath.Join(c.DataDir, "master.key")
	}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		m, perr := keys.ParseMaster(string(b))
		if perr != nil {
			return fmt.Errorf("%s: %s: %v", setting, path, perr)
		}
		c.Master = m
		return nil
	case errors.Is(err, fs.ErrNotExist) && c.MasterKeyFile == "" && c.Database.Dialect == database.Postgres:
		// Only the embedded default keeps its key beside its data: with PostgreSQL the
		// data directory is not where the data lives, and a key generated there could be
		// lost with a container while the data stays, unreadable.
		return errors.New(envPrefix + "MASTER_KEY is required with PostgreSQL: generate one with `unionportal admin generate-master-key`, give every process the same one (or " +
			envPrefix + "MASTER_KEY_FILE), and keep a copy apart from the database backups")
	case errors.Is(err, fs.ErrNotExist) && c.MasterKeyFile == "":
		text := keys.GenerateMaster()
		if err := os.WriteFile(path, []byte(text+"\n"), 0o600); err != nil {
			return fmt.Errorf("%s: cannot write %s: %v", setting, path, unwrapPath(err))
		}
		c.Master, err = keys.ParseMaster(text)
		return err
	default:
		return fmt.Errorf("%s: cannot read %s: %v", setting, path, unwrapPath(err))
	}
}

// loadSecretKey returns the configured secret key or the one generated into the data
// directory on the first run.
func loadSecretKey(c *Config) error {
	if c.SecretKey != "" {
		return nil
	}
	path := filepath.Join(c.DataDir, "secret.key")
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		key := strings.TrimSpace(string(b))
		if len(key) < 32 {
			return fmt.Errorf("%sSECRET_KEY: %s holds only %d characters; expected at least 32 (delete it to generate a new one)", envPrefix, path, len(key))
		}
		c.SecretKey = key
		return nil
	case errors.Is(err, fs.ErrNotExist):
		raw := make([]byte, 32)
		_, _ = rand.Read(raw)
		key := hex.EncodeToString(raw)
		if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
			return fmt.Errorf("%sSECRET_KEY: cannot write %s: %v", envPrefix, path, unwrapPath(err))
		}
		c.SecretKey = key
		return nil
	default:
		return fmt.Errorf("%sSECRET_KEY: cannot read %s: %v", envPrefix, path, unwrapPath(err))
	}
}
