package openai

import (
	"encoding/json"
	"testing"
)

func TestSetField(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, body, key, value, want string }{
		{"replace", `{"model":"a","x":1}`, "model", `"b"`, `{"model":"b","x":1}`},
		{"replace spaced", `{ "x" : {"model":"keep"} , "model" : "a" }`, "model", `"b"`, `{ "x" : {"model":"keep"} , "model" : "b" }`},
		{"insert", `{"x":1}`, "model", `"b"`, `{"model":"b","x":1}`},
		{"insert empty", `{ }`, "model", `"b"`, `{"model":"b" }`},
		{"duplicates all replaced", `{"model":"a","model":"c"}`, "model", `"b"`, `{"model":"b","model":"b"}`},
		{"escaped key", `{"mod\u0065l":"a"}`, "model", `"b"`, `{"mod\u0065l":"b"}`},
		{"nested strings with braces", `{"m":"}{\"","model":"a"}`, "model", `"b"`, `{"m":"}{\"","model":"b"}`},
		{"insert a key JSON escapes", `{"x":1}`, "a\x01\"é", `1`, `{"a\u0001\"é":1,"x":1}`}, // not Go's "a\x01"
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := SetField([]byte(tt.body), tt.key, []byte(tt.value))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	if _, err := SetField([]byte(`{"a":`), "model", []byte(`1`)); err == nil {
		t.Error("malformed body: want error")
	}
}

func TestField(t *testing.T) {
	t.Parallel()
	b := []byte(`{"usage":null,"x":{"usage":1},"usage":{"prompt_tokens":3}}`)
	if got := string(Field(b, "usage")); got != `{"prompt_tokens":3}` {
		t.Errorf("Field = %s (the last duplicate wins, as in encoding/json)", got)
	}
	if Field(b, "nope") != nil {
		t.Error("absent key: want nil")
	}
}

func TestRenameKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"delta", `{"delta":{"reasoning":"x"}}`, `{"delta":{"reasoning_content":"x"}}`},
		{"spaced", `{"reasoning" : "x"}`, `{"reasoning_content" : "x"}`},
		{"value untouched", `{"content":"reasoning"}`, `{"content":"reasoning"}`},
		{"escaped quote inside string", `{"content":"say \"reasoning\": now"}`, `{"content":"say \"reasoning\": now"}`},
		{"none", `{"a":1}`, `{"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := string(RenameKey([]byte(tt.in), "reasoning", "reasoning_content")); got != tt.want {
				t.Errorf("got %s want %s", got, tt.want)
			}
		})
	}
}

func TestReplaceValue(t *testing.T) {
	t.Parallel()
	in := `{"messages":[{"role":"developer","content":"developer"},{"role": "user","content":"\"role\":\"developer\""}]}`
	want := `{"messages":[{"role":"system","content":"developer"},{"role": "user","content":"\"role\":\"developer\""}]}`
	if got := string(ReplaceValue([]byte(in), "role", `"developer"`, `"system"`)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// FuzzSetField checks that the scanner never panics and that on any body
// encoding/json accepts as an object, setting a field yields valid JSON in
// which the field has the new value.
func FuzzSetField(f *testing.F) {
	for _, s := range []string{`{"model":"a"}`, `{}`, `{"a":[1,{"b":"}"}],"model":null}`, `{"m\"odel":1}`, `[`, `{"a":"\\"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := SetField(body, "model", []byte(`"x"`))
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) != nil || obj == nil { // "null" unmarshals into a nil map: not an object
			return
		}
		if err != nil {
			t.Fatalf("valid object rejected: %v", err)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("output invalid: %v\n%s", err, out)
		}
		if string(got["model"]) != `"x"` {
			t.Fatalf("model = %s in %s", got["model"], out)
		}
	})
}

// StringMemberAt runs on every streamed chunk (gateway: the held finish
// chunk, whether a chunk carries text), one search per key whatever the
// spacing around the colon (issue 14).
func TestStringMemberAt(t *testing.T) {
	t.Parallel()
	key := []byte(`"finish_reason"`)
	for chunk, want := range map[string]int{
		`{"finish_reason":"stop"}`:                            17,
		`{"finish_reason" :  "stop"}`:                         20,
		`{"finish_reason":null}`:                              -1,
		`[{"finish_reason":null},{"finish_reason":"length"}]`: 41,
		`{"x":"\"finish_reason\":\"stop\""}`:                  -1,
		`{"finish_reason"`:                                    -1,
	} {
		if got := StringMemberAt([]byte(chunk), key); got != want {
			t.Errorf("StringMemberAt(%s) = %d, want %d", chunk, got, want)
		}
	}
}
