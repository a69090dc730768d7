package api

import (
	"strings"
	"unicode/utf8"
)

// contentDisposition builds an RFC 6266 "attachment" header for name: a plain ASCII
// filename for old clients (non-ASCII and quoting characters replaced) and an RFC 8187
// filename* with the exact UTF-8 name for every current browser. Nothing of the name
// can break out of the header: CR, LF and quotes never appear unescaped.
func contentDisposition(name string) string {
	var ascii, ext strings.Builder
	for _, r := range strings.ToValidUTF8(name, "_") {
		switch {
		case r < 0x20 || r == 0x7f || r >= utf8.RuneSelf || r == '"' || r == '\\' || r == '%' || r == ';':
			ascii.WriteByte('_')
		default:
			ascii.WriteRune(r)
		}
	}
	for _, b := range []byte(strings.ToValidUTF8(name, "_")) {
		if isAttrChar(b) {
			ext.WriteByte(b)
		} else {
			ext.WriteString("%" + strings.ToUpper(hex2(b)))
		}
	}
	return `attachment; filename="` + ascii.String() + `"; filename*=UTF-8''` + ext.String()
}

// isAttrChar is RFC 8187's attr-char: what may appear unencoded in filename*.
func isAttrChar(b byte) bool {
	switch {
	case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", b) >= 0
}

func hex2(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&0xf]})
}
