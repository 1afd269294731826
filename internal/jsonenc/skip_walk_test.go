package jsonenc

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// oldSkip is the byte-wise string skip SkipString replaced: a
// backslash skips the byte after it, the first other quote ends the string.
func oldSkip(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return len(b), false
}

// refStringEnd is the end of the JSON string at b[0] according to
// encoding/json (a Decoder reading one token), or -1.
func refStringEnd(b []byte) int {
	d := json.NewDecoder(bytes.NewReader(b))
	var s string
	if err := d.Decode(&s); err != nil {
		return -1
	}
	return int(d.InputOffset())
}

func checkSkip(t *testing.T, b []byte, at int) {
	t.Helper()
	end, ok := SkipString(b, at)
	oe, ook := oldSkip(b, at)
	if end != oe || ok != ook {
		t.Fatalf("SkipString(%q, %d) = %d, %v; byte-wise skip = %d, %v", b, at, end, ok, oe, ook)
	}
	if ok && (end <= at || b[end-1] != '"') {
		t.Fatalf("SkipString(%q, %d) = %d: not past a quote", b, at, end)
	}
	if !ok && end != len(b) {
		t.Fatalf("SkipString(%q, %d) = %d, false: want len(b)", b, at, end)
	}
}

// FuzzSkipString: on any bytes SkipString agrees with the
// byte-wise skip it replaced; for a string encoding/json reads (however it
// is followed), it ends where encoding/json's token ends.
func FuzzSkipString(f *testing.F) {
	for _, s := range []string{`"abc"`, `"\\"`, `"\\\""`, `"a\\\\\"b"` + `"`, `"` + strings.Repeat(`\\`, 20) + `"`,
		`"` + strings.Repeat("x", 31) + `\"` + `"`, `"` + strings.Repeat("x", 30) + `\\"`, "\"\x01\"", `"\u00e9\"x"`} {
		f.Add([]byte(s), []byte(`,"k":"v"}`))
	}
	f.Fuzz(func(t *testing.T, s, tail []byte) {
		// Arbitrary bytes, at every quote.
		b := append(append([]byte{}, s...), tail...)
		for i := range b {
			if b[i] == '"' {
				checkSkip(t, b, i)
			}
		}
		// s as a JSON string, as encoding/json writes it, and raw when valid.
		enc, _ := json.Marshal(string(s))
		cands := [][]byte{enc, append(append([]byte{'"'}, s...), '"')}
		for _, str := range cands {
			if !json.Valid(str) {
				continue
			}
			for _, tl := range [][]byte{nil, tail, []byte(`"`), []byte(`\"`), []byte(strings.Repeat(" ", 33) + `"x"`)} {
				doc := append(append([]byte{}, str...), tl...)
				end, ok := SkipString(doc, 0)
				if !ok || end != len(str) {
					t.Fatalf("SkipString(%q) = %d, %v, want %d", doc, end, ok, len(str))
				}
				if r := refStringEnd(doc); r >= 0 && r != len(str) {
					t.Fatalf("encoding/json ends %q at %d, want %d", doc, r, len(str))
				}
				// In an object, after a key, and at an offset.
				obj := append(append([]byte(`{"k":`), str...), '}')
				if e, ok := SkipString(obj, 5); !ok || e != len(obj)-1 {
					t.Fatalf("SkipString(%q, 5) = %d, %v", obj, e, ok)
				}
			}
		}
	})
}

// TestSkipStringBackslashRuns: every run of backslashes before a
// quote, at every offset around the 32-byte window.
func TestSkipStringBackslashRuns(t *testing.T) {
	for pre := 0; pre < 70; pre++ {
		for n := 0; n < 12; n++ {
			for _, post := range []string{"", "y", strings.Repeat("z", 40)} {
				body := strings.Repeat("x", pre) + strings.Repeat(`\`, n) + `"` + post + `"` + ` , "q"`
				b := []byte(`"` + body)
				checkSkip(t, b, 0)
				// With something in front (i > 0).
				b2 := []byte(`{"k\\":` + `"` + body)
				checkSkip(t, b2, 1)
				checkSkip(t, b2, 6)
			}
		}
	}
}

// membersValid is what openai.Parse and the translators check: an
// object walked with Members, each value checked with Value at depth 1,
// and nothing but whitespace after it.
func membersValid(b []byte) bool {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	end, ok := Members(b, i, 1, func(key []byte, at int) (int, bool) {
		return Value(b, at, 1)
	})
	if !ok {
		return false
	}
	for end < len(b) && isSpace(b[end]) {
		end++
	}
	return end == len(b)
}

// FuzzMembersAgreesWithValid: for a body that starts with an
// object, the Members/Value walk accepts exactly what json.Valid accepts.
func FuzzMembersAgreesWithValid(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, ` {"a":[1,{"b":null}],"c":"d"} `, `{"a":01}`, `{"a":1,}`, `{,"a":1}`,
		`{"a" 1}`, `{"a":1 "b":2}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":tru}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `{"a":[1,,2]}`,
		"{\"a\":\"\x01\"}", `{"a":1}x`, `{"a":1}}`, "{\"a\":1}\x00", "{\"a\":1}\f", `{"a":"\\\"}`, `{"a`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tb := bytes.TrimLeft(b, " \t\r\n")
		if len(tb) == 0 || tb[0] != '{' {
			return
		}
		if got, want := membersValid(b), json.Valid(b); got != want {
			t.Fatalf("walk(%q) = %v, json.Valid = %v", b, got, want)
		}
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid = %v", b, got, want)
		}
	})
}

// TestMembersDepth: the walk's nesting limit is encoding/json's,
// for arrays and objects and a mix, at the top-level value and deeper.
func TestMembersDepth(t *testing.T) {
	for _, d := range []int{9997, 9998, 9999, 10000, 10001} {
		for _, kind := range []string{"arr", "obj", "mix"} {
			var open, close strings.Builder
			for k := 0; k < d; k++ {
				switch {
				case kind == "arr" || kind == "mix" && k%2 == 0:
					open.WriteString("[")
					close.WriteString("]")
				default:
					open.WriteString(`{"a":`)
					close.WriteString("}")
				}
			}
			cl := []byte(close.String())
			for l, r := 0, len(cl)-1; l < r; l, r = l+1, r-1 {
				cl[l], cl[r] = cl[r], cl[l]
			}
			inner := open.String() + "1" + string(cl)
			if kind == "arr" {
				inner = open.String() + string(cl)
			}
			b := []byte(`{"x":` + inner + `}`)
			if got, want := membersValid(b), json.Valid(b); got != want {
				t.Errorf("depth %d %s: walk %v, json.Valid %v", d, kind, got, want)
			}
			b = []byte(`{"x":1,"y":` + inner + `}`)
			if got, want := membersValid(b), json.Valid(b); got != want {
				t.Errorf("depth %d %s (second member): walk %v, json.Valid %v", d, kind, got, want)
			}
		}
	}
}
