package chatwire

import (
	"strconv"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// Marshal encodes r as a chat completions body, with the same output as
// encoding/json but without reflection. Raw fields are copied verbatim:
// they must be valid JSON (they come from a body that was decoded, hence
// validated, or from this package).
func (r *Request) Marshal() []byte {
	return r.AppendJSON(make([]byte, 0, r.sizeHint()))
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

// AppendJSON appends r encoded as JSON.
func (r *Request) AppendJSON(b []byte) []byte {
	b = append(b, `{"model":`...)
	b = jsonenc.AppendString(b, r.Model)
	b = append(b, `,"messages":[`...)
	for i := range r.Messages {
		if i > 0 {
			b = append(b, ',')
		}
		b = r.Messages[i].appendJSON(b)
	}
	b = append(b, ']')
	if r.MaxTokens != 0 {
		b = append(b, `,"max_tokens":`...)
		b = strconv.AppendInt(b, int64(r.MaxTokens), 10)
	}
	b = appendRaw(b, `,"temperature":`, r.Temperature)
	b = appendRaw(b, `,"top_p":`, r.TopP)
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
	}
	if r.StreamOptions != nil {
		b = append(b, `,"stream_options":{"include_usage":`...)
		b = strconv.AppendBool(b, r.StreamOptions.IncludeUsage)
		b = append(b, '}')
	}
	if len(r.Tools) > 0 {
		b = append(b, `,"tools":[`...)
		for i := range r.Tools {
			if i > 0 {
				b = append(b, ',')
			}
			b = r.Tools[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	b = appendRaw(b, `,"tool_choice":`, r.ToolChoice)
	if r.ParallelToolCalls != nil {
		b = append(b, `,"parallel_tool_calls":`...)
		b = strconv.AppendBool(b, *r.ParallelToolCalls)
	}
	b = appendRaw(b, `,"response_format":`, r.ResponseFormat)
	b = appendRaw(b, `,"thinking":`, r.Thinking)
	if r.ReasoningEffort != "" {
		b = append(b, `,"reasoning_effort":`...)
		b = jsonenc.AppendString(b, r.ReasoningEffort)
	}
	if r.User != "" {
		b = append(b, `,"user":`...)
		b = jsonenc.AppendString(b, r.User)
	}
	return append(b, '}')
}

func appendRaw(b []byte, key string, raw []byte) []byte {
	if len(raw) == 0 {
		return b
	}
	return append(append(b, key...), raw...)
}

func (m *Message) appendJSON(b []byte) []byte {
	b = append(b, `{"role":`...)
	b = jsonenc.AppendString(b, m.Role)
	b = appendRaw(b, `,"content":`, m.Content)
	if m.ReasoningContent != nil {
		b = append(b, `,"reasoning_content":`...)
		b = jsonenc.AppendString(b, *m.ReasoningContent)
	}
	if len(m.ToolCalls) > 0 {
		b = append(b, `,"tool_calls":[`...)
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
	}
	if m.ToolCallID != "" {
		b = append(b, `,"tool_call_id":`...)
		b = jsonenc.AppendString(b, m.ToolCallID)
	}
	return append(b, '}')
}

func (t *Tool) appendJSON(b []byte) []byte {
	b = append(b, `{"type":"function","function":{"name":`...)
	b = jsonenc.AppendString(b, t.Function.Name)
	b = appendRaw(b, `,"description":`, t.Function.Description)
	b = appendRaw(b, `,"parameters":`, t.Function.Parameters)
	if t.Function.Strict != nil {
		b = append(b, `,"strict":`...)
		b = strconv.AppendBool(b, *t.Function.Strict)
	}
	return append(b, `}}`...)
}
