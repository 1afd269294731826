package openai

import (
	"strings"
	"testing"
)

// A model name is at most MaxModelLen bytes of valid UTF-8 without control
// characters; the refusal names model and does not echo a long value.
func TestParseRefusesUnsafeModelNames(t *testing.T) {
	long := strings.Repeat("m", 100_000)
	for _, model := range []string{
		`"` + long + `"`,
		`"` + strings.Repeat("m", MaxModelLen+1) + `"`,
		"\"zz\xfe\xffzz\"",
		`"deepseek-chat\u0000"`,
		`"a\tb"`,
		`"a\u001bb"`,
		`"a\u007fb"`,
		`"a\u0085b"`,
	} {
		body := `{"model":` + model + `,"messages":[{"role":"user","content":"a"}]}`
		_, err := Parse(EndpointChat, []byte(body))
		e, ok := err.(*Error)
		if !ok || e.Param != "model" || e.Status != 400 {
			t.Errorf("model %.40q: err %v, want a 400 naming model", model, err)
			continue
		}
		if len(e.Message) > 200 {
			t.Errorf("model %.40q: message is %d bytes, want a bounded one", model, len(e.Message))
		}
	}
	for _, model := range []string{"deepseek-chat", strings.Repeat("m", MaxModelLen), "org/modèle:7b"} {
		body := `{"model":"` + model + `","messages":[{"role":"user","content":"a"}]}`
		if r, err := Parse(EndpointChat, []byte(body)); err != nil || r.Model != model {
			t.Errorf("model %.40q: %v", model, err)
		}
	}
}

// Errors about other client strings (a role, a duplicate key) repeat a
// bounded prefix of them, in the message and in the param.
func TestErrorsRepeatABoundedPrefix(t *testing.T) {
	long := strings.Repeat("x", 100_000)
	for _, body := range []string{
		`{"model":"m","messages":[{"role":"` + long + `","content":"a"}]}`,
		`{"model":"m","` + long + `":1,"` + long + `":2,"messages":[{"role":"user","content":"a"}]}`,
		`{"model":"m","messages":[{"role":"user","content":"a","` + long + `":1,"` + long + `":2}]}`,
	} {
		_, err := Parse(EndpointChat, []byte(body))
		e, ok := err.(*Error)
		if !ok {
			t.Fatalf("err %v", err)
		}
		if len(e.Message) > 400 || len(e.Param) > 200 {
			t.Errorf("message of %d bytes, param of %d", len(e.Message), len(e.Param))
		}
	}
}
