package database

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/unionportal/unionportal/apperr"
)

// Page sizes for keyset-paginated lists.
const (
	DefaultPageSize = 50
	MaxPageSize     = 100
)

// Page asks for one page of a list ordered by some unique key: the rows after After
// (the key values of the last row of the previous page; empty for the first page).
type Page struct {
	Limit int
	After []string
}

// Key is the kind of one value that a list's cursors carry. ParsePage checks every value
// of a cursor against its kind, so that a forged cursor is refused as a bad request
// before it reaches SQL (where, on PostgreSQL, a value that is not a time or a UUID, or
// text with a NUL, would fail the query).
type Key string

// The kinds of cursor values.
const (
	KeyText Key = "text" // text such as a name, slug or e-mail: UTF-8 without NUL, at most 1 KiB
	KeyTime Key = "time" // an RFC 3339 time (the lists write them with nanoseconds)
	KeyID   Key = "id"   // a UUID in its canonical form
)

// maxCursorText bounds a text value of a cursor; every key the lists use is shorter.
const maxCursorText = 1024

func (k Key) valid(v string) bool {
	switch k {
	case KeyText:
		return len(v) <= maxCursorText && utf8.ValidString(v) && !strings.ContainsRune(v, 0)
	case KeyTime:
		_, err := time.Parse(time.RFC3339Nano, v)
		return err == nil
	case KeyID:
		u, err := uuid.Parse(v)
		return err == nil && u.String() == v
	}
	return false
}

// ParsePage reads the cursor and limit query parameters of a list whose cursors carry
// one value of each of keys, in order. Bad values are reported against their field.
func ParsePage(cursor, limit string, keys ...Key) (Page, error) {
	p := Page{Limit: DefaultPageSize}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > MaxPageSize {
			return p, apperr.Malformed("invalid limit", apperr.FieldError{Field: "limit", Message: "expected an integer from 1 to 100"})
		}
		p.Limit = n
	}
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		var after []string
		if err == nil {
			err = json.Unmarshal(raw, &after)
		}
		ok := err == nil && len(after) == len(keys)
		for i := 0; ok && i < len(keys); i++ {
			ok = keys[i].valid(after[i])
		}
		if !ok {
			return p, apperr.Malformed("invalid cursor", apperr.FieldError{Field: "cursor", Message: "not a cursor this list returned; start again without it"})
		}
		p.After = after
	}
	return p, nil
}

// Cursor encodes the key values of a page's last row as an opaque cursor.
func Cursor(keys ...string) string {
	b, _ := json.Marshal(keys)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Trim cuts rows fetched with Limit+1 down to the page and returns the cursor of the
// next page ("" when this is the last), built from the last row by key.
func Trim[T any](rows []T, p Page, key func(T) []string) ([]T, string) {
	if len(rows) <= p.Limit {
		return rows, ""
	}
	rows = rows[:p.Limit]
	return rows, Cursor(key(rows[len(rows)-1])...)
}
