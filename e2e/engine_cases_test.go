package e2e

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/tinymodel"
)

// Model roles of the table: chat (a reasoning model), tools (a model that
// calls tools), embed (an embeddings model).
const (
	roleChat  = "chat"
	roleTools = "tools"
	roleEmbed = "embed"
)

const weatherTool = `[{"type":"function","function":{"name":"get_weather","description":"Weather of a city",` +
	`"parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]`

// longPrompt is more tokens than any engine's context in the suite.
var longPrompt = strings.Repeat("lorem ipsum dolor ", 1500)

// engineCases is the conformance table; the Messages and Responses rows
// (apiCases) are in engine_apis_test.go.
var engineCases = append([]engineCase{
	{name: "chat", role: roleChat, path: "/v1/chat/completions",
		body:  `{"model":"MODEL","messages":[{"role":"user","content":"hi"}],"temperature":0,"max_tokens":64}`,
		check: wantChat(tinymodel.R1Reasoning, tinymodel.R1Answer)},
	{name: "chat stream", role: roleChat, path: "/v1/chat/completions",
		body:  `{"model":"MODEL","messages":[{"role":"user","content":"hi"}],"temperature":0,"max_tokens":64,"stream":true}`,
		check: wantStream(tinymodel.R1Reasoning, tinymodel.R1Answer, false)},
	{name: "chat stream include_usage", role: roleChat, path: "/v1/chat/completions",
		body: `{"model":"MODEL","messages":[{"role":"user","content":"hi"}],"temperature":0,"max_tokens":64,` +
			`"stream":true,"stream_options":{"include_usage":true}}`,
		check: wantStream(tinymodel.R1Reasoning, tinymodel.R1Answer, true)},
	{name: "thinking off", role: roleChat, path: "/v1/chat/completions",
		body: `{"model":"MODEL","messages":[{"role":"user","content":"hi"}],"temperature":0,"max_tokens":64,` +
			`"thinking":{"type":"disabled"}}`,
		llamaBody: `{"model":"MODEL","messages":[{"role":"user","content":"hi"}],"temperature":0,"max_tokens":64,` +
			`"chat_template_kwargs":{"enable_thinking":false}}`,
		check: wantChat("", tinymodel.R1Answer)},
	{name: "thinking on stream", role: roleChat, path: "/v1/chat/completions",
		body: `{"model":"MODEL","messages":[{"role":"user","content":"hi"}],"temperature":0,"max_tokens":64,` +
			`"stream":true,"thinking":{"type":"enabled"}}`,
		llamaBody: `{"model":"MODEL","messages":[{"role":"user","content":"hi"}],"temperature":0,"max_tokens":64,` +
			`"stream":true,"chat_template_kwargs":{"enable_thinking":true}}`,
		check: wantStream(tinymodel.R1Reasoning, tinymodel.R1Answer, false)},
	{name: "max_tokens cuts", role: roleChat, path: "/v1/chat/completions",
		body: `{"model":"MODEL","messages":[{"role":"user","content":"hi"}],"temperature":0,"max_tokens":3}`},
	{name: "n choices", role: roleChat, path: "/v1/chat/completions",
		body: `{"model":"MODEL","messages":[{"role":"user","content":"hi"}],"temperature":0,"max_tokens":64,"n":2}`,
		only: []string{"llama.cpp", "sim-plain"}},
	{name: "logprobs", role: roleChat, path: "/v1/chat/completions",
		body: `{"model":"MODEL","messages":[{"role":"user","content":"hi"}],"temperature":0,"max_tokens":4,` +
			`"logprobs":true,"top_logprobs":2}`},
	{name: "json mode", role: roleTools, path: "/v1/chat/completions",
		body: `{"model":"MODEL","messages":[{"role":"system","content":"Answer in json."},{"role":"user","content":"hi"}],` +
			`"temperature":0,"max_tokens":12,"response_format":{"type":"json_object"}}`},
	{name: "tools", role: roleTools, path: "/v1/chat/completions",
		body: `{"model":"MODEL","messages":[{"role":"user","content":"weather in Paris?"}],"temperature":0,` +
			`"max_tokens":64,"tools":` + weatherTool + `}`,
		check: wantToolCall},
	{name: "tools stream", role: roleTools, path: "/v1/chat/completions",
		body: `{"model":"MODEL","messages":[{"role":"user","content":"weather in Paris?"}],"temperature":0,` +
			`"max_tokens":64,"stream":true,"tools":` + weatherTool + `}`},
	{name: "tool results", role: roleTools, path: "/v1/chat/completions",
		body: `{"model":"MODEL","temperature":0,"max_tokens":64,"thinking":{"type":"disabled"},"tools":` + weatherTool + `,"messages":[` +
			`{"role":"user","content":"weather in Paris?"},` +
			`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",` +
			`"function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},` +
			`{"role":"tool","tool_call_id":"call_1","content":"sunny, 21C"}]}`},
	{name: "completions", role: roleChat, path: "/v1/completions", deepseekPath: "/beta/completions",
		body:  `{"model":"MODEL","prompt":"Once upon a time","temperature":0,"max_tokens":16}`,
		check: wantText(tinymodel.Continuation)},
	{name: "completions stream", role: roleChat, path: "/v1/completions", deepseekPath: "/beta/completions",
		body: `{"model":"MODEL","prompt":"Once upon a time","temperature":0,"max_tokens":16,"stream":true}`},
	{name: "completions stop", role: roleChat, path: "/v1/completions", deepseekPath: "/beta/completions",
		body:  `{"model":"MODEL","prompt":"Once upon a time","temperature":0,"max_tokens":16,"stop":[" lived"]}`,
		check: wantText(" and they")},
	{name: "fim", role: roleChat, path: "/beta/completions",
		body: `{"model":"MODEL","prompt":"def add(a, b):\n    ","suffix":"\n\nprint(add(1, 2))\n","temperature":0,` +
			`"max_tokens":16,"thinking":{"type":"disabled"}}`,
		llamaPath:  "/infill",
		llamaBody:  `{"input_prefix":"def add(a, b):\n    ","input_suffix":"\n\nprint(add(1, 2))\n","temperature":0,"n_predict":16}`,
		statusOnly: true,
		check:      wantText(tinymodel.FIMMiddle)},
	{name: "embeddings", role: roleEmbed, path: "/v1/embeddings",
		body: `{"model":"MODEL","input":["hello world","Okay, the user says hi."]}`},
	{name: "embeddings base64", role: roleEmbed, path: "/v1/embeddings",
		body:  `{"model":"MODEL","input":"hello world","encoding_format":"base64"}`,
		check: wantUnitVector},
	{name: "engine's 400 kept", role: roleTools, path: "/v1/chat/completions",
		body: `{"model":"MODEL","temperature":0,"max_tokens":64,"tools":` + weatherTool + `,"messages":[` +
			`{"role":"user","content":"weather in Paris?"},` +
			`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",` +
			`"function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},` +
			`{"role":"tool","tool_call_id":"call_1","content":"sunny, 21C"}]}`,
		only: []string{"sim-deepseek"}, statusOnly: true, check: wantSameError},
	{name: "context overflow", role: roleChat, path: "/v1/chat/completions",
		body:       `{"model":"MODEL","messages":[{"role":"user","content":"` + longPrompt + `"}],"max_tokens":8}`,
		statusOnly: true, check: wantErrorCode(400, "context_length_exceeded"),
		only: []string{"llama.cpp", "sim-plain"}},
	{name: "context overflow stream", role: roleChat, path: "/v1/chat/completions",
		body:       `{"model":"MODEL","messages":[{"role":"user","content":"` + longPrompt + `"}],"max_tokens":8,"stream":true}`,
		statusOnly: true, check: wantErrorCode(400, "context_length_exceeded"),
		only: []string{"llama.cpp", "sim-plain"}},
}, apiCases...)

