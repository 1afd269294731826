package jsonenc

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// Hostile trial of ASCIIRun and of appendString's use of it: against a
// byte-wise loop, against appendString as it was before ASCIIRun (kept
// here), and against encoding/json decoding what AppendString writes.

// appendStringOldHostile2 is appendString's non-marshal path before
// ASCIIRun (commit 01c84b1), a byte at a time.
func appendStringOldHostile2(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
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

// asciiRunByteHostile2 is ASCIIRun's contract a byte at a time, written
// from its doc comment (not from asciiRunSlow): the first byte at or after
// s[i] that is a quote, a backslash, below 0x20 or 0x80 and above.
func asciiRunByteHostile2[S string | []byte](s S, i int) int {
	for ; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
			return i
		}
	}
	return max(i, len(s))
}

// replaceInvalidHostile2 is s with each byte of an invalid UTF-8 sequence
// as U+FFFD, as AppendString writes it (one U+FFFD a byte, not a run).
func replaceInvalidHostile2(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// The bytes the hostile strings are made of: every class ASCIIRun and
// appendString tell apart, and pieces of multi-byte characters.
var pieces2 = []string{
	"a", "Z", "0", " ", "~", "\x7f", "\"", "\\", "/", "<", "&", "\x00", "\x01", "\x08", "\x0c", "\n", "\r", "\t", "\x1f",
	"\x20", "\x21", "\x5b", "\x5d", "\x22\x22", "\x5c\x5c",
	"\x80", "\xbf", "\xc0", "\xc1", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\xaa", "\xe2\x80",
	"\xed\xa0\x80", "\xef\xbf\xbd", "\xef\xbb\xbf", "\xf0\x9f\x98\x80", "\xf0\x9f\x98", "\xf4\x90\x80\x80", "\xf5", "\xfe", "\xff",
	"é", "日本", "\u2028", "\u2029", "\ufffd", "aaaaaaaa", "abcdefghijklmnop",
}

func randomHostile2(r *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		if r.IntN(3) == 0 {
			b.WriteByte(byte(r.IntN(256)))
		} else {
			b.WriteString(pieces2[r.IntN(len(pieces2))])
		}
	}
	return b.String()
}

// checkAppendStringHostile2 compares AppendString(s) with the byte-wise
// encoder it replaced and with encoding/json's reading of it.
func checkAppendStringHostile2(t *testing.T, s string) {
	t.Helper()
	got := AppendString([]byte("pre"), s)
	want := appendStringOldHostile2([]byte("pre"), s)
	if string(got) != string(want) {
		t.Fatalf("AppendString(%q) = %s, byte-wise encoder %s", s, got[3:], want[3:])
	}
	if !Valid(got[3:]) || !json.Valid(got[3:]) {
		t.Fatalf("AppendString(%q) = %s: not valid JSON", s, got[3:])
	}
	var dec string
	if err := json.Unmarshal(got[3:], &dec); err != nil {
		t.Fatalf("AppendString(%q) = %s: %v", s, got[3:], err)
	}
	if w := replaceInvalidHostile2(s); dec != w {
		t.Fatalf("AppendString(%q) = %s decodes to %q, want %q", s, got[3:], dec, w)
	}
	// For valid UTF-8, what it writes is what it writes again for the
	// decoded text (an invalid byte is written \ufffd, a U+FFFD as it is),
	// and what encoding/json writes but for its own choices (HTML
	// escapes, \b and \f).
	if again := AppendString(nil, dec); utf8.ValidString(s) && string(again) != string(got[3:]) {
		t.Fatalf("AppendString(%q) = %s, of its decoding %s", s, got[3:], again)
	}
	if utf8.ValidString(s) {
		m, _ := json.Marshal(s)
		norm := normalizeMarshalHostile2(m)
		if norm != string(got[3:]) {
			t.Fatalf("AppendString(%q) = %s, json.Marshal (normalized) %s", s, got[3:], norm)
		}
	}
	if m := AppendMarshalString(nil, s); utf8.ValidString(s) {
		if w, _ := json.Marshal(s); string(m) != string(w) {
			t.Fatalf("AppendMarshalString(%q) = %s, json.Marshal %s", s, m, w)
		}
	}
}

// Random strings made of the special classes, at every offset into a
// larger buffer (so every alignment of the eight-byte words), and every
// start of ASCIIRun.
func TestAppendStringRandomHostile2(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2028))
	for range 1200 {
		whole := randomHostile2(r, r.IntN(48))
		for off := 0; off <= min(len(whole), 17); off++ {
			s := whole[off:]
			checkAppendStringHostile2(t, s)
			for i := 0; i <= len(s)+1; i++ {
				if got, want := ASCIIRun(s, i), asciiRunByteHostile2(s, i); got != want {
					t.Fatalf("ASCIIRun(%q, %d) = %d, want %d", s, i, got, want)
				}
				if got, want := ASCIIRun([]byte(s), i), asciiRunByteHostile2([]byte(s), i); got != want {
					t.Fatalf("ASCIIRun([]byte(%q), %d) = %d, want %d", s, i, got, want)
				}
			}
		}
	}
}

