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
	p := database.Page{Limit: database.DefaultPageSize}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > database.MaxPageSize {
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
			ok = keys[i].Valid(after[i])
		}
		if !ok {
			return p, apperr.Malformed("invalid cursor", apperr.FieldError{Field: "cursor", Message: "not a cursor this list returned; start again without it"})
		}
		p.After = after
	}
	return p, nil
}