// chatMessage is the first choice's message of a chat answer.
func chatMessage(t *testing.T, x engineAnswer) map[string]any {
	t.Helper()
	body, _ := x.body.(map[string]any)
	choices, _ := body["choices"].([]any)
	if len(choices) == 0 {
		t.Fatalf("no choices: %s", clip(x.raw))
	}
	msg, _ := choices[0].(map[string]any)["message"].(map[string]any)
	return msg
}

// wantChat checks a real engine's fixed reasoning and answer.
func wantChat(reasoning, answer string) func(*testing.T, *engine, engineAnswer, engineAnswer) {
	return func(t *testing.T, e *engine, _, x engineAnswer) {
		if !e.llama {
			return
		}
		msg := chatMessage(t, x)
		got, _ := msg["reasoning_content"].(string)
		// llama-server keeps the newline of the template's "<think>\n".
		if strings.TrimSpace(got) != reasoning || msg["content"] != answer {
			t.Errorf("reasoning %q, content %q; want %q, %q", got, msg["content"], reasoning, answer)
		}
	}
}

// wantStream checks the streamed reasoning and answer (real engines) and,
// on every engine, that a usage chunk comes exactly when asked for.
func wantStream(reasoning, answer string, usage bool) func(*testing.T, *engine, engineAnswer, engineAnswer) {
	return func(t *testing.T, e *engine, _, x engineAnswer) {
		var rc, content strings.Builder
		usageChunks := 0
		for _, ev := range x.events {
			m, ok := ev.(map[string]any)
			if !ok {
				continue
			}
			if u, ok := m["usage"].(map[string]any); ok && u != nil {
				usageChunks++
			}
			choices, _ := m["choices"].([]any)
			for _, c := range choices {
				d, _ := c.(map[string]any)["delta"].(map[string]any)
				s, _ := d["reasoning_content"].(string)
				rc.WriteString(s)
				s, _ = d["content"].(string)
				content.WriteString(s)
			}
		}
		if usage && usageChunks != 1 || !usage && usageChunks != 0 {
			t.Errorf("%d usage chunks with include_usage %t", usageChunks, usage)
		}
		if last := x.events[len(x.events)-1]; last != "[DONE]" {
			t.Errorf("stream ends with %v, not [DONE]", last)
		}
		if e.llama && (strings.TrimSpace(rc.String()) != reasoning || content.String() != answer) {
			t.Errorf("streamed reasoning %q, content %q; want %q, %q", rc.String(), content.String(), reasoning, answer)
		}
	}
}

