package storage

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Instrumented is a Store whose operations are timed, for /metrics: each operation's
// duration is observed by operation and outcome (ok, or error). Open is timed until
// the object is open, not while it is read; Put until the object is stored.
type Instrumented struct {
	Store
	hist *prometheus.HistogramVec
}

// Instrument wraps store; its Collector is what to register.
func Instrument(store Store) *Instrumented {
	return &Instrumented{Store: store, hist: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "unionportal", Subsystem: "storage", Name: "operation_duration_seconds",
		Help:    "Time taken by storage operations (put, open, stat, delete, list, presign, check), by outcome.",
		Buckets: []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"op", "outcome"})}
}

// Collector returns the histogram.
func (s *Instrumented) Collector() prometheus.Collector { return s.hist }

func (s *Instrumented) observe(op string, start time.Time, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	s.hist.WithLabelValues(op, outcome).Observe(time.Since(start).Seconds())
}

func (s *Instrumented) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	start := time.Now()
	err := s.Store.Put(ctx, key, r, size, contentType)
	s.observe("put", start, err)
	return err
}

func (s *Instrumented) Open(ctx context.Context, key string) (obj Object, err error) {
	start := time.Now()
	obj, err = s.Store.Open(ctx, key)
	s.observe("open", start, ignoreMissing(err))
	return obj, err
}

func (s *Instrumented) Stat(ctx context.Context, key string) (info Info, err error) {
	start := time.Now()
	info, err = s.Store.Stat(ctx, key)
	s.observe("stat", start, ignoreMissing(err))
	return info, err
}

func (s *Instrumented) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := s.Store.Delete(ctx, key)
	s.observe("delete", start, err)
	return err
}

func (s *Instrumented) List(ctx context.Context, prefix string, fn func(Info) error) error {
	start := time.Now()
	err := s.Store.List(ctx, prefix, fn)
	s.observe("list", start, err)
	return err
}

func (s *Instrumented) PresignGet(ctx context.Context, key string, expiry time.Duration, fileName string) (string, error) {
	start := time.Now()
	u, err := s.Store.PresignGet(ctx, key, expiry, fileName)
	if errors.Is(err, ErrUnsupported) {
		return u, err
	}
	s.observe("presign", start, err)
	return u, err
}

func (s *Instrumented) Check(ctx context.Context) error {
	start := time.Now()
	err := s.Store.Check(ctx)
	s.observe("check", start, err)
	return err
}

// ignoreMissing counts a missing object as an answer, not a failure of the store.
func ignoreMissing(err error) error {
	if errors.Is(err, ErrNotExist) {
		return nil
	}
	return err
}

// instrumentedSweeper keeps TempSweeper visible through the wrapper.
type instrumentedSweeper struct {
	*Instrumented
	sweeper TempSweeper
}

func (s instrumentedSweeper) SweepTemp(ctx context.Context, cutoff time.Time) ([]string, error) {
	return s.sweeper.SweepTemp(ctx, cutoff)
}

// Store returns the wrapper as a Store that keeps the optional interfaces of the store
// it wraps (TempSweeper).
func (s *Instrumented) AsStore() Store {
	if ts, ok := s.Store.(TempSweeper); ok {
		return instrumentedSweeper{Instrumented: s, sweeper: ts}
	}
	return s
}
