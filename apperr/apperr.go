// Package apperr defines the typed errors that domain packages return. Each carries a
// Kind (what went wrong, independent of any transport) and a stable machine Code; the
// api package maps them to HTTP problem responses. Domain packages never return HTTP
// errors themselves.
package apperr

import (
	"context"
	"errors"
	"fmt"
)

// Kind classifies an error independently of the transport that reports it.
type Kind int

// The kinds of error a domain operation can report.
const (
	KindInternal             Kind = iota // a bug or an unexpected failure; details are logged, not shown
	KindMalformed                        // the request cannot be read: bad JSON, wrong types, unknown fields
	KindInvalid                          // the request was read but fails validation
	KindNotFound                         // the object does not exist or is not visible to the caller
	KindConflict                         // the operation conflicts with the current state
	KindUnauthenticated                  // no valid credentials were presented
	KindForbidden                        // the caller may see the object but not do this
	KindPreconditionFailed               // a version check (If-Match) failed
	KindPreconditionRequired             // a version check is required but was not given
	KindTooLarge                         // the input exceeds a size limit
	KindUnsupportedMedia                 // the content type is refused
	KindRateLimited                      // too many attempts; try later
	KindUnavailable                      // a backing service is down; try later
	KindRequestTimeout                   // the client sent its request too slowly
	KindGone                             // gone for good: content deleted by retention, an expired link
	KindLengthRequired                   // the request must state its body's length (Content-Length)
)

// FieldError names one invalid input field and says what was expected.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a domain error with a stable code. Message is safe to show to the client;
// Err, when set, is the underlying cause and is only logged.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Fields  []FieldError
	// Extra holds additional members for the problem document, such as the current
	// version on a failed precondition or the allowed actions on a conflict.
	Extra map[string]any
	Err   error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of the given kind and code with a client-safe message.
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Wrap returns an error of the given kind and code that keeps cause for the logs.
func Wrap(kind Kind, code, message string, cause error) *Error {
	return &Error{Kind: kind, Code: code, Message: message, Err: cause}
}

// Invalid reports input that fails validation; fields name each offending field.
func Invalid(message string, fields ...FieldError) *Error {
	return &Error{Kind: KindInvalid, Code: CodeValidationFailed, Message: message, Fields: fields}
}

// Malformed reports a request that cannot be read; fields name the offending field
// where one is known.
func Malformed(message string, fields ...FieldError) *Error {
	return &Error{Kind: KindMalformed, Code: CodeMalformedRequest, Message: message, Fields: fields}
}

// NotFound reports that the named kind of object does not exist or is not visible.
func NotFound(what string) *Error {
	return &Error{Kind: KindNotFound, Code: CodeNotFound, Message: what + " not found"}
}

// Unavailable reports that a backing service (named by what) cannot be reached.
func Unavailable(what string, cause error) *Error {
	return &Error{Kind: KindUnavailable, Code: what + "_unavailable", Message: what + " is temporarily unavailable", Err: cause}
}

// Shredded reports that what was asked for was deleted for good under the tenant's
// retention policy (ADR 0030): the record remains, its content does not.
func Shredded(message string) *Error {
	return &Error{Kind: KindGone, Code: CodeShredded, Message: message}
}

// Full reports that the server has no space left to store what was asked (a full disk
// under the database or the files, or a quota). It answers 503 storage_full: the
// request may succeed once an administrator frees space.
func Full(cause error) *Error {
	return &Error{Kind: KindUnavailable, Code: CodeStorageFull, Message: "the server has no storage space left; try again later", Err: cause}
}

// Stopped reports work that ended early because ctx is done: its deadline passed (a
// render or a diff took longer than allowed) or its caller went away. It is
// KindUnavailable (503, try again later) with the given code. The cause wraps
// context.Canceled when the caller went away, so that the HTTP layer can skip answering
// a client that is gone; a deadline is kept only as text, so that it reaches the client
// as this code rather than as a generic request timeout.
func Stopped(ctx context.Context, code, message string) *Error {
	cause := ctx.Err()
	if !errors.Is(cause, context.Canceled) {
		cause = fmt.Errorf("stopped: %v", context.Cause(ctx))
	}
	return &Error{Kind: KindUnavailable, Code: code, Message: message, Err: cause}
}

// With returns a copy of e with an extra problem member set.
func (e *Error) With(key string, value any) *Error {
	c := *e
	c.Extra = make(map[string]any, len(e.Extra)+1)
	for k, v := range e.Extra {
		c.Extra[k] = v
	}
	c.Extra[key] = value
	return &c
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// KindOf returns the Kind of the *Error in err's chain, or KindInternal.
func KindOf(err error) Kind {
	if e, ok := As(err); ok {
		return e.Kind
	}
	return KindInternal
}
