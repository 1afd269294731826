package jsonenc

import (
	"encoding/json"
	"math"
	"strconv"
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

// plainRunSlow is plainRun a byte at a time.
func plainRunSlow(b []byte, i int) int {
	for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
		i++
	}
	return i
}

// The last bytes of an input, fewer than eight, are tested as one word
// too (the input's last eight bytes, shifted): two bytes of any
// interesting values at any two places among them, from every start, for
// inputs of 8 to 16 bytes, find what a byte-wise loop finds. The bytes
// before the start never count, whatever they are.
func TestRunsInTheLastWord(t *testing.T) {
	vals := []byte{0x00, 0x01, 0x1f, 0x20, 0x21, '"', '\\', 'a', 0x7e, 0x7f, 0x80, 0x81, 0xbf, 0xc0, 0xff, '<', '>', '&', '%', '=', '?'}
	for n := 8; n <= 16; n++ {
		b := []byte(strings.Repeat("\x00", n)) // specials before any start
		for i := n - 7; i <= n; i++ {
			for p := i; p < n; p++ {
				for q := p; q < n; q++ {
					for _, u := range vals {
						for _, v := range vals {
							for k := i; k < n; k++ {
								b[k] = 'a'
							}
							b[p], b[q] = u, v
							if got, want := plainRun(b, i), plainRunSlow(b, i); got != want {
								t.Fatalf("plainRun(%q, %d) = %d, want %d", b, i, got, want)
							}
							if got, want := ASCIIRun(b, i), asciiRunSlow(string(b), i); got != want {
								t.Fatalf("ASCIIRun(%q, %d) = %d, want %d", b, i, got, want)
							}
							if got, want := ASCIIRun(string(b), i), asciiRunSlow(string(b), i); got != want {
								t.Fatalf("ASCIIRun(string %q, %d) = %d, want %d", b, i, got, want)
							}
							if got, want := asciiRun(b, i, true), htmlRunSlow(b, i); got != want {
								t.Fatalf("asciiRun(%q, %d, html) = %d, want %d", b, i, got, want)
							}
						}
					}
				}
			}
		}
	}
}

// AppendInt writes what strconv writes, around its inline cases and at
// the ends of int64.
func TestAppendInt(t *testing.T) {
	check := func(n int64) {
		if got, want := string(AppendInt([]byte("x"), n)), "x"+strconv.FormatInt(n, 10); got != want {
			t.Fatalf("AppendInt(%d) = %q, want %q", n, got, want)
		}
	}
	for n := int64(-1000); n <= 1000; n++ {
		check(n)
	}
	for _, n := range []int64{math.MaxInt64, math.MinInt64, math.MinInt64 + 1, 1 << 32, -1 << 32} {
		check(n)
	}
}

// htmlRunSlow is asciiRun with html a byte at a time.
func htmlRunSlow(b []byte, i int) int {
	for i < len(b) && b[i] >= 0x20 && b[i] < utf8.RuneSelf && !strings.ContainsRune("\"\\<>&", rune(b[i])) {
		i++
	}
	return i
}

// With html, every byte value at every place of a word, before and after
// another special byte, stops the run where a byte-wise loop stops.
func TestHTMLRun(t *testing.T) {
	for n := 0; n <= 20; n++ {
		for at := 0; at < n; at++ {
			for v := range 256 {
				for _, after := range []byte{'a', '<', 0x80, '&'} {
					b := []byte(strings.Repeat("a", n))
					b[at] = byte(v)
					if at+1 < n {
						b[at+1] = after
					}
					for i := 0; i <= n; i++ {
						if got, want := asciiRun(b, i, true), htmlRunSlow(b, i); got != want {
							t.Fatalf("asciiRun(%q, %d, html) = %d, want %d", b, i, got, want)
						}
					}
				}
			}
		}
	}
}
