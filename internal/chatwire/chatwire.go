// Package chatwire holds the chat completions wire shapes that the API
// translators (internal/anthropic, internal/responses) write and read: the
// request they build, and the completion and stream chunk they translate
// back. It is a leaf: standard library and internal/openai only.
package chatwire

import (
	"encoding/json"
	"strconv"

	"github.com/dsgate/dsgate/internal/jsonenc"
	"github.com/dsgate/dsgate/internal/openai"
)

// MaxOutputTokens bounds the completion a translated request may ask for
// (Messages max_tokens, Responses max_output_tokens). It is above every
// served model's output limit (DeepSeek V4: 384K tokens), so a request over
// it can never be served; the translators refuse it before the pipeline
// admits the call, so such a request reserves no quota and counts against
// no limit.
const MaxOutputTokens = 1 << 20

// Request is a chat completions request body. Raw fields are copied
// verbatim from the client's request (numbers, schemas) so that nothing is
// re-encoded or rounded on the way through.
type Request struct {
	Model             string          `json:"model"`
	Messages          []Message       `json:"messages"`
	MaxTokens         int             `json:"max_tokens,omitempty"`
	Temperature       json.RawMessage `json:"temperature,omitempty"`
	TopP              json.RawMessage `json:"top_p,omitempty"`
	Stop              []string        `json:"stop,omitempty"`
	Stream            bool            `json:"stream,omitempty"`
	StreamOptions     *StreamOptions  `json:"stream_options,omitempty"`
	Tools             []Tool          `json:"tools,omitempty"`
	ToolChoice        json.RawMessage `json:"tool_choice,omitempty"`
	ParallelToolCalls *bool           `json:"parallel_tool_calls,omitempty"`
	ResponseFormat    json.RawMessage `json:"response_format,omitempty"`
	Thinking          json.RawMessage `json:"thinking,omitempty"`
	ReasoningEffort   string          `json:"reasoning_effort,omitempty"`
	User              string          `json:"user,omitempty"`
}

// StreamOptions asks for the usage chunk at the end of a stream.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Message is one chat message. Content is pre-encoded JSON: a string or an
// array of parts (see AppendText, AppendParts). An assistant message that
// calls tools always carries reasoning_content (possibly empty): DeepSeek's
// thinking mode rejects a tool-call turn without it.
type Message struct {
	Role             string          `json:"role"`
	Content          json.RawMessage `json:"content,omitempty"`
	ReasoningContent *string         `json:"reasoning_content,omitempty"`
	ToolCalls        []ToolCall      `json:"tool_calls,omitempty"`
	ToolCallID       string          `json:"tool_call_id,omitempty"`
}

// ToolCall is an assistant's function call.
type ToolCall struct {
	Index    int      `json:"index,omitempty"` // chunks only
	ID       string   `json:"id,omitempty"`
	Type     string   `json:"type,omitempty"`
	Function Function `json:"function"`
}

// Function is the called function's name and JSON-encoded arguments.
type Function struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// Tool declares a function the model may call.
type Tool struct {
	Type     string      `json:"type"`
	Function FunctionDef `json:"function"`
}

// ToolParametersDepth is how deep a tool's parameters are written in a
// chat completions body: inside the body, tools, the tool and its
// function (jsonenc.NestsWithin).
const ToolParametersDepth = 4

// FunctionDef is a tool's name, description and JSON schema. The
// description is its JSON string as the client wrote it, copied as it is
// (an agent's tools are mostly descriptions: decoding and encoding them
// again was a tenth of a translated request's cost).
type FunctionDef struct {
	Name        string          `json:"name"`
	Description json.RawMessage `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// Completion is a non-streamed chat completion response, or a chunk. Read
// it with Decode.
type Completion struct {
	ID      string        `json:"id"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []Choice      `json:"choices"`
	Usage   *openai.Usage `json:"usage"`

	usage openai.Usage // Usage points here after Decode
}

// Choice is one completion choice; the translators read choice 0.
type Choice struct {
	Index        int    `json:"index"`
	Message      Delta  `json:"message"`
	Delta        Delta  `json:"delta"`
	FinishReason string `json:"finish_reason"`
}

// Delta is a message (non-streamed) or a message fragment (streamed).
type Delta struct {
	Role             string     `json:"role"`
	Content          string     `json:"content"`
	ReasoningContent string     `json:"reasoning_content"`
	Refusal          string     `json:"refusal"`
	ToolCalls        []ToolCall `json:"tool_calls"`
}

// Chunk is one streamed chat completion chunk as the stream translators
// read it (DecodeChunk): choice 0's fields, with its texts as Tokens that
// alias the chunk, so that decoding a chunk allocates nothing.
type Chunk struct {
	ID           string
	Model        string
	Created      int64
	FinishReason string
	// Content, ReasoningContent and Refusal are choice 0's delta texts;
	// nil when absent or null.
	Content          Token
	ReasoningContent Token
	Refusal          Token
	ToolCalls        []ChunkToolCall
	Usage            *openai.Usage

	usage openai.Usage // Usage points here after DecodeChunk
	tmpl  template     // the last chunk with one text (template.go)
	head  chunkHead    // the last walked chunk's bytes before its choices
	role  [2]int       // where the walked chunk's delta role member is, with the comma after it (template.go)
	last  []byte       // the chunk DecodeChunk read last, for Mark
	mark  rest         // the relay's template, as Mark kept it
}

