package chatwire_test

// The translation table: one conversation (a user question, the model's
// reasoning and tool call, the tool's result, the model's reasoned answer)
// expressed as chat completions, Anthropic Messages and OpenAI Responses.
// Translated in either direction, streamed or not, every API must carry
// the same text, reasoning and tool calls.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dsgate/dsgate/internal/anthropic"
	"github.com/dsgate/dsgate/internal/responses"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares got with testdata/golden/name, or rewrites it.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file:\n%s", name, cmp.Diff(string(want), string(got)))
	}
}

// call is a tool call with its arguments as canonical JSON.
type call struct{ ID, Name, Args string }

// msg is a chat message reduced to what the table compares.
type msg struct {
	Role, Text, Reasoning, ToolCallID string
	Calls                             []call
}

// turn is one assistant answer reduced to what the table compares.
type turn struct {
	Text, Reasoning string
	Calls           []call
	Stop            string // the API's own stop reason
}

func canon(t testing.TB, args string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(args), &v); err != nil {
		t.Fatalf("arguments %q: %v", args, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// chatMessages reduces a chat request body.
func chatMessages(t testing.TB, body []byte) ([]msg, string) {
	t.Helper()
	var r struct {
		Messages []struct {
			Role             string          `json:"role"`
			Content          json.RawMessage `json:"content"`
			ReasoningContent *string         `json:"reasoning_content"`
			ToolCallID       string          `json:"tool_call_id"`
			ToolCalls        []struct {
				ID       string `json:"id"`
				Function struct{ Name, Arguments string }
			} `json:"tool_calls"`
		} `json:"messages"`
		Tools json.RawMessage `json:"tools"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	var out []msg
	for _, m := range r.Messages {
		var text string
		if len(m.Content) > 0 && json.Unmarshal(m.Content, &text) != nil {
			var parts []struct{ Type, Text string }
			if err := json.Unmarshal(m.Content, &parts); err != nil {
				t.Fatal(err)
			}
			for _, p := range parts {
				text += p.Text
			}
		}
		x := msg{Role: m.Role, Text: text, ToolCallID: m.ToolCallID}
		if m.ReasoningContent != nil {
			x.Reasoning = *m.ReasoningContent
		}
		for _, c := range m.ToolCalls {
			x.Calls = append(x.Calls, call{c.ID, c.Function.Name, canon(t, c.Function.Arguments)})
		}
		out = append(out, x)
	}
	var tools any
	if len(r.Tools) > 0 {
		if err := json.Unmarshal(r.Tools, &tools); err != nil {
			t.Fatal(err)
		}
	}
	tb, _ := json.Marshal(tools)
	return out, string(tb)
}

func TestTableRequests(t *testing.T) {
	wantMsgs, wantTools := chatMessages(t, read(t, "chat_request.json"))

	chatA, _, err := anthropic.ToChat(read(t, "messages_request.json"))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "messages_to_chat.json", chatA)
	chatR, _, err := responses.ToChat(read(t, "responses_request.json"))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "responses_to_chat.json", chatR)

	for name, body := range map[string][]byte{"messages": chatA, "responses": chatR} {
		msgs, tools := chatMessages(t, body)
		if diff := cmp.Diff(wantMsgs, msgs); diff != "" {
			t.Errorf("%s -> chat messages (-want +got):\n%s", name, diff)
		}
		if diff := cmp.Diff(wantTools, tools); diff != "" {
			t.Errorf("%s -> chat tools (-want +got):\n%s", name, diff)
		}
	}
}

// chatTurn reduces a chat completion.
func chatTurn(t testing.TB, body []byte) turn {
	t.Helper()
	var c struct {
		Choices []struct {
			Message struct {
				Content, ReasoningContent string `json:"-"`
				C                         string `json:"content"`
				R                         string `json:"reasoning_content"`
				ToolCalls                 []struct {
					ID       string `json:"id"`
					Function struct{ Name, Arguments string }
				} `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	m := c.Choices[0].Message
	out := turn{Text: m.C, Reasoning: m.R, Stop: c.Choices[0].FinishReason}
	for _, tc := range m.ToolCalls {
		out.Calls = append(out.Calls, call{tc.ID, tc.Function.Name, canon(t, tc.Function.Arguments)})
	}
	return out
}

// anthropicMessage is the part of a Message the table reads.
type anthropicMessage struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Content    []json.RawMessage `json:"content"`
	StopReason string            `json:"stop_reason"`
	Usage      map[string]int    `json:"usage"`
}

func messageTurn(t testing.TB, m anthropicMessage) turn {
	t.Helper()
	var out turn
	out.Stop = m.StopReason
	for _, raw := range m.Content {
		var b struct {
			Type, Text, Thinking, Signature, ID, Name string
			Input                                     json.RawMessage
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Fatal(err)
		}
		switch b.Type {
		case "text":
			out.Text += b.Text
		case "thinking":
			out.Reasoning += b.Thinking
			if b.Signature != anthropic.Signature(b.Thinking) {
				t.Errorf("thinking signature %q does not match its text", b.Signature)
			}
		case "tool_use":
			out.Calls = append(out.Calls, call{b.ID, b.Name, canon(t, string(b.Input))})
		default:
			t.Errorf("unexpected block type %q", b.Type)
		}
	}
	return out
}

// response is the part of a Response the table reads.
type response struct {
	ID     string            `json:"id"`
	Status string            `json:"status"`
	Output []json.RawMessage `json:"output"`
	Usage  json.RawMessage   `json:"usage"`
}

func responseTurn(t testing.TB, r response) turn {
	t.Helper()
	out := turn{Stop: r.Status}
	for _, raw := range r.Output {
		var it struct {
			Type, CallID, Name, Arguments string
			Content                       []struct{ Type, Text string }
		}
		if err := json.Unmarshal(raw, &it); err != nil {
			t.Fatal(err)
		}
		var ck struct {
			CallID string `json:"call_id"`
		}
		_ = json.Unmarshal(raw, &ck)
		switch it.Type {
		case "reasoning":
			for _, p := range it.Content {
				out.Reasoning += p.Text
			}
		case "message":
			for _, p := range it.Content {
				if p.Type != "output_text" {
					t.Errorf("message part type %q", p.Type)
				}
				out.Text += p.Text
			}
		case "function_call":
			out.Calls = append(out.Calls, call{ck.CallID, it.Name, canon(t, it.Arguments)})
		default:
			t.Errorf("unexpected output item type %q", it.Type)
		}
	}
	return out
}

var stopNames = map[string][2]string{ // chat finish_reason -> Messages, Responses
	"tool_calls": {"tool_use", "completed"},
	"stop":       {"end_turn", "completed"},
}

var turns = []struct{ name, response, stream string }{
	{"tool", "chat_response_tool.json", "chat_stream_tool.sse"},
	{"text", "chat_response_text.json", "chat_stream_text.sse"},
}

func TestTableResponses(t *testing.T) {
	for _, tt := range turns {
		t.Run(tt.name, func(t *testing.T) {
			body := read(t, tt.response)
			want := chatTurn(t, body)
			stops := stopNames[want.Stop]

			aBody, err := anthropic.FromChat(body, anthropic.RequestInfo{Model: "deepseek-chat"})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "messages_"+tt.name+".json", aBody)
			var m anthropicMessage
			if err := json.Unmarshal(aBody, &m); err != nil {
				t.Fatal(err)
			}
			w := want
			w.Stop = stops[0]
			if diff := cmp.Diff(w, messageTurn(t, m)); diff != "" {
				t.Errorf("Messages (-want +got):\n%s", diff)
			}

			rBody, err := responses.FromChat(body, responses.RequestInfo{Model: "deepseek-chat"})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "responses_"+tt.name+".json", rBody)
			var r response
			if err := json.Unmarshal(rBody, &r); err != nil {
				t.Fatal(err)
			}
			w.Stop = stops[1]
			if diff := cmp.Diff(w, responseTurn(t, r)); diff != "" {
				t.Errorf("Responses (-want +got):\n%s", diff)
			}
		})
	}
}

// chunks reads the data lines of a chat SSE fixture, without [DONE].
func chunks(t testing.TB, name string) [][]byte {
	t.Helper()
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(read(t, name)))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || line == "[DONE]" {
			continue
		}
		out = append(out, []byte(line))
	}
	return out
}

type event struct {
	name string
	data []byte
}

// sse renders events as an SSE body, for golden files.
func sse(events []event) []byte {
	var b []byte
	for _, e := range events {
		b = append(b, "event: "+e.name+"\ndata: "...)
		b = append(b, e.data...)
		b = append(b, "\n\n"...)
	}
	return b
}

func collect(events *[]event) func(string, []byte) error {
	return func(name string, data []byte) error {
		if !json.Valid(data) {
			return &json.SyntaxError{}
		}
		*events = append(*events, event{name, bytes.Clone(data)})
		return nil
	}
}

func TestTableStreams(t *testing.T) {
	for _, tt := range turns {
		t.Run(tt.name, func(t *testing.T) {
			body := read(t, tt.response)
			want := chatTurn(t, body)
			stops := stopNames[want.Stop]

			// Anthropic: the accumulated stream equals the non-streamed Message.
			var aEvents []event
			as := anthropic.NewStream(anthropic.RequestInfo{Model: "deepseek-chat", Stream: true})
			for _, c := range chunks(t, tt.stream) {
				if err := as.Chunk(c, collect(&aEvents)); err != nil {
					t.Fatal(err)
				}
				if err := as.Flush(collect(&aEvents)); err != nil { // each chunk flushed as it comes
					t.Fatal(err)
				}
			}
			if err := as.Finish(collect(&aEvents)); err != nil {
				t.Fatal(err)
			}
			golden(t, "messages_"+tt.name+".sse", sse(aEvents))
			got := accumulateMessage(t, aEvents)
			nonStream, _ := anthropic.FromChat(body, anthropic.RequestInfo{Model: "deepseek-chat"})
			var wantMsg anthropicMessage
			if err := json.Unmarshal(nonStream, &wantMsg); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(messageTurn(t, wantMsg), messageTurn(t, got)); diff != "" {
				t.Errorf("streamed Message (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantMsg.Usage["input_tokens"], got.Usage["input_tokens"]); diff != "" {
				t.Errorf("streamed input_tokens: %s", diff)
			}
			for _, k := range []string{"output_tokens", "cache_read_input_tokens"} {
				if got.Usage[k] != wantMsg.Usage[k] {
					t.Errorf("streamed usage %s = %d, want %d", k, got.Usage[k], wantMsg.Usage[k])
				}
			}
			if got.StopReason != stops[0] {
				t.Errorf("stop_reason %q, want %q", got.StopReason, stops[0])
			}

			// Responses: the accumulated stream equals response.completed and
			// the non-streamed Response.
			var rEvents []event
			rs := responses.NewStream(responses.RequestInfo{Model: "deepseek-chat", Stream: true})
			for _, c := range chunks(t, tt.stream) {
				if err := rs.Chunk(c, collect(&rEvents)); err != nil {
					t.Fatal(err)
				}
				if err := rs.Flush(collect(&rEvents)); err != nil { // each chunk flushed as it comes
					t.Fatal(err)
				}
			}
			if err := rs.Finish(collect(&rEvents)); err != nil {
				t.Fatal(err)
			}
			golden(t, "responses_"+tt.name+".sse", sse(rEvents))
			acc, final := accumulateResponse(t, rEvents)
			nonStreamR, _ := responses.FromChat(body, responses.RequestInfo{Model: "deepseek-chat"})
			var wantR response
			if err := json.Unmarshal(nonStreamR, &wantR); err != nil {
				t.Fatal(err)
			}
			wantTurn := responseTurn(t, wantR)
			if diff := cmp.Diff(wantTurn, responseTurn(t, acc)); diff != "" {
				t.Errorf("accumulated stream (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantTurn, responseTurn(t, final)); diff != "" {
				t.Errorf("response.completed (-want +got):\n%s", diff)
			}
			if !bytes.Equal(final.Usage, wantR.Usage) {
				t.Errorf("streamed usage %s, want %s", final.Usage, wantR.Usage)
			}
		})
	}
}

// accumulateMessage rebuilds a Message from Anthropic stream events the way
// the Anthropic SDK's MessageStream does, checking the event grammar.
func accumulateMessage(t *testing.T, events []event) anthropicMessage {
	t.Helper()
	type blockState struct {
		raw     map[string]any
		partial string
		open    bool
	}
	var m anthropicMessage
	var blocks []*blockState
	stage := 0 // 0 before message_start, 1 in blocks, 2 after message_delta, 3 after message_stop
	for i, e := range events {
		var d map[string]any
		if err := json.Unmarshal(e.data, &d); err != nil {
			t.Fatal(err)
		}
		if d["type"] != e.name {
			t.Fatalf("event %d: name %q but type %v", i, e.name, d["type"])
		}
		idx := -1
		if f, ok := d["index"].(float64); ok {
			idx = int(f)
		}
		switch e.name {
		case "message_start":
			if stage != 0 {
				t.Fatalf("event %d: message_start out of order", i)
			}
			stage = 1
			msg, _ := json.Marshal(d["message"])
			if err := json.Unmarshal(msg, &m); err != nil {
				t.Fatal(err)
			}
			m.Content = nil
		case "ping":
		case "content_block_start":
			if stage != 1 || idx != len(blocks) || len(blocks) > 0 && blocks[len(blocks)-1].open {
				t.Fatalf("event %d: content_block_start index %d with %d blocks", i, idx, len(blocks))
			}
			blocks = append(blocks, &blockState{raw: d["content_block"].(map[string]any), open: true})
		case "content_block_delta":
			if idx != len(blocks)-1 || !blocks[idx].open {
				t.Fatalf("event %d: delta for block %d", i, idx)
			}
			b := blocks[idx]
			delta := d["delta"].(map[string]any)
			switch delta["type"] {
			case "text_delta":
				b.raw["text"] = b.raw["text"].(string) + delta["text"].(string)
			case "thinking_delta":
				b.raw["thinking"] = b.raw["thinking"].(string) + delta["thinking"].(string)
			case "signature_delta":
				b.raw["signature"] = delta["signature"]
			case "input_json_delta":
				b.partial += delta["partial_json"].(string)
			default:
				t.Fatalf("event %d: delta type %v", i, delta["type"])
			}
		case "content_block_stop":
			if idx != len(blocks)-1 || !blocks[idx].open {
				t.Fatalf("event %d: stop for block %d", i, idx)
			}
			b := blocks[idx]
			b.open = false
			if b.raw["type"] == "tool_use" && b.partial != "" {
				var in any
				if err := json.Unmarshal([]byte(b.partial), &in); err != nil {
					t.Fatalf("tool input %q: %v", b.partial, err)
				}
				b.raw["input"] = in
			}
		case "message_delta":
			if stage != 1 {
				t.Fatalf("event %d: message_delta out of order", i)
			}
			stage = 2
			m.StopReason = d["delta"].(map[string]any)["stop_reason"].(string)
			for k, v := range d["usage"].(map[string]any) {
				m.Usage[k] = int(v.(float64))
			}
		case "message_stop":
			if stage != 2 {
				t.Fatalf("event %d: message_stop out of order", i)
			}
			stage = 3
		default:
			t.Fatalf("event %d: unexpected %q", i, e.name)
		}
	}
	if stage != 3 {
		t.Fatalf("stream ended in stage %d", stage)
	}
	for _, b := range blocks {
		raw, _ := json.Marshal(b.raw)
		m.Content = append(m.Content, raw)
	}
	return m
}

// accumulateResponse rebuilds a Response from Responses stream events with
// the openai SDKs' accumulator rules (items appended at output_index ==
// len(output), parts at content_index == len(content), deltas into the
// addressed part), checking sequence numbers. It returns the accumulated
// snapshot and the response of the terminal event.
func accumulateResponse(t *testing.T, events []event) (acc, final response) {
	t.Helper()
	type item = map[string]any
	var output []item
	for i, e := range events {
		var d map[string]any
		if err := json.Unmarshal(e.data, &d); err != nil {
			t.Fatal(err)
		}
		if d["type"] != e.name {
			t.Fatalf("event %d: name %q but type %v", i, e.name, d["type"])
		}
		if int(d["sequence_number"].(float64)) != i {
			t.Fatalf("event %d: sequence_number %v", i, d["sequence_number"])
		}
		oi := -1
		if f, ok := d["output_index"].(float64); ok {
			oi = int(f)
			if e.name != "response.output_item.added" && oi >= len(output) {
				t.Fatalf("event %d: output_index %d of %d", i, oi, len(output))
			}
		}
		ci := 0
		if f, ok := d["content_index"].(float64); ok {
			ci = int(f)
		}
		part := func() item {
			content, _ := output[oi]["content"].([]any)
			if ci >= len(content) {
				t.Fatalf("event %d: content_index %d of %d", i, ci, len(content))
			}
			return content[ci].(item)
		}
		switch e.name {
		case "response.created", "response.in_progress":
			if i > 1 {
				t.Fatalf("event %d: %s late", i, e.name)
			}
		case "response.output_item.added":
			if oi != len(output) {
				t.Fatalf("event %d: item added at %d with %d items", i, oi, len(output))
			}
			output = append(output, d["item"].(item))
		case "response.content_part.added":
			content, _ := output[oi]["content"].([]any)
			if ci != len(content) {
				t.Fatalf("event %d: part added at %d with %d parts", i, ci, len(content))
			}
			output[oi]["content"] = append(content, d["part"])
		case "response.output_text.delta", "response.reasoning_text.delta":
			p := part()
			p["text"] = p["text"].(string) + d["delta"].(string)
		case "response.output_text.done", "response.reasoning_text.done":
			if p := part(); p["text"] != d["text"] {
				t.Fatalf("event %d: done text %q, accumulated %q", i, d["text"], p["text"])
			}
		case "response.content_part.done":
			output[oi]["content"].([]any)[ci] = d["part"]
		case "response.function_call_arguments.delta":
			output[oi]["arguments"] = output[oi]["arguments"].(string) + d["delta"].(string)
		case "response.function_call_arguments.done":
			if output[oi]["arguments"] != d["arguments"] {
				t.Fatalf("event %d: done arguments %q, accumulated %q", i, d["arguments"], output[oi]["arguments"])
			}
		case "response.output_item.done":
			output[oi] = d["item"].(item)
		case "response.completed", "response.incomplete":
			if i != len(events)-1 {
				t.Fatalf("event %d: %s before the end", i, e.name)
			}
			raw, _ := json.Marshal(d["response"])
			if err := json.Unmarshal(raw, &final); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("event %d: unexpected %q", i, e.name)
		}
	}
	if final.ID == "" {
		t.Fatal("no terminal event")
	}
	for _, it := range output {
		raw, _ := json.Marshal(it)
		acc.Output = append(acc.Output, raw)
	}
	acc.Status = final.Status
	return acc, final
}
