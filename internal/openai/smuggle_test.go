package openai

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestParseRefusesAmbiguousKeys: whatever dsgate reads from a body must be
// what every upstream reads. Engines written in Go (the simulator, Ollama)
// match keys without regard to case and let the last duplicate win, so a
// body with two keys equal up to case, or a case variant of a key dsgate
// interprets, is refused with a 400 naming the key (issue 13 item 1).
func TestParseRefusesAmbiguousKeys(t *testing.T) {
	t.Parallel()
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		name, body, param string
		e                 Endpoint
	}{
		{"model case variant", `{"model":"deepseek-chat","MODEL":"deepseek-reasoner",` + msgs + `}`, "MODEL", EndpointChat},
		{"model exact duplicate", `{"model":"a","model":"b",` + msgs + `}`, "model", EndpointChat},
		{"model escaped duplicate", `{"model":"a","mod\u0065l":"b",` + msgs + `}`, "model", EndpointChat},
		{"max_tokens case variant", `{"model":"m","max_tokens":1,"Max_Tokens":3000,` + msgs + `}`, "Max_Tokens", EndpointChat},
		{"stream case variant", `{"model":"m","stream":false,"STREAM":true,` + msgs + `}`, "STREAM", EndpointChat},
		{"stream variant alone", `{"model":"m","Stream":true,` + msgs + `}`, "Stream", EndpointChat},
		{"null does not hide a variant", `{"model":"m","stream":false,"STREAM":null,` + msgs + `}`, "STREAM", EndpointChat},
		{"unicode fold long s", `{"model":"m","ſtream":true,` + msgs + `}`, "ſtream", EndpointChat},
		{"unicode fold kelvin", `{"model":"m","max_to\u212Aens":9,` + msgs + `}`, "max_to\u212Aens", EndpointChat},
		{"stream_options variant", `{"model":"m","stream":true,"Stream_Options":{"include_usage":true},` + msgs + `}`, "Stream_Options", EndpointChat},
		{"include_usage variant", `{"model":"m","stream":true,"stream_options":{"include_usage":false,"Include_Usage":true},` + msgs + `}`, "stream_options.Include_Usage", EndpointChat},
		{"include_usage duplicate", `{"model":"m","stream":true,"stream_options":{"include_usage":false,"include_usage":true},` + msgs + `}`, "stream_options.include_usage", EndpointChat},
		{"thinking type variant", `{"model":"m","thinking":{"type":"disabled","TYPE":"enabled"},` + msgs + `}`, "thinking.TYPE", EndpointChat},
		{"chat_template_kwargs duplicate", `{"model":"m","chat_template_kwargs":{"thinking":false,"Thinking":true},` + msgs + `}`, "chat_template_kwargs.Thinking", EndpointChat},
		{"message role variant", `{"model":"m","messages":[{"role":"user","Role":"developer","content":"hi"}]}`, "messages[0].Role", EndpointChat},
		{"message content duplicate", `{"model":"m","messages":[{"role":"user","content":"a","content":"` + strings.Repeat("x", 100) + `"}]}`, "messages[0].content", EndpointChat},
		{"uninterpreted duplicate up to case", `{"model":"m","tools":[],"TOOLS":[],` + msgs + `}`, "TOOLS", EndpointChat},
		{"messages variant", `{"model":"m","Messages":[],` + msgs + `}`, "Messages", EndpointChat},
		{"prompt variant", `{"model":"m","prompt":"a","PROMPT":"` + strings.Repeat("b", 50) + `"}`, "PROMPT", EndpointCompletion},
		{"suffix variant fim", `{"model":"m","prompt":"a","Suffix":"b"}`, "Suffix", EndpointFIM},
		{"input variant", `{"model":"m","input":"a","Input":["b","c"]}`, "Input", EndpointEmbedding},
		{"max_tokens and max_completion_tokens disagree", `{"model":"m","max_tokens":3000,"max_completion_tokens":1,` + msgs + `}`, "max_tokens", EndpointChat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := Parse(tt.e, []byte(tt.body))
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("Parse accepted %s as %+v; want a 400", tt.body, r)
			}
			if ae.Status != 400 || ae.Type != "invalid_request_error" || ae.Param != tt.param {
				t.Errorf("got status %d type %q param %q (%s); want 400 naming %q", ae.Status, ae.Type, ae.Param, ae.Message, tt.param)
			}
		})
	}
}

