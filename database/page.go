package database

import (
	"encoding/base64"
	"encoding/json"
	"strconv"

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

// ParsePage reads the cursor and limit query parameters of a list. keys is how many
// key values the list's cursors carry. Bad values are reported against their field.
func ParsePage(cursor, limit string, keys int) (Page, error) {
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
		if err != nil || len(after) != keys {
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
