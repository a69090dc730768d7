package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
)

// Idempotent POSTs (draft-ietf-httpapi-idempotency-key-header; ADR 0022). A POST that
// carries Idempotency-Key runs once per (user, key) within auth.IdempotencyTTL: a
// repetition with the same request gets the first response again, marked with
// Idempotent-Replayed: true; with another request, 422 idempotency_key_reused; while the
// first still runs, it waits up to idempotencyWait and then answers 409
// idempotency_in_progress with Retry-After.
const (
	IdempotencyKeyHeader     = "Idempotency-Key"
	IdempotentReplayedHeader = "Idempotent-Replayed"
	// maxIdempotencyKey is the longest key accepted.
	maxIdempotencyKey = 255
	// maxStoredResponse bounds the body kept for replay. A larger one (a submission
	// whose body is near its limit) is replayed as status and headers without body.
	maxStoredResponse = 2 << 20
	// idempotencyWait is how long a repetition waits for the first request to end.
	idempotencyWait = 2 * time.Second
	// idempotencyDrain is how much of a body its handler left unread is read to finish
	// the fingerprint; a response to a longer remainder is not kept.
	idempotencyDrain = 256 << 10
)

// replayedHeaders are the response headers kept and replayed with the body.
var replayedHeaders = []string{echo.HeaderContentType, echo.HeaderLocation, "ETag", "Link", echo.HeaderLastModified, "Content-Language"}

// idempotency is route middleware that runs after guard: it needs the principal, which
// scopes the key. Public routes have none and ignore the header; so do other methods.
func (s *Server) idempotency(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		values := req.Header.Values(IdempotencyKeyHeader)
		if req.Method != http.MethodPost || len(values) == 0 {
			return next(c)
		}
		p, _ := c.Get(principalKey).(*auth.Principal)
		if p == nil || !database.ValidID(p.User.ID) {
			return next(c)
		}
		key, err := parseIdempotencyKey(values)
		if err != nil {
			return err
		}
		ctx := req.Context()
		claim, stored, err := s.opts.Auth.BeginIdempotent(ctx, p.User.ID, key)
		for wait, until := 25*time.Millisecond, time.Now().Add(idempotencyWait); errors.Is(err, auth.ErrIdempotencyInProgress) && time.Now().Before(until); wait = min(2*wait, 200*time.Millisecond) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			claim, stored, err = s.opts.Auth.BeginIdempotent(ctx, p.User.ID, key)
		}
		switch {
		case errors.Is(err, auth.ErrIdempotencyInProgress):
			c.Response().Header().Set("Retry-After", "1")
			return apperr.New(apperr.KindConflict, apperr.CodeIdempotencyInProgress,
				"a request with this Idempotency-Key is still running; repeat it shortly")
		case err != nil:
			return err
		case stored != nil:
			return s.replay(c, newFingerprint(req), stored)
		}
		return s.runClaimed(c, next, claim)
	}
}

// parseIdempotencyKey accepts one value of 1 to 255 printable ASCII characters, bare
// (as most clients send it) or as the draft's structured-field string ("…").
func parseIdempotencyKey(values []string) (string, error) {
	bad := apperr.Malformed("invalid "+IdempotencyKeyHeader+" header", apperr.FieldError{Field: IdempotencyKeyHeader,
		Message: "one value of 1 to 255 printable ASCII characters, such as a UUID"})
	if len(values) != 1 {
		return "", bad
	}
	k := values[0]
	if len(k) >= 2 && k[0] == '"' && k[len(k)-1] == '"' {
		k = k[1 : len(k)-1]
	}
	if len(k) == 0 || len(k) > maxIdempotencyKey {
		return "", bad
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return "", bad
		}
	}
	return k, nil
}

// runClaimed runs the request that holds the key and keeps its response, or releases
// the key when the response is not to be kept: a server fault (5xx), 408 and 429 (the
// same request may succeed later), a panic, a client gone before its answer, or a body
// the server could not read to the end.
func (s *Server) runClaimed(c echo.Context, next echo.HandlerFunc, claim *auth.IdempotencyClaim) (err error) {
	req := c.Request()
	body := &hashingBody{ReadCloser: req.Body, fp: newFingerprint(req)}
	req.Body = body
	resp := c.Response()
	rec := &responseCopy{ResponseWriter: resp.Writer}
	resp.Writer = rec
	kept := false
	defer func() {
		resp.Writer = rec.ResponseWriter
		if kept {
			return
		}
		if aerr := s.opts.Auth.AbandonIdempotent(context.WithoutCancel(req.Context()), claim); aerr != nil {
			s.log.WarnContext(c.Request().Context(), "could not release an idempotency key; it is released after its lease", "error", aerr)
		}
	}()
	if err = next(c); err != nil {
		// Write the problem now, so that it can be kept; echo's handler skips it later.
		s.errorHandler(err, c)
	}
	if !resp.Committed || resp.Status >= 500 || resp.Status == http.StatusRequestTimeout || resp.Status == http.StatusTooManyRequests {
		return err
	}
	if !body.eof && body.readErr == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(body, idempotencyDrain))
	}
	if !body.eof {
		return err
	}
	stored := auth.StoredResponse{Fingerprint: body.fp.sum(), BodyBytes: body.fp.n, Status: resp.Status, Header: map[string]string{}}
	for _, h := range replayedHeaders {
		if v := rec.header.Get(h); v != "" {
			stored.Header[h] = v
		}
	}
	if rec.overflow {
		// Too large to keep: a repetition gets the status and headers (Location, ETag).
		delete(stored.Header, echo.HeaderContentType)
	} else {
		stored.Body = rec.body.Bytes()
	}
	// Kept from here on, even if storing fails: the work is done, and releasing the key
	// would let a repetition do it again. The key then stays running until its lease ends.
	kept = true
	if ferr := s.opts.Auth.FinishIdempotent(context.WithoutCancel(req.Context()), claim, stored); ferr != nil {
		s.log.ErrorContext(req.Context(), "could not keep an idempotent response; repetitions get 409 until the key's lease ends",
			"error", ferr)
	}
	return err
}

