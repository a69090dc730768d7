package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unionportal/unionportal/clientip"
)

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.DataDir != "./data" || c.Storage != "local" || c.BaseURL.String() != "http://localhost:8080" {
		t.Errorf("defaults: %+v", c)
	}
	if c.Database.Dialect != "sqlite" || c.Database.DSN != filepath.Join("data", "unionportal.db") {
		t.Errorf("default database = %+v, want the SQLite file in the data dir", c.Database)
	}
	if c.MaxBodyBytes != 4<<20 {
		t.Errorf("MaxBodyBytes = %d", c.MaxBodyBytes)
	}
	if c.IPRetention != clientip.Truncated {
		t.Errorf("IPRetention = %s, want truncated by default", c.IPRetention)
	}
}

func TestLoadConfigErrorsNameTheSetting(t *testing.T) {
	tests := []struct {
		env  string
		want string // each error line names the key and what was expected
	}{
		{"UNIONPORTAL_ADDR=8080", "UNIONPORTAL_ADDR=\"8080\": address 8080: missing port in address; expected a listen address"},
		{"UNIONPORTAL_ADDR=:99999", "UNIONPORTAL_ADDR=\":99999\": port \"99999\" out of range"},
		{"UNIONPORTAL_DATA_DIR= ", "UNIONPORTAL_DATA_DIR=\" \": empty; expected a writable directory"},
		{"UNIONPORTAL_DATABASE_URL=mysql://db/x", "UNIONPORTAL_DATABASE_URL: unsupported scheme"},
		{"UNIONPORTAL_DATABASE_URL=postgres://h:notaport/x", "UNIONPORTAL_DATABASE_URL: not a valid URL"},
		{"UNIONPORTAL_DATABASE_URL=postgres://h:99999999/x", "UNIONPORTAL_DATABASE_URL: invalid PostgreSQL URL"},
		{"UNIONPORTAL_DATABASE_MAX_CONNS=1", "UNIONPORTAL_DATABASE_MAX_CONNS=\"1\": \"1\" is not an integer from 2 to 1000"},
		{"UNIONPORTAL_STORAGE=disk", "UNIONPORTAL_STORAGE=\"disk\": unknown storage \"disk\"; expected local or s3"},
		{"UNIONPORTAL_STORAGE=s3", "UNIONPORTAL_S3_BUCKET: required when UNIONPORTAL_STORAGE=s3"},
		{"UNIONPORTAL_S3_ENDPOINT=https://s3.example", "UNIONPORTAL_S3_ENDPOINT=\"https://s3.example\": give host:port"},
		{"UNIONPORTAL_S3_BUCKET=Evidence_Files", "UNIONPORTAL_S3_BUCKET=\"Evidence_Files\": invalid bucket name"},
		{"UNIONPORTAL_S3_USE_TLS=maybe", "UNIONPORTAL_S3_USE_TLS=\"maybe\""},
		{"UNIONPORTAL_SMTP_URL=http://mail.example", "UNIONPORTAL_SMTP_URL: the scheme must be smtp or smtps"},
		{"UNIONPORTAL_SMTP_URL=smtp://", "UNIONPORTAL_SMTP_URL: no host"},
		{"UNIONPORTAL_BASE_URL=portal.example", "UNIONPORTAL_BASE_URL=\"portal.example\": not an absolute http or https URL"},
		{"UNIONPORTAL_BASE_URL=https://u:p@portal.example", "may not carry a query, fragment or user"},
		{"UNIONPORTAL_SECRET_KEY=short", "UNIONPORTAL_SECRET_KEY: too short; expected at least 32"},
		{"UNIONPORTAL_LOG_FORMAT=xml", "UNIONPORTAL_LOG_FORMAT=\"xml\": unknown format"},
		{"UNIONPORTAL_LOG_LEVEL=loud", "UNIONPORTAL_LOG_LEVEL=\"loud\": unknown level"},
		{"UNIONPORTAL_MAX_REQUEST_BYTES=lots", "UNIONPORTAL_MAX_REQUEST_BYTES=\"lots\""},
		{"UNIONPORTAL_MAX_REQUEST_BYTES=10", "UNIONPORTAL_MAX_REQUEST_BYTES=\"10\""},
		{"UNIONPORTAL_TRUSTED_PROXIES=10.0.0.0/8,nonsense", "UNIONPORTAL_TRUSTED_PROXIES=\"10.0.0.0/8,nonsense\": \"nonsense\" is not a CIDR"},
		{"UNIONPORTAL_IP_RETENTION=anonymized", "UNIONPORTAL_IP_RETENTION=\"anonymized\": unknown retention \"anonymized\"; expected truncated"},
		{"UNIONPORTAL_STEP_UP_WINDOW=1h", "UNIONPORTAL_STEP_UP_WINDOW=\"1h\": \"1h\" is not a duration from 10s to 10m"},
		{"UNIONPORTAL_STEP_UP_WINDOW=5s", "UNIONPORTAL_STEP_UP_WINDOW=\"5s\": \"5s\" is not a duration from 10s to 10m"},
		{"UNIONPORTAL_DATABSE_URL=x", "UNIONPORTAL_DATABSE_URL: unknown setting"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			_, err := loadConfig([]string{tt.env}, "")
			if err == nil {
				t.Fatalf("accepted %s", tt.env)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%s\nwant it to contain:\n%s", err, tt.want)
			}
		})
	}
}

