package jsonenc

import (
	"strings"
	"testing"
)

// NestsWithin agrees with the validator at the limit, for values long
// enough to be walked and short ones that are not.
func TestNestsWithin(t *testing.T) {
	t.Parallel()
	nested := func(k int) []byte { return []byte(strings.Repeat("[", k) + strings.Repeat("]", k)) }
	for _, tc := range []struct {
		v     []byte
		depth int
		want  bool
	}{
		{nested(9996), 4, true},
		{nested(9997), 4, false},
		{nested(10000), 0, true},
		{nested(10001), 0, false},
		{[]byte(`{"a":1}`), 9999, true},
		{[]byte(`{"a":1}`), 10000, false}, // one level past the limit: long enough to be walked
		{[]byte(`"` + strings.Repeat("[", 30000) + `"`), 9000, true},
		{nil, 4, true},
	} {
		if got := NestsWithin(tc.v, tc.depth); got != tc.want {
			t.Errorf("NestsWithin(%.20s... (%d bytes), %d) = %v, want %v", tc.v, len(tc.v), tc.depth, got, tc.want)
		}
		if len(tc.v) > 0 {
			doc := append([]byte(strings.Repeat("[", tc.depth)), tc.v...)
			doc = append(doc, strings.Repeat("]", tc.depth)...)
			if Valid(doc) != tc.want {
				t.Errorf("Valid of the value inside %d levels = %v, want %v", tc.depth, !tc.want, tc.want)
			}
		}
	}
}
