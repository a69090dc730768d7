package database

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
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

// Key is the kind of one value that a list's cursors carry. The API checks every value
// of a cursor against its kind, so that a forged cursor is refused as a bad request
// before it reaches SQL (where, on PostgreSQL, a value that is not a time or a UUID, or
// text with a NUL, would fail the query).
type Key string

// The kinds of cursor values.
const (
	KeyText Key = "text" // text such as a name, slug or e-mail: UTF-8 without NUL, at most 1 KiB
	KeyTime Key = "time" // an RFC 3339 time (the lists write them with nanoseconds)
	KeyID   Key = "id"   // a UUID in its canonical form
	KeyInt  Key = "int"  // a non-negative integer in decimal, such as an audit event's row id
)

// maxCursorText bounds a text value of a cursor; every key the lists use is shorter.
const maxCursorText = 1024

// Valid reports whether v is a value of kind k.
func (k Key) Valid(v string) bool {
	switch k {
	case KeyText:
		return len(v) <= maxCursorText && utf8.ValidString(v) && !strings.ContainsRune(v, 0)
	case KeyTime:
		_, err := time.Parse(time.RFC3339Nano, v)
		return err == nil
	case KeyID:
		u, err := uuid.Parse(v)
		return err == nil && u.String() == v
	case KeyInt:
		n, err := strconv.ParseInt(v, 10, 64)
		return err == nil && n >= 0 && strconv.FormatInt(n, 10) == v
	}
	return false
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
