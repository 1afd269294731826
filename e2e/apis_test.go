package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit"
)

// turn is what one answer said, whichever API carried it.
type turn struct {
	Text, Reasoning string
	Calls           []call
}

type call struct{ ID, Name, Args string }

// conversation is one exchange in each API's own words: a system prompt,
// a user question that makes the simulator call get_weather, and the
// call's result.
type conversation struct {
	model    string
	thinking bool
}

const weatherSchema = `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`

func (c conversation) chat(result *call, stream bool) string {
	msgs := `[{"role":"system","content":"Be brief."},{"role":"user","content":"What is the weather in Paris?"}`
	if result != nil {
		msgs += `,{"role":"assistant","content":"","tool_calls":[{"id":"` + result.ID + `","type":"function","function":{"name":"` + result.Name + `","arguments":` + quoteJSON(result.Args) + `}}]}` +
			`,{"role":"tool","tool_call_id":"` + result.ID + `","content":"sunny"}`
	}
	return `{"model":"` + c.model + `","max_tokens":24,"stream":` + boolJSON(stream) + `,"messages":` + msgs + `]` + c.chatThinking() +
		`,"tools":[{"type":"function","function":{"name":"get_weather","parameters":` + weatherSchema + `}}]}`
}

func (c conversation) chatThinking() string {
	if c.thinking {
		return `,"thinking":{"type":"enabled"}`
	}
	return `,"thinking":{"type":"disabled"}`
}

func (c conversation) messages(result *call, stream bool) string {
	msgs := `[{"role":"user","content":"What is the weather in Paris?"}`
	if result != nil {
		msgs += `,{"role":"assistant","content":[{"type":"tool_use","id":"` + result.ID + `","name":"` + result.Name + `","input":` + result.Args + `}]}` +
			`,{"role":"user","content":[{"type":"tool_result","tool_use_id":"` + result.ID + `","content":"sunny"}]}`
	}
	th := `{"type":"disabled"}`
	if c.thinking {
		th = `{"type":"enabled","budget_tokens":1024}`
	}
	return `{"model":"` + c.model + `","max_tokens":24,"stream":` + boolJSON(stream) + `,"system":"Be brief.","thinking":` + th +
		`,"messages":` + msgs + `],"tools":[{"name":"get_weather","input_schema":` + weatherSchema + `}]}`
}

func (c conversation) responses(result *call, stream bool) string {
	input := `[{"role":"user","content":"What is the weather in Paris?"}`
	if result != nil {
		input += `,{"type":"function_call","call_id":"` + result.ID + `","name":"` + result.Name + `","arguments":` + quoteJSON(result.Args) + `}` +
			`,{"type":"function_call_output","call_id":"` + result.ID + `","output":"sunny"}`
	}
	effort := `"none"`
	if c.thinking {
		effort = `"high"`
	}
	return `{"model":"` + c.model + `","max_output_tokens":24,"store":false,"stream":` + boolJSON(stream) + `,"instructions":"Be brief.","reasoning":{"effort":` + effort +
		`},"input":` + input + `],"tools":[{"type":"function","name":"get_weather","parameters":` + weatherSchema + `}]}`
}

