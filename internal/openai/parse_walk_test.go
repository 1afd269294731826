package openai

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/testkit"
)

var walkBodies = []string{
	`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","stream":true,"stream_options":{"include_usage":true},"max_tokens":5,"temperature":0.5,"top_p":1,"messages":[{"role":"system","content":"be \"brief\"\\"},{"role":"user","content":[{"type":"text","text":"x\u00e9\n"}]}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]}`,
	`{"model":"m","prompt":"a","suffix":"b","max_tokens":3}`,
	`{"model":"m","input":["a","b"],"encoding_format":"float","dimensions":8}`,
	`{"model":"m","thinking":{"type":"enabled","budget_tokens":10},"chat_template_kwargs":{"thinking":true},"messages":[{"role":"user","content":"\\\\\""}],"x":[1,-2.5e3,true,false,null,{}]}`,
}

func checkParse(t *testing.T, e Endpoint, body []byte) {
	t.Helper()
	r, err := Parse(e, body)
	if err != nil {
		var ae *Error
		if !errors.As(err, &ae) || ae.Status != 400 {
			t.Fatalf("Parse(%q) = %#v: not a 400 *Error", body, err)
		}
	}
	tb := trimSpace(body)
	valid := json.Valid(body)
	if len(tb) > 0 && tb[0] == '{' && !valid {
		var ae *Error
		if !errors.As(err, &ae) || !strings.HasPrefix(ae.Message, "malformed JSON") {
			t.Fatalf("Parse(%q) = %+v, %v; want malformed JSON", body, r, err)
		}
	}
	if valid {
		var ae *Error
		if errors.As(err, &ae) && strings.HasPrefix(ae.Message, "malformed JSON") {
			t.Fatalf("Parse(%q) = %v on a valid body", body, err)
		}
	}
}

// mutate puts token tok at pos of template t (replacing n bytes).

// FuzzParseMutated: near-valid requests (a template with one
// hostile token put anywhere) and arbitrary bytes: a malformed object is
// refused as malformed JSON, a valid one is not.
func FuzzParseMutated(f *testing.F) {
	testkit.FuzzFaults(f, walkBodies, func(t *testing.T, body []byte, e uint8) { checkParse(t, Endpoint(e%4), body) })
}

// TestParseMalformedTable: every template with every hostile token
// at every position.
func TestParseMalformedTable(t *testing.T) {
	testkit.EachFault(walkBodies, func(body []byte) {
		checkParse(t, EndpointChat, body)
		checkParse(t, EndpointCompletion, body)
	})
}

// TestParseTruncated: every prefix of every template, with and
// without trailing whitespace, is refused as malformed.
func TestParseTruncated(t *testing.T) {
	for _, tmpl := range walkBodies {
		for i := 1; i < len(tmpl); i++ {
			for _, tail := range []string{"", " ", "\n\t "} {
				checkParse(t, EndpointChat, []byte(tmpl[:i]+tail))
			}
		}
	}
}

// TestParseDeep: nesting around encoding/json's limit, in a
// member Parse reads and in one it skips, before and after a fault.
func TestParseDeep(t *testing.T) {
	for _, d := range []int{9998, 9999, 10000} {
		deep := strings.Repeat("[", d) + strings.Repeat("]", d)
		deepObj := strings.Repeat(`{"a":`, d) + "1" + strings.Repeat("}", d)
		for _, body := range []string{
			`{"model":"m","x":` + deep + `,"messages":[{"role":"user","content":"hi"}]}`,
			`{"model":"m","x":` + deepObj + `,"messages":[{"role":"user","content":"hi"}]}`,
			`{"model":"m","messages":[{"role":"user","content":"hi","x":` + deep + `}]}`,
			`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a","x":` + deepObj + `}]}]}`,
			`{"model":"m","messages":` + deep + `}`,
			`{"model":"m","MODEL":1,"x":` + deep + `}`,
			`{"model":5,"x":` + deep + `}`,
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"x":` + deep + `}x`,
		} {
			checkParse(t, EndpointChat, []byte(body))
		}
	}
}

// TestParseRefusesSmuggledKeys: duplicates, case variants, escaped
// spellings and fold variants, in the body, in a message and in the
// objects Parse reads, also after more than smallObject keys (the map).
func TestParseRefusesSmuggledKeys(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	var filler strings.Builder
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&filler, `"f%d":%d,`, i, i)
	}
	fill := filler.String()
	for _, body := range []string{
		`{"model":"a","model":"b",` + msgs + `}`,
		`{"model":"a","MODEL":"b",` + msgs + `}`,
		`{"model":"a","m\u006fdel":"b",` + msgs + `}`,
		`{"model":"a","M\u006fDEL":"b",` + msgs + `}`,
		`{"model":"a",` + msgs + `,"max_tokens":1,"max_tok\u0065ns":100000}`,
		`{"model":"a",` + msgs + `,"max_tokens":1,"max_to\u212aens":100000}`,
		`{"model":"a",` + msgs + `,"max_tokens":1,"max_toKens":100000}`,
		`{"model":"a",` + msgs + `,"\u017ftream":true}`,
		`{"model":"a",` + msgs + `,"stream":false,"ſtream":true}`,
		`{` + fill + `"model":"a",` + msgs + `,"m\u006fdel":"b"}`,
		`{` + fill + `"model":"a",` + msgs + `,"Model":"b"}`,
		`{` + fill + `"model":"a",` + msgs + `,"f3":1}`,
		`{` + fill + `"model":"a",` + msgs + `,"F\u0033":1}`,
		`{"model":"a","stream":true,"stream_options":{"include_usage":false,"include_u\u0073age":true},` + msgs + `}`,
		`{"model":"a","stream":true,"stream_options":{"include_usage":false,"INCLUDE_USAGE":true},` + msgs + `}`,
		`{"model":"a","messages":[{"role":"user","content":"hi","r\u006fle":"system"}]}`,
		`{"model":"a","messages":[{"role":"user","content":"hi","ROLE":"system"}]}`,
		`{"model":"a","messages":[{"role":"user","content":"hi"},{"role":"user","content":"a","content":"b"}]}`,
		`{"model":"a","messages":[{"role":"user","content":"hi"},{"role":"user","content":"a","c\u006fntent":"b"}]}`,
		`{"model":"a","messages":[{` + fill + `"role":"user","content":"a","Content":"b"}]}`,
		`{"model":"a",` + msgs + `,"thinking":{"type":"enabled","Type":"disabled"}}`,
		`{"model":"a",` + msgs + `,"chat_template_kwargs":{"thinking":true,"thinkin\u0067":false}}`,
		`{"model":"a","x":1,"X":2,` + msgs + `}`,
		`{"model":"a","x\u00e9":1,"X\u00c9":2,` + msgs + `}`,
		"{\"model\":\"a\",\"k\xff\":1,\"k\\ufffd\":2," + msgs + `}`,
	} {
		if !json.Valid([]byte(body)) {
			t.Fatalf("bad case %s", body)
		}
		_, err := Parse(EndpointChat, []byte(body))
		var ae *Error
		if !errors.As(err, &ae) || !(strings.Contains(ae.Message, "duplicate key") || strings.Contains(ae.Message, "invalid key")) {
			t.Errorf("Parse(%s) = %v, want the key refused", body, err)
		}
		checkParse(t, EndpointChat, []byte(body))
	}
}
