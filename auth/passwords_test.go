package auth

import (
	"strings"
	"testing"
)

func TestValidatePassword(t *testing.T) {
	for _, tc := range []struct {
		pw   string
		ok   bool
		want string
	}{
		{"correct horse battery staple", true, ""},
		{"Ala ma kota, a kot ma Alę", true, ""},
		{"Кыргызстан — профсоюз 2023", true, ""},
		{"short", false, "at least 12"},
		{strings.Repeat(" ", 12), false, "only spaces"},
		{strings.Repeat("\u00a0", 12), false, "only spaces"},
		{strings.Repeat("\x00", 12), false, "control"},
		{"good password\x00with nul", false, "control"},
		{"tab\tseparated words", false, "control"},
		{"zero\u200bwidth joiner text", false, "control"},
		{strings.Repeat("a", 12), false, "different characters"},
		{"121212121212", false, "different characters"},
		{"1qaz2wsx3edc", false, "common"},
		{"QWERTY123456", false, "common"},
		{"Password2024!", false, "common"},
		{"iloveyou1234567", false, "common"},
		{"passwordpassword", false, "common"},
		{"abc123abc123", false, "common"},
		{"Solidarity2025", false, "common"},
		{"  letmein!!!!!!  ", false, "common"},
		{"editor.person@alpha.test", false, "e-mail"},
		{"editor.person2024", false, "e-mail"},
		{strings.Repeat("long words ", 100), false, "1024"},
		{"\xff\xfe invalid utf8 bytes", false, "UTF-8"},
	} {
		fe := validatePassword("password", tc.pw, "editor.person@alpha.test", "Editor Person")
		switch {
		case tc.ok && fe != nil:
			t.Errorf("%q refused: %s", tc.pw, fe.Message)
		case !tc.ok && fe == nil:
			t.Errorf("%q accepted", tc.pw)
		case !tc.ok && !strings.Contains(fe.Message, tc.want):
			t.Errorf("%q: %q, want a message about %q", tc.pw, fe.Message, tc.want)
		case fe != nil && fe.Field != "password":
			t.Errorf("%q: field %q", tc.pw, fe.Field)
		}
	}
}

func TestCommonPasswordListLoads(t *testing.T) {
	if !isCommonPassword("password") || !isCommonPassword("123qweasdzxc") || isCommonPassword("# common passwords") {
		t.Error("the embedded list is not read as expected")
	}
	if len(commonPasswords) < 8000 {
		t.Errorf("only %d common passwords", len(commonPasswords))
	}
}
