package sim

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSchemaValue(t *testing.T) {
	t.Parallel()
	const schema = `{
		"type": "object",
		"properties": {
			"city": {"type": "string"},
			"unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
			"days": {"type": "integer", "minimum": 1, "maximum": 7},
			"ratio": {"type": "number", "minimum": 0, "maximum": 1},
			"alerts": {"type": "boolean"},
			"when": {"type": "string", "format": "date-time"},
			"day": {"type": "string", "format": "date"},
			"id": {"type": "string", "format": "uuid"},
			"mail": {"type": "string", "format": "email"},
			"code": {"type": "string", "minLength": 12, "maxLength": 14},
			"version": {"const": 2},
			"note": {"type": ["string", "null"]},
			"maybe": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/step"}]},
			"steps": {"type": "array", "minItems": 3, "maxItems": 3, "items": {"$ref": "#/$defs/step"}},
			"tags": {"type": "array", "items": {"type": "string"}, "maxItems": 0},
			"merged": {"allOf": [{"properties": {"a": {"type": "integer"}}}, {"properties": {"b": {"type": "boolean"}}}]},
			"self": {"$ref": "#"}
		},
		"required": ["city", "unit"],
		"$defs": {"step": {"type": "object", "properties": {"explanation": {"type": "string"}, "output": {"type": "string"}}}}
	}`
	a := schemaValue([]byte(schema), 7)
	if string(a) != string(schemaValue([]byte(schema), 7)) {
		t.Error("not deterministic")
	}
	var v struct {
		City    string   `json:"city"`
		Unit    string   `json:"unit"`
		Days    int      `json:"days"`
		Ratio   float64  `json:"ratio"`
		Alerts  *bool    `json:"alerts"`
		When    string   `json:"when"`
		Day     string   `json:"day"`
		ID      string   `json:"id"`
		Mail    string   `json:"mail"`
		Code    string   `json:"code"`
		Version int      `json:"version"`
		Note    *string  `json:"note"`
		Maybe   *step    `json:"maybe"`
		Steps   []step   `json:"steps"`
		Tags    []string `json:"tags"`
		Merged  struct {
			A *int  `json:"a"`
			B *bool `json:"b"`
		} `json:"merged"`
		Self json.RawMessage `json:"self"`
	}
	decodeStrict(t, a, &v)
	checks := []struct {
		name string
		ok   bool
	}{
		{"city", strings.Contains(strings.Join(cityList[:], ","), v.City)},
		{"unit", v.Unit == "celsius" || v.Unit == "fahrenheit"},
		{"days", v.Days >= 1 && v.Days <= 7},
		{"ratio", v.Ratio >= 0 && v.Ratio <= 1},
		{"alerts", v.Alerts != nil},
		{"when", v.When == "2026-01-02T15:04:05Z"},
		{"day", v.Day == "2026-01-02"},
		{"id", regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(v.ID)},
		{"mail", strings.Contains(v.Mail, "@")},
		{"code", len(v.Code) >= 12 && len(v.Code) <= 14},
		{"version", v.Version == 2},
		{"note", v.Note != nil},
		{"maybe", v.Maybe != nil && v.Maybe.Explanation != ""},
		{"steps", len(v.Steps) == 3 && v.Steps[2].Output != ""},
		{"tags", v.Tags != nil && len(v.Tags) == 0},
		{"merged", v.Merged.A != nil && v.Merged.B != nil},
		{"self", len(v.Self) > 0 && json.Valid(v.Self)},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s does not fit the schema: %s", c.name, a)
		}
	}
	for _, bad := range []string{``, `not json`, `[1]`} {
		if got := string(schemaValue([]byte(bad), 1)); got != "{}" {
			t.Errorf("schemaValue(%q) = %s", bad, got)
		}
	}
}

type step struct {
	Explanation string `json:"explanation"`
	Output      string `json:"output"`
}

