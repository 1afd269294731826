package cache

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// appendChatCompletion appends out as json.Marshal writes it, without
// reflection: an assembled stream is encoded on every streamed cache
// miss. An answer with logprobs is left to json.Marshal.
func appendChatCompletion(b []byte, out *chatCompletion) ([]byte, error) {
	for i := range out.Choices {
		if out.Choices[i].Logprobs != nil {
			m, err := json.Marshal(out)
			return append(b, m...), err
		}
	}
	b = append(b, `{"id":`...)
	b = jsonenc.AppendMarshalString(b, out.ID)
	b = append(b, `,"object":`...)
	b = jsonenc.AppendMarshalString(b, out.Object)
	b = append(b, `,"created":`...)
	switch n := out.Created; {
	case n == "":
		b = append(b, '0')
	case validNumber(n):
		b = append(b, n...)
	default:
		return json.Marshal(out) // its error
	}
	b = append(b, `,"model":`...)
	b = jsonenc.AppendMarshalString(b, out.Model)
	b = append(b, `,"choices":`...)
	if out.Choices == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range out.Choices {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendChatChoice(b, &out.Choices[i])
		}
		b = append(b, ']')
	}
	if len(out.Usage) > 0 {
		b = append(b, `,"usage":`...)
		var err error
		if b, err = appendRaw(b, out.Usage); err != nil {
			return nil, err
		}
	}
	b = appendOptional(b, `,"system_fingerprint":`, out.SystemFingerprint)
	b = appendOptional(b, `,"service_tier":`, out.ServiceTier)
	return append(b, '}'), nil
}

func appendChatChoice(b []byte, ch *chatChoice) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(ch.Index), 10)
	m := &ch.Message
	b = append(b, `,"message":{"role":`...)
	b = jsonenc.AppendMarshalString(b, m.Role)
	b = append(b, `,"content":`...)
	b = appendStringPtr(b, m.Content)
	b = appendOptional(b, `,"reasoning_content":`, m.ReasoningContent)
	b = appendOptional(b, `,"refusal":`, m.Refusal)
	if len(m.ToolCalls) > 0 {
		b = append(b, `,"tool_calls":[`...)
		for i := range m.ToolCalls {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendToolCall(b, &m.ToolCalls[i])
		}
		b = append(b, ']')
	}
	b = append(b, `},"logprobs":null,"finish_reason":`...) // logprobs: see appendChatCompletion
	b = appendStringPtr(b, ch.FinishReason)
	return append(b, '}')
}

func appendToolCall(b []byte, tc *toolCall) []byte {
	b = append(b, '{')
	if tc.Index != nil {
		b = append(b, `"index":`...)
		b = strconv.AppendInt(b, int64(*tc.Index), 10)
		b = append(b, ',')
	}
	if tc.ID != "" {
		b = append(b, `"id":`...)
		b = jsonenc.AppendMarshalString(b, tc.ID)
		b = append(b, ',')
	}
	if tc.Type != "" {
		b = append(b, `"type":`...)
		b = jsonenc.AppendMarshalString(b, tc.Type)
		b = append(b, ',')
	}
	b = append(b, `"function":{`...)
	if tc.Function.Name != "" {
		b = append(b, `"name":`...)
		b = jsonenc.AppendMarshalString(b, tc.Function.Name)
		b = append(b, ',')
	}
	b = append(b, `"arguments":`...)
	b = jsonenc.AppendMarshalString(b, tc.Function.Arguments)
	return append(b, "}}"...)
}

// appendOptional appends key and *s, nothing when s is nil (omitempty).
func appendOptional(b []byte, key string, s *string) []byte {
	if s == nil {
		return b
	}
	return jsonenc.AppendMarshalString(append(b, key...), *s)
}

func appendStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return jsonenc.AppendMarshalString(b, *s)
}

// validNumber reports whether n is one JSON number.
func validNumber(n json.Number) bool {
	b := []byte(n)
	if b[0] != '-' && (b[0] < '0' || b[0] > '9') {
		return false
	}
	end, ok := jsonenc.Value(b, 0, 1)
	return ok && end == len(b)
}

// appendRaw appends raw as json.Marshal writes a json.RawMessage:
// compacted, HTML characters escaped, invalid JSON an error. Raw without
// space, HTML characters or non-ASCII bytes is already that.
func appendRaw(b []byte, raw json.RawMessage) ([]byte, error) {
	for _, c := range raw {
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			m, err := json.Marshal(raw)
			return append(b, m...), err
		}
	}
	if !jsonenc.Valid(raw) { // what json.Valid says, in one pass without its state machine
		_, err := json.Marshal(raw)
		return nil, err
	}
	return append(b, raw...), nil
}
