package workflow

import (
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// maxFileNameRunes bounds a stored file name.
const maxFileNameRunes = 200

// SanitizeFileName makes a client's file name safe to store and show: the last path
// element only, NFC-normalized, without control or bidirectional-override characters
// (which can disguise "evil‮fdp.exe" as "evilexe.pdf"), trimmed, at most 200 characters
// with the extension kept, and never empty. It is never used to build a storage key.
func SanitizeFileName(name string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = norm.NFC.String(name)
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r), r == '\uFEFF', r == utf8.RuneError:
			return -1
		}
		return r
	}, name)
	name = strings.Trim(name, " .")
	if r := []rune(name); len(r) > maxFileNameRunes {
		ext := []rune(path.Ext(name))
		if len(ext) > 20 {
			ext = nil
		}
		name = strings.TrimRight(string(r[:maxFileNameRunes-len(ext)]), " .") + string(ext)
	}
	if name == "" {
		return "attachment"
	}
	return name
}
