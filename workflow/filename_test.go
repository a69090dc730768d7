package workflow

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestSanitizeFileName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\a\Desktop\evidence.docx`, "evidence.docx"},
		{"evil\u202Efdp.exe", "evilfdp.exe"},
		{"line\r\nbreak.txt", "line  break.txt"},
		{"tab\there.txt", "tab here.txt"},
		{"  .hidden. ", "hidden"},
		{"", "attachment"},
		{"../", "attachment"},
		{"Заявление профсоюза.pdf", "Заявление профсоюза.pdf"},
		{"e\u0301vidence.png", "évidence.png"}, // NFC
		{strings.Repeat("a", 300) + ".pdf", strings.Repeat("a", 196) + ".pdf"},
	}
	for _, tt := range tests {
		if got := SanitizeFileName(tt.in); got != tt.want {
			t.Errorf("SanitizeFileName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzSanitizeFileName(f *testing.F) {
	for _, s := range []string{"a.pdf", "../x", "\x00", "\u202e", "a/b\\c", strings.Repeat("é", 400)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := SanitizeFileName(in)
		if out == "" || !utf8.ValidString(out) || strings.ContainsAny(out, `/\`) || utf8.RuneCountInString(out) > maxFileNameRunes {
			t.Fatalf("%q -> %q", in, out)
		}
		for _, r := range out {
			if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
				t.Fatalf("%q -> %q keeps %U", in, out, r)
			}
		}
		if out == "." || out == ".." || SanitizeFileName(out) != out {
			t.Fatalf("%q -> %q is not stable", in, out)
		}
	})
}
