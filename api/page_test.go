package api

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/database"
)

func TestParsePageChecksCursorValues(t *testing.T) {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	timeID := []database.Key{database.KeyTime, database.KeyID}
	textID := []database.Key{database.KeyText, database.KeyID}
	good := database.Cursor("2026-03-01T10:00:00.123456Z", "01970000-0000-7000-8000-000000000001")
	if p, err := parsePage(good, "", timeID...); err != nil || !slices.Equal(p.After, []string{"2026-03-01T10:00:00.123456Z", "01970000-0000-7000-8000-000000000001"}) {
		t.Fatalf("a cursor the list returned: %+v %v", p, err)
	}
	if _, err := parsePage(database.Cursor("Miners of Kyrgyzstan", "01970000-0000-7000-8000-000000000001"), "", textID...); err != nil {
		t.Fatalf("a name cursor: %v", err)
	}
	forged := []struct {
		name   string
		cursor string
		keys   []database.Key
	}{
		{"not base64", "not base64!", timeID},
		{"not JSON", base64.RawURLEncoding.EncodeToString([]byte("\xff\xfe")), timeID},
		{"an object", enc(map[string]string{"a": "b"}), timeID},
		{"too few values", enc([]string{"2026-03-01T10:00:00Z"}), timeID},
		{"too many values", enc([]string{"2026-03-01T10:00:00Z", "01970000-0000-7000-8000-000000000001", "x"}), timeID},
		{"not a time", enc([]string{"yesterday", "01970000-0000-7000-8000-000000000001"}), timeID},
		{"not a UUID", enc([]string{"2026-03-01T10:00:00Z", "1 OR 1=1"}), timeID},
		{"a UUID in capitals", enc([]string{"2026-03-01T10:00:00Z", "01970000-0000-7000-8000-00000000000A"}), timeID},
		{"NUL in text", enc([]string{"a\x00b", "01970000-0000-7000-8000-000000000001"}), textID},
		{"text too long", enc([]string{strings.Repeat("x", 2000), "01970000-0000-7000-8000-000000000001"}), textID},
		{"numbers", enc([]any{1, 2}), textID},
	}
	for _, tt := range forged {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parsePage(tt.cursor, "", tt.keys...)
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindMalformed || len(e.Fields) != 1 || e.Fields[0].Field != "cursor" {
				t.Errorf("ParsePage(%q) = %v, want a malformed-request error naming cursor", tt.cursor, err)
			}
		})
	}
}