// TestParseAcceptsDistinctKeys: ordinary bodies, including keys that only
// look alike, keep working.
func TestParseAcceptsDistinctKeys(t *testing.T) {
	t.Parallel()
	bodies := []string{
		`{"model":"m","max_tokens":5,"max_completion_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","model_version":"x","stream_":1,"messages":[{"role":"user","content":"hi","name":"n"}]}`,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}`,
		`{"model":"m","tools":[{"type":"function","function":{"name":"a","parameters":{"type":"object","properties":{"x":{},"X":{}}}}}],"messages":[{"role":"user","content":"hi"}]}`,
	}
	for _, b := range bodies {
		if _, err := Parse(EndpointChat, []byte(b)); err != nil {
			t.Errorf("Parse(%s): %v", b, err)
		}
	}
}

// TestParseManyKeys: a body with very many distinct top-level keys is
// checked in linear time (a quadratic scan would take minutes here).
func TestParseManyKeys(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`{"model":"m","messages":[{"role":"user","content":"hi"}]`)
	for i := range 200000 {
		b.WriteString(`,"k`)
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(itoa(i))
		b.WriteString(`":1`)
	}
	b.WriteString(`,"K0":2}`)
	_, err := Parse(EndpointChat, []byte(b.String()))
	var ae *Error
	if !errors.As(err, &ae) || ae.Param != "K0" {
		t.Fatalf("err = %v; want the duplicate K0 named", err)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var d []byte
	for ; i > 0; i /= 10 {
		d = append([]byte{byte('0' + i%10)}, d...)
	}
	return string(d)
}

// TestFoldKeyMatchesEqualFold: the map used for large objects must judge
// keys exactly as the pairwise comparison does, and refuse at least every
// pair strings.EqualFold matches.
func TestFoldKeyMatchesEqualFold(t *testing.T) {
	t.Parallel()
	words := []string{"stream", "STREAM", "ſtream", "Stream", "max_tokens", "max_to\u212Aens", "MAX_TOKENS",
		"model", "modeL", "mode", "ß", "ẞ", "ss", "Σ", "σ", "ς", "\xff", "\xfe", "k", "K", "\u212A", "İ", "i", "ı"}
	for _, a := range words {
		for _, b := range words {
			if got, want := foldKey(a) == foldKey(b), foldEqual(a, b); got != want {
				t.Errorf("%q vs %q: foldKey equal %v, foldEqual %v", a, b, got, want)
			}
			if strings.EqualFold(a, b) && !foldEqual(a, b) {
				t.Errorf("%q vs %q: EqualFold matches, foldEqual does not", a, b)
			}
		}
	}
}

// FuzzParseAgreesWithGoDecoders checks the property behind the key
// checks: on any body Parse accepts, a case-insensitive, last-one-wins
// decoder (encoding/json into a struct, as Ollama and the simulator read
// requests) sees the same model, stream, max_tokens and include_usage.
func FuzzParseAgreesWithGoDecoders(f *testing.F) {
	f.Add([]byte(`{"model":"a","stream":true,"stream_options":{"include_usage":true},"max_tokens":3,"messages":[{"role":"user","content":"x"}]}`))
	f.Add([]byte(`{"model":"a","MODEL":"b","messages":[{"role":"user","content":"x"}]}`))
	f.Add([]byte(`{"model":"a","ſtream":true,"messages":[{"role":"user","content":"x"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := Parse(EndpointChat, body)
		if err != nil {
			return
		}
		var v struct {
			Model         string
			Stream        bool
			MaxTokens     *int `json:"max_tokens"`
			MaxCompletion *int `json:"max_completion_tokens"`
			StreamOptions *struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
		}
		if json.Unmarshal(body, &v) != nil {
			return
		}
		maxTokens := 0
		switch {
		case v.MaxCompletion != nil:
			maxTokens = *v.MaxCompletion
		case v.MaxTokens != nil:
			maxTokens = *v.MaxTokens
		}
		usage := v.StreamOptions != nil && v.StreamOptions.IncludeUsage
		if v.Model != r.Model || v.Stream != r.Stream || maxTokens != r.MaxTokens || usage != r.IncludeUsage {
			t.Fatalf("dsgate read %+v, a Go decoder reads model %q stream %v max_tokens %d include_usage %v in %s",
				r, v.Model, v.Stream, maxTokens, usage, body)
		}
	})
}
