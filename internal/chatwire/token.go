package chatwire

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// Token is a JSON string token as a chunk carries it, quotes included,
// aliasing the chunk's bytes: it is only valid while the chunk is. The
// stream translators copy text through as a Token instead of decoding it
// into a string and encoding it again: a token already written the way
// jsonenc.AppendString writes its text (the common case) is copied as it
// is, so a text delta costs no allocation and one scan.
type Token []byte

// Empty reports whether t is absent or the empty string.
func (t Token) Empty() bool { return len(t) <= 2 }

// AppendJSON appends t as jsonenc.AppendString would write its decoded
// text.
func (t Token) AppendJSON(b []byte) []byte {
	b = append(b, '"')
	b = t.AppendEscaped(b)
	return append(b, '"')
}

// AppendEscaped appends what AppendJSON writes between the quotes. The
// escaped forms of two texts, one after the other, are the escaped form of
// the texts joined, so a translator can accumulate a streamed text this
// way and write it whole later without encoding it again.
func (t Token) AppendEscaped(b []byte) []byte {
	if len(t) < 2 {
		return b
	}
	inner := t[1 : len(t)-1]
	if t.canonical() {
		return append(b, inner...)
	}
	s, _ := Unquote(t)
	n := len(b)
	b = jsonenc.AppendString(b, s)
	copy(b[n:], b[n+1:len(b)-1]) // drop the quotes
	return b[:len(b)-2]
}

// Escaped is what AppendEscaped would append to nothing: the bytes
// between t's quotes, aliasing t, when they are written that way already
// (the common case), else a new buffer.
func (t Token) Escaped() []byte {
	if len(t) >= 2 && t.canonical() {
		return t[1 : len(t)-1]
	}
	return t.AppendEscaped(nil)
}

// AppendText appends t's decoded text.
func (t Token) AppendText(b []byte) []byte {
	if len(t) < 2 {
		return b
	}
	inner := t[1 : len(t)-1]
	if !t.canonical() {
		s, _ := Unquote(t)
		return append(b, s...)
	}
	for {
		i := bytes.IndexByte(inner, '\\')
		if i < 0 {
			return append(b, inner...)
		}
		b = append(b, inner[:i]...)
		b, inner = appendUnescaped(b, inner[i:])
	}
}

// appendUnescaped decodes the escape at the start of s, one that canonical
// accepts, and returns the rest of s.
func appendUnescaped(b, s []byte) ([]byte, []byte) {
	switch s[1] {
	case 'n':
		return append(b, '\n'), s[2:]
	case 'r':
		return append(b, '\r'), s[2:]
	case 't':
		return append(b, '\t'), s[2:]
	case 'u':
		r, _ := strconv.ParseUint(string(s[2:6]), 16, 32)
		return utf8.AppendRune(b, rune(r)), s[6:]
	}
	return append(b, s[1]), s[2:] // \" or \\
}

// Text is t's decoded text: the bytes between its quotes when it has no
// escape, else the text decoded into scratch, which is returned grown.
func (t Token) Text(scratch []byte) (text, grown []byte) {
	if len(t) < 2 {
		return nil, scratch
	}
	inner := t[1 : len(t)-1]
	if t.canonical() && noBackslash(inner) {
		return inner, scratch
	}
	scratch = t.AppendText(scratch[:0])
	return scratch, scratch
}

// String is t's decoded text.
func (t Token) String() string {
	s, _ := Unquote(t)
	return s
}

func noBackslash(b []byte) bool { return bytes.IndexByte(b, '\\') < 0 }

// canonical reports whether the body of a JSON string is exactly what
// jsonenc.AppendString writes for its decoded text: valid UTF-8 without a
// raw U+2028 or U+2029, no control character, and only the escapes
// AppendString uses (\" \\ \n \r \t, \u00xx for other control characters,
// \u2028 and \u2029).
func canonical(s []byte) bool { return canonicalFrom(s, 0) }

// canonical is canonical for t's body (t is at least its two quotes),
// tested in t, where the closing quote ends the first run: a body of
// plain ASCII is then one test of eight bytes at a time, even when it is
// shorter than eight.
func (t Token) canonical() bool {
	i := jsonenc.ASCIIRun([]byte(t), 1)
	if i == len(t)-1 {
		return true
	}
	return canonicalFrom(t[1:len(t)-1], i-1)
}

// canonicalFrom is canonical for s, whose bytes before s[i] are plain
// ASCII.
func canonicalFrom(s []byte, i int) bool {
	for i < len(s) {
		if i = jsonenc.ASCIIRun(s, i); i >= len(s) {
			return true
		}
		c := s[i]
		switch {
		case c == '\\':
			n := escapeLen(s[i:])
			if n == 0 {
				return false
			}
			i += n
		case c < 0x20 || c == '"':
			return false
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
				return false
			}
			i += size
		}
	}
	return true
}

// escapeLen is the length of the escape at the start of s when it is one
// jsonenc.AppendString writes, else 0.
func escapeLen(s []byte) int {
	if len(s) < 2 {
		return 0
	}
	switch s[1] {
	case '"', '\\', 'n', 'r', 't':
		return 2
	case 'u':
		if len(s) < 6 {
			return 0
		}
		u := string(s[2:6])
		if u == "2028" || u == "2029" {
			return 6
		}
		if u[0] != '0' || u[1] != '0' || u[2] != '0' && u[2] != '1' || !isLowerHex(u[3]) {
			return 0
		}
		switch u[2:] {
		case "0a", "0d", "09":
			return 0 // AppendString writes these as \n, \r, \t
		}
		return 6
	}
	return 0
}

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }
