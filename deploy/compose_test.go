package deploy

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
)

const composeFile = "compose.yaml"

// secretVariables are the variables .env.example leaves empty for the operator to fill.
var secretVariables = []string{"PORTAL_SECRET_KEY", "PORTAL_MASTER_KEY", "POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD"}

// portalServices run the image make image builds; longRunning of them have a health check.
var (
	portalServices = []string{"migrate", "serve", "worker"}
	longRunning    = []string{"serve", "worker"}
	allServices    = []string{"postgres", "minio", "mailpit", "migrate", "serve", "worker", "proxy"}
)

// exampleEnv is .env.example with the empty secrets filled in, as an operator would.
func exampleEnv(t *testing.T) map[string]string {
	t.Helper()
	env, err := dotenv.Read(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range secretVariables {
		v, ok := env[k]
		if !ok {
			t.Fatalf(".env.example does not list %s", k)
		}
		if v != "" {
			t.Errorf(".env.example gives %s a value; leave secrets empty so that a copy left unfilled fails", k)
		}
		env[k] = "filled-" + strings.ToLower(k) + "-0123456789abcdef0123456789"
	}
	return env
}

// load loads path strictly (the Compose specification's schema: unknown keys and wrong
// types fail; required variables must be set) with env as the only variables: neither
// the process environment nor a .env file next to path is read.
func load(t *testing.T, path string, env map[string]string) (*types.Project, error) {
	t.Helper()
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{path},
		cli.WithWorkingDirectory(filepath.Dir(path)),
		cli.WithEnv(list),
		cli.WithDefaultProfiles(), // from COMPOSE_PROFILES, as docker compose does
		cli.WithConsistency(true),
	)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return opts.LoadProject(ctx)
}

func mustLoad(t *testing.T, env map[string]string) *types.Project {
	t.Helper()
	p, err := load(t, composeFile, env)
	if err != nil {
		t.Fatalf("loading %s: %v", composeFile, err)
	}
	return p
}

