package chatwire

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

var tokenCases = []string{
	`""`, `"plain"`, `"line\nbreak \"quoted\" back\\slash\ttab\r"`, `"\u0001\u001f ctl"`,
	`"\u000A upper-case short form"`, `"\u000a lower short form"`, `"\b\f"`, `"\/slash"`,
	`"caf\u00e9"`, `"café 21°C 日本"`, `"\ud83d\ude00 surrogates"`, `"😀"`, `"\u2028\u2029"`,
	"\"raw \u2028 separator\"", "\"bad \xff utf8\"", "\"cut \xe6\x97\"", `"\u00E9 upper hex"`,
	`"\u0000"`, `"\u007f"`, `"\"\\"`,
}

// A token is written exactly as jsonenc.AppendString writes its decoded
// text, whether it is copied or re-encoded.
func TestTokenMatchesReencoding(t *testing.T) {
	for _, tc := range tokenCases {
		checkToken(t, []byte(tc))
		// At each place of the eight-byte words the scans test at once.
		for pad := range 9 {
			checkToken(t, []byte(`"`+strings.Repeat("a", pad)+tc[1:len(tc)-1]+strings.Repeat("b", 9)+`"`))
		}
	}
}

func checkToken(t *testing.T, tok []byte) {
	t.Helper()
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return
	}
	want := string(jsonenc.AppendString(nil, s))
	if got := string(Token(tok).AppendJSON([]byte("x"))[1:]); got != want {
		t.Errorf("AppendJSON(%s) = %s, want %s", tok, got, want)
	}
	if got := string(Token(tok).AppendText(nil)); got != s {
		t.Errorf("AppendText(%s) = %q, want %q", tok, got, s)
	}
	if got, _ := Token(tok).Text(nil); string(got) != s {
		t.Errorf("Text(%s) = %q, want %q", tok, got, s)
	}
	if got := Token(tok).String(); got != s {
		t.Errorf("String(%s) = %q, want %q", tok, got, s)
	}
}

func FuzzToken(f *testing.F) {
	for _, tc := range tokenCases {
		f.Add(tc)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := Trim([]byte(s))
		if !jsonenc.Valid(b) || b[0] != '"' {
			return
		}
		checkToken(t, b)
	})
}