func boolJSON(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestTranslationTable is issue 19's translation table: the same
// conversation through /v1/chat/completions, /v1/messages and
// /v1/responses, streamed and not, with thinking on and off, gets the same
// text, reasoning and tool calls from the simulator, and the tool result
// sent back in each API's words gets the same answer.
func TestTranslationTable(t *testing.T) {
	q := startQuickStart(t)
	hc := newClient()
	// The Responses API has no switch that turns thinking on (only effort
	// none turns it off): the thinking row uses the quick start's
	// deepseek-reasoner, whose config turns it on, as DeepSeek's V4 models
	// have it on by default.
	for _, conv := range []conversation{{"deepseek-chat", false}, {"deepseek-reasoner", true}} {
		for _, stream := range []bool{false, true} {
			var first turn
			for i, api := range []struct {
				path  string
				body  func(*call, bool) string
				parse func(*testing.T, []byte, bool) turn
			}{
				{"/v1/chat/completions", conv.chat, parseChat},
				{"/v1/messages", conv.messages, parseMessages},
				{"/v1/responses", conv.responses, parseResponses},
			} {
				got := exchange(t, hc, q.base+api.path, api.body(nil, stream), stream, api.parse)
				if len(got.Calls) != 1 || got.Calls[0].Name != "get_weather" {
					t.Fatalf("%s thinking=%v stream=%v: no tool call: %+v", api.path, conv.thinking, stream, got)
				}
				if conv.thinking != (got.Reasoning != "") {
					t.Errorf("%s thinking=%v: reasoning %q", api.path, conv.thinking, got.Reasoning)
				}
				c := got.Calls[0]
				next := exchange(t, hc, q.base+api.path, api.body(&c, stream), stream, api.parse)
				if i == 0 {
					first = got
					first.Text += "|" + next.Text
					continue
				}
				got.Text += "|" + next.Text
				got.Calls[0].ID = first.Calls[0].ID // each API names calls its own way
				if got.Text != first.Text || got.Reasoning != first.Reasoning || got.Calls[0] != first.Calls[0] {
					t.Errorf("%s thinking=%v stream=%v differs from chat completions:\n got %+v\nwant %+v", api.path, conv.thinking, stream, got, first)
				}
			}
		}
	}
}

// exchange posts body and parses the answer.
func exchange(t *testing.T, hc *http.Client, url, body string, stream bool, parse func(*testing.T, []byte, bool) turn) turn {
	t.Helper()
	resp, err := hc.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s\nrequest %s", url, resp.StatusCode, b, body)
	}
	return parse(t, b, stream)
}

// sseData returns the data payloads of an event stream.
func sseData(b []byte) [][]byte {
	var out [][]byte
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok && d != "[DONE]" {
			out = append(out, []byte(d))
		}
	}
	return out
}

func parseChat(t *testing.T, b []byte, stream bool) turn {
	type tc struct {
		Index    int    `json:"index"`
		ID       string `json:"id"`
		Function struct{ Name, Arguments string }
	}
	var tr turn
	if !stream {
		var c struct {
			Choices []struct {
				Message struct {
					Content          string `json:"content"`
					ReasoningContent string `json:"reasoning_content"`
					ToolCalls        []tc   `json:"tool_calls"`
				}
			}
		}
		mustJSON(t, b, &c)
		m := c.Choices[0].Message
		tr.Text, tr.Reasoning = m.Content, m.ReasoningContent
		for _, x := range m.ToolCalls {
			tr.Calls = append(tr.Calls, call{x.ID, x.Function.Name, x.Function.Arguments})
		}
		return tr
	}
	for _, d := range sseData(b) {
		var c struct {
			Choices []struct {
				Delta struct {
					Content          string `json:"content"`
					ReasoningContent string `json:"reasoning_content"`
					ToolCalls        []tc   `json:"tool_calls"`
				}
			}
		}
		mustJSON(t, d, &c)
		if len(c.Choices) == 0 {
			continue
		}
		dl := c.Choices[0].Delta
		tr.Text += dl.Content
		tr.Reasoning += dl.ReasoningContent
		for _, x := range dl.ToolCalls {
			for len(tr.Calls) <= x.Index {
				tr.Calls = append(tr.Calls, call{})
			}
			cl := &tr.Calls[x.Index]
			if x.ID != "" {
				cl.ID = x.ID
			}
			cl.Name += x.Function.Name
			cl.Args += x.Function.Arguments
		}
	}
	return tr
}

func parseMessages(t *testing.T, b []byte, stream bool) turn {
	type block struct {
		Type, Text, Thinking, ID, Name string
		Input                          json.RawMessage
	}
	var blocks []block
	if !stream {
		var m struct{ Content []block }
		mustJSON(t, b, &m)
		blocks = m.Content
	} else {
		for _, d := range sseData(b) {
			var ev struct {
				Type         string
				Index        int
				ContentBlock block `json:"content_block"`
				Delta        struct {
					Type, Text, Thinking string
					PartialJSON          string `json:"partial_json"`
				}
			}
			mustJSON(t, d, &ev)
			switch ev.Type {
			case "content_block_start":
				blocks = append(blocks, ev.ContentBlock)
				blocks[ev.Index].Input = nil
			case "content_block_delta":
				bl := &blocks[ev.Index]
				bl.Text += ev.Delta.Text
				bl.Thinking += ev.Delta.Thinking
				bl.Input = append(bl.Input, ev.Delta.PartialJSON...)
			}
		}
	}
	var tr turn
	for _, bl := range blocks {
		switch bl.Type {
		case "text":
			tr.Text += bl.Text
		case "thinking":
			tr.Reasoning += bl.Thinking
		case "tool_use":
			tr.Calls = append(tr.Calls, call{bl.ID, bl.Name, compactJSON(t, bl.Input)})
		}
	}
	return tr
}

