package api

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
)

// TestMetricsOperatorsExpect: /metrics has request latency by route, the database
// pool, storage operation times, and River's queue by kind and state with the age of
// the oldest due job (here a dispatch no worker has taken, as when workers are down).
func TestMetricsOperatorsExpect(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newPortalHarness(t, db, dispatch.Options{}, false) // no workers: jobs wait
		w := h.world()
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
		w.reviewerA.must(200, "POST", subPath(w.submissionA.ID, "/transitions"), map[string]string{"action": "approve"})
		metrics := h.anonymous().must(200, "GET", "/metrics", nil).Body.String()
		for _, want := range []string{
			`unionportal_http_request_duration_seconds_bucket{method="POST",route="/api/v1/tenants/:tenant/submissions/:id/transitions",le="0.005"}`,
			`go_sql_open_connections{db_name="unionportal"}`,
			`unionportal_storage_operation_duration_seconds_count{op="put",outcome="ok"}`,
			`unionportal_queue_jobs{kind="dispatch",state="available"} 1`,
			`unionportal_queue_scrape_failed 0`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		m := regexp.MustCompile(`unionportal_queue_oldest_due_job_age_seconds\{kind="dispatch"\} ([0-9.e+-]+)`).FindStringSubmatch(metrics)
		if m == nil {
			t.Fatalf("no age of the oldest due dispatch job in:\n%s", grepLines(metrics, "unionportal_queue"))
		}
		if age, err := strconv.ParseFloat(m[1], 64); err != nil || age < 0 || age > 600 {
			t.Errorf("oldest due dispatch job age %q", m[1])
		}
	})
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestExportedMetricsListIsTrue: every metric the Prometheus rules may use
// (deploy/kubernetes/exported-metrics.txt) is exported by a portal wired as serve wires
// it, once it has answered requests and run jobs.
func TestExportedMetricsListIsTrue(t *testing.T) {
	list, err := os.ReadFile("../deploy/kubernetes/exported-metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	h := newPortalHarness(t, dbtest.New(t, database.SQLite), dispatch.Options{}, false)
	w := h.world()
	w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
	w.reviewerA.must(200, "POST", subPath(w.submissionA.ID, "/transitions"), map[string]string{"action": "approve"})
	h.anonymous().do("GET", "/healthz", nil)
	metrics := h.anonymous().must(200, "GET", "/metrics", nil).Body.String()
	n := 0
	for _, line := range strings.Split(string(list), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "route ") || line == "up" {
			continue
		}
		n++
		if !strings.Contains(metrics, "# TYPE "+line+" ") {
			t.Errorf("exported-metrics.txt lists %s, which /metrics does not export", line)
		}
	}
	if n < 10 {
		t.Fatalf("read only %d names", n)
	}
}
