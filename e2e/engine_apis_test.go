package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The Anthropic Messages API and the OpenAI Responses API in the engine
// conformance table. dsgate serves them by translation to chat
// completions, so a row is the chat request a Messages or Responses
// request translates to (sent directly to the engine and through dsgate,
// compared as every row is) and, in its check, the API request itself,
// sent through dsgate. The check reads the API's answer as the client SDKs
// do (event names and order, indexes, sequence numbers, the accumulated
// message or response) and compares what it says (reasoning, text, tool
// calls, why it stopped, usage) with the engine's own answer to the chat
// request. On the deepseek simulator a Messages request is relayed
// untouched to its Anthropic endpoint (gateway.Native), which is then held
// to the same answer.

// Anthropic and Responses shapes of weatherTool.
const (
	weatherSchemaJSON = `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`
	anthropicWeather  = `[{"name":"get_weather","description":"Weather of a city","input_schema":` + weatherSchemaJSON + `}]`
	responsesWeather  = `[{"type":"function","name":"get_weather","description":"Weather of a city","parameters":` + weatherSchemaJSON + `}]`
)

// apiCase is one Messages or Responses request and the chat request it
// translates to.
type apiCase struct {
	name   string
	role   string
	api    string // "messages" or "responses"
	stream bool
	// req is the API request; "MODEL" is replaced by the public model.
	req string
	// chat is the chat request req translates to; llamaChat, when set, is
	// the same for llama-server directly (the thinking switch as
	// chat_template_kwargs).
	chat, llamaChat string
	only            []string
	// reasoning: +1 the answer must carry reasoning, -1 it must not.
	reasoning int
	// llamaFinish is the chat finish_reason llama-server gives (the tiny
	// models' answers are fixed): it proves the row exercises what it is
	// named for.
	llamaFinish string
	// engineError: the engine refuses the request; the API must answer
	// with the engine's status and message in its own error shape.
	engineError bool
	// nativeOwnWords: the deepseek simulator's Anthropic endpoint, to which
	// dsgate relays a Messages request untouched, renders this
	// conversation (a tool turn) as text of its own, not as the chat
	// translation does, so its answer says other words than its chat
	// endpoint's: only the shape is checked there.
	nativeOwnWords bool
	// prefill is the text of a Messages request's last, assistant,
	// message: Anthropic's answer continues it and holds only the
	// continuation. llama-server's chat answer repeats the prefill before
	// the continuation (content "Hello! How can I help?" for the prefill
	// "Hello!"), so the engine's text less the prefill is expected.
	prefill string
	// next, when set, is the conversation's next request built from the
	// answer as a client builds it (the answer's content or output items
	// sent back, with tool results for its calls); it must be served, and
	// its answer is checked for shape.
	next func(model string, answer map[string]any) string
}

func (c apiCase) path() string {
	if c.api == "messages" {
		return "/v1/messages"
	}
	return "/v1/responses"
}

func (c apiCase) engineCase() engineCase {
	return engineCase{name: c.api + " " + c.name, role: c.role, path: "/v1/chat/completions",
		body: c.chat, llamaBody: c.llamaChat, only: c.only, statusOnly: c.engineError, check: c.check}
}

// chatHi is the chat request of a "hi" to the chat model; extra is added
// to the top-level members.
func chatHi(maxTokens, extra string) string {
	return `{"model":"MODEL","messages":[{"role":"user","content":"hi"}],"temperature":0,"max_tokens":` + maxTokens + extra + `}`
}

const (
	streamUsage = `,"stream":true,"stream_options":{"include_usage":true}`
	thinkOff    = `,"thinking":{"type":"disabled"}`
	thinkOn     = `,"thinking":{"type":"enabled"}`
	llamaOff    = `,"chat_template_kwargs":{"enable_thinking":false}`
	llamaOn     = `,"chat_template_kwargs":{"enable_thinking":true}`
)

// toolTurn is the chat request of the weather question (and, with the
// call's result, its second turn), thinking off, as both APIs translate
// it: the assistant turn's content "" and reasoning_content "".
func toolTurn(result bool, llama bool, extra string) string {
	sw := thinkOff
	if llama {
		sw = llamaOff
	}
	msgs := `[{"role":"user","content":"weather in Paris?"}`
	if result {
		msgs += `,{"role":"assistant","content":"","tool_calls":[{"id":"call_1","type":"function",` +
			`"function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}],"reasoning_content":""},` +
			`{"role":"tool","tool_call_id":"call_1","content":"sunny, 21C"}`
	}
	return `{"model":"MODEL","messages":` + msgs + `],"temperature":0,"max_tokens":64,"tools":` + weatherTool + sw + extra + `}`
}

// toolTurnMax is toolTurn's first turn with max_tokens n.
func toolTurnMax(n string, llama bool, extra string) string {
	return strings.Replace(toolTurn(false, llama, extra), `"max_tokens":64`, `"max_tokens":`+n, 1)
}

const (
	messagesToolResult = `[{"role":"user","content":"weather in Paris?"},` +
		`{"role":"assistant","content":[{"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_1","content":"sunny, 21C"}]}]`
	responsesToolResult = `[{"role":"user","content":"weather in Paris?"},` +
		`{"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},` +
		`{"type":"function_call_output","call_id":"call_1","output":"sunny, 21C"}]`
)

// secondTurn is the chat request of a second "hi" after the first's
// answer with its reasoning, after a system prompt.
const secondTurn = `{"model":"MODEL","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"},` +
	`{"role":"assistant","content":"Hello! How can I help?","reasoning_content":"Okay, the user says hi."},` +
	`{"role":"user","content":"hi again"}],"temperature":0,"max_tokens":64}`

// prefillChat is the chat request of "hi" with the assistant's answer
// begun ("Hello!").
func prefillChat(extra string) string {
	return `{"model":"MODEL","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"Hello!"}],` +
		`"temperature":0,"max_tokens":64` + extra + `}`
}

// messagesNext is the next request of a Messages conversation whose
// first user message is first: the answer's content blocks sent back as
// the SDKs accumulated them, then a tool_result for each tool_use block,
// or "hi again". top are the request's other members.
func messagesNext(top, first string) func(string, map[string]any) string {
	return func(model string, msg map[string]any) string {
		content, _ := json.Marshal(msg["content"])
		var results []string
		blocks, _ := msg["content"].([]any)
		for _, b := range blocks {
			if bl, _ := b.(map[string]any); bl["type"] == "tool_use" {
				id, _ := json.Marshal(bl["id"])
				results = append(results, `{"type":"tool_result","tool_use_id":`+string(id)+`,"content":"sunny, 21C"}`)
			}
		}
		next := `"hi again"`
		if len(results) > 0 {
			next = "[" + strings.Join(results, ",") + "]"
		}
		return `{"model":"` + model + `",` + top + `,"messages":[{"role":"user","content":` + first + `},` +
			`{"role":"assistant","content":` + string(content) + `},{"role":"user","content":` + next + `}]}`
	}
}

