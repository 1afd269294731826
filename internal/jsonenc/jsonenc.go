// Package jsonenc appends JSON values to byte slices without reflection,
// for the fixed shapes written on hot paths (the simulator's answers, audit
// records), and validates JSON in one pass (Valid). It is a leaf: standard
// library only.
package jsonenc

import (
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string, escaping like encoding/json
// (without HTML escaping, and \b and \f as \u0008 and \u000c) and
// replacing invalid UTF-8 with U+FFFD.
func AppendString(b []byte, s string) []byte { return appendString(b, s, false) }

// AppendKey appends `,"key":`, the start of an object's next member; key
// is a fixed name that needs no escaping. An object's first key is
// written by hand.
func AppendKey(b []byte, key string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// AppendMarshalString appends s exactly as json.Marshal writes it: HTML
// characters (<, >, &) escaped, \b and \f as such.
func AppendMarshalString(b []byte, s string) []byte { return appendString(b, s, true) }

func appendString(b []byte, s string, marshal bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if i = asciiRun(s, i, marshal); i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!marshal || c != '<' && c != '>' && c != '&') {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case marshal && c == '\b':
				b = append(b, '\\', 'b')
			case marshal && c == '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendInt appends n in decimal, as strconv.AppendInt(b, n, 10) does,
// with the one- and two-digit numbers of most JSON (an index, a sequence
// number) appended inline: strconv copies them from a table with a call.
func AppendInt(b []byte, n int64) []byte {
	switch {
	case uint64(n) < 10:
		return append(b, byte('0'+n))
	case uint64(n) < 100:
		return append(b, byte('0'+n/10), byte('0'+n%10))
	}
	return strconv.AppendInt(b, n, 10)
}