func TestChatToolArgumentsFollowSchema(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{})
	const tools = `"tools":[{"type":"function","function":{"name":"book_trip","parameters":{
		"type":"object","additionalProperties":false,"required":["to","nights","travellers"],
		"properties":{"to":{"type":"string","enum":["Lisbon","Lima"]},"nights":{"type":"integer","minimum":1,"maximum":3},
		"travellers":{"type":"array","minItems":2,"items":{"type":"object","properties":{
			"name":{"type":"string"},"age":{"type":"integer"},"seat":{"type":"string","enum":["aisle","window"]}}}}}}}},
		{"type":"function","function":{"name":"get_weather"}}]`
	base := `{"model":"deepseek-chat",` + tools + `,"messages":[{"role":"user","content":"please Book_Trip for us"}]`
	got := chatContent(t, s, base+`}`)
	calls := got.Choices[0].Message.ToolCalls
	if len(calls) != 1 || calls[0].Function.Name != "book_trip" {
		t.Fatalf("auto did not call the tool named in the message: %+v", got.Choices[0])
	}
	var args struct {
		To         string `json:"to"`
		Nights     int    `json:"nights"`
		Travellers []struct {
			Name string `json:"name"`
			Age  *int   `json:"age"`
			Seat string `json:"seat"`
		} `json:"travellers"`
	}
	decodeStrict(t, []byte(*calls[0].Function.Arguments), &args)
	if (args.To != "Lisbon" && args.To != "Lima") || args.Nights < 1 || args.Nights > 3 || len(args.Travellers) < 2 ||
		args.Travellers[1].Age == nil || (args.Travellers[0].Seat != "aisle" && args.Travellers[0].Seat != "window") {
		t.Errorf("arguments do not fit the schema: %s", *calls[0].Function.Arguments)
	}
	streamed := collectToolCall(t, chatChunks(t, parseSSE(t, do(t, s, http.MethodPost, "/v1/chat/completions", base+`,"stream":true}`).Body.String())))
	if diff := cmp.Diff(calls[0], streamed); diff != "" {
		t.Errorf("streamed call differs (-non-stream +stream):\n%s", diff)
	}
	if got.Usage.CompletionTokens != (&toolCall{args: *calls[0].Function.Arguments}).chunks() {
		t.Errorf("completion tokens %d do not count the call's chunks", got.Usage.CompletionTokens)
	}
}

func TestArgumentFragmentsKeepRunes(t *testing.T) {
	t.Parallel()
	args := `{"city":"Zürich—Genève","note":"日本語のテキスト"}`
	var joined string
	for off := 0; off < len(args); {
		n := argFragmentLen(args[off:])
		if !json.Valid(mustJSONString(args[off : off+n])) {
			t.Fatalf("fragment %q splits a rune", args[off:off+n])
		}
		joined += args[off : off+n]
		off += n
	}
	if joined != args {
		t.Errorf("fragments join to %q", joined)
	}
	for _, s := range []string{"word ", "a longer phrase here", "日本語のテキストです", `{"answer":"x"}`} {
		if got := cutPieces(s, countPieces(s)); got != s {
			t.Errorf("pieces of %q rejoin to %q", s, got)
		}
	}
}

func mustJSONString(s string) []byte {
	b, _ := json.Marshal(s)
	var back string
	if json.Unmarshal(b, &back) != nil || back != s {
		return []byte("invalid")
	}
	return b
}