// replay answers a repetition with the stored response, after reading its body through
// the fingerprint: never further than the first body's length, never into memory.
func (s *Server) replay(c echo.Context, fp *fingerprint, stored *auth.StoredResponse) error {
	body := &hashingBody{ReadCloser: c.Request().Body, fp: fp}
	for !body.eof && body.readErr == nil && fp.n <= stored.BodyBytes {
		_, _ = io.CopyN(io.Discard, body, 32<<10)
	}
	if err := body.readErr; err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) || errors.Is(err, errTransferTooSlow) || errors.Is(err, context.Canceled) {
			return err
		}
		return apperr.Malformed("the request body could not be read")
	}
	if sum := fp.sum(); fp.n != stored.BodyBytes || sum != stored.Fingerprint {
		return apperr.New(apperr.KindInvalid, apperr.CodeIdempotencyKeyReused,
			"this Idempotency-Key was used for a different request (method, path or body); use a new key for a new request")
	}
	h := c.Response().Header()
	for k, v := range stored.Header {
		h.Set(k, v)
	}
	h.Set(IdempotentReplayedHeader, "true")
	c.Response().WriteHeader(stored.Status)
	_, err := c.Response().Write(stored.Body)
	return err
}

// fingerprint is the SHA-256 of a request's method, path, query, media type and body.
// In a multipart body the boundary is replaced by a constant, so that a client that
// builds its repetition with a fresh boundary sends the same request. It streams: it
// holds at most one delimiter's length of the body.
type fingerprint struct {
	h       hash.Hash
	n       int64  // body bytes hashed (after replacing delimiters)
	delim   []byte // "--" + boundary, or nil
	pending []byte
}

func newFingerprint(req *http.Request) *fingerprint {
	f := &fingerprint{h: sha256.New()}
	mt, params, _ := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	fmt.Fprintf(f.h, "%s\n%s?%s\n%s\n", req.Method, req.URL.EscapedPath(), req.URL.RawQuery, strings.ToLower(mt))
	if strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" {
		f.delim = []byte("--" + params["boundary"])
	}
	return f
}

var boundaryPlaceholder = []byte("--boundary")

func (f *fingerprint) Write(p []byte) (int, error) {
	if f.delim == nil {
		f.emit(p)
		return len(p), nil
	}
	buf := append(f.pending, p...)
	for {
		i := bytes.Index(buf, f.delim)
		if i < 0 {
			break
		}
		f.emit(buf[:i])
		f.emit(boundaryPlaceholder)
		buf = buf[i+len(f.delim):]
	}
	// What could begin a delimiter stays pending until more arrives.
	if keep := len(f.delim) - 1; len(buf) > keep {
		f.emit(buf[:len(buf)-keep])
		buf = buf[len(buf)-keep:]
	}
	f.pending = append(f.pending[:0], buf...)
	return len(p), nil
}

func (f *fingerprint) emit(p []byte) {
	f.h.Write(p)
	f.n += int64(len(p))
}

// sum ends the fingerprint and returns it in hex.
func (f *fingerprint) sum() string {
	f.emit(f.pending)
	f.pending = nil
	return hex.EncodeToString(f.h.Sum(nil))
}

// hashingBody passes a request body through a fingerprint as it is read.
type hashingBody struct {
	io.ReadCloser
	fp      *fingerprint
	eof     bool
	readErr error
}

func (b *hashingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	_, _ = b.fp.Write(p[:n])
	switch {
	case errors.Is(err, io.EOF):
		b.eof = true
	case err != nil && b.readErr == nil:
		b.readErr = err
	}
	return n, err
}

// responseCopy writes through to the client and keeps the status's headers and up to
// maxStoredResponse of the body.
type responseCopy struct {
	http.ResponseWriter
	header   http.Header
	body     bytes.Buffer
	overflow bool
}

func (w *responseCopy) WriteHeader(code int) {
	w.header = w.ResponseWriter.Header().Clone()
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseCopy) Write(p []byte) (int, error) {
	if w.header == nil {
		w.header = w.ResponseWriter.Header().Clone()
	}
	if !w.overflow {
		if w.body.Len()+len(p) > maxStoredResponse {
			w.overflow = true
			w.body = bytes.Buffer{}
		} else {
			w.body.Write(p)
		}
	}
	return w.ResponseWriter.Write(p)
}

func (w *responseCopy) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

func (w *responseCopy) Unwrap() http.ResponseWriter { return w.ResponseWriter }
