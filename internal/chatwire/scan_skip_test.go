package chatwire

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSkipString: skipString finds the end of every string, whatever its
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
					if got := skipString(b, 0); got != len(str) {
						t.Fatalf("skipString(%s) = %d, want %d", b, got, len(str))
					}
				}
			}
		}
	}
}