// TestComposeFile checks the shape of the installation deploy/compose.yaml describes.
func TestComposeFile(t *testing.T) {
	env := exampleEnv(t)
	p := mustLoad(t, env)

	for _, name := range allServices {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("no service %s", name)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	t.Run("portal services run the image make image builds", func(t *testing.T) {
		for _, name := range portalServices {
			if img := p.Services[name].Image; img != env["PORTAL_IMAGE"] || img == "" {
				t.Errorf("%s: image %q, want PORTAL_IMAGE (%q)", name, img, env["PORTAL_IMAGE"])
			}
		}
		dockerfile, err := os.ReadFile("Dockerfile")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range longRunning {
			hc := p.Services[name].HealthCheck
			if hc == nil || hc.Disable || len(hc.Test) < 3 || hc.Test[0] != "CMD" || hc.Test[2] != "healthcheck" {
				t.Errorf("%s: health check %+v, want [CMD <binary> healthcheck …]", name, hc)
				continue
			}
			if !strings.Contains(string(dockerfile), `ENTRYPOINT ["`+hc.Test[1]+`"]`) {
				t.Errorf("%s: health check runs %s, which is not the Dockerfile's entry point", name, hc.Test[1])
			}
		}
		if hc := p.Services["worker"].HealthCheck; hc != nil && !slices.Contains(hc.Test, "--database") {
			t.Errorf("worker: health check %v: the worker has no HTTP server; want healthcheck --database", hc.Test)
		}
	})

	t.Run("two serve replicas, one worker", func(t *testing.T) {
		for name, want := range map[string]int{"serve": 2, "worker": 1} {
			got := 1 // Compose's default
			if d := p.Services[name].Deploy; d != nil && d.Replicas != nil {
				got = *d.Replicas
			}
			if got != want {
				t.Errorf("%s: replicas %d, want %d", name, got, want)
			}
		}
	})

	t.Run("migrations run once before serve and worker", func(t *testing.T) {
		m := p.Services["migrate"]
		if !slices.Equal(m.Command, types.ShellCommand{"migrate"}) || m.Restart != "no" {
			t.Errorf("migrate: command %v, restart %q; want [migrate], no", m.Command, m.Restart)
		}
		if m.HealthCheck == nil || !m.HealthCheck.Disable {
			t.Errorf("migrate: the image's HEALTHCHECK probes HTTP, which a one-shot migration never serves; disable it")
		}
		for _, name := range longRunning {
			deps := p.Services[name].DependsOn
			for dep, cond := range map[string]string{"migrate": types.ServiceConditionCompletedSuccessfully,
				"postgres": types.ServiceConditionHealthy, "minio": types.ServiceConditionHealthy} {
				if deps[dep].Condition != cond {
					t.Errorf("%s: depends on %s with condition %q, want %q", name, dep, deps[dep].Condition, cond)
				}
			}
		}
	})

	t.Run("every long-running service restarts and has a health check", func(t *testing.T) {
		for name, s := range p.Services {
			if name == "migrate" {
				continue
			}
			if s.Restart != types.RestartPolicyUnlessStopped {
				t.Errorf("%s: restart %q, want unless-stopped", name, s.Restart)
			}
			if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
				t.Errorf("%s: no health check", name)
			}
		}
	})

	t.Run("portal processes stop gracefully", func(t *testing.T) {
		// serve drains requests for 15 s, then running dispatches for 15 s.
		for _, name := range longRunning {
			g := p.Services[name].StopGracePeriod
			if g == nil || time.Duration(*g) < 30*time.Second {
				t.Errorf("%s: stop_grace_period %v, want at least 30s (the default 10s kills a draining process)", name, g)
			}
		}
	})

	t.Run("only the proxy is public", func(t *testing.T) {
		for name, s := range p.Services {
			for _, port := range s.Ports {
				loopback := port.HostIP == "127.0.0.1" || port.HostIP == "::1"
				if name != "proxy" && !loopback {
					t.Errorf("%s: publishes %s:%s->%d on all interfaces; only the proxy may, others on 127.0.0.1 at most",
						name, port.HostIP, port.Published, port.Target)
				}
			}
			if (name == "postgres" || name == "minio") && len(s.Ports) > 0 {
				t.Errorf("%s: publishes ports %v", name, s.Ports)
			}
		}
		var published []string
		for _, port := range p.Services["proxy"].Ports {
			published = append(published, port.Published)
		}
		if !slices.Contains(published, "443") || !slices.Contains(published, "80") {
			t.Errorf("proxy publishes %v, want 80 and 443", published)
		}
		for _, name := range []string{"postgres", "minio"} {
			if nets := slices.Collect(maps.Keys(p.Services[name].Networks)); !slices.Equal(nets, []string{"data"}) {
				t.Errorf("%s: networks %v, want only data", name, nets)
			}
		}
		if !p.Networks["data"].Internal {
			t.Errorf("the data network is not internal")
		}
		if _, ok := p.Services["proxy"].Networks["data"]; ok {
			t.Errorf("the proxy reaches the data network")
		}
	})

	t.Run("the portal trusts the proxy's network only", func(t *testing.T) {
		pools := p.Networks["edge"].Ipam.Config
		if len(pools) != 1 {
			t.Fatalf("edge network: IPAM %+v, want one subnet", p.Networks["edge"].Ipam)
		}
		for _, name := range portalServices {
			if got := value(p.Services[name].Environment, "UNIONPORTAL_TRUSTED_PROXIES"); got != pools[0].Subnet {
				t.Errorf("%s: UNIONPORTAL_TRUSTED_PROXIES %q, want the edge subnet %q", name, got, pools[0].Subnet)
			}
		}
	})

	t.Run("portal settings are ones the portal knows", func(t *testing.T) {
		// The portal refuses to start on an unknown UNIONPORTAL_* variable.
		readme, err := os.ReadFile("../README.md")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range portalServices {
			for k := range p.Services[name].Environment {
				if strings.HasPrefix(k, "UNIONPORTAL_") && !strings.Contains(string(readme), "`"+k+"`") {
					t.Errorf("%s: %s is not in README's configuration table", name, k)
				}
			}
		}
	})

	t.Run("secrets come from variables", func(t *testing.T) {
		// Every value whose name says password, secret or key must change when the
		// variables change: one that does not is written in the file.
		other := maps.Clone(env)
		for k, v := range other {
			if k != "COMPOSE_PROFILES" && k != "EDGE_SUBNET" && k != "PORTAL_IMAGE" {
				other[k] = v + "x"
			}
		}
		q := mustLoad(t, other)
		secretName := regexp.MustCompile(`(?i)password|secret|_key|token|_url`)
		checked := 0
		for name, s := range p.Services {
			for k, v := range s.Environment {
				if !secretName.MatchString(k) || k == "UNIONPORTAL_BASE_URL" {
					continue
				}
				checked++
				if v == nil || *v == "" || value(q.Services[name].Environment, k) == *v {
					t.Errorf("%s: %s does not come from a variable", name, k)
				}
			}
		}
		if checked < 10 {
			t.Errorf("only %d secret settings found; the pattern has stopped matching", checked)
		}
		for _, c := range []struct{ service, key, variable string }{
			{"postgres", "POSTGRES_PASSWORD", "POSTGRES_PASSWORD"},
			{"minio", "MINIO_ROOT_PASSWORD", "MINIO_ROOT_PASSWORD"},
			{"serve", "UNIONPORTAL_SECRET_KEY", "PORTAL_SECRET_KEY"},
			{"worker", "UNIONPORTAL_MASTER_KEY", "PORTAL_MASTER_KEY"},
			{"worker", "UNIONPORTAL_S3_SECRET_KEY", "MINIO_ROOT_PASSWORD"},
			{"serve", "UNIONPORTAL_DATABASE_URL", "POSTGRES_PASSWORD"},
			{"worker", "UNIONPORTAL_SMTP_URL", "SMTP_URL"},
		} {
			if got := value(p.Services[c.service].Environment, c.key); !strings.Contains(got, env[c.variable]) {
				t.Errorf("%s: %s does not carry %s", c.service, c.key, c.variable)
			}
		}
	})

	t.Run("every variable is in .env.example", func(t *testing.T) {
		raw, err := os.ReadFile(composeFile)
		if err != nil {
			t.Fatal(err)
		}
		used := map[string]bool{"COMPOSE_PROFILES": true}
		for _, m := range regexp.MustCompile(`\$\{([A-Za-z0-9_]+)`).FindAllStringSubmatch(string(raw), -1) {
			used[m[1]] = true
			if _, ok := env[m[1]]; !ok {
				t.Errorf("compose.yaml uses %s, which .env.example does not list", m[1])
			}
		}
		for k := range env {
			if !used[k] {
				t.Errorf(".env.example lists %s, which compose.yaml does not use", k)
			}
		}
	})

	t.Run("Mailpit is the test sink and the installation works without it", func(t *testing.T) {
		if !slices.Contains(p.Services["mailpit"].Profiles, "test-mail") {
			t.Errorf("mailpit: profiles %v, want test-mail", p.Services["mailpit"].Profiles)
		}
		relay := maps.Clone(env)
		relay["COMPOSE_PROFILES"] = ""
		relay["SMTP_URL"] = "smtp://portal%40federation.org:pw@smtp.federation.org:587"
		q := mustLoad(t, relay)
		if _, ok := q.Services["mailpit"]; ok {
			t.Errorf("mailpit still starts without the test-mail profile")
		}
		for _, name := range longRunning {
			if got := value(q.Services[name].Environment, "UNIONPORTAL_SMTP_URL"); got != relay["SMTP_URL"] {
				t.Errorf("%s: UNIONPORTAL_SMTP_URL %q, want the relay", name, got)
			}
		}
	})
}

