package kubernetes

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// rulesFile holds the alerting rules an installation loads into Prometheus.
const rulesFile = "../prometheus/unionportal-rules.yaml"

// exported reads exported-metrics.txt: the metric names the portal exports and the route
// label values the rules may match.
func exported(t *testing.T) (metrics, routes map[string]bool) {
	t.Helper()
	b, err := os.ReadFile("exported-metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	metrics, routes = map[string]bool{}, map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "route "):
			routes[strings.TrimPrefix(line, "route ")] = true
		default:
			metrics[line] = true
		}
	}
	return metrics, routes
}

// checkRules parses a rules file as Prometheus does (rulefmt: unknown fields refused,
// every expression parsed as PromQL, every template parsed) and applies the project's
// own rules: only exported metric names and known routes, a severity, a summary and a
// description on every alert, no name twice.
func checkRules(content []byte, metrics, routes map[string]bool) []string {
	var warnings bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&warnings, nil))
	p := parser.NewParser(parser.Options{})
	groups, errs := rulefmt.Parse(content, false, model.LegacyValidation, p, logger)
	var problems []string
	for _, err := range errs {
		problems = append(problems, "rulefmt: "+err.Error())
	}
	if warnings.Len() > 0 {
		problems = append(problems, "rulefmt warned: "+warnings.String())
	}
	if groups == nil {
		return problems
	}
	seen := map[string]bool{}
	alerts := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			name := r.Alert + r.Record
			if seen[name] {
				problems = append(problems, fmt.Sprintf("%s: defined twice", name))
			}
			seen[name] = true
			if r.Alert != "" {
				alerts++
				if s := r.Labels["severity"]; s != "critical" && s != "warning" {
					problems = append(problems, fmt.Sprintf("%s: severity %q, want critical or warning", name, s))
				}
				if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
					problems = append(problems, fmt.Sprintf("%s: needs a summary and a description", name))
				}
			}
			expr, err := p.ParseExpr(r.Expr)
			if err != nil {
				continue // rulefmt reported it
			}
			parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
				vs, ok := node.(*parser.VectorSelector)
				if !ok {
					return nil
				}
				for _, m := range vs.LabelMatchers {
					switch {
					case m.Name == labels.MetricName && m.Type == labels.MatchEqual && !metrics[m.Value]:
						problems = append(problems, fmt.Sprintf("%s: %s is not a metric the portal exports (exported-metrics.txt)", name, m.Value))
					case m.Name == labels.MetricName && m.Type != labels.MatchEqual:
						problems = append(problems, fmt.Sprintf("%s: match metric names exactly, not with %s", name, m))
					case m.Name == "route":
						for _, route := range routeValues(m) {
							if !routes[route] {
								problems = append(problems, fmt.Sprintf("%s: route %q is not a route the rules may use (exported-metrics.txt)", name, route))
							}
						}
					}
				}
				return nil
			})
		}
	}
	if alerts == 0 {
		problems = append(problems, "no alerting rule")
	}
	sort.Strings(problems)
	return problems
}

// plainAlternatives matches a regular expression that is only literal alternatives.
var plainAlternatives = regexp.MustCompile(`^[A-Za-z0-9/_.-]+(\|[A-Za-z0-9/_.-]+)*$`)

// routeValues lists the routes a matcher names: its value, or the alternatives of a
// regular expression made only of literal alternatives.
func routeValues(m *labels.Matcher) []string {
	switch m.Type {
	case labels.MatchEqual, labels.MatchNotEqual:
		return []string{m.Value}
	}
	if plainAlternatives.MatchString(m.Value) {
		return strings.Split(m.Value, "|")
	}
	return []string{m.Value} // a real pattern: not a route, so reported
}

// TestPrometheusRules checks deploy/prometheus/unionportal-rules.yaml.
func TestPrometheusRules(t *testing.T) {
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	metrics, routes := exported(t)
	for _, p := range checkRules(b, metrics, routes) {
		t.Error(p)
	}
}

// TestPrometheusRulesCatchMistakes mutates the rules file and expects each mistake to be
// reported.
func TestPrometheusRulesCatchMistakes(t *testing.T) {
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	metrics, routes := exported(t)
	cases := []struct {
		name, old, new, want string
	}{
		{"misspelled field", "        annotations:\n", "        anotations:\n", "field anotations not found"},
		{"metric that is not exported", "unionportal_dispatch_failed_total", "unionportal_dispatch_failures_total", "unionportal_dispatch_failures_total is not a metric the portal exports"},
		{"route that is not a route", `route="/api/v1/auth/login"`, `route="/api/v1/login"`, `route "/api/v1/login" is not a route`},
		{"PromQL syntax", "> 0.5", "> > 0.5", "rulefmt:"},
		{"bad template", "{{ $value | humanize }}", "{{ $value | humanise }}", `function "humanise" not defined`},
		{"bad duration", "for: 10m", "for: 10 minutes", "rulefmt:"},
		{"no severity", "severity: critical", "severity: page", `severity "page"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !bytes.Contains(b, []byte(c.old)) {
				t.Fatalf("%s does not contain %q", rulesFile, c.old)
			}
			mutated := bytes.Replace(b, []byte(c.old), []byte(c.new), 1)
			problems := checkRules(mutated, metrics, routes)
			if !strings.Contains(strings.Join(problems, "\n"), c.want) {
				t.Fatalf("no problem contains %q; got %q", c.want, problems)
			}
		})
	}
}
