package anthropic

import (
	"bytes"
	"net/http"
	"slices"
	"strings"

	"github.com/dsgate/dsgate/internal/chatwire"
	"github.com/dsgate/dsgate/internal/jsonenc"
	"github.com/dsgate/dsgate/internal/openai"
)

// StopReason maps a chat finish_reason to Anthropic's stop_reason. Chat
// completions does not say which stop sequence matched, so "stop" is always
// end_turn. DeepSeek's insufficient_system_resource ends the turn early and
// maps to end_turn as well (the text so far is all there is).
func StopReason(finish string) string {
	switch finish {
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_use"
	case "content_filter":
		return "refusal"
	}
	return "end_turn"
}

// dropPrefill returns text without the prefill it starts with, when it
// does: an engine that repeats the prefill (llama.cpp's server) would
// have the client, which joins prefill and answer, show it twice.
func dropPrefill(text chatwire.Token, prefill string) chatwire.Token {
	if prefill == "" {
		return text
	}
	s := text.String()
	if rest, ok := strings.CutPrefix(s, prefill); ok {
		return chatwire.Token(jsonenc.AppendString(nil, rest))
	}
	return text
}

// FromChat translates a chat completion into a Message. Its texts are
// read as tokens (chatwire.DecodeCompletion reads a completion's message
// as a chunk's delta) and copied as they are escaped.
func FromChat(chatResp []byte, info RequestInfo) ([]byte, error) {
	return AppendFromChat(nil, chatResp, info)
}

// AppendFromChat is FromChat appending the Message to dst (a server's
// pooled buffer, so that the answer is not garbage of its own).
func AppendFromChat(dst, chatResp []byte, info RequestInfo) ([]byte, error) {
	c := chatwire.GetChunk()
	defer chatwire.PutChunk(c)
	if err := chatwire.DecodeCompletion(chatResp, c); err != nil {
		return nil, &Error{Status: http.StatusBadGateway, Type: "api_error", Message: "upstream returned an unreadable completion", Err: err}
	}
	// The answer is about the completion's size (its texts, escaped as
	// they came, and about as many bytes of fields besides), with room
	// for a thinking block's signature and fixed fields a terse
	// completion lacks: sized once, not grown.
	b := slices.Grow(dst, len(chatResp)+256)
	b = append(b, `{"id":`...)
	b = appendMessageID(b, c.ID)
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = jsonenc.AppendString(b, model(c.Model, info))
	b = append(b, `,"content":[`...)
	n := 0
	if !c.ReasoningContent.Empty() {
		b = append(b, `{"type":"thinking","thinking":`...)
		b = c.ReasoningContent.AppendJSON(b)
		b = append(b, `,"signature":`...)
		b = appendSignature(b, c.ReasoningContent)
		b = append(b, '}')
		n++
	}
	text := c.Content
	if text.Empty() {
		text = c.Refusal
	}
	text = dropPrefill(text, info.Prefill)
	if !text.Empty() {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"text","text":`...)
		b = text.AppendJSON(b)
		b = append(b, '}')
		n++
	}
	for i := range c.ToolCalls {
		tc := &c.ToolCalls[i]
		tc.Index = i // a completion's calls are told apart by position
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"tool_use","id":`...)
		b = jsonenc.AppendString(b, tc.CallID(c.ID))
		b = append(b, `,"name":`...)
		b = jsonenc.AppendString(b, tc.Name)
		b = append(b, `,"input":`...)
		args, _ := tc.Arguments.Text(nil)
		b = appendInput(b, args)
		b = append(b, '}')
		n++
	}
	b = append(b, `],"stop_reason":`...)
	b = jsonenc.AppendString(b, StopReason(c.FinishReason))
	b = append(b, `,"stop_sequence":null,"usage":`...)
	var u openai.Usage
	if c.Usage != nil {
		u = *c.Usage
	}
	b = appendUsage(b, u, true)
	return append(b, '}'), nil
}

// appendMessageID appends the message ID derived from the completion's ID.
func appendMessageID(b []byte, chatID string) []byte {
	if chatID == "" {
		return append(b, `"msg_dsgate"`...)
	}
	return chatwire.AppendID(b, "msg_", chatID)
}

// model is the model to report: the upstream's answer, else the request's.
func model(m string, info RequestInfo) string {
	if m != "" {
		return m
	}
	return info.Model
}

// appendInput appends a tool call's arguments as the tool_use input
// object. Empty arguments are {}; arguments that are not a JSON object
// (a model's malformed output) are kept as {"_raw": "..."} rather than lost.
func appendInput(b []byte, args []byte) []byte {
	raw := bytes.TrimSpace(args)
	if len(raw) == 0 {
		return append(b, `{}`...)
	}
	if raw[0] == '{' && jsonenc.Valid(raw) {
		return append(b, raw...)
	}
	b = append(b, `{"_raw":`...)
	b = jsonenc.AppendString(b, string(args))
	return append(b, '}')
}

// appendUsage appends Anthropic usage. input_tokens excludes the tokens
// read from the prompt cache, which Anthropic reports apart; with the
// cache hit tokens added back it is the chat prompt_tokens.
func appendUsage(b []byte, u openai.Usage, withCreation bool) []byte {
	hit := u.CacheHitTokens()
	in := u.PromptTokens - hit
	if in < 0 {
		in = 0
	}
	b = append(b, `{"input_tokens":`...)
	b = jsonenc.AppendInt(b, int64(in))
	if withCreation {
		b = append(b, `,"cache_creation_input_tokens":0`...)
	}
	b = append(b, `,"cache_read_input_tokens":`...)
	b = jsonenc.AppendInt(b, int64(hit))
	b = append(b, `,"output_tokens":`...)
	b = jsonenc.AppendInt(b, int64(u.CompletionTokens))
	return append(b, '}')
}