// responsesNext is the next request of a stateless Responses
// conversation: the first input, the answer's output items as they came,
// then a function_call_output for each function_call, or "hi again".
func responsesNext(top, first string) func(string, map[string]any) string {
	return func(model string, resp map[string]any) string {
		items := []string{`{"role":"user","content":` + first + `}`}
		var results []string
		output, _ := resp["output"].([]any)
		for _, o := range output {
			b, _ := json.Marshal(o)
			items = append(items, string(b))
			if it, _ := o.(map[string]any); it["type"] == "function_call" {
				id, _ := json.Marshal(it["call_id"])
				results = append(results, `{"type":"function_call_output","call_id":`+string(id)+`,"output":"sunny, 21C"}`)
			}
		}
		if len(results) == 0 {
			results = []string{`{"role":"user","content":"hi again"}`}
		}
		items = append(items, results...)
		return `{"model":"` + model + `",` + top + `,"input":[` + strings.Join(items, ",") + `]}`
	}
}

var overflowChat = `{"model":"MODEL","messages":[{"role":"user","content":"` + longPrompt + `"}],"max_tokens":8`

// apiCases are the Messages and Responses rows of the table.
var apiCases = func() []engineCase {
	rows := []apiCase{
		// Messages.
		{name: "text", role: roleChat, api: "messages", reasoning: -1, llamaFinish: "stop",
			req:  `{"model":"MODEL","max_tokens":64,"temperature":0,"thinking":{"type":"disabled"},"messages":[{"role":"user","content":"hi"}]}`,
			chat: chatHi("64", thinkOff), llamaChat: chatHi("64", llamaOff)},
		{name: "text stream", role: roleChat, api: "messages", stream: true, reasoning: -1, llamaFinish: "stop",
			req:  `{"model":"MODEL","max_tokens":64,"temperature":0,"stream":true,"thinking":{"type":"disabled"},"messages":[{"role":"user","content":"hi"}]}`,
			chat: chatHi("64", thinkOff+streamUsage), llamaChat: chatHi("64", llamaOff+streamUsage)},
		{name: "thinking", role: roleChat, api: "messages", reasoning: +1, llamaFinish: "stop",
			req:  `{"model":"MODEL","max_tokens":64,"temperature":0,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"hi"}]}`,
			chat: chatHi("64", thinkOn), llamaChat: chatHi("64", llamaOn)},
		{name: "thinking stream", role: roleChat, api: "messages", stream: true, reasoning: +1, llamaFinish: "stop",
			req:  `{"model":"MODEL","max_tokens":64,"temperature":0,"stream":true,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"hi"}]}`,
			chat: chatHi("64", thinkOn+streamUsage), llamaChat: chatHi("64", llamaOn+streamUsage),
			next: messagesNext(`"max_tokens":64,"temperature":0,"thinking":{"type":"enabled","budget_tokens":1024}`, `"hi"`)},
		// Cut in the answer, after the reasoning (llama-server: 9
		// reasoning tokens, then "Hello! How can").
		{name: "max_tokens cuts", role: roleChat, api: "messages", reasoning: +1, llamaFinish: "length",
			req:  `{"model":"MODEL","max_tokens":12,"temperature":0,"messages":[{"role":"user","content":"hi"}]}`,
			chat: chatHi("12", "")},
		{name: "max_tokens cuts stream", role: roleChat, api: "messages", stream: true, reasoning: +1, llamaFinish: "length",
			req:  `{"model":"MODEL","max_tokens":12,"temperature":0,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			chat: chatHi("12", streamUsage)},
		{name: "tool use", role: roleTools, api: "messages", llamaFinish: "tool_calls",
			req: `{"model":"MODEL","max_tokens":64,"temperature":0,"thinking":{"type":"disabled"},"tools":` + anthropicWeather +
				`,"messages":[{"role":"user","content":"weather in Paris?"}]}`,
			chat: toolTurn(false, false, ""), llamaChat: toolTurn(false, true, "")},
		{name: "tool use stream", role: roleTools, api: "messages", stream: true, llamaFinish: "tool_calls",
			req: `{"model":"MODEL","max_tokens":64,"temperature":0,"stream":true,"thinking":{"type":"disabled"},"tools":` + anthropicWeather +
				`,"messages":[{"role":"user","content":"weather in Paris?"}]}`,
			chat: toolTurn(false, false, streamUsage), llamaChat: toolTurn(false, true, streamUsage),
			next: messagesNext(`"max_tokens":64,"temperature":0,"thinking":{"type":"disabled"},"tools":`+anthropicWeather, `"weather in Paris?"`)},
		{name: "tool result", role: roleTools, api: "messages", nativeOwnWords: true,
			req: `{"model":"MODEL","max_tokens":64,"temperature":0,"thinking":{"type":"disabled"},"tools":` + anthropicWeather +
				`,"messages":` + messagesToolResult + `}`,
			chat: toolTurn(true, false, ""), llamaChat: toolTurn(true, true, "")},
		{name: "tool result stream", role: roleTools, api: "messages", stream: true, nativeOwnWords: true,
			req: `{"model":"MODEL","max_tokens":64,"temperature":0,"stream":true,"thinking":{"type":"disabled"},"tools":` + anthropicWeather +
				`,"messages":` + messagesToolResult + `}`,
			chat: toolTurn(true, false, streamUsage), llamaChat: toolTurn(true, true, streamUsage)},
		// A conversation sent back with its thinking (a signature not
		// dsgate's is accepted as it is) after a system prompt.
		{name: "thinking sent back", role: roleChat, api: "messages", reasoning: +1, llamaFinish: "stop", nativeOwnWords: true,
			req: `{"model":"MODEL","max_tokens":64,"temperature":0,"system":"Be brief.","messages":[{"role":"user","content":"hi"},` +
				`{"role":"assistant","content":[{"type":"thinking","thinking":"Okay, the user says hi.","signature":"c2lnbmF0dXJl"},` +
				`{"type":"text","text":"Hello! How can I help?"}]},{"role":"user","content":"hi again"}]}`,
			chat: secondTurn},
		// The tools model answers its call as text when told not to call:
		// quotes, newlines and markup in the text deltas.
		{name: "tool_choice none stream", role: roleTools, api: "messages", stream: true,
			req: `{"model":"MODEL","max_tokens":64,"temperature":0,"stream":true,"thinking":{"type":"disabled"},"tools":` + anthropicWeather +
				`,"tool_choice":{"type":"none"},"messages":[{"role":"user","content":"weather in Paris?"}]}`,
			chat: toolTurn(false, false, `,"tool_choice":"none"`+streamUsage), llamaChat: toolTurn(false, true, `,"tool_choice":"none"`+streamUsage)},
		// An assistant prefill: the answer continues "Hello!". Fails on
		// llama.cpp: llama-server repeats the prefill in its answer and
		// dsgate passes it on, so the client gets it twice.
		{name: "prefill", role: roleChat, api: "messages", reasoning: -1, llamaFinish: "stop", prefill: "Hello!", nativeOwnWords: true,
			req: `{"model":"MODEL","max_tokens":64,"temperature":0,"thinking":{"type":"disabled"},` +
				`"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"Hello!"}]}`,
			chat: prefillChat(thinkOff), llamaChat: prefillChat(llamaOff)},
		{name: "prefill stream", role: roleChat, api: "messages", stream: true, reasoning: -1, llamaFinish: "stop", prefill: "Hello!", nativeOwnWords: true,
			req: `{"model":"MODEL","max_tokens":64,"temperature":0,"stream":true,"thinking":{"type":"disabled"},` +
				`"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"Hello!"}]}`,
			chat: prefillChat(thinkOff + streamUsage), llamaChat: prefillChat(llamaOff + streamUsage)},
		// A stop sequence: llama-server stops before " How".
		{name: "stop_sequences", role: roleChat, api: "messages", reasoning: -1, llamaFinish: "stop",
			req: `{"model":"MODEL","max_tokens":64,"temperature":0,"thinking":{"type":"disabled"},"stop_sequences":[" How"],` +
				`"messages":[{"role":"user","content":"hi"}]}`,
			chat: chatHi("64", thinkOff+`,"stop":[" How"]`), llamaChat: chatHi("64", llamaOff+`,"stop":[" How"]`)},
		{name: "context overflow", role: roleChat, api: "messages", engineError: true, only: []string{"llama.cpp", "sim-plain"},
			req:  `{"model":"MODEL","max_tokens":8,"messages":[{"role":"user","content":"` + longPrompt + `"}]}`,
			chat: overflowChat + `}`},
		{name: "context overflow stream", role: roleChat, api: "messages", stream: true, engineError: true, only: []string{"llama.cpp", "sim-plain"},
			req:  `{"model":"MODEL","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"` + longPrompt + `"}]}`,
			chat: overflowChat + `,"stream":true}`},

		// Responses. reasoning.effort none is its only thinking switch
		// (off); a reasoning model thinks by default.
		{name: "text", role: roleChat, api: "responses", reasoning: -1, llamaFinish: "stop",
			req:  `{"model":"MODEL","max_output_tokens":64,"temperature":0,"store":false,"reasoning":{"effort":"none"},"input":"hi"}`,
			chat: chatHi("64", thinkOff), llamaChat: chatHi("64", llamaOff)},
		{name: "text stream", role: roleChat, api: "responses", stream: true, reasoning: -1, llamaFinish: "stop",
			req:  `{"model":"MODEL","max_output_tokens":64,"temperature":0,"store":false,"stream":true,"reasoning":{"effort":"none"},"input":"hi"}`,
			chat: chatHi("64", thinkOff+streamUsage), llamaChat: chatHi("64", llamaOff+streamUsage)},
		{name: "reasoning", role: roleChat, api: "responses", reasoning: +1, llamaFinish: "stop",
			req:  `{"model":"MODEL","max_output_tokens":64,"temperature":0,"store":false,"input":[{"role":"user","content":"hi"}]}`,
			chat: chatHi("64", "")},
		{name: "reasoning stream", role: roleChat, api: "responses", stream: true, reasoning: +1, llamaFinish: "stop",
			req:  `{"model":"MODEL","max_output_tokens":64,"temperature":0,"store":false,"stream":true,"reasoning":{"effort":"high"},"input":"hi"}`,
			chat: chatHi("64", `,"reasoning_effort":"high"`+streamUsage),
			next: responsesNext(`"max_output_tokens":64,"temperature":0,"store":false`, `"hi"`)},
		{name: "max_output_tokens incomplete", role: roleChat, api: "responses", reasoning: +1, llamaFinish: "length",
			req:  `{"model":"MODEL","max_output_tokens":12,"temperature":0,"store":false,"input":"hi"}`,
			chat: chatHi("12", "")},
		{name: "max_output_tokens incomplete stream", role: roleChat, api: "responses", stream: true, reasoning: +1, llamaFinish: "length",
			req:  `{"model":"MODEL","max_output_tokens":12,"temperature":0,"store":false,"stream":true,"input":"hi"}`,
			chat: chatHi("12", streamUsage)},
		{name: "function call", role: roleTools, api: "responses", llamaFinish: "tool_calls",
			req: `{"model":"MODEL","max_output_tokens":64,"temperature":0,"store":false,"reasoning":{"effort":"none"},"tools":` + responsesWeather +
				`,"input":"weather in Paris?"}`,
			chat: toolTurn(false, false, ""), llamaChat: toolTurn(false, true, "")},
		{name: "function call stream", role: roleTools, api: "responses", stream: true, llamaFinish: "tool_calls",
			req: `{"model":"MODEL","max_output_tokens":64,"temperature":0,"store":false,"stream":true,"reasoning":{"effort":"none"},"tools":` + responsesWeather +
				`,"input":"weather in Paris?"}`,
			chat: toolTurn(false, false, streamUsage), llamaChat: toolTurn(false, true, streamUsage),
			next: responsesNext(`"max_output_tokens":64,"temperature":0,"store":false,"reasoning":{"effort":"none"},"tools":`+responsesWeather, `"weather in Paris?"`)},
		{name: "function call output", role: roleTools, api: "responses",
			req: `{"model":"MODEL","max_output_tokens":64,"temperature":0,"store":false,"reasoning":{"effort":"none"},"tools":` + responsesWeather +
				`,"input":` + responsesToolResult + `}`,
			chat: toolTurn(true, false, ""), llamaChat: toolTurn(true, true, "")},
		{name: "function call output stream", role: roleTools, api: "responses", stream: true,
			req: `{"model":"MODEL","max_output_tokens":64,"temperature":0,"store":false,"stream":true,"reasoning":{"effort":"none"},"tools":` + responsesWeather +
				`,"input":` + responsesToolResult + `}`,
			chat: toolTurn(true, false, streamUsage), llamaChat: toolTurn(true, true, streamUsage)},
		// Cut in the call's arguments (llama-server: `{"city": "Paris`;
		// the simulator never cuts a call). Fails: dsgate calls the cut
		// function_call item completed.
		{name: "function call cut", role: roleTools, api: "responses", llamaFinish: "length",
			req: `{"model":"MODEL","max_output_tokens":14,"temperature":0,"store":false,"reasoning":{"effort":"none"},"tools":` + responsesWeather +
				`,"input":"weather in Paris?"}`,
			chat: toolTurnMax("14", false, ""), llamaChat: toolTurnMax("14", true, "")},
		{name: "function call cut stream", role: roleTools, api: "responses", stream: true, llamaFinish: "length",
			req: `{"model":"MODEL","max_output_tokens":14,"temperature":0,"store":false,"stream":true,"reasoning":{"effort":"none"},"tools":` + responsesWeather +
				`,"input":"weather in Paris?"}`,
			chat: toolTurnMax("14", false, streamUsage), llamaChat: toolTurnMax("14", true, streamUsage)},
		// A conversation sent back with its reasoning item, after
		// instructions.
		{name: "reasoning sent back", role: roleChat, api: "responses", reasoning: +1, llamaFinish: "stop",
			req: `{"model":"MODEL","max_output_tokens":64,"temperature":0,"store":false,"instructions":"Be brief.","input":[` +
				`{"role":"user","content":"hi"},{"type":"reasoning","id":"rs_1","summary":[],"content":[{"type":"reasoning_text","text":"Okay, the user says hi."}]},` +
				`{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Hello! How can I help?"}]},` +
				`{"role":"user","content":"hi again"}]}`,
			chat: secondTurn},
		{name: "tool_choice none stream", role: roleTools, api: "responses", stream: true,
			req: `{"model":"MODEL","max_output_tokens":64,"temperature":0,"store":false,"stream":true,"reasoning":{"effort":"none"},"tools":` + responsesWeather +
				`,"tool_choice":"none","input":"weather in Paris?"}`,
			chat: toolTurn(false, false, `,"tool_choice":"none"`+streamUsage), llamaChat: toolTurn(false, true, `,"tool_choice":"none"`+streamUsage)},
		{name: "context overflow", role: roleChat, api: "responses", engineError: true, only: []string{"llama.cpp", "sim-plain"},
			req:  `{"model":"MODEL","max_output_tokens":8,"store":false,"input":"` + longPrompt + `"}`,
			chat: overflowChat + `}`},
		{name: "context overflow stream", role: roleChat, api: "responses", stream: true, engineError: true, only: []string{"llama.cpp", "sim-plain"},
			req:  `{"model":"MODEL","max_output_tokens":8,"store":false,"stream":true,"input":"` + longPrompt + `"}`,
			chat: overflowChat + `,"stream":true}`},
	}
	out := make([]engineCase, len(rows))
	for i, r := range rows {
		out[i] = r.engineCase()
	}
	return out
}()

// apiTurn is what one answer said, in chat completions' terms.
type apiTurn struct {
	reasoning, text string
	calls           []apiCall
	finish          string // stop, length or tool_calls
	// usage; -1 when absent.
	prompt, completion, reasoningTokens int
}

type apiCall struct {
	id, name, args string
}

// check sends the API request through dsgate and compares its answer with
// the engine's answer to the chat request (direct).
func (c apiCase) check(t *testing.T, e *engine, direct, _ engineAnswer) {
	body := strings.ReplaceAll(c.req, "MODEL", e.models[c.role])
	x := sendAPI(t, e.gateway.base+c.path(), body)
	if c.engineError {
		checkAPIError(t, c.api, direct, x)
		return
	}
	if x.status != 200 {
		t.Fatalf("%s: status %d: %s", c.path(), x.status, clip(x.raw))
	}
	if ct := x.contentType; c.stream != strings.HasPrefix(ct, "text/event-stream") || !c.stream && !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s stream=%t: Content-Type %q", c.path(), c.stream, ct)
	}
	answer := x.body
	switch {
	case c.api == "messages" && c.stream:
		answer = anthropicStreamMessage(t, x.events)
	case c.stream:
		answer = responsesStreamResponse(t, x.events)
	}
	read := messageTurn
	if c.api == "responses" {
		read = responseTurn
	}
	got := read(t, answer)
	if c.next != nil && !t.Failed() {
		defer func() {
			body := c.next(e.models[c.role], answer)
			y := sendAPI(t, e.gateway.base+c.path(), body)
			if y.status != 200 {
				t.Fatalf("the next turn: status %d: %s\nrequest: %s", y.status, clip(y.raw), clip(body))
			}
			if tr := read(t, y.body); tr.text == "" && len(tr.calls) == 0 {
				t.Errorf("the next turn: an empty answer: %s", clip(y.raw))
			}
		}()
	}
	want := chatTurn(t, direct)
	want.text = strings.TrimPrefix(want.text, c.prefill)
	if e.llama && c.llamaFinish != "" && want.finish != c.llamaFinish {
		t.Errorf("llama-server finished with %q, the row expects %q", want.finish, c.llamaFinish)
	}
	if c.reasoning > 0 && want.reasoning == "" || c.reasoning < 0 && want.reasoning != "" {
		t.Errorf("the engine's reasoning is %q; the row expects reasoning %t", want.reasoning, c.reasoning > 0)
	}
	if c.nativeOwnWords && e.sim == "deepseek" && c.api == "messages" {
		if got.text == "" && len(got.calls) == 0 {
			t.Errorf("an empty answer")
		}
		return
	}
	compareTurns(t, c.api, want, got)
	if t.Failed() {
		t.Logf("engine (chat): %s\n%s: %s", clip(direct.raw), c.path(), clip(x.raw))
	}
}

