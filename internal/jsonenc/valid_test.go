package jsonenc

import (
	"encoding/json"
	"strings"
	"testing"
)

// validCases are edge cases of the grammar, valid and not.
var validCases = []string{
	``, ` `, `{}`, `[]`, ` {} `, `{"a":1}`, `{"a":1,}`, `{,}`, `{"a"}`, `{"a":}`, `{"a" : [ 1 , 2 ] }`, `[1,]`, `[,1]`,
	`"x"`, `"\u00e9\n\"\\\/\b\f\r\t"`, `"\u00g0"`, `"\u00e"`, `"\x"`, "\"a\x01\"", "\"a\x7f\xff\"", `"abc`, `"\`,
	`0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`, `1e5`, `1E+5`, `1e-05`, `1e`, `1e+`, `-1.5e3`, `2.0e`, `12a`,
	`true`, `tru`, `false`, `null`, `nul`, `nulll`, `[true,false,null]`, `{"a":{"b":[{"c":null}]}}`, `{"a":1}}`, `[[]`, `}`,
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001), strings.Repeat("[", 9999) + strings.Repeat("]", 9999),
	"{\"a\":1}\n", "\t[1]\r\n", `{"a":1} {}`, `[1 2]`,
}

// Valid agrees with encoding/json on the edge cases and every prefix of
// each (chatwire's TestValidFixtures checks the chat fixtures).
func TestValidMatchesEncodingJSON(t *testing.T) {
	var cases []string
	for _, c := range validCases {
		cases = append(cases, c)
		for i := range min(len(c), 100) {
			cases = append(cases, c[:i])
		}
	}
	for _, c := range cases {
		if got, want := Valid([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("Valid(%.80q) = %v, encoding/json says %v", c, got, want)
		}
	}
}

// A string's bytes are tested eight at a time: every byte that matters
// (and its neighbours in value, which a word-wise test could confuse with
// it), at every place in a word, after a zero byte-wise, and before the
// end of the input.
func TestValidStringWords(t *testing.T) {
	for _, c := range []byte{'"', '\\', 0x00, 0x01, 0x1f, 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff} {
		for pre := range 18 {
			for _, post := range []string{"", "a", "abcdefgh", `\n`, `"`, "\x00xxxxxxxx"} {
				s := `"` + strings.Repeat("a", pre) + string([]byte{c}) + post + `"`
				for _, doc := range []string{s, s[:len(s)-1], `[` + s + `,1]`, `{"k":` + s + `}`} {
					if got, want := Valid([]byte(doc)), json.Valid([]byte(doc)); got != want {
						t.Errorf("Valid(%q) = %v, encoding/json says %v", doc, got, want)
					}
				}
			}
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, c := range validCases[:len(validCases)-6] {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Errorf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

func BenchmarkValid(b *testing.B) {
	chunk := []byte(`{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"deepseek-chat","choices":[{"index":0,"delta":{"content":"The weather "},"logprobs":null,"finish_reason":null}]}`)
	b.Run("jsonenc", func(b *testing.B) {
		b.SetBytes(int64(len(chunk)))
		for b.Loop() {
			Valid(chunk)
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(chunk)))
		for b.Loop() {
			json.Valid(chunk)
		}
	})
}

// A template matches a document that is its bytes around one complete
// valid string, and nothing else.
func TestTemplateMatch(t *testing.T) {
	doc := []byte(`{"a":[{"t":"xy"}],"b":1}`)
	var tp Template
	if _, ok := tp.Match(doc); ok {
		t.Fatal("an empty template matched")
	}
	tp.Set(doc, 11, 15) // "xy"
	for in, want := range map[string]string{
		`{"a":[{"t":"xy"}],"b":1}`:           `"xy"`,
		`{"a":[{"t":""}],"b":1}`:             `""`,
		`{"a":[{"t":"\u00e9\n"}],"b":1}`:     `"\u00e9\n"`,
		`{"a":[{"t":"x","t":"y"}],"b":1}`:    "",
		`{"a":[{"t":"x\q"}],"b":1}`:          "",
		`{"a":[{"t":null}],"b":1}`:           "",
		`{"a":[{"t":"x" }],"b":1}`:           "",
		`{"a":[{"t":"x"}],"b":2}`:            "",
		"{\"a\":[{\"t\":\"\x01\"}],\"b\":1}": "",
	} {
		got, ok := tp.Match([]byte(in))
		if string(got) != want || ok != (want != "") {
			t.Errorf("Match(%s) = %s, %v; want %s", in, got, ok, want)
		}
	}
	if got := tp.Append([]byte("<"), []byte(`"y"`)); string(got) != "<"+strings.Replace(string(doc), `"xy"`, `"y"`, 1) {
		t.Errorf("Append: %s", got)
	}
	tp.Clear()
	if _, ok := tp.Match(doc); ok {
		t.Error("a cleared template matched")
	}
}

// A CutTemplate matches documents without the cut bytes; the first
// document that only the whole template matches makes the whole one the
// template, after which documents without the cut no longer match; Set
// and Clear drop the whole one.
func TestCutTemplate(t *testing.T) {
	const doc = `{"d":{"role":"a","content":"x"}}`
	cut0, cut1 := strings.Index(doc, `"role"`), strings.Index(doc, `"content"`)
	at := strings.Index(doc, `"x"`)
	var tt CutTemplate
	tt.SetCut([]byte(doc), cut0, cut1, at, at+3)
	if s, ok := tt.Match([]byte(`{"d":{"content":"y"}}`)); !ok || string(s) != `"y"` || !tt.Cut() {
		t.Fatalf("without the cut bytes: %q, %v, cut %v", s, ok, tt.Cut())
	}
	if s, ok := tt.Match([]byte(`{"d":{"role":"a","content":"z"}}`)); !ok || string(s) != `"z"` || tt.Cut() {
		t.Fatalf("whole: %q, %v, cut %v", s, ok, tt.Cut())
	}
	if _, ok := tt.Match([]byte(`{"d":{"content":"y"}}`)); ok {
		t.Error("after the whole one matched, a document without the cut bytes still matches")
	}
	if s, ok := tt.Match([]byte(`{"d":{"role":"a","content":"w"}}`)); !ok || string(s) != `"w"` {
		t.Fatalf("whole again: %q, %v", s, ok)
	}
	tt.SetCut([]byte(doc), cut0, cut1, at, at+3)
	plain := `{"d":{"content":"x"}}`
	tt.Set([]byte(plain), strings.Index(plain, `"x"`), strings.Index(plain, `"x"`)+3)
	if _, ok := tt.Match([]byte(`{"d":{"role":"a","content":"z"}}`)); ok {
		t.Error("Set kept the whole template of an earlier SetCut")
	}
	tt.SetCut([]byte(doc), cut0, cut1, at, at+3)
	tt.Clear()
	if _, ok := tt.Match([]byte(`{"d":{"role":"a","content":"z"}}`)); ok {
		t.Error("Clear kept the whole template")
	}
}
