// Command unionportal is the portal: the HTTP API, the dispatch workers, the
// database migrations and the administration commands. main reads the configuration,
// assembles the parts and runs one subcommand.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/unionportal/unionportal/api"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/logctx"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage: unionportal <command> [flags]

commands:
  serve [--demo]   run the portal (migrates the database first)
  worker           run dispatch workers only, for scaling out
  migrate          apply pending database migrations, then exit
  version          print the version
  healthcheck [--url URL] [--database] [--timeout 5s]
                   exit 0 when the portal answers 200 at URL (default: its
                   /healthz over loopback on UNIONPORTAL_ADDR's port), for a
                   container HEALTHCHECK; --database checks instead that the
                   configured database answers (a worker has no HTTP server)
  openapi          print the API's OpenAPI document (the web UI's build uses it)
  audit verify [--tenant SLUG]
                   check the audit trail's hash chains; exit 1 on a broken link
  admin create-superadmin --email E [--name N]
                   create a platform superadmin (or reset one's password);
                   the password is read from standard input
  admin create-token --tenant SLUG --email E --name N [--scopes read,write] [--expires 90d]
                   create an API token for an active member of the tenant and
                   print it (only it) on standard output; --expires takes days,
                   a duration (36h) or an RFC 3339 time; the tenant's maximum
                   token lifetime applies (and is the default expiry)
  admin reset-second-factors --email E
                   remove every second factor and recovery code of a user who
                   lost them, and end their sessions: they add a factor again
                   at their next login
  admin generate-master-key
                   print a new master key for UNIONPORTAL_MASTER_KEY
  admin rotate-master-key
                   re-wrap every tenant key with UNIONPORTAL_MASTER_KEY, opening
                   them with UNIONPORTAL_PREVIOUS_MASTER_KEYS (resumable)
  admin encrypt-existing
                   encrypt the texts and files stored before encryption at rest
                   (resumable; the portal may keep running)
  admin export --tenant SLUG --out FILE.tar.gz.age
               (--recipient age1… [--recipient …] [--recipients-file F] | --passphrase-file F)
                   write everything of one tenant (rows, its keys, files, audit
                   chain) with a manifest of SHA-256 hashes, encrypted with age
                   to the recipients or the passphrase (the file's first line)
  admin import --in FILE.tar.gz.age (--identity-file F | --passphrase-file F)
                   decrypt an export and restore it into this installation (which
                   must not have the tenant); the tenant's key is wrapped again
                   under this installation's master key; a damaged or altered
                   file is refused whole
  admin retention [--dry-run] [--tenant SLUG]
                   apply the tenants' retention policies now (the daily job does
                   it too); --dry-run lists what would be warned, deleted or
                   shredded (ids, states, ages) and changes nothing

flags:
  --config FILE    read settings from FILE (KEY=value lines); the environment wins

Settings come from UNIONPORTAL_* environment variables; see README.md.
`

// exitUsage is the exit status for a command line that cannot be understood.
const exitUsage = 2

// run executes one command line and returns the process exit status. Errors are printed
// as one line each on stderr, never as a stack trace.
func run(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	if cmd == "audit" {
		if len(rest) == 0 || rest[0] != "verify" {
			fmt.Fprintf(stderr, "unionportal audit: expected the subcommand verify\n\n%s", usage)
			return exitUsage
		}
		cmd, rest = "audit verify", rest[1:]
	}
	if cmd == "admin" {
		if len(rest) == 0 || !slices.Contains([]string{"create-superadmin", "create-token", "reset-second-factors", "export", "import", "generate-master-key", "rotate-master-key", "encrypt-existing", "retention"}, rest[0]) {
			fmt.Fprintf(stderr, "unionportal admin: expected the subcommand create-superadmin, create-token, reset-second-factors, export, import, generate-master-key, rotate-master-key, encrypt-existing or retention\n\n%s", usage)
			return exitUsage
		}
		cmd, rest = "admin "+rest[0], rest[1:]
	}
	fs := flag.NewFlagSet("unionportal "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	configFile := fs.String("config", "", "settings file")
	var demo *bool
	var email, name, tenant, scopes, expires, file, healthURL *string
	var checkDatabase, dryRun *bool
	var timeout *time.Duration
	crypto := &exportCrypto{}
	switch cmd {
	case "serve":
		demo = fs.Bool("demo", false, "seed demo data into an empty database")
	case "admin create-superadmin":
		email = fs.String("email", "", "the superadmin's e-mail address")
		name = fs.String("name", "Platform administrator", "the superadmin's name")
	case "admin reset-second-factors":
		email = fs.String("email", "", "the e-mail address of the user who lost their second factors")
	case "admin create-token":
		tenant = fs.String("tenant", "", "the tenant's slug")
		email = fs.String("email", "", "the e-mail address of the member who will hold the token")
		name = fs.String("name", "", "the token's name, such as the integration using it")
		scopes = fs.String("scopes", "read,write", "comma-separated scopes: read, write, admin")
		expires = fs.String("expires", "", "when it expires: days (90d), a duration (36h) or an RFC 3339 time")
	case "admin export":
		tenant = fs.String("tenant", "", "the tenant's slug")
		file = fs.String("out", "", "the file to write (FILE.tar.gz.age)")
		fs.Func("recipient", "an age public key (age1…) to encrypt the export to; repeatable", crypto.addRecipient)
		fs.StringVar(&crypto.recipientsFile, "recipients-file", "", "a file of age public keys, one a line")
		fs.StringVar(&crypto.passphraseFile, "passphrase-file", "", "encrypt with the passphrase on the file's first line instead")
	case "admin import":
		file = fs.String("in", "", "the export to restore")
		fs.StringVar(&crypto.identityFile, "identity-file", "", "an age identities file (AGE-SECRET-KEY-1…) that opens the export")
		fs.StringVar(&crypto.passphraseFile, "passphrase-file", "", "open the export with the passphrase on the file's first line instead")
	case "admin retention":
		tenant = fs.String("tenant", "", "only this tenant (its slug)")
		dryRun = fs.Bool("dry-run", false, "list what is due and change nothing")
	case "audit verify":
		tenant = fs.String("tenant", "", "verify only this tenant's chain (its slug)")
	case "healthcheck":
		healthURL = fs.String("url", "", "the URL that must answer 200 (default: /healthz on UNIONPORTAL_ADDR's port, over loopback)")
		checkDatabase = fs.Bool("database", false, "check that the configured database answers instead")
		timeout = fs.Duration("timeout", healthcheckDefaultTimeout, "how long to wait for the answer")
	case "migrate", "version", "worker", "openapi", "admin generate-master-key", "admin rotate-master-key", "admin encrypt-existing":
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unionportal: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unionportal %s: unexpected argument %q\n\n%s", cmd, fs.Arg(0), usage)
		return exitUsage
	}
	if cmd == "version" {
		fmt.Fprintln(stdout, "unionportal", buildVersion())
		return 0
	}
	if cmd == "admin generate-master-key" {
		fmt.Fprintln(stdout, keys.GenerateMaster())
		return 0
	}
	if cmd == "openapi" {
		doc, err := api.OpenAPIDocument()
		if err != nil {
			printErr(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s\n", doc)
		return 0
	}

	if cmd == "healthcheck" && *healthURL != "" && !*checkDatabase {
		// A given URL needs no settings: a probe should not fail on the portal's config.
		if err := healthcheck(ctx, nil, *healthURL, false, *timeout, stdout); err != nil {
			printErr(stderr, err)
			return 1
		}
		return 0
	}

	cfg, err := loadConfig(environ, *configFile)
	if err != nil {
		printErr(stderr, err)
		return 1
	}
	log := newLogger(cfg, stderr)
	switch cmd {
	case "serve":
		err = serve(ctx, cfg, log, *demo, stdout)
	case "migrate":
		err = migrate(ctx, cfg, log, stdout)
	case "worker":
		err = worker(ctx, cfg, log)
	case "healthcheck":
		err = healthcheck(ctx, cfg, *healthURL, *checkDatabase, *timeout, stdout)
	case "audit verify":
		err = auditVerify(ctx, cfg, log, *tenant, stdout)
	case "admin create-superadmin":
		if *email == "" {
			fmt.Fprintf(stderr, "unionportal admin create-superadmin: --email is required\n")
			return exitUsage
		}
		err = createSuperadmin(ctx, cfg, log, *email, *name, stdin, stdout)
	case "admin reset-second-factors":
		if *email == "" {
			fmt.Fprintf(stderr, "unionportal admin reset-second-factors: --email is required\n")
			return exitUsage
		}
		err = resetSecondFactors(ctx, cfg, log, *email, stdout)
	case "admin create-token":
		if *tenant == "" || *email == "" || *name == "" {
			fmt.Fprintf(stderr, "unionportal admin create-token: --tenant, --email and --name are required\n")
			return exitUsage
		}
		err = createToken(ctx, cfg, log, tokenRequest{tenant: *tenant, email: *email, name: *name, scopes: *scopes, expires: *expires}, stdout, stderr)
	case "admin rotate-master-key":
		err = rotateMasterKey(ctx, cfg, log, stderr)
	case "admin encrypt-existing":
		err = encryptExisting(ctx, cfg, log, stdout)
	case "admin export":
		if *tenant == "" || *file == "" {
			fmt.Fprintf(stderr, "unionportal admin export: --tenant and --out are required\n")
			return exitUsage
		}
		if msg := crypto.usage(cmd); msg != "" {
			fmt.Fprintf(stderr, "unionportal %s: %s\n", cmd, msg)
			return exitUsage
		}
		err = exportTenant(ctx, cfg, log, *tenant, *file, crypto, stderr)
	case "admin import":
		if *file == "" {
			fmt.Fprintf(stderr, "unionportal admin import: --in is required\n")
			return exitUsage
		}
		if msg := crypto.usage(cmd); msg != "" {
			fmt.Fprintf(stderr, "unionportal %s: %s\n", cmd, msg)
			return exitUsage
		}
		err = importTenant(ctx, cfg, log, *file, crypto, stderr)
	case "admin retention":
		err = retention(ctx, cfg, log, *tenant, *dryRun, stdout)
	}
	if err != nil {
		printErr(stderr, err)
		return 1
	}
	return 0
}

func printErr(w io.Writer, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintln(w, "unionportal:", line)
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "dev-" + rev
}

// newLogger logs to w: as text when w is a terminal and the format is auto, else JSON.
func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.LogFormat
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	if format == "text" {
		return logctx.Logger(slog.New(slog.NewTextHandler(w, opts)))
	}
	return logctx.NewJSON(w, level)
}