// ChunkToolCall is one tool call fragment of a chunk.
type ChunkToolCall struct {
	Index     int
	ID        string
	Name      string
	Arguments Token
}

// CallID is the call's ID, or one made from the completion ID and the
// call's index when the upstream sent none (some engines omit it): a
// client must be able to answer the call by ID.
func (tc *ChunkToolCall) CallID(completionID string) string {
	if tc.ID != "" {
		return tc.ID
	}
	return "call_" + completionID + "_" + strconv.Itoa(tc.Index)
}

// First is choice 0, or a zero Choice when there is none (a usage-only
// chunk).
func (c *Completion) First() Choice {
	if len(c.Choices) == 0 {
		return Choice{}
	}
	return c.Choices[0]
}

// Part is one element of a multi-part user message: text, or an image URL
// (http(s) or data:). Raw, when set, is the text as a JSON string token
// taken from the client's body; it is copied verbatim instead of Text.
type Part struct {
	Text     string
	Raw      []byte
	ImageURL string
	Detail   string
}

// text is the part's text, decoding Raw when that is what is set.
func (p *Part) text() string {
	if p.Raw != nil {
		s, _ := Unquote(p.Raw)
		return s
	}
	return p.Text
}

func (p *Part) appendText(b []byte) []byte {
	if p.Raw != nil {
		return append(b, p.Raw...)
	}
	return jsonenc.AppendString(b, p.Text)
}

// AppendParts appends parts as a chat content array.
func AppendParts(b []byte, parts []Part) []byte {
	b = append(b, '[')
	for i := range parts {
		p := &parts[i]
		if i > 0 {
			b = append(b, ',')
		}
		if p.ImageURL == "" {
			b = append(b, `{"type":"text","text":`...)
			b = p.appendText(b)
			b = append(b, '}')
			continue
		}
		b = append(b, `{"type":"image_url","image_url":{"url":`...)
		b = jsonenc.AppendString(b, p.ImageURL)
		if p.Detail != "" {
			b = append(b, `,"detail":`...)
			b = jsonenc.AppendString(b, p.Detail)
		}
		b = append(b, `}}`...)
	}
	return append(b, ']')
}

// Content encodes parts as message content: a plain string when every part
// is text (joined with newlines), an array otherwise. One part of the
// client's own JSON string is that string, not a copy (a system prompt, a
// user turn: kilobytes a request); it is capped, so an append copies it.
func Content(parts []Part) json.RawMessage {
	if len(parts) == 1 && parts[0].Raw != nil && parts[0].ImageURL == "" {
		raw := parts[0].Raw
		return raw[:len(raw):len(raw)]
	}
	text := true
	n := 2
	for _, p := range parts {
		if p.ImageURL != "" {
			text = false
		}
		n += len(p.Text) + len(p.Raw) + len(p.ImageURL) + 40
	}
	b := make([]byte, 0, n)
	if !text {
		return AppendParts(b, parts)
	}
	if len(parts) == 1 {
		return parts[0].appendText(b)
	}
	var s []byte
	for i := range parts {
		if i > 0 {
			s = append(s, '\n')
		}
		s = append(s, parts[i].text()...)
	}
	return jsonenc.AppendString(b, string(s))
}

// String encodes s as message content.
func String(s string) json.RawMessage {
	return jsonenc.AppendString(make([]byte, 0, len(s)+2), s)
}

// Ptr returns a pointer to s, for Message.ReasoningContent.
func Ptr(s string) *string { return &s }

// AppendEvent appends one named server-sent event: "event: name",
// "data: data" and the blank line that ends it: the framing of both
// translators' events (data is one line of JSON).
func AppendEvent(dst []byte, name string, data []byte) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, name...)
	dst = append(dst, "\ndata: "...)
	dst = append(dst, data...)
	return append(dst, "\n\n"...)
}

// EventBuffer is where a stream translator builds an event in the buffer
// it is written from, rather than in a buffer of its own that is then
// copied there (the translators' delta events, one per token chunk):
// Begin appends the event's framing up to its data (AppendEvent's
// "event:" line and "data: ") to the buffer and returns it; the
// translator appends the data and hands the buffer back to End, which
// ends the event. Nothing else is written to the buffer in between.
type EventBuffer interface {
	Begin(event string) []byte
	End(events []byte) error
}

// AppendID appends the JSON string prefix+id without building that string
// (the translators derive their message, item and response IDs this way,
// once per event that carries them).
func AppendID(b []byte, prefix, id string) []byte {
	b = append(b, '"')
	b = append(b, prefix...)
	n := len(b)
	b = jsonenc.AppendString(b, id)
	copy(b[n:], b[n+1:len(b)-1]) // drop id's own quotes
	b = b[:len(b)-2]
	return append(b, '"')
}
