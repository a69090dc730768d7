package api

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/apperr"
)

// Slow clients. net/http's server-wide ReadTimeout and WriteTimeout cannot tell a JSON
// request from a 100 MiB upload, so the portal sets deadlines per request instead:
//
//   - a JSON body must arrive within BodyReadTimeout, and the answer be written within
//     the request timeout plus BodyReadTimeout;
//   - an upload or a download has no fixed deadline but a minimum rate: it is cut off
//     when fewer than MinTransferBytes moved in TransferWindow, so a trickling client
//     cannot hold one of the few upload slots; the answer's window starts with its
//     first byte (an upload is answered once its whole body was stored);
//   - one address may hold at most MaxPublicPerAddress unauthenticated requests at once.
//
// Headers must arrive within ReadHeaderTimeout and an idle connection closes after
// IdleTimeout (see Serve).

// Defaults of the slow-client options.
const (
	defaultBodyReadTimeout     = 15 * time.Second
	defaultMinTransferBytes    = 32 << 10
	defaultTransferWindow      = 15 * time.Second
	defaultMaxPublicPerAddress = 8
)

// errTransferTooSlow is what a body read returns once its deadline passed.
var errTransferTooSlow = apperr.New(apperr.KindRequestTimeout, apperr.CodeRequestTimeout,
	"the request body arrived too slowly; the connection was closed")

// slowClients sets each request's deadlines on its connection.
func (s *Server) slowClients() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req, res := c.Request(), c.Response()
			rc := http.NewResponseController(res)
			if isFileTransfer(c) {
				if hasBody(req) {
					f := &rateFloor{set: rc.SetReadDeadline, min: s.opts.MinTransferBytes, window: s.opts.TransferWindow}
					f.start()
					req.Body = &floorReader{deadlineReader: deadlineReader{ReadCloser: req.Body, clear: func() { _ = f.set(time.Time{}) }}, floor: f}
				}
				// The answer's floor starts with its first byte: an upload's answer comes
				// only after the whole body was read and stored, however long that took.
				w := &rateFloor{set: rc.SetWriteDeadline, min: s.opts.MinTransferBytes, window: s.opts.TransferWindow}
				res.Writer = &floorWriter{ResponseWriter: res.Writer, floor: w}
				return next(c)
			}
			// Errors mean the connection cannot take deadlines (tests' recorders): the
			// request timeout still bounds the work.
			_ = rc.SetWriteDeadline(time.Now().Add(s.opts.RequestTimeout + s.opts.BodyReadTimeout))
			if hasBody(req) {
				_ = rc.SetReadDeadline(time.Now().Add(s.opts.BodyReadTimeout))
				req.Body = &deadlineReader{ReadCloser: req.Body, clear: func() { _ = rc.SetReadDeadline(time.Time{}) }}
			}
			return next(c)
		}
	}
}

func hasBody(req *http.Request) bool { return req.Body != nil && req.Body != http.NoBody }

// deadlineReader maps a passed deadline to a 408 and lifts the deadline once the body
// has been read whole: net/http keeps reading the connection in the background to
// notice a client going away, and a deadline passing there would cancel the request.
// After a timeout the deadline stays: net/http would otherwise wait for the rest of the
// body before answering.
type deadlineReader struct {
	io.ReadCloser
	clear func()
	done  bool
}

func (r *deadlineReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	return n, r.after(err)
}

func (r *deadlineReader) after(err error) error {
	if errors.Is(err, io.EOF) && !r.done {
		r.done = true
		r.clear()
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errTransferTooSlow
	}
	return err
}

// rateFloor moves a connection deadline forward each time min bytes have moved, so a
// transfer lives as long as it keeps at least min bytes per window going.
type rateFloor struct {
	set    func(time.Time) error
	min    int64
	window time.Duration
	moved  int64
}

func (f *rateFloor) start() { _ = f.set(time.Now().Add(f.window)) }

func (f *rateFloor) progress(n int) {
	f.moved += int64(n)
	if f.moved >= f.min {
		f.moved = 0
		_ = f.set(time.Now().Add(f.window))
	}
}

type floorReader struct {
	deadlineReader
	floor *rateFloor
}

func (r *floorReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.floor.progress(n)
	return n, r.after(err)
}

type floorWriter struct {
	http.ResponseWriter
	floor   *rateFloor
	started bool
}

func (w *floorWriter) WriteHeader(code int) {
	w.begin()
	w.ResponseWriter.WriteHeader(code)
}

func (w *floorWriter) begin() {
	if !w.started {
		w.started = true
		w.floor.start()
	}
}

func (w *floorWriter) Write(p []byte) (int, error) {
	w.begin()
	// Large writes go in pieces, so a slow reader is measured while one write blocks.
	written := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), int(w.floor.min))]
		n, err := w.ResponseWriter.Write(chunk)
		written += n
		w.floor.progress(n)
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// Unwrap lets http.ResponseController reach the connection.
func (w *floorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes flushes through.
func (w *floorWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// addressSlots counts the unauthenticated requests each address has running.
type addressSlots struct {
	mu    sync.Mutex
	max   int
	count map[string]int
}

func (a *addressSlots) acquire(addr string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.count[addr] >= a.max {
		return false
	}
	a.count[addr]++
	return true
}

func (a *addressSlots) release(addr string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.count[addr]--; a.count[addr] <= 0 {
		delete(a.count, addr)
	}
}

// publicSlot holds one of the address's slots for an unauthenticated request.
func (s *Server) publicSlot(c echo.Context, next echo.HandlerFunc) error {
	addr := c.RealIP()
	if !s.public.acquire(addr) {
		return (&apperr.Error{Kind: apperr.KindRateLimited, Code: apperr.CodeTooManyConnections,
			Message: "too many requests from your address are open at once; finish or close them first"}).With("retry_after", 1)
	}
	defer s.public.release(addr)
	return next(c)
}
