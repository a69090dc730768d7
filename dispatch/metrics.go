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

// Collectors returns the dispatch metrics, including the queue depth read from the
// database at each scrape, for the caller's registry.
func (s *Service) Collectors() []prometheus.Collector {
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "unionportal", Subsystem: "dispatch",
		Name: "queue_depth", Help: "Dispatch jobs waiting or retrying."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		var n int64
		err := s.db.Conn(ctx).Table("river_job").
			Where("kind = ? AND state IN ('available', 'scheduled', 'retryable', 'running', 'pending')", Args{}.Kind()).
			Count(&n).Error
		if err != nil {
			return -1
		}
		return float64(n)
	})
	return []prometheus.Collector{s.metrics.sent, s.metrics.failed, s.metrics.retried, depth}
}
