package chatwire

import (
	"strconv"

	"github.com/dsgate/dsgate/internal/jsonenc"
	"github.com/dsgate/dsgate/internal/openai"
)

// Marshal encodes r as a chat completions body, with the same output as
// encoding/json but without reflection. Raw fields are copied verbatim:
// they must be valid JSON (they come from a body that was decoded, hence
// validated, or from this package).
func (r *Request) Marshal() []byte {
	b, _, _ := r.Encode()
	return b
}

// Encode is Marshal with the body read as it is written
// (openai.ChatReader): it also returns the request openai.Parse would read
// from the body, or the fault Parse would refuse it for, so that the
// pipeline need not read the body again.
func (r *Request) Encode() ([]byte, *openai.Request, error) {
	rd := openai.NewChatReader()
	b := r.appendJSON(make([]byte, 0, r.sizeHint()), rd)
	req, err := rd.Request()
	return b, req, err
}

func (r *Request) sizeHint() int {
	n := 256 + len(r.Model) + len(r.Temperature) + len(r.TopP) + len(r.ToolChoice) + len(r.ResponseFormat)
	for i := range r.Messages {
		m := &r.Messages[i]
		n += 64 + len(m.Content) + len(m.ToolCallID)
		if m.ReasoningContent != nil {
			n += len(*m.ReasoningContent) + 24
		}
		for _, tc := range m.ToolCalls {
			n += 80 + len(tc.ID) + len(tc.Function.Name) + len(tc.Function.Arguments)*5/4
		}
	}
	for _, t := range r.Tools {
		n += 64 + len(t.Function.Name) + len(t.Function.Description) + len(t.Function.Parameters)
	}
	for _, s := range r.Stop {
		n += len(s) + 3
	}
	return n
}

// appendJSON appends r encoded as JSON, telling rd each member as it is
// written.
func (r *Request) appendJSON(b []byte, rd *openai.ChatReader) []byte {
	b = append(b, `{"model":`...)
	v := len(b)
	b = jsonenc.AppendString(b, r.Model)
	rd.Member("model", b[v:])
	b = append(b, `,"messages":[`...)
	for i := range r.Messages {
		if i > 0 {
			b = append(b, ',')
		}
		b = r.Messages[i].appendJSON(b, rd)
	}
	b = append(b, ']')
	if r.MaxTokens != 0 {
		b = append(b, `,"max_tokens":`...)
		v = len(b)
		b = strconv.AppendInt(b, int64(r.MaxTokens), 10)
		rd.Member("max_tokens", b[v:])
	}
	b = appendRaw(b, "temperature", r.Temperature, rd)
	b = appendRaw(b, "top_p", r.TopP, rd)
	if len(r.Stop) > 0 {
		b = append(b, `,"stop":[`...)
		for i, s := range r.Stop {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonenc.AppendString(b, s)
		}
		b = append(b, ']')
	}
	if r.Stream {
		b = append(b, `,"stream":true`...)
		rd.Member("stream", b[len(b)-4:])
	}
	if r.StreamOptions != nil {
		b = append(b, `,"stream_options":`...)
		v = len(b)
		b = append(b, `{"include_usage":`...)
		b = strconv.AppendBool(b, r.StreamOptions.IncludeUsage)
		b = append(b, '}')
		rd.Member("stream_options", b[v:])
	}
	if len(r.Tools) > 0 {
		b = append(b, `,"tools":`...)
		v = len(b)
		b = append(b, '[')
		for i := range r.Tools {
			if i > 0 {
				b = append(b, ',')
			}
			b = r.Tools[i].appendJSON(b)
		}
		b = append(b, ']')
		rd.Member("tools", b[v:])
	}
	b = appendRaw(b, "tool_choice", r.ToolChoice, rd)
	if r.ParallelToolCalls != nil {
		b = append(b, `,"parallel_tool_calls":`...)
		b = strconv.AppendBool(b, *r.ParallelToolCalls)
	}
	b = appendRaw(b, "response_format", r.ResponseFormat, rd)
	b = appendRaw(b, "thinking", r.Thinking, rd)
	if r.ReasoningEffort != "" {
		b = append(b, `,"reasoning_effort":`...)
		v = len(b)
		b = jsonenc.AppendString(b, r.ReasoningEffort)
		rd.Member("reasoning_effort", b[v:])
	}
	if r.User != "" {
		b = append(b, `,"user":`...)
		b = jsonenc.AppendString(b, r.User)
	}
	return append(b, '}')
}

// appendRaw appends member key with the raw value raw, unless raw is
// empty, and tells rd.
func appendRaw(b []byte, key string, raw []byte, rd *openai.ChatReader) []byte {
	if len(raw) == 0 {
		return b
	}
	b = append(jsonenc.AppendKey(b, key), raw...)
	rd.Member(key, raw)
	return b
}

func (m *Message) appendJSON(b []byte, rd *openai.ChatReader) []byte {
	b = append(b, `{"role":`...)
	b = jsonenc.AppendString(b, m.Role)
	if len(m.Content) > 0 {
		b = append(append(b, `,"content":`...), m.Content...)
	}
	if m.ReasoningContent != nil {
		b = append(b, `,"reasoning_content":`...)
		b = jsonenc.AppendString(b, *m.ReasoningContent)
	}
	var calls []byte
	if len(m.ToolCalls) > 0 {
		b = append(b, `,"tool_calls":`...)
		v := len(b)
		b = append(b, '[')
		for i := range m.ToolCalls {
			if i > 0 {
				b = append(b, ',')
			}
			tc := &m.ToolCalls[i]
			b = append(b, `{"id":`...)
			b = jsonenc.AppendString(b, tc.ID)
			b = append(b, `,"type":"function","function":{"name":`...)
			b = jsonenc.AppendString(b, tc.Function.Name)
			b = append(b, `,"arguments":`...)
			b = jsonenc.AppendString(b, tc.Function.Arguments)
			b = append(b, `}}`...)
		}
		b = append(b, ']')
		calls = b[v:]
	}
	if m.ToolCallID != "" {
		b = append(b, `,"tool_call_id":`...)
		b = jsonenc.AppendString(b, m.ToolCallID)
	}
	rd.Message(m.Role, m.Content, calls)
	return append(b, '}')
}

func (t *Tool) appendJSON(b []byte) []byte {
	b = append(b, `{"type":"function","function":{"name":`...)
	b = jsonenc.AppendString(b, t.Function.Name)
	if d := t.Function.Description; len(d) > 0 {
		b = append(append(b, `,"description":`...), d...)
	}
	if p := t.Function.Parameters; len(p) > 0 {
		b = append(append(b, `,"parameters":`...), p...)
	}
	if t.Function.Strict != nil {
		b = append(b, `,"strict":`...)
		b = strconv.AppendBool(b, *t.Function.Strict)
	}
	return append(b, `}}`...)
}
