package jsonenc

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSkipString: SkipString finds the end of every string, whatever its
// length against the 32 bytes read word by word and wherever its escapes
// fall (an escaped quote or a backslash at the edge of that window, a run
// of backslashes before the closing quote).
func TestSkipString(t *testing.T) {
	pieces := []string{"a", "é", `\"`, `\\`, `\n`, `\u00e9`, `"`}
	for n := 0; n < 48; n++ {
		for _, p := range pieces {
			for _, at := range []int{0, n / 2, n} {
				s := strings.Repeat("x", at) + p + strings.Repeat("y", n-at)
				if p == `"` {
					s = strings.Repeat("x", at) + `\"` + strings.Repeat("y", n-at)
				}
				str := `"` + s + `"`
				if !json.Valid([]byte(str)) {
					t.Fatalf("bad case %s", str)
				}
				for _, tail := range []string{"", `,"k":"v"}`, strings.Repeat(" ", 40) + `"after"`} {
					b := []byte(str + tail)
					if got, ok := SkipString(b, 0); got != len(str) || !ok {
						t.Fatalf("SkipString(%s) = %d, %v, want %d", b, got, ok, len(str))
					}
				}
			}
		}
	}
}

// TestSkipStringUnterminated: a string no quote closes is not ok, its end
// len(b), however its backslashes fall.
func TestSkipStringUnterminated(t *testing.T) {
	for _, s := range []string{`"`, `"abc`, `"abc\"`, `"abc\\\"`, `"` + strings.Repeat("x", 40) + `\"`, `"` + strings.Repeat("x", 40)} {
		if end, ok := SkipString([]byte(s), 0); ok || end != len(s) {
			t.Errorf("SkipString(%s) = %d, %v, want %d, false", s, end, ok, len(s))
		}
	}
}
