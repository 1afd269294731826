package chatwire

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// Hostile trial of canonical's use of jsonenc.ASCIIRun: canonical against
// the byte-wise canonical it replaced (kept here), and every Token method
// against decoding the token with encoding/json and encoding the text
// again with jsonenc.AppendString, for tokens at every alignment.

// canonicalOldHostile2 is canonical before ASCIIRun (commit 01c84b1).
func canonicalOldHostile2(s []byte) bool {
	for i := 0; i < len(s); {
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

// checkTokenHostile2 is checkToken with Escaped and AppendEscaped, and
// canonical against the byte-wise canonical. tok is a token inside a
// larger buffer (its alignment is the caller's).
func checkTokenHostile2(t *testing.T, tok []byte) {
	t.Helper()
	if len(tok) >= 2 {
		inner := tok[1 : len(tok)-1]
		if got, want := canonical(inner), canonicalOldHostile2(inner); got != want {
			t.Fatalf("canonical(%q) = %v, byte-wise %v", inner, got, want)
		}
		if got, want := Token(tok).canonical(), canonicalOldHostile2(inner); got != want {
			t.Fatalf("Token(%q).canonical() = %v, byte-wise %v", tok, got, want)
		}
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return
	}
	want := string(jsonenc.AppendString(nil, s))
	if got := string(Token(tok).AppendJSON([]byte("x"))[1:]); got != want {
		t.Fatalf("AppendJSON(%s) = %s, want %s", tok, got, want)
	}
	wantEsc := want[1 : len(want)-1]
	if got := string(Token(tok).AppendEscaped([]byte("pre"))[3:]); got != wantEsc {
		t.Fatalf("AppendEscaped(%s) = %s, want %s", tok, got, wantEsc)
	}
	if got := string(Token(tok).Escaped()); got != wantEsc {
		t.Fatalf("Escaped(%s) = %s, want %s", tok, got, wantEsc)
	}
	if got := string(Token(tok).AppendText([]byte("pre"))[3:]); got != s {
		t.Fatalf("AppendText(%s) = %q, want %q", tok, got, s)
	}
	if got, _ := Token(tok).Text([]byte("scratch")); string(got) != s {
		t.Fatalf("Text(%s) = %q, want %q", tok, got, s)
	}
	if got := Token(tok).String(); got != s {
		t.Fatalf("String(%s) = %q, want %q", tok, got, s)
	}
	// A canonical token is its own encoding.
	if canonical(tok[1:len(tok)-1]) && string(tok) != want {
		t.Fatalf("canonical token %s, AppendString of its text %s", tok, want)
	}
}

// The pieces token bodies are made of: plain ASCII, every escape JSON
// has (canonical or not), raw specials, and UTF-8 valid or not.
var tokenPiecesHostile2 = []string{
	"a", "abcdefgh", " ", "~", "\x7f", "/", "<&>",
	`\"`, `\\`, `\/`, `\n`, `\r`, `\t`, `\b`, `\f`, `\u0000`, `\u001f`, `\u001F`, `\u000a`, `\u000A`, `\u000d`, `\u0009`, `\u0008`, `\u000c`,
	`\u007f`, `\u0020`, `\u0041`, `\u00e9`, `\u2028`, `\u2029`, `\u202a`, `\u202A`, `\ud83d\ude00`, `\ud800`, `\udc00`, `\uFFFD`, `\ufffd`,
	"\x00", "\x01", "\x1f", "\n", "\"", "\\",
	"é", "日本", "😀", "\u2028", "\u2029", "\ufffd", "\x80", "\xbf", "\xc0\x80", "\xe2\x80", "\xe2\x80\xa8", "\xed\xa0\x80", "\xf0\x9f\x98", "\xf4\x90\x80\x80", "\xff",
}

func TestTokenRandomHostile2(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 2029))
	for range 1000 {
		var b strings.Builder
		for n := r.IntN(12); n > 0; n-- {
			b.WriteString(tokenPiecesHostile2[r.IntN(len(tokenPiecesHostile2))])
		}
		body := b.String()
		// Every alignment of the token in the buffer, and of its body
		// against the eight-byte words (padding before and after).
		for pad := range 9 {
			buf := []byte(strings.Repeat("#", pad) + `"` + strings.Repeat("p", pad) + body + strings.Repeat("q", 8-pad) + `"`)
			checkTokenHostile2(t, buf[pad:])
			buf2 := []byte(strings.Repeat("#", pad) + `"` + body + `"`)
			checkTokenHostile2(t, buf2[pad:])
		}
	}
}

// Each single byte value, raw, at every place of a 17-byte body.
func TestTokenEveryByteHostile2(t *testing.T) {
	for v := range 256 {
		for at := range 17 {
			body := []byte(strings.Repeat("a", 17))
			body[at] = byte(v)
			checkTokenHostile2(t, []byte(`"`+string(body)+`"`))
			if at+1 < 17 {
				body[at+1] = 0x80
				checkTokenHostile2(t, []byte(`"`+string(body)+`"`))
			}
		}
	}
}

func FuzzTokenHostile2(f *testing.F) {
	for _, p := range tokenPiecesHostile2 {
		f.Add(`"abcdefg` + p + `hijklmnop"`)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		if len(b) >= 2 {
			inner := b[1 : len(b)-1]
			if got, want := canonical(inner), canonicalOldHostile2(inner); got != want {
				t.Fatalf("canonical(%q) = %v, byte-wise %v", inner, got, want)
			}
			if got, want := Token(b).canonical(), canonicalOldHostile2(inner); got != want {
				t.Fatalf("Token(%q).canonical() = %v, byte-wise %v", b, got, want)
			}
		}
		b = Trim(b)
		if !jsonenc.Valid(b) || b[0] != '"' {
			return
		}
		checkTokenHostile2(t, b)
	})
}
