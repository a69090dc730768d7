package dispatch

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts dispatch outcomes for /metrics.
type metrics struct {
	sent, failed, retried prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		sent: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "unionportal", Subsystem: "dispatch",
			Name: "sent_total", Help: "Dispatches the SMTP server (or the outbox) accepted."}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "unionportal", Subsystem: "dispatch",
			Name: "failed_total", Help: "Dispatches that failed for good (5xx, or retries exhausted)."}),
		retried: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "unionportal", Subsystem: "dispatch",
			Name: "retried_total", Help: "Temporary delivery failures that will be retried."}),
	}
}

// Collectors returns the dispatch metrics, including the queue read from the database
// at each scrape, for the caller's registry.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.metrics.sent, s.metrics.failed, s.metrics.retried, newQueueCollector(s)}
}

// queueCollector reports River's queue at each scrape, from one query: jobs by kind and
// state, the age of the oldest job of each kind that is due and waiting for a worker
// (available, or retryable and due), which is what an alert on a stuck queue watches,
// and the dispatch jobs waiting or retrying (-1 when the queue could not be read).
type queueCollector struct {
	s                *Service
	jobs, age, depth *prometheus.Desc
	scrapeFail       prometheus.Gauge
}

func newQueueCollector(s *Service) *queueCollector {
	return &queueCollector{s: s,
		jobs: prometheus.NewDesc("unionportal_queue_jobs", "Background jobs (dispatches, notifications, webhook deliveries) by kind and state.",
			[]string{"kind", "state"}, nil),
		age: prometheus.NewDesc("unionportal_queue_oldest_due_job_age_seconds", "Seconds the oldest due job of each kind has waited for a worker.",
			[]string{"kind"}, nil),
		depth: prometheus.NewDesc("unionportal_dispatch_queue_depth", "Dispatch jobs waiting or retrying.", nil, nil),
		scrapeFail: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "unionportal", Subsystem: "queue",
			Name: "scrape_failed", Help: "1 when the last read of the queue for /metrics failed."}),
	}
}

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- q.jobs
	ch <- q.age
	ch <- q.depth
	q.scrapeFail.Describe(ch)
}

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	rows, err := q.s.db.SQL().QueryContext(ctx, `SELECT kind, state, COUNT(*), MIN(scheduled_at) FROM river_job
		WHERE state IN ('available', 'scheduled', 'retryable', 'running', 'pending') GROUP BY kind, state`)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(q.depth, prometheus.GaugeValue, -1)
		q.scrapeFail.Set(1)
		q.scrapeFail.Collect(ch)
		return
	}
	defer rows.Close()
	now := time.Now()
	oldest := map[string]time.Time{}
	failed, depth := 0.0, 0.0
	for rows.Next() {
		var kind, state string
		var n int64
		var first any
		if err := rows.Scan(&kind, &state, &n, &first); err != nil {
			failed = 1
			break
		}
		ch <- prometheus.MustNewConstMetric(q.jobs, prometheus.GaugeValue, float64(n), kind, state)
		if kind == (Args{}).Kind() {
			depth += float64(n)
		}
		at, ok := asTime(first)
		if !ok || (state != "available" && state != "retryable") || at.After(now) {
			continue
		}
		if o, seen := oldest[kind]; !seen || at.Before(o) {
			oldest[kind] = at
		}
	}
	if rows.Err() != nil {
		failed = 1
	}
	if failed == 1 {
		depth = -1
	}
	ch <- prometheus.MustNewConstMetric(q.depth, prometheus.GaugeValue, depth)
	for kind, at := range oldest {
		ch <- prometheus.MustNewConstMetric(q.age, prometheus.GaugeValue, now.Sub(at).Seconds(), kind)
	}
	q.scrapeFail.Set(failed)
	q.scrapeFail.Collect(ch)
}

// asTime reads a timestamp as the drivers give it: a time (PostgreSQL) or text
// (SQLite).
func asTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, true
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
			if at, err := time.Parse(layout, t); err == nil {
				return at, true
			}
		}
	case []byte:
		return asTime(string(t))
	}
	return time.Time{}, false
}