// Two special bytes in one eight-byte word, every pair of values at every
// pair of places: a borrow out of the lower must never hide it or show a
// spurious byte below it (the SWAR test reports the lowest set bit).
func TestASCIIRunPairsHostile2(t *testing.T) {
	w := []byte("aaaaaaaaaaaaaaaa")
	for p := range 8 {
		for q := p + 1; q < 9; q++ {
			for v := range 256 {
				// Past a special lower byte, which must be the answer, a
				// few higher values do; past a plain one, every value.
				us := allBytesHostile2
				if asciiRunByteHostile2([]byte{byte(v)}, 0) == 0 {
					us = someBytesHostile2
				}
				for _, u := range us {
					w[p], w[q] = byte(v), u
					for _, i := range []int{0, p, q} {
						if got, want := ASCIIRun(w, i), asciiRunByteHostile2(w, i); got != want {
							t.Fatalf("ASCIIRun(%q, %d) = %d, want %d", w, i, got, want)
						}
					}
				}
			}
			w[p], w[q] = 'a', 'a'
		}
	}
}

var (
	allBytesHostile2 = func() (b []byte) {
		for v := range 256 {
			b = append(b, byte(v))
		}
		return b
	}()
	someBytesHostile2 = []byte{0x00, 0x01, 0x1f, 0x20, 0x21, '"', '\\', 'a', 0x7e, 0x7f, 0x80, 0x81, 0xbf, 0xc0, 0xdf, 0xe0, 0xef, 0xf0, 0xfe, 0xff}
)

// Strings that are runs of one byte value for each value, of each length
// to 24: a word of all-special or all-plain bytes, and a special after
// exactly 8 or 16 plain bytes.
func TestAppendStringRunsHostile2(t *testing.T) {
	for v := range 256 {
		for n := 0; n <= 24; n++ {
			s := strings.Repeat(string([]byte{byte(v)}), n)
			checkAppendStringHostile2(t, s)
			checkAppendStringHostile2(t, strings.Repeat("x", n)+string([]byte{byte(v)})+strings.Repeat("y", 24-n))
			if got, want := ASCIIRun(s, 0), asciiRunByteHostile2(s, 0); got != want {
				t.Fatalf("ASCIIRun(%q, 0) = %d, want %d", s, got, want)
			}
		}
	}
}

func FuzzASCIIRunHostile2(f *testing.F) {
	f.Add("aaaaaaaa\"aaaaaaa", 0)
	f.Add("\x1f\x20\x7f\x80\xff", 1)
	f.Add("abcdefgh\x00", 3)
	f.Add("\u2028aaaaaaaaaaaaaaaa", 2)
	f.Fuzz(func(t *testing.T, s string, i int) {
		if i < 0 || i > len(s)+8 {
			i = int(uint(i) % uint(len(s)+9))
		}
		if got, want := ASCIIRun(s, i), asciiRunByteHostile2(s, i); got != want {
			t.Fatalf("ASCIIRun(%q, %d) = %d, want %d", s, i, got, want)
		}
		if got, want := ASCIIRun([]byte(s), i), asciiRunByteHostile2([]byte(s), i); got != want {
			t.Fatalf("ASCIIRun([]byte(%q), %d) = %d, want %d", s, i, got, want)
		}
	})
}

func FuzzAppendStringHostile2(f *testing.F) {
	for _, p := range pieces2 {
		f.Add(p + "aaaaaaaaa" + p)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkAppendStringHostile2(t, s)
	})
}

// normalizeMarshalHostile2 rewrites json.Marshal's output of a string in
// AppendString's choices: <, > and & as they are, \b and \f as \u0008
// and \u000c. It walks the escapes (a replacer would read the "\b" of
// an escaped backslash followed by b as one).
func normalizeMarshalHostile2(m []byte) string {
	var b strings.Builder
	for i := 0; i < len(m); i++ {
		if m[i] != '\\' {
			b.WriteByte(m[i])
			continue
		}
		switch m[i+1] {
		case 'u':
			switch e := string(m[i : i+6]); e {
			case `\u003c`:
				b.WriteByte('<')
			case `\u003e`:
				b.WriteByte('>')
			case `\u0026`:
				b.WriteByte('&')
			default:
				b.WriteString(e)
			}
			i += 5
		case 'b':
			b.WriteString(`\u0008`)
			i++
		case 'f':
			b.WriteString(`\u000c`)
			i++
		default:
			b.Write(m[i : i+2])
			i++
		}
	}
	return b.String()
}