func TestChatJSONOutput(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{})
	const schema = `{"type":"object","properties":{"question":{"type":"string"},"answer":{"type":"string"},
		"confidence":{"type":"number","minimum":0,"maximum":1}},"required":["question","answer","confidence"],"additionalProperties":false}`
	tests := []struct {
		name, format, extra string
		check               func(t *testing.T, content string)
	}{
		{"json_object", `{"type":"json_object"}`, ``, func(t *testing.T, c string) {
			var v map[string]string
			if err := json.Unmarshal([]byte(c), &v); err != nil || v["answer"] == "" {
				t.Errorf("content %q: %v", c, err)
			}
		}},
		{"json_schema", `{"type":"json_schema","json_schema":{"name":"qa","strict":true,"schema":` + schema + `}}`, ``, func(t *testing.T, c string) {
			var v struct {
				Question   string   `json:"question"`
				Answer     string   `json:"answer"`
				Confidence *float64 `json:"confidence"`
			}
			decodeStrict(t, []byte(c), &v)
			if v.Question == "" || v.Answer == "" || v.Confidence == nil {
				t.Errorf("content %q misses required fields", c)
			}
		}},
		{"json_object thinking", `{"type":"json_object"}`, `"thinking":{"type":"enabled"},`, func(t *testing.T, c string) {
			if !json.Valid([]byte(c)) {
				t.Errorf("content %q is not JSON", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := `{"model":"deepseek-v4-flash",` + tt.extra + `"response_format":` + tt.format +
				`,"messages":[{"role":"user","content":"longest river?"}]`
			got := chatContent(t, s, body+`}`)
			content := *got.Choices[0].Message.Content
			if got.Choices[0].FinishReason != "stop" {
				t.Errorf("finish_reason = %q", got.Choices[0].FinishReason)
			}
			tt.check(t, content)
			chunks := chatChunks(t, parseSSE(t, do(t, s, http.MethodPost, "/v1/chat/completions",
				body+`,"stream":true,"stream_options":{"include_usage":true}}`).Body.String()))
			streamed, _ := streamText(chunks)
			if streamed != content {
				t.Errorf("streamed %q, want %q", streamed, content)
			}
			if u := chunks[len(chunks)-1].Usage; u == nil || *u != got.Usage {
				t.Errorf("streamed usage %+v, want %+v", u, got.Usage)
			}
		})
	}
	// A limit shorter than the JSON cuts it, as a real model's would be.
	got := chatContent(t, s, `{"model":"deepseek-v4-flash","max_tokens":1,"response_format":{"type":"json_object"},"messages":[{"role":"user","content":"x"}]}`)
	if c := *got.Choices[0].Message.Content; got.Choices[0].FinishReason != "length" || json.Valid([]byte(c)) || got.Usage.CompletionTokens != 1 {
		t.Errorf("cut JSON = %q (%s, %d tokens)", c, got.Choices[0].FinishReason, got.Usage.CompletionTokens)
	}
}

func TestChatStop(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{})
	full := *chatContent(t, s, userChat("deepseek-chat", "")).Choices[0].Message.Content
	fields := strings.Fields(full)
	mid := fields[5][1:] // starts inside a word
	tests := []struct {
		name, stop, want, finish string
	}{
		{"string", string(mustJSONString(fields[2] + " " + fields[3])), full[:strings.Index(full, fields[2]+" "+fields[3])], "stop"},
		{"array earliest wins", `["zzz","` + fields[6] + `","` + fields[1] + `"]`, full[:strings.Index(full, fields[1])], "stop"},
		{"inside a word", string(mustJSONString(mid)), full[:strings.Index(full, mid)], "stop"},
		{"absent", `["zzz"]`, full, "stop"},
		{"null", `null`, full, "stop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := `{"model":"deepseek-chat","stop":` + tt.stop + `,"messages":[{"role":"user","content":"hello"}]`
			got := chatContent(t, s, body+`}`)
			c := got.Choices[0]
			if *c.Message.Content != tt.want || c.FinishReason != tt.finish || got.Usage.CompletionTokens != countPieces(tt.want) {
				t.Errorf("content %q (%s, %d tokens), want %q (%s)", *c.Message.Content, c.FinishReason, got.Usage.CompletionTokens, tt.want, tt.finish)
			}
			streamed, _ := streamText(chatChunks(t, parseSSE(t, do(t, s, http.MethodPost, "/v1/chat/completions", body+`,"stream":true}`).Body.String())))
			if streamed != tt.want {
				t.Errorf("streamed %q, want %q", streamed, tt.want)
			}
		})
	}
	// With a limit and no stop sequence met, the length rule holds.
	got := chatContent(t, s, `{"model":"deepseek-chat","max_tokens":3,"stop":"zzz","messages":[{"role":"user","content":"hello"}]}`)
	if c := got.Choices[0]; words(*c.Message.Content) != 3 || c.FinishReason != "length" {
		t.Errorf("limited = %+v", c)
	}
	for _, bad := range []string{`5`, `[1]`, `["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]`} {
		if rec := do(t, s, http.MethodPost, "/v1/chat/completions", `{"model":"deepseek-chat","stop":`+bad+`,"messages":[{"role":"user","content":"x"}]}`); rec.Code != 400 {
			t.Errorf("stop %s = %d", bad, rec.Code)
		}
	}
	// Text completions honour stop too.
	text := do(t, s, http.MethodPost, "/v1/completions", `{"model":"deepseek-chat","prompt":"x"}`)
	var tc textCompletionJSON
	decodeStrict(t, text.Body.Bytes(), &tc)
	cut := strings.Fields(tc.Choices[0].Text)[2]
	decodeStrict(t, do(t, s, http.MethodPost, "/v1/completions", `{"model":"deepseek-chat","prompt":"x","stop":["`+cut+`"]}`).Body.Bytes(), &tc)
	if strings.Contains(tc.Choices[0].Text, cut) || *tc.Choices[0].FinishReason != "stop" || tc.Usage.CompletionTokens != countPieces(tc.Choices[0].Text) {
		t.Errorf("completion with stop %q = %+v", cut, tc)
	}
}