func TestLoadConfigReportsEveryError(t *testing.T) {
	_, err := loadConfig([]string{"UNIONPORTAL_ADDR=x", "UNIONPORTAL_STORAGE=y", "UNIONPORTAL_LOG_LEVEL=z"}, "")
	errs, ok := err.(ConfigErrors)
	if !ok || len(errs) != 3 {
		t.Fatalf("err = %v, want three errors", err)
	}
}

func TestLoadConfigValid(t *testing.T) {
	c, err := loadConfig([]string{
		"UNIONPORTAL_ADDR=127.0.0.1:9000",
		"UNIONPORTAL_DATABASE_URL=postgres://up:pw@db:5432/up",
		"UNIONPORTAL_STORAGE=s3", "UNIONPORTAL_S3_ENDPOINT=minio:9000", "UNIONPORTAL_S3_BUCKET=evidence",
		"UNIONPORTAL_S3_ACCESS_KEY=a", "UNIONPORTAL_S3_SECRET_KEY=b", "UNIONPORTAL_S3_USE_TLS=false",
		"UNIONPORTAL_SMTP_URL=smtp://relay.example:587",
		"UNIONPORTAL_BASE_URL=https://portal.example/",
		"UNIONPORTAL_MAX_REQUEST_BYTES=8MiB",
		"UNIONPORTAL_TRUSTED_PROXIES=10.0.0.0/8, 192.168.0.0/16",
		"UNIONPORTAL_IP_RETENTION=none",
		"UNIONPORTAL_STEP_UP_WINDOW=2m",
		"UNIONPORTAL_TEST_POSTGRES_URL=ignored", // the rig's variables are not settings
		"OTHER=ignored",
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Database.Dialect != "postgres" || c.S3UseTLS || c.MaxBodyBytes != 8<<20 || len(c.TrustedProxies) != 2 || c.IPRetention != clientip.None || c.StepUpWindow != 2*time.Minute || c.BaseURL.String() != "https://portal.example" {
		t.Errorf("config = %+v", c)
	}
}

func TestConfigFileAndEnvironmentPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "unionportal.conf")
	content := "# comment\n\nUNIONPORTAL_ADDR=127.0.0.1:7000\nUNIONPORTAL_LOG_LEVEL = \"debug\"\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig([]string{"UNIONPORTAL_ADDR=127.0.0.1:7001"}, file)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:7001" {
		t.Errorf("Addr = %q: the environment must win over the file", c.Addr)
	}
	if c.LogLevel != "debug" {
		t.Errorf("LogLevel = %q: the file's value was not used", c.LogLevel)
	}
	// The file may also be named by UNIONPORTAL_CONFIG.
	c, err = loadConfig([]string{"UNIONPORTAL_CONFIG=" + file}, "")
	if err != nil || c.Addr != "127.0.0.1:7000" {
		t.Fatalf("via UNIONPORTAL_CONFIG: %v %+v", err, c)
	}

	bad := filepath.Join(t.TempDir(), "bad.conf")
	os.WriteFile(bad, []byte("UNIONPORTAL_ADDR\n"), 0o600)
	if _, err := loadConfig(nil, bad); err == nil || !strings.Contains(err.Error(), "line 1: expected KEY=value") {
		t.Errorf("malformed file: %v", err)
	}
	if _, err := loadConfig(nil, filepath.Join(t.TempDir(), "missing.conf")); err == nil || !strings.Contains(err.Error(), "UNIONPORTAL_CONFIG: cannot read the config file") {
		t.Errorf("missing file: %v", err)
	}
	typo := filepath.Join(t.TempDir(), "typo.conf")
	os.WriteFile(typo, []byte("UNIONPORTAL_ADRR=:1\n"), 0o600)
	if _, err := loadConfig(nil, typo); err == nil || !strings.Contains(err.Error(), "UNIONPORTAL_ADRR: unknown setting") {
		t.Errorf("unknown key in the file: %v", err)
	}
}

func TestSecretKeyGeneratedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	c := &Config{DataDir: dir}
	if err := loadSecretKey(c); err != nil {
		t.Fatal(err)
	}
	first := c.SecretKey
	if len(first) < 32 {
		t.Fatalf("generated key %q too short", first)
	}
	fi, err := os.Stat(filepath.Join(dir, "secret.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret.key: %v, mode %v; want 0600", err, fi.Mode())
	}
	c2 := &Config{DataDir: dir}
	if err := loadSecretKey(c2); err != nil || c2.SecretKey != first {
		t.Fatalf("second start read %q (%v), want the first key", c2.SecretKey, err)
	}
}

// TestReadmeDocumentsEverySetting keeps the README's configuration table and the
// operations guide's complete, each setting with its default.
func TestReadmeDocumentsEverySetting(t *testing.T) {
	for _, doc := range []string{"../../README.md", "../../docs/operations.md"} {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range settings {
			row := ""
			for _, line := range strings.Split(string(text), "\n") {
				if strings.HasPrefix(line, "| `"+envPrefix+s.key+"` |") {
					row = line
				}
			}
			switch {
			case row == "":
				t.Errorf("%s does not document %s%s in its table", doc, envPrefix, s.key)
			case s.def != "" && !strings.Contains(strings.ReplaceAll(row, " ", ""), strings.ReplaceAll(s.def, " ", "")):
				t.Errorf("%s: %s%s's row does not give its default %q: %s", doc, envPrefix, s.key, s.def, row)
			}
		}
	}
}

// TestConfigErrorsHideSecrets: an error about a setting that holds a secret names the
// setting and what is wrong, never the value (which would end up in logs and terminals).
func TestConfigErrorsHideSecrets(t *testing.T) {
	const secret = "Hunter2-very-secret"
	tests := []struct {
		env  string
		want string
	}{
		{"UNIONPORTAL_SMTP_URL=smtp://relay:" + secret + "@mail.example:notaport", "UNIONPORTAL_SMTP_URL: not a valid URL"},
		{"UNIONPORTAL_SMTP_URL=smtp://relay:" + secret + "%zz@mail.example:25", "UNIONPORTAL_SMTP_URL: not a valid URL"},
		{"UNIONPORTAL_SMTP_URL=relay:" + secret + "@mail.example", "UNIONPORTAL_SMTP_URL: the scheme must be smtp or smtps"},
		{"UNIONPORTAL_SMTP_URL=smtp://relay:" + secret + "@", "UNIONPORTAL_SMTP_URL: no host"},
		{"UNIONPORTAL_SECRET_KEY=" + secret, "UNIONPORTAL_SECRET_KEY: too short"},
		{"UNIONPORTAL_DATABASE_URL=postgres://up:" + secret + "@db:notaport/up", "UNIONPORTAL_DATABASE_URL: not a valid URL"},
		{"UNIONPORTAL_DATABASE_URL=postgres://up:" + secret + "@db:99999999/up", "UNIONPORTAL_DATABASE_URL: invalid PostgreSQL URL"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			// With the S3 secret set beside, and another bad setting to report.
			_, err := loadConfig([]string{tt.env, "UNIONPORTAL_STORAGE=s3", "UNIONPORTAL_S3_SECRET_KEY=" + secret, "UNIONPORTAL_S3_ACCESS_KEY=" + secret}, "")
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the secret:\n%s", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%s\nwant it to contain:\n%s", err, tt.want)
			}
		})
	}
	t.Run("S3 connection", func(t *testing.T) {
		cfg := &Config{Storage: "s3", S3Endpoint: "bad endpoint:1", S3Bucket: "evidence", S3AccessKey: secret, S3SecretKey: secret}
		_, err := openStorage(t.Context(), cfg)
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("openStorage: %v", err)
		}
	})
	t.Run("SMTP transport", func(t *testing.T) {
		cfg := &Config{DataDir: t.TempDir(), SMTPURL: "smtp://relay:" + secret + "%zz@mail.example"}
		_, err := newSender(cfg)
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("newSender: %v", err)
		}
	})
}