// compareTurns fails t where the API's answer says something else than
// the engine's chat answer.
func compareTurns(t *testing.T, api string, want, got apiTurn) {
	t.Helper()
	if got.reasoning != want.reasoning {
		t.Errorf("reasoning %q, the engine's %q", got.reasoning, want.reasoning)
	}
	if got.text != want.text {
		t.Errorf("text %q, want %q (the engine's)", got.text, want.text)
	}
	if got.finish != want.finish {
		t.Errorf("%s says it stopped for %q, the engine's finish_reason is %q", api, got.finish, want.finish)
	}
	if len(got.calls) != len(want.calls) {
		t.Errorf("tool calls %+v, the engine's %+v", got.calls, want.calls)
	} else {
		for i, w := range want.calls {
			g := got.calls[i]
			if g.id == "" || g.name != w.name || !sameJSON(g.args, w.args) {
				t.Errorf("tool call %d: %+v, the engine's %+v", i, g, w)
			}
		}
	}
	if want.prompt < 0 || want.completion < 0 {
		t.Errorf("the engine's answer has no usage")
	}
	if got.prompt != want.prompt || got.completion != want.completion {
		t.Errorf("usage: %d prompt and %d completion tokens, the engine's %d and %d",
			got.prompt, got.completion, want.prompt, want.completion)
	}
	if api == "responses" && got.reasoningTokens != max(want.reasoningTokens, 0) {
		t.Errorf("usage: %d reasoning tokens, the engine's %d", got.reasoningTokens, want.reasoningTokens)
	}
}

