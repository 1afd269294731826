package usage

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxName bounds the principal, model and currency a record stores.
const maxName = 256

// storable returns s as the store can hold it: valid UTF-8 without control
// characters (PostgreSQL refuses NUL and invalid bytes in text), at most
// maxName bytes. Names that already are return as they are, with no
// allocation; others have each bad byte or control character replaced by
// U+FFFD.
func storable(s string) string {
	if len(s) <= maxName && clean(s) {
		return s
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return clip(s)
}

func clean(s string) bool {
	for i := 0; i < len(s); i++ { // ASCII, the usual name, byte by byte
		if c := s[i]; c >= utf8.RuneSelf {
			return cleanRunes(s[i:])
		} else if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// cleanRunes is clean rune by rune: no control character (C0, DEL, C1),
// no invalid UTF-8.
func cleanRunes(s string) bool {
	for i, r := range s {
		if unicode.IsControl(r) {
			return false
		}
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n <= 1 {
				return false
			}
		}
	}
	return true
}

// clip returns at most maxName bytes of s, cut at a rune boundary.
func clip(s string) string {
	if len(s) <= maxName {
		return s
	}
	n := maxName
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
