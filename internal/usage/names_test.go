package usage

import "testing"

// clean's byte-by-byte pass over ASCII answers as the rune-by-rune check
// does, for every byte and around the multi-byte cases.
func TestCleanASCIIFastPath(t *testing.T) {
	var cases []string
	for b := range 256 {
		cases = append(cases, string([]byte{byte(b)}), "key_"+string([]byte{byte(b)})+"z")
	}
	cases = append(cases, "", "deepseek-chat", "é", "key_é", "\u0085", "a\u0085", "\u2028", "\xff", "a\xc3", "日本語", "a\x7f")
	for _, s := range cases {
		if got, want := clean(s), cleanRunes(s); got != want {
			t.Errorf("clean(%q) = %v, the rune check says %v", s, got, want)
		}
	}
}