func wantToolCall(t *testing.T, e *engine, _, x engineAnswer) {
	msg := chatMessage(t, x)
	calls, _ := msg["tool_calls"].([]any)
	if len(calls) != 1 {
		t.Fatalf("tool_calls %v", msg["tool_calls"])
	}
	fn, _ := calls[0].(map[string]any)["function"].(map[string]any)
	if fn["name"] != tinymodel.ToolName {
		t.Errorf("tool call %v, want %s", fn, tinymodel.ToolName)
	}
	if e.llama && strings.ReplaceAll(fn["arguments"].(string), " ", "") != strings.ReplaceAll(tinymodel.ToolArguments, " ", "") {
		t.Errorf("arguments %v, want %s", fn["arguments"], tinymodel.ToolArguments)
	}
}

// wantText checks a real engine's completion text.
func wantText(text string) func(*testing.T, *engine, engineAnswer, engineAnswer) {
	return func(t *testing.T, e *engine, _, x engineAnswer) {
		if !e.llama {
			return
		}
		body, _ := x.body.(map[string]any)
		choices, _ := body["choices"].([]any)
		if len(choices) == 0 {
			t.Fatalf("no choices: %s", clip(x.raw))
		}
		if got := choices[0].(map[string]any)["text"]; got != text {
			t.Errorf("text %q, want %q", got, text)
		}
	}
}

// wantUnitVector decodes a base64 embedding and checks it has norm 1.
func wantUnitVector(t *testing.T, _ *engine, _, x engineAnswer) {
	body, _ := x.body.(map[string]any)
	data, _ := body["data"].([]any)
	if len(data) != 1 {
		t.Fatalf("data %s", clip(x.raw))
	}
	s, _ := data[0].(map[string]any)["embedding"].(string)
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) == 0 || len(raw)%4 != 0 {
		t.Fatalf("embedding %q: %v", clip(s), err)
	}
	sum := 0.0
	for i := 0; i < len(raw); i += 4 {
		v := float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[i:])))
		sum += v * v
	}
	if math.Abs(sum-1) > 1e-3 {
		t.Errorf("embedding norm² %v, want 1", sum)
	}
}

// wantSameError checks that dsgate relays an engine's refusal with the
// engine's message, type and code; a code that only repeats the type
// (DeepSeek's "invalid_request_error") may become null, as
// internal/openai documents.
func wantSameError(t *testing.T, _ *engine, direct, relayed engineAnswer) {
	errOf := func(x engineAnswer) map[string]any {
		body, _ := x.body.(map[string]any)
		e, _ := body["error"].(map[string]any)
		if e == nil {
			t.Fatalf("no error object: %s", clip(x.raw))
		}
		return e
	}
	d, r := errOf(direct), errOf(relayed)
	codeKept := d["code"] == r["code"] || (d["code"] == d["type"] && r["code"] == nil)
	if d["message"] != r["message"] || d["type"] != r["type"] || !codeKept {
		t.Errorf("engine error %s relayed as %s", clip(direct.raw), clip(relayed.raw))
	}
}

// wantErrorCode checks dsgate's answer to an engine error: the status and
// an OpenAI error whose code lets clients tell what happened.
func wantErrorCode(status int, code string) func(*testing.T, *engine, engineAnswer, engineAnswer) {
	return func(t *testing.T, _ *engine, _, x engineAnswer) {
		if x.status != status {
			t.Fatalf("status %d, want %d: %s", x.status, status, clip(x.raw))
		}
		body, _ := x.body.(map[string]any)
		e, _ := body["error"].(map[string]any)
		if e == nil || e["code"] != code {
			t.Errorf("error %s, want code %q", clip(x.raw), code)
		}
	}
}