func TestChatN(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{})
	body := `{"model":"deepseek-reasoner","n":3,"max_tokens":4,"messages":[{"role":"user","content":"hello"}]`
	got := chatContent(t, s, body+`}`)
	one := chatContent(t, s, `{"model":"deepseek-reasoner","max_tokens":4,"messages":[{"role":"user","content":"hello"}]}`)
	if len(got.Choices) != 3 {
		t.Fatalf("choices = %d", len(got.Choices))
	}
	seen := map[string]bool{}
	for i, c := range got.Choices {
		if c.Index != i || words(*c.Message.Content) != 2 || c.Message.ReasoningContent == nil || c.FinishReason != "length" {
			t.Errorf("choice %d = %+v", i, c)
		}
		seen[*c.Message.Content] = true
	}
	if len(seen) != 3 || *got.Choices[0].Message.Content != *one.Choices[0].Message.Content {
		t.Errorf("choices are not distinct or choice 0 differs from n=1: %+v", got.Choices)
	}
	if u := got.Usage; u.CompletionTokens != 12 || u.CompletionTokensDetails.ReasoningTokens != 6 || u.PromptTokens != one.Usage.PromptTokens {
		t.Errorf("usage = %+v", u)
	}
	chunks := chatChunks(t, parseSSE(t, do(t, s, http.MethodPost, "/v1/chat/completions", body+`,"stream":true}`).Body.String()))
	content := map[int]string{}
	finishes := 0
	for _, ch := range chunks {
		for _, c := range ch.Choices {
			if c.Delta.Content != nil {
				content[c.Index] += *c.Delta.Content
			}
			if c.FinishReason != nil {
				finishes++
			}
		}
	}
	for i, c := range got.Choices {
		if content[i] != *c.Message.Content {
			t.Errorf("streamed choice %d = %q, want %q", i, content[i], *c.Message.Content)
		}
	}
	if finishes != 3 {
		t.Errorf("finish chunks = %d, want 3", finishes)
	}
	for _, bad := range []string{"0", "-1", "129"} {
		if rec := do(t, s, http.MethodPost, "/v1/chat/completions", `{"model":"deepseek-chat","n":`+bad+`,"messages":[{"role":"user","content":"x"}]}`); rec.Code != 400 {
			t.Errorf("n=%s: %d", bad, rec.Code)
		}
	}
}

func TestChatThinkingSwitch(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{})
	tests := []struct {
		model, thinking string
		reasoning       bool
	}{
		{"deepseek-v4-flash", ``, false},
		{"deepseek-v4-flash", `"thinking":{"type":"enabled"},`, true},
		{"deepseek-reasoner", ``, true},
		{"deepseek-reasoner", `"thinking":{"type":"disabled"},`, false},
		{"deepseek-chat", `"thinking":{"type":"whatever"},`, false}, // the plain simulator ignores what it does not know
	}
	for _, tt := range tests {
		got := chatContent(t, s, userChat(tt.model, tt.thinking+`"max_tokens":4,`))
		if has := got.Choices[0].Message.ReasoningContent != nil; has != tt.reasoning {
			t.Errorf("%s %s: reasoning_content present = %v", tt.model, tt.thinking, has)
		}
	}
}