// sameJSON compares two JSON texts by value (arguments cut by the token
// limit, not JSON, by text).
func sameJSON(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return a == b
	}
	return reflect.DeepEqual(va, vb)
}

// apiAnswer is an API's answer: the JSON body or the named SSE events.
type apiAnswer struct {
	status      int
	contentType string
	raw         string
	body        map[string]any
	events      []sseEvent
}

type sseEvent struct {
	name string
	data map[string]any
	raw  string
}

func sendAPI(t *testing.T, url, body string) apiAnswer {
	t.Helper()
	c := newClient()
	c.Timeout = 30 * time.Second
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("anthropic-version", "2023-06-01")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	x := apiAnswer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type")}
	if strings.HasPrefix(x.contentType, "text/event-stream") {
		x.events, x.raw = readNamedEvents(t, resp.Body)
		return x
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	x.raw = string(b)
	if err := json.Unmarshal(b, &x.body); err != nil {
		t.Fatalf("%s answered %d with a body that is not a JSON object: %s", url, x.status, clip(x.raw))
	}
	return x
}

// readNamedEvents reads an SSE stream as the SDKs' decoders do: "event:"
// and "data:" lines, dispatched at a blank line. Every data must be a
// JSON object (neither API has a [DONE]).
func readNamedEvents(t *testing.T, r io.Reader) ([]sseEvent, string) {
	t.Helper()
	var events []sseEvent
	var raw strings.Builder
	var name string
	var data []string
	dispatch := func() {
		if len(data) == 0 {
			name = ""
			return
		}
		ev := sseEvent{name: name, raw: strings.Join(data, "\n")}
		if err := json.Unmarshal([]byte(ev.raw), &ev.data); err != nil {
			t.Errorf("event %d (%q) data is not a JSON object: %q", len(events), name, ev.raw)
		}
		events = append(events, ev)
		name, data = "", nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		line := sc.Text()
		raw.WriteString(line + "\n")
		switch {
		case line == "":
			dispatch()
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	dispatch()
	return events, raw.String()
}

// chatTurn reads the engine's chat answer, whole or streamed.
func chatTurn(t *testing.T, x engineAnswer) apiTurn {
	t.Helper()
	tr := apiTurn{prompt: -1, completion: -1, reasoningTokens: -1}
	usage := func(u map[string]any) {
		if u == nil {
			return
		}
		tr.prompt, tr.completion = intOf(u["prompt_tokens"]), intOf(u["completion_tokens"])
		if d, ok := u["completion_tokens_details"].(map[string]any); ok {
			if _, ok := d["reasoning_tokens"]; ok {
				tr.reasoningTokens = intOf(d["reasoning_tokens"])
			}
		}
	}
	addCall := func(tc map[string]any, i int) {
		if idx, ok := tc["index"]; ok {
			i = intOf(idx)
		}
		for len(tr.calls) <= i {
			tr.calls = append(tr.calls, apiCall{})
		}
		cl := &tr.calls[i]
		if id, _ := tc["id"].(string); id != "" {
			cl.id = id
		}
		fn, _ := tc["function"].(map[string]any)
		name, _ := fn["name"].(string)
		args, _ := fn["arguments"].(string)
		cl.name += name
		cl.args += args
	}
	if x.events == nil {
		body, _ := x.body.(map[string]any)
		msg := chatMessage(t, x)
		tr.reasoning, _ = msg["reasoning_content"].(string)
		tr.text, _ = msg["content"].(string)
		calls, _ := msg["tool_calls"].([]any)
		for i, c := range calls {
			tc, _ := c.(map[string]any)
			delete(tc, "index") // a completion's calls are told apart by position
			addCall(tc, i)
		}
		choices, _ := body["choices"].([]any)
		tr.finish, _ = choices[0].(map[string]any)["finish_reason"].(string)
		u, _ := body["usage"].(map[string]any)
		usage(u)
		return tr
	}
	for _, ev := range x.events {
		m, ok := ev.(map[string]any)
		if !ok {
			continue
		}
		u, _ := m["usage"].(map[string]any)
		usage(u)
		choices, _ := m["choices"].([]any)
		for _, c := range choices {
			ch, _ := c.(map[string]any)
			if f, _ := ch["finish_reason"].(string); f != "" {
				tr.finish = f
			}
			d, _ := ch["delta"].(map[string]any)
			s, _ := d["reasoning_content"].(string)
			tr.reasoning += s
			s, _ = d["content"].(string)
			tr.text += s
			calls, _ := d["tool_calls"].([]any)
			for i, c := range calls {
				tc, _ := c.(map[string]any)
				addCall(tc, i)
			}
		}
	}
	return tr
}

func intOf(v any) int {
	f, ok := v.(float64)
	if !ok {
		return -1
	}
	return int(f)
}

// anthropicStopReasons maps Anthropic's stop_reason to chat's finish_reason.
var anthropicStopReasons = map[string]string{"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls",
	"stop_sequence": "stop"}

// messageTurn checks a Message as the Anthropic SDKs type it and reads
// what it says.
func messageTurn(t *testing.T, m map[string]any) apiTurn {
	t.Helper()
	tr := apiTurn{prompt: -1, completion: -1}
	if m["type"] != "message" || m["role"] != "assistant" {
		t.Errorf("not an assistant message: type %v, role %v", m["type"], m["role"])
	}
	if id, _ := m["id"].(string); id == "" {
		t.Errorf("message without an id")
	}
	if s, _ := m["model"].(string); s == "" {
		t.Errorf("message without a model")
	}
	stop, _ := m["stop_reason"].(string)
	finish, ok := anthropicStopReasons[stop]
	if !ok {
		t.Errorf("stop_reason %v", m["stop_reason"])
	}
	tr.finish = finish
	if _, ok := m["stop_sequence"]; !ok {
		t.Errorf("message without stop_sequence")
	}
	content, ok := m["content"].([]any)
	if !ok {
		t.Fatalf("content %v", m["content"])
	}
	for i, b := range content {
		bl, _ := b.(map[string]any)
		switch bl["type"] {
		case "text":
			s, ok := bl["text"].(string)
			if !ok {
				t.Errorf("text block %d without text", i)
			}
			tr.text += s
		case "thinking":
			s, ok := bl["thinking"].(string)
			sig, _ := bl["signature"].(string)
			if !ok || sig == "" {
				t.Errorf("thinking block %d: thinking %v, signature %q (clients send it back signed)", i, bl["thinking"], sig)
			}
			tr.reasoning += s
		case "tool_use":
			id, _ := bl["id"].(string)
			name, _ := bl["name"].(string)
			input, ok := bl["input"].(map[string]any)
			if id == "" || name == "" || !ok {
				t.Errorf("tool_use block %d: %v", i, bl)
			}
			args, _ := json.Marshal(input)
			tr.calls = append(tr.calls, apiCall{id: id, name: name, args: string(args)})
		default:
			t.Errorf("content block %d of type %v", i, bl["type"])
		}
	}
	u, ok := m["usage"].(map[string]any)
	if !ok {
		t.Errorf("message without usage")
		return tr
	}
	in, out := intOf(u["input_tokens"]), intOf(u["output_tokens"])
	if in < 0 || out < 0 {
		t.Errorf("usage %v: input_tokens and output_tokens are required", u)
	}
	// Anthropic counts the prompt cache's reads and writes apart from
	// input_tokens.
	tr.prompt, tr.completion = in+max(intOf(u["cache_read_input_tokens"]), 0)+max(intOf(u["cache_creation_input_tokens"]), 0), out
	return tr
}

// anthropicStreamMessage checks a Messages event stream as the Anthropic
// SDKs' MessageStream reads it and returns the message it accumulates:
// message_start first; each content block started at the next index,
// its deltas of the block's kind at its index, stopped before the next
// starts; one message_delta (stop_reason, usage merged into the
// message's) after the last block; message_stop last. ping may come
// anywhere in between; an error event fails the check.
func anthropicStreamMessage(t *testing.T, events []sseEvent) map[string]any {
	t.Helper()
	if len(events) == 0 || events[0].name != "message_start" {
		t.Fatalf("the stream does not begin with message_start: %v", eventNames(events))
	}
	var msg map[string]any
	var blocks []map[string]any
	var inputJSON []string
	open := -1
	deltaSeen, stopSeen := false, false
	for i, ev := range events {
		if typ, _ := ev.data["type"].(string); typ != ev.name {
			t.Fatalf("event %d: named %q, data type %q", i, ev.name, typ)
		}
		if stopSeen {
			t.Fatalf("event %d (%s) after message_stop", i, ev.name)
		}
		index := intOf(ev.data["index"])
		switch ev.name {
		case "message_start":
			if i != 0 {
				t.Fatalf("a second message_start at %d", i)
			}
			msg, _ = ev.data["message"].(map[string]any)
			if c, ok := msg["content"].([]any); !ok || len(c) != 0 {
				t.Errorf("message_start content %v", msg["content"])
			}
			if _, ok := msg["usage"].(map[string]any); !ok {
				t.Errorf("message_start without usage: %s", ev.raw)
			}
		case "ping":
		case "content_block_start":
			if open >= 0 || deltaSeen {
				t.Fatalf("event %d: block %d starts while block %d is open (or after message_delta)", i, index, open)
			}
			if index != len(blocks) {
				t.Fatalf("event %d: block index %d, want %d", i, index, len(blocks))
			}
			b, _ := ev.data["content_block"].(map[string]any)
			switch b["type"] {
			case "text", "thinking":
			case "tool_use":
				if id, _ := b["id"].(string); id == "" {
					t.Errorf("tool_use block without an id: %s", ev.raw)
				}
				if name, _ := b["name"].(string); name == "" {
					t.Errorf("tool_use block without a name: %s", ev.raw)
				}
			default:
				t.Errorf("block of type %v", b["type"])
			}
			blocks = append(blocks, b)
			inputJSON = append(inputJSON, "")
			open = index
		case "content_block_delta":
			if index != open || open < 0 {
				t.Fatalf("event %d: delta for block %d, open is %d", i, index, open)
			}
			b := blocks[open]
			d, _ := ev.data["delta"].(map[string]any)
			appendTo := func(key string) {
				s, ok := d[key].(string)
				if !ok {
					t.Errorf("event %d: %v without %s", i, d["type"], key)
				}
				prev, _ := b[key].(string)
				b[key] = prev + s
			}
			switch dt := d["type"]; {
			case dt == "text_delta" && b["type"] == "text":
				appendTo("text")
			case dt == "thinking_delta" && b["type"] == "thinking":
				appendTo("thinking")
			case dt == "signature_delta" && b["type"] == "thinking":
				appendTo("signature")
			case dt == "input_json_delta" && b["type"] == "tool_use":
				s, _ := d["partial_json"].(string)
				inputJSON[open] += s
			default:
				t.Fatalf("event %d: delta %v in a %v block", i, dt, b["type"])
			}
		case "content_block_stop":
			if index != open || open < 0 {
				t.Fatalf("event %d: stop of block %d, open is %d", i, index, open)
			}
			if b := blocks[open]; b["type"] == "tool_use" {
				// The SDKs parse the accumulated partial JSON ({} when
				// none came).
				input := map[string]any{}
				if s := inputJSON[open]; s != "" {
					if err := json.Unmarshal([]byte(s), &input); err != nil {
						input = map[string]any{"_partial": s}
					}
				}
				b["input"] = input
			}
			open = -1
		case "message_delta":
			if open >= 0 || deltaSeen {
				t.Fatalf("event %d: message_delta with block %d open or a second time", i, open)
			}
			deltaSeen = true
			d, _ := ev.data["delta"].(map[string]any)
			msg["stop_reason"] = d["stop_reason"]
			msg["stop_sequence"] = d["stop_sequence"]
			u, ok := ev.data["usage"].(map[string]any)
			if !ok || intOf(u["output_tokens"]) < 0 {
				t.Errorf("message_delta without usage.output_tokens: %s", ev.raw)
			}
			mu, _ := msg["usage"].(map[string]any)
			for k, v := range u { // as the SDKs merge it
				if v != nil && mu != nil {
					mu[k] = v
				}
			}
		case "message_stop":
			if !deltaSeen {
				t.Fatalf("message_stop before message_delta")
			}
			stopSeen = true
		case "error":
			t.Fatalf("error event: %s", ev.raw)
		default:
			t.Errorf("event %d of unknown type %q", i, ev.name)
		}
	}
	if !stopSeen {
		t.Fatalf("the stream ends without message_stop: %v", eventNames(events))
	}
	content := make([]any, len(blocks))
	for i, b := range blocks {
		content[i] = b
	}
	msg["content"] = content
	return msg
}

func eventNames(events []sseEvent) []string {
	names := make([]string, len(events))
	for i, ev := range events {
		names[i] = ev.name
	}
	return names
}

// responseTurn checks a Response object as the openai SDKs type it and
// reads what it says.
func responseTurn(t *testing.T, r map[string]any) apiTurn {
	t.Helper()
	tr := apiTurn{prompt: -1, completion: -1, reasoningTokens: -1}
	if r["object"] != "response" {
		t.Errorf("object %v", r["object"])
	}
	if id, _ := r["id"].(string); id == "" {
		t.Errorf("response without an id")
	}
	output, ok := r["output"].([]any)
	if !ok {
		t.Fatalf("output %v", r["output"])
	}
	for i, o := range output {
		it, _ := o.(map[string]any)
		if id, _ := it["id"].(string); id == "" {
			t.Errorf("output item %d without an id", i)
		}
		parts, _ := it["content"].([]any)
		texts := func(typ string) string {
			var sb strings.Builder
			for _, p := range parts {
				pm, _ := p.(map[string]any)
				if pm["type"] != typ {
					t.Errorf("output item %d (%v) has a part of type %v", i, it["type"], pm["type"])
				}
				s, _ := pm["text"].(string)
				sb.WriteString(s)
			}
			return sb.String()
		}
		switch it["type"] {
		case "reasoning":
			tr.reasoning += texts("reasoning_text")
		case "message":
			if it["role"] != "assistant" {
				t.Errorf("message item %d of role %v", i, it["role"])
			}
			tr.text += texts("output_text")
		case "function_call":
			id, _ := it["call_id"].(string)
			name, _ := it["name"].(string)
			args, ok := it["arguments"].(string)
			if id == "" || name == "" || !ok {
				t.Errorf("function_call item %d: %v", i, it)
			}
			tr.calls = append(tr.calls, apiCall{id: id, name: name, args: args})
		default:
			t.Errorf("output item %d of type %v", i, it["type"])
		}
	}
	switch r["status"] {
	case "completed":
		tr.finish = "stop"
		if len(tr.calls) > 0 {
			tr.finish = "tool_calls"
		}
		if r["incomplete_details"] != nil {
			t.Errorf("completed with incomplete_details %v", r["incomplete_details"])
		}
	case "incomplete":
		d, _ := r["incomplete_details"].(map[string]any)
		if d["reason"] == "max_output_tokens" {
			tr.finish = "length"
		} else {
			t.Errorf("incomplete_details %v", r["incomplete_details"])
		}
		// The item the limit cut, the last, is incomplete.
		if n := len(output); n > 0 {
			if last, _ := output[n-1].(map[string]any); last["status"] != "incomplete" {
				t.Errorf("an incomplete response's last output item (%v) has status %v", last["type"], last["status"])
			}
		}
	default:
		t.Errorf("status %v, error %v", r["status"], r["error"])
	}
	u, ok := r["usage"].(map[string]any)
	if !ok {
		t.Errorf("response without usage")
		return tr
	}
	in, out, total := intOf(u["input_tokens"]), intOf(u["output_tokens"]), intOf(u["total_tokens"])
	if in < 0 || out < 0 || total != in+out {
		t.Errorf("usage %v", u)
	}
	id, _ := u["input_tokens_details"].(map[string]any)
	od, _ := u["output_tokens_details"].(map[string]any)
	if c := intOf(id["cached_tokens"]); c < 0 || c > in {
		t.Errorf("usage.input_tokens_details %v", u["input_tokens_details"])
	}
	tr.prompt, tr.completion, tr.reasoningTokens = in, out, intOf(od["reasoning_tokens"])
	if tr.reasoningTokens < 0 || tr.reasoningTokens > out {
		t.Errorf("usage.output_tokens_details %v", u["output_tokens_details"])
	}
	return tr
}

// responsesStreamResponse checks a Responses event stream as the openai
// SDKs' ResponseStream accumulates it and returns the final response:
// sequence numbers 0, 1, 2, ...; response.created (status in_progress),
// response.in_progress; items added at output_index == len(output),
// parts at content_index == len(content); each delta of its item's and
// part's kind; the .done events repeating what the deltas built; last,
// response.completed or response.incomplete whose response has the
// accumulated output.
func responsesStreamResponse(t *testing.T, events []sseEvent) map[string]any {
	t.Helper()
	if len(events) < 2 || events[0].name != "response.created" || events[1].name != "response.in_progress" {
		t.Fatalf("the stream does not begin with response.created, response.in_progress: %v", eventNames(events))
	}
	var output []map[string]any
	var final map[string]any
	item := func(i int, ev sseEvent) map[string]any {
		idx := intOf(ev.data["output_index"])
		if idx < 0 || idx >= len(output) {
			t.Fatalf("event %d (%s): output_index %d of %d items", i, ev.name, idx, len(output))
		}
		it := output[idx]
		if id, ok := ev.data["item_id"]; ok && id != it["id"] {
			t.Fatalf("event %d (%s): item_id %v, item %d is %v", i, ev.name, id, idx, it["id"])
		}
		return it
	}
	part := func(i int, ev sseEvent, it map[string]any, typ string) map[string]any {
		parts, _ := it["content"].([]any)
		ci := intOf(ev.data["content_index"])
		if ci < 0 || ci >= len(parts) {
			t.Fatalf("event %d (%s): content_index %d of %d parts", i, ev.name, ci, len(parts))
		}
		p, _ := parts[ci].(map[string]any)
		if p["type"] != typ {
			t.Fatalf("event %d (%s): part of type %v", i, ev.name, p["type"])
		}
		return p
	}
	for i, ev := range events {
		if typ, _ := ev.data["type"].(string); typ != ev.name {
			t.Fatalf("event %d: named %q, data type %q", i, ev.name, typ)
		}
		if n := intOf(ev.data["sequence_number"]); n != i {
			t.Fatalf("event %d (%s): sequence_number %d", i, ev.name, n)
		}
		if final != nil {
			t.Fatalf("event %d (%s) after %s", i, ev.name, events[i-1].name)
		}
		switch ev.name {
		case "response.created", "response.in_progress":
			if i > 1 {
				t.Fatalf("%s at %d", ev.name, i)
			}
			r, _ := ev.data["response"].(map[string]any)
			if r["status"] != "in_progress" {
				t.Errorf("%s: status %v", ev.name, r["status"])
			}
			if o, _ := r["output"].([]any); len(o) != 0 {
				t.Errorf("%s: output %v", ev.name, r["output"])
			}
		case "response.output_item.added":
			if idx := intOf(ev.data["output_index"]); idx != len(output) {
				t.Fatalf("event %d: item added at %d, want %d", i, idx, len(output))
			}
			it, _ := ev.data["item"].(map[string]any)
			if it["status"] != "in_progress" {
				t.Errorf("event %d: added item's status %v", i, it["status"])
			}
			if it["type"] == "function_call" && it["arguments"] == nil {
				it["arguments"] = ""
			}
			output = append(output, it)
		case "response.content_part.added":
			it := item(i, ev)
			parts, _ := it["content"].([]any)
			if ci := intOf(ev.data["content_index"]); ci != len(parts) {
				t.Fatalf("event %d: part added at %d, want %d", i, ci, len(parts))
			}
			p, _ := ev.data["part"].(map[string]any)
			want := map[any]string{"message": "output_text", "reasoning": "reasoning_text"}[it["type"]]
			if want == "" || p["type"] != want {
				t.Fatalf("event %d: part %v added to a %v item", i, p["type"], it["type"])
			}
			it["content"] = append(parts, p)
		case "response.output_text.delta", "response.reasoning_text.delta":
			it := item(i, ev)
			typ := "output_text"
			if ev.name == "response.reasoning_text.delta" {
				typ = "reasoning_text"
			}
			p := part(i, ev, it, typ)
			d, ok := ev.data["delta"].(string)
			if !ok {
				t.Errorf("event %d: delta %v", i, ev.data["delta"])
			}
			p["text"] = p["text"].(string) + d
		case "response.function_call_arguments.delta":
			it := item(i, ev)
			if it["type"] != "function_call" {
				t.Fatalf("event %d: arguments delta for a %v item", i, it["type"])
			}
			d, _ := ev.data["delta"].(string)
			it["arguments"] = it["arguments"].(string) + d
		case "response.output_text.done", "response.reasoning_text.done":
			it := item(i, ev)
			typ := "output_text"
			if ev.name == "response.reasoning_text.done" {
				typ = "reasoning_text"
			}
			if p := part(i, ev, it, typ); ev.data["text"] != p["text"] {
				t.Errorf("event %d (%s): text %q, the deltas made %q", i, ev.name, ev.data["text"], p["text"])
			}
		case "response.content_part.done":
			it := item(i, ev)
			p, _ := ev.data["part"].(map[string]any)
			typ, _ := p["type"].(string)
			if q := part(i, ev, it, typ); p["text"] != q["text"] {
				t.Errorf("event %d: part done with %q, the deltas made %q", i, p["text"], q["text"])
			}
		case "response.function_call_arguments.done":
			it := item(i, ev)
			if ev.data["arguments"] != it["arguments"] {
				t.Errorf("event %d: arguments %q, the deltas made %q", i, ev.data["arguments"], it["arguments"])
			}
		case "response.output_item.done":
			it := item(i, ev)
			done, _ := ev.data["item"].(map[string]any)
			if done["id"] != it["id"] || done["type"] != it["type"] {
				t.Fatalf("event %d: item done %v, added %v", i, done["id"], it["id"])
			}
			if s := done["status"]; s != "completed" && s != "incomplete" {
				t.Errorf("event %d: done item's status %v", i, s)
			}
			if !sameItemText(done, it) {
				t.Errorf("event %d: item done as %v, the events made %v", i, done, it)
			}
			output[intOf(ev.data["output_index"])] = done
		case "response.completed", "response.incomplete":
			final, _ = ev.data["response"].(map[string]any)
			status := strings.TrimPrefix(ev.name, "response.")
			if final["status"] != status {
				t.Errorf("%s with status %v", ev.name, final["status"])
			}
			fo, _ := final["output"].([]any)
			if len(fo) != len(output) {
				t.Fatalf("%s: %d output items, the events made %d", ev.name, len(fo), len(output))
			}
			// Clients that keep the items of response.output_item.done
			// (the Codex CLI builds its history from them) and clients that
			// read the final response must see the same items, status
			// included.
			for j := range fo {
				if f, _ := fo[j].(map[string]any); !reflect.DeepEqual(f, output[j]) {
					t.Errorf("%s: item %d is\n%s\nresponse.output_item.done said\n%s", ev.name, j, jsonText(f), jsonText(output[j]))
				}
			}
		case "response.failed", "error":
			t.Fatalf("%s: %s", ev.name, ev.raw)
		default:
			t.Errorf("event %d of unknown type %q", i, ev.name)
		}
	}
	if final == nil {
		t.Fatalf("the stream ends without response.completed or response.incomplete: %v", eventNames(events))
	}
	return final
}

// sameItemText reports whether two states of an output item carry the
// same texts and arguments.
func sameItemText(a, b map[string]any) bool {
	if a["arguments"] != b["arguments"] || a["name"] != b["name"] || a["call_id"] != b["call_id"] {
		return false
	}
	pa, _ := a["content"].([]any)
	pb, _ := b["content"].([]any)
	if len(pa) != len(pb) {
		return false
	}
	for i := range pa {
		x, _ := pa[i].(map[string]any)
		y, _ := pb[i].(map[string]any)
		if x["type"] != y["type"] || x["text"] != y["text"] {
			return false
		}
	}
	return true
}

// anthropicErrorTypes is Anthropic's error type by HTTP status.
var anthropicErrorTypes = map[int]string{400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
	404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 503: "overloaded_error",
	504: "timeout_error", 529: "overloaded_error"}

// checkAPIError checks the API's answer to a request the engine refused
// (direct is the engine's chat answer): the engine's status, in the API's
// own error shape, with the engine's message; the Responses API's code
// says what happened as the chat error's does.
func checkAPIError(t *testing.T, api string, direct engineAnswer, x apiAnswer) {
	t.Helper()
	db, _ := direct.body.(map[string]any)
	de, _ := db["error"].(map[string]any)
	if direct.status < 400 || de == nil {
		t.Fatalf("the engine did not refuse the request: %d %s", direct.status, clip(direct.raw))
	}
	if x.status != direct.status {
		t.Fatalf("status %d, the engine's %d: %s", x.status, direct.status, clip(x.raw))
	}
	if !strings.HasPrefix(x.contentType, "application/json") || x.body == nil {
		t.Fatalf("error as %q: %s", x.contentType, clip(x.raw))
	}
	e, _ := x.body["error"].(map[string]any)
	if e == nil {
		t.Fatalf("no error object: %s", clip(x.raw))
	}
	if e["message"] != de["message"] {
		t.Errorf("message %q, the engine's %q", e["message"], de["message"])
	}
	if api == "messages" {
		if x.body["type"] != "error" || e["type"] != anthropicErrorTypes[x.status] {
			t.Errorf("not Anthropic's error for %d: %s", x.status, clip(x.raw))
		}
		return
	}
	if e["type"] != "invalid_request_error" || e["code"] != "context_length_exceeded" {
		t.Errorf("error %s, want type invalid_request_error, code context_length_exceeded", clip(x.raw))
	}
}
