package api

import (
	"mime"
	"strings"
	"testing"
)

func TestContentDisposition(t *testing.T) {
	tests := []struct{ name, want string }{
		{"report.pdf", `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`},
		{"Заявление.pdf", `attachment; filename="_________.pdf"; filename*=UTF-8''%D0%97%D0%B0%D1%8F%D0%B2%D0%BB%D0%B5%D0%BD%D0%B8%D0%B5.pdf`},
		{`a "quoted"; name.txt`, `attachment; filename="a _quoted__ name.txt"; filename*=UTF-8''a%20%22quoted%22%3B%20name.txt`},
	}
	for _, tt := range tests {
		if got := contentDisposition(tt.name); got != tt.want {
			t.Errorf("contentDisposition(%q)\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

// FuzzContentDisposition: whatever the name, the header is one line, parses, and
// filename* gives back the name.
func FuzzContentDisposition(f *testing.F) {
	for _, s := range []string{"a.pdf", "é.txt", "\r\nSet-Cookie: x", `"`, "%41", "a;b", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		h := contentDisposition(name)
		if strings.ContainsAny(h, "\r\n\x00") {
			t.Fatalf("header breaks the line: %q", h)
		}
		disp, params, err := mime.ParseMediaType(h)
		if err != nil || disp != "attachment" {
			t.Fatalf("%q does not parse: %v", h, err)
		}
		if want := strings.ToValidUTF8(name, "_"); params["filename"] != want {
			t.Fatalf("filename* round trip: %q -> %q, want %q", name, params["filename"], want)
		}
	})
}