// TestComposeLoaderRefusesMistakes proves the check above has teeth: the same file with
// one mistake each fails to load, naming it.
func TestComposeLoaderRefusesMistakes(t *testing.T) {
	raw, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	env := exampleEnv(t)
	without := func(keys ...string) map[string]string {
		e := maps.Clone(env)
		for _, k := range keys {
			delete(e, k)
		}
		return e
	}
	tests := []struct {
		name     string
		old, new string // a change to the file; none when empty
		env      map[string]string
		want     string
	}{
		{"misspelled key", "    volumes:\n      - postgres:", "    volume:\n      - postgres:", env, "volume"},
		{"misspelled key in the shared portal block", "  read_only: true\n", "  readonly: true\n", env, "readonly"},
		{"wrong type", "      replicas: 2\n", "      replicas: two\n", env, "replicas"},
		{"wrong type of a health check", "      retries: 5\n", "      retries: [5]\n", env, "retries"},
		{"missing required variable", "", "", without("POSTGRES_PASSWORD"), "POSTGRES_PASSWORD"},
		{"empty required variable", "", "", func() map[string]string { e := maps.Clone(env); e["PORTAL_SECRET_KEY"] = ""; return e }(), "PORTAL_SECRET_KEY"},
		{".env.example left unfilled", "", "", mustRead(t, ".env.example"), "required variable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			content := string(raw)
			if tt.old != "" {
				if !strings.Contains(content, tt.old) {
					t.Fatalf("compose.yaml no longer contains %q: update the test", tt.old)
				}
				content = strings.Replace(content, tt.old, tt.new, 1)
			}
			path := filepath.Join(t.TempDir(), "compose.yaml")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := load(t, path, tt.env)
			if err == nil {
				t.Fatalf("loaded without error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to name %q", err, tt.want)
			}
			t.Logf("refused: %v", err)
		})
	}
}

func mustRead(t *testing.T, path string) map[string]string {
	t.Helper()
	env, err := dotenv.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func value(m types.MappingWithEquals, key string) string {
	if v := m[key]; v != nil {
		return *v
	}
	return ""
}
