package api

import (
	"encoding/base64"
	"encoding/json"
	"strconv"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/database"
)

// parsePage reads the cursor and limit query parameters of a list whose cursors carry
// one value of each of keys, in order. Bad values are reported against their field.
func parsePage(cursor, limit string, keys ...database.Key) (database.Page, error) {
	return parsePageSized(cursor, limit, database.DefaultPageSize, database.MaxPageSize, keys...)
}

// parsePageSized is parsePage for a list whose pages hold def items unless limit asks
// for another number up to max.
func parsePageSized(cursor, limit string, def, max int, keys ...database.Key) (database.Page, error) {
	p := database.Page{Limit: def}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > max {
			return p, apperr.Malformed("invalid limit", apperr.FieldError{Field: "limit", Message: "expected an integer from 1 to " + strconv.Itoa(max)})
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
			ok = keys[i].Valid(after[i])
		}
		if !ok {
			return p, apperr.Malformed("invalid cursor", apperr.FieldError{Field: "cursor", Message: "not a cursor this list returned; start again without it"})
		}
		p.After = after
	}
	return p, nil
}
