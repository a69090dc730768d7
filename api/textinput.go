package api

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/apperr"
)

// Text input is checked in one place for every route, so that no handler can forget it
// (ADR 0018): no string a client sends, in the JSON body, the query or the path, may hold
// a NUL character (PostgreSQL cannot store one in text) or bytes that are not UTF-8.
// Such input answers 400 naming the field. Headers that are recorded but are not the
// client's text to refuse (the User-Agent) are cleaned instead.

// badText says what is wrong with s as text, or "" when nothing is.
func badText(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain the NUL character (U+0000)"
	}
	return ""
}

// printable makes s fit to name a field in a problem document.
func printable(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
}

// checkJSONText refuses a JSON body any of whose strings, object keys included, holds a
// NUL character or bytes that are not UTF-8, naming the field as the validation errors
// do ("dispatch.recipients[0].address"). It reads the body's tokens, not a Go type, so
// it covers every field of every request type, those added later included. Malformed
// JSON is left for the decoder to report.
func checkJSONText(body []byte) error {
	invalidAt := int64(-1)
	if !utf8.Valid(body) {
		invalidAt = int64(firstInvalidUTF8(body))
	} else if !bytes.Contains(body, []byte(`\u0000`)) {
		return nil // no NUL escape, and a raw NUL is malformed JSON
	}
	type frame struct {
		object  bool
		key     string
		index   int
		wantKey bool
	}
	var stack []frame
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			if f.object {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(printable(f.key))
			} else {
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			}
		}
		return b.String()
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			break
		}
		// The token spans [start, end), with the separators before it; Token has
		// already replaced any bytes that are not UTF-8, so those are found by offset.
		end := dec.InputOffset()
		invalid := invalidAt >= start && invalidAt < end
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].wantKey = true
			}
			continue
		}
		if s, ok := tok.(string); ok && top != nil && top.object && top.wantKey {
			top.key, top.wantKey = s, false
			if err := textFieldError(path(), s, invalid); err != nil {
				return err
			}
			continue
		}
		// A value begins.
		if top != nil && !top.object {
			top.index++
		}
		switch v := tok.(type) {
		case json.Delim: // { or [
			stack = append(stack, frame{object: v == '{', wantKey: true, index: -1})
			continue
		case string:
			if err := textFieldError(path(), v, invalid); err != nil {
				return err
			}
		}
		if top != nil && top.object {
			top.wantKey = true
		}
	}
	if invalidAt >= 0 {
		return apperr.Malformed("the request body is not valid UTF-8")
	}
	return nil
}

// textFieldError reports the string s of field, whose raw bytes were not UTF-8 when
// invalid is set.
func textFieldError(field, s string, invalid bool) error {
	msg := badText(s)
	if invalid {
		msg = "must be valid UTF-8"
	}
	if msg == "" || field == "" {
		return nil
	}
	return apperr.Malformed("a text field holds characters that cannot be stored", apperr.FieldError{Field: field, Message: msg})
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}

// recordedHeaders are request headers that the portal records (the User-Agent of a
// session) but that are not the client's text to refuse: they are cleaned instead.
var recordedHeaders = []string{"User-Agent"}

// cleanHeaderText replaces bytes that are not UTF-8 and control characters with U+FFFD.
func cleanHeaderText(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// checkRequestText refuses a request whose path or query parameters (names included)
// hold a NUL character or bytes that are not UTF-8, naming each, and cleans the
// recorded headers. It runs after routing, before the access guard and every handler.
func checkRequestText(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		var fields []apperr.FieldError
		values := c.ParamValues()
		for i, name := range c.ParamNames() {
			if i < len(values) {
				if msg := badText(values[i]); msg != "" {
					fields = append(fields, apperr.FieldError{Field: name, Message: msg})
				}
			}
		}
		query := c.QueryParams()
		names := make([]string, 0, len(query))
		for k := range query {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			msg := badText(k)
			for _, v := range query[k] {
				if msg == "" {
					msg = badText(v)
				}
			}
			if msg != "" {
				fields = append(fields, apperr.FieldError{Field: printable(k), Message: msg})
			}
		}
		if len(fields) > 0 {
			return apperr.Malformed("a parameter holds characters that cannot be stored", fields...)
		}
		h := c.Request().Header
		for _, name := range recordedHeaders {
			if v := h.Get(name); v != "" {
				if clean := cleanHeaderText(v); clean != v {
					h.Set(name, clean)
				}
			}
		}
		return next(c)
	}
}
