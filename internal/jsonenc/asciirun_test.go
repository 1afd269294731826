package jsonenc

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// asciiRunSlow is ASCIIRun a byte at a time.
func asciiRunSlow(s string, i int) int {
	for i < len(s) && s[i] >= 0x20 && s[i] < utf8.RuneSelf && s[i] != '"' && s[i] != '\\' {
		i++
	}
	return i
}

// ASCIIRun finds the byte a byte-wise loop finds: every byte value at
// every place of an eight-byte word, after every start, in strings and
// byte slices.
func TestASCIIRun(t *testing.T) {
	for n := 0; n <= 20; n++ {
		for at := 0; at < n; at++ {
			for v := range 256 {
				b := []byte(strings.Repeat("a", n))
				b[at] = byte(v)
				if at+1 < n {
					b[at+1] = 0x80 // a byte after it never hides it
				}
				for i := 0; i <= n; i++ {
					want := asciiRunSlow(string(b), i)
					if got := ASCIIRun(string(b), i); got != want {
						t.Fatalf("ASCIIRun(%q, %d) = %d, want %d", b, i, got, want)
					}
					if got := ASCIIRun(b, i); got != want {
						t.Fatalf("ASCIIRun([]byte(%q), %d) = %d, want %d", b, i, got, want)
					}
				}
			}
		}
	}
}

// AppendString's output decodes to its input, and is what it was before
// ASCIIRun: a special byte at each place of a word.
func TestAppendStringRoundTrips(t *testing.T) {
	for _, special := range []string{"\"", "\\", "\n", "\x00", "\x1f", "\x7f", "é", "日", "😀", "\u2028", "<&>", "\xff"} {
		for pad := range 17 {
			s := strings.Repeat("x", pad) + special + strings.Repeat("y", 17-pad)
			enc := AppendString(nil, s)
			var got string
			if err := json.Unmarshal(enc, &got); err != nil {
				t.Fatalf("AppendString(%q) = %s: %v", s, enc, err)
			}
			want := strings.ToValidUTF8(s, "\ufffd")
			if got != want {
				t.Errorf("AppendString(%q) = %s, decodes to %q", s, enc, got)
			}
			if m := AppendMarshalString(nil, s); utf8.ValidString(s) {
				if want, _ := json.Marshal(s); string(m) != string(want) {
					t.Errorf("AppendMarshalString(%q) = %s, json.Marshal %s", s, m, want)
				}
			}
		}
	}
}