func parseResponses(t *testing.T, b []byte, stream bool) turn {
	if stream {
		for _, d := range sseData(b) {
			var ev struct {
				Type     string
				Response json.RawMessage
			}
			mustJSON(t, d, &ev)
			if ev.Type == "response.completed" || ev.Type == "response.incomplete" {
				b = ev.Response
			}
		}
	}
	var r struct {
		Output []struct {
			Type, Name, Arguments string
			CallID                string `json:"call_id"`
			Content               []struct{ Type, Text string }
		}
	}
	mustJSON(t, b, &r)
	var tr turn
	for _, it := range r.Output {
		switch it.Type {
		case "message":
			for _, c := range it.Content {
				tr.Text += c.Text
			}
		case "reasoning":
			for _, c := range it.Content {
				tr.Reasoning += c.Text
			}
		case "function_call":
			tr.Calls = append(tr.Calls, call{it.CallID, it.Name, it.Arguments})
		}
	}
	return tr
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

func compactJSON(t *testing.T, b []byte) string {
	var v any
	mustJSON(t, b, &v)
	out, _ := json.Marshal(v)
	return string(out)
}

// TestAPIsOnTheDeepSeekDouble runs the translation table's conversations
// against the quick start with DEEPSEEK_API_KEY set and the cloud URL
// pointed at the strict DeepSeek double: every translated chat body
// (thinking on and off, tools, the tool result with reasoning passed back)
// is one DeepSeek accepts, and the answers come from the cloud upstream,
// not the simulator fallback.
func TestAPIsOnTheDeepSeekDouble(t *testing.T) {
	key := "sk-e2e-" + randomHex(t, 8)
	ds := startSim(t, "deepseek-double", 0, "--personality", "deepseek", "--api-key", key)
	q := startQuickStart(t, "DEEPSEEK_API_KEY="+key, "DEEPSEEK_BASE_URL="+ds.url())
	hc := newClient()
	for _, conv := range []conversation{{"deepseek-chat", false}, {"deepseek-reasoner", true}} {
		for _, stream := range []bool{false, true} {
			for _, api := range []struct {
				path  string
				body  func(*call, bool) string
				parse func(*testing.T, []byte, bool) turn
			}{
				{"/v1/messages", conv.messages, parseMessages},
				{"/v1/responses", conv.responses, parseResponses},
			} {
				got := exchange(t, hc, q.base+api.path, api.body(nil, stream), stream, api.parse)
				if len(got.Calls) != 1 || conv.thinking != (got.Reasoning != "") {
					t.Fatalf("%s thinking=%v stream=%v: %+v", api.path, conv.thinking, stream, got)
				}
				c := got.Calls[0]
				if next := exchange(t, hc, q.base+api.path, api.body(&c, stream), stream, api.parse); next.Text == "" {
					t.Errorf("%s thinking=%v stream=%v: no answer after the tool result", api.path, conv.thinking, stream)
				}
			}
		}
	}
	var recs []map[string]any
	testkit.Eventually(t, 10*time.Second, "16 audit records of the two APIs", func() bool {
		recs = recs[:0]
		for _, rec := range q.auditRecords(t) {
			if r, _ := rec["route"].(string); r == "POST /v1/messages" || r == "POST /v1/responses" {
				recs = append(recs, rec)
			}
		}
		return len(recs) == 16
	})
	for _, rec := range recs {
		if rec["upstream"] != "deepseek" {
			t.Errorf("%s answered by %v, not the cloud", rec["route"], rec["upstream"])
		}
	}
}
