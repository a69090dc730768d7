// Package logctx carries the attributes of the work in progress (a request's id, tenant
// and user; a job's id and kind) in its context, and a slog handler that adds them to
// every line logged with that context. A request's attributes are gathered as the
// request is understood (the id first, the user once authenticated, the tenant once
// resolved) into one bag shared by everything that holds the context, so that lines
// written afterwards by outer middleware, such as the access log, carry them too.
package logctx

import (
	"context"
	"io"
	"log/slog"
	"sync"
)

type bagKey struct{}

type bag struct {
	mu    sync.Mutex
	attrs []slog.Attr
}

// With returns a context with a fresh bag holding attrs (replacing nothing: a bag
// already in ctx is kept for ctx, and the new one shadows it below).
func With(ctx context.Context, attrs ...slog.Attr) context.Context {
	b := &bag{attrs: append([]slog.Attr(nil), attrs...)}
	if old, ok := ctx.Value(bagKey{}).(*bag); ok {
		old.mu.Lock()
		b.attrs = append(append([]slog.Attr(nil), old.attrs...), attrs...)
		old.mu.Unlock()
	}
	return context.WithValue(ctx, bagKey{}, b)
}

// Add adds attrs to the bag in ctx, where every holder of the context sees them; a
// context without a bag is left alone. An attribute of a key already present replaces
// it.
func Add(ctx context.Context, attrs ...slog.Attr) {
	b, ok := ctx.Value(bagKey{}).(*bag)
	if !ok {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
next:
	for _, a := range attrs {
		for i := range b.attrs {
			if b.attrs[i].Key == a.Key {
				b.attrs[i] = a
				continue next
			}
		}
		b.attrs = append(b.attrs, a)
	}
}

// Attrs returns the attributes in ctx.
func Attrs(ctx context.Context) []slog.Attr {
	b, ok := ctx.Value(bagKey{}).(*bag)
	if !ok {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]slog.Attr(nil), b.attrs...)
}

// Handler adds the attributes of a record's context to the record.
type Handler struct{ inner slog.Handler }

// Wrap returns h adding context attributes; wrapping twice adds them once.
func Wrap(h slog.Handler) slog.Handler {
	if _, ok := h.(Handler); ok {
		return h
	}
	return Handler{inner: h}
}

// Logger returns l with a handler that adds context attributes.
func Logger(l *slog.Logger) *slog.Logger { return slog.New(Wrap(l.Handler())) }

// NewJSON is the portal's production logger: JSON lines on w from level up, each with
// its context's attributes. The benchmarks use it to log as the portal does.
func NewJSON(w io.Writer, level slog.Leveler) *slog.Logger {
	return Logger(slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}

func (h Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

func (h Handler) Handle(ctx context.Context, r slog.Record) error {
	if attrs := Attrs(ctx); len(attrs) > 0 {
		r = r.Clone()
		r.AddAttrs(attrs...)
	}
	return h.inner.Handle(ctx, r)
}

func (h Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return Handler{inner: h.inner.WithAttrs(attrs)}
}

func (h Handler) WithGroup(name string) slog.Handler { return Handler{inner: h.inner.WithGroup(name)} }
