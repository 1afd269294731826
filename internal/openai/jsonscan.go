package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// errMalformed reports a body the scanner cannot walk. Callers that already
// validated the body with encoding/json never see it.
var errMalformed = errors.New("malformed JSON object")

// span is the byte range [start, end) of one top-level value.
type span struct{ start, end int }

// topLevel returns the value spans of every top-level member of the object
// in body whose key is key. Keys are compared after unescaping, so
// "mod\u0065l" is found as "model".
func topLevel(body []byte, key string) ([]span, int, error) {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil, 0, errMalformed
	}
	open := i
	i++
	var found []span
	for {
		i = skipSpace(body, i)
		if i >= len(body) {
			return nil, 0, errMalformed
		}
		if body[i] == '}' {
			return found, open, nil
		}
		if body[i] == ',' {
			i = skipSpace(body, i+1)
		}
		if i >= len(body) || body[i] != '"' {
			return nil, 0, errMalformed
		}
		kEnd, err := skipString(body, i)
		if err != nil {
			return nil, 0, err
		}
		match := keyEquals(body[i:kEnd], key)
		i = skipSpace(body, kEnd)
		if i >= len(body) || body[i] != ':' {
			return nil, 0, errMalformed
		}
		i = skipSpace(body, i+1)
		vEnd, err := skipValue(body, i)
		if err != nil {
			return nil, 0, err
		}
		if match {
			found = append(found, span{i, vEnd})
		}
		i = vEnd
	}
}

// Field returns the raw value of the top-level member key of a JSON object,
// or nil when it is absent. The result aliases body.
func Field(body []byte, key string) []byte {
	spans, _, err := topLevel(body, key)
	if err != nil || len(spans) == 0 {
		return nil
	}
	s := spans[len(spans)-1] // encoding/json semantics: the last one wins
	return body[s.start:s.end]
}

// SetField returns body with the top-level member key set to the raw JSON
// value. Every existing occurrence is replaced; when there is none the
// member is added first. body is not modified.
func SetField(body []byte, key string, value []byte) ([]byte, error) {
	spans, open, err := topLevel(body, key)
	if err != nil {
		return nil, err
	}
	if len(spans) == 0 {
		out := make([]byte, 0, len(body)+len(key)+len(value)+4)
		out = append(out, body[:open+1]...)
		out = jsonenc.AppendString(out, key)
		out = append(out, ':')
		out = append(out, value...)
		rest := body[open+1:]
		if r := skipSpace(rest, 0); r < len(rest) && rest[r] != '}' {
			out = append(out, ',')
		}
		return append(out, rest...), nil
	}
	grow := 0
	for _, s := range spans {
		grow += len(value) - (s.end - s.start)
	}
	out := make([]byte, 0, len(body)+max(grow, 0))
	prev := 0
	for _, s := range spans {
		out = append(out, body[prev:s.start]...)
		out = append(out, value...)
		prev = s.end
	}
	return append(out, body[prev:]...), nil
}

// RenameKey renames every object key from to the key to, at any depth. It
// is safe on valid JSON because an unescaped `"from"` followed by a colon can
// only be a key: quotes inside strings are escaped. It returns body itself
// when nothing matched.
func RenameKey(body []byte, from, to string) []byte {
	pat := make([]byte, 0, len(from)+2)
	pat = append(append(append(pat, '"'), from...), '"')
	if !bytes.Contains(body, pat) {
		return body
	}
	var out []byte
	prev := 0
	for i := 0; ; {
		j := bytes.Index(body[i:], pat)
		if j < 0 {
			break
		}
		at := i + j
		after := skipSpace(body, at+len(pat))
		escaped := at > 0 && body[at-1] == '\\'
		if !escaped && after < len(body) && body[after] == ':' {
			if out == nil {
				out = make([]byte, 0, len(body)+16)
			}
			out = append(out, body[prev:at]...)
			out = append(append(append(out, '"'), to...), '"')
			prev = at + len(pat)
		}
		i = at + len(pat)
	}
	if out == nil {
		return body
	}
	return append(out, body[prev:]...)
}

func keyEquals(quoted []byte, key string) bool {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == key
	}
	s, err := strconv.Unquote(string(quoted))
	return err == nil && s == key
}

// StringMemberAt returns the index of the opening quote of a string value
// of a member named key (quoted, as it is written) anywhere in p, spaces
// allowed around the colon, or -1; a member of the name with another
// value is skipped. It is a byte search, not a parse, cheap enough for
// every streamed chunk: inside a string value a quoted name has its quotes
// escaped, so it is not followed by a colon and a string.
func StringMemberAt(p, key []byte) int {
	for off := 0; off < len(p); {
		i := bytes.Index(p[off:], key)
		if i < 0 {
			return -1
		}
		j := skipSpace(p, off+i+len(key))
		if j < len(p) && p[j] == ':' {
			if j = skipSpace(p, j+1); j < len(p) && p[j] == '"' {
				return j
			}
		}
		off = j
	}
	return -1
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the closing quote of the string
// starting at b[i] == '"' (jsonenc.SkipString).
func skipString(b []byte, i int) (int, error) {
	end, ok := jsonenc.SkipString(b, i)
	if !ok {
		return 0, errMalformed
	}
	return end, nil
}

// skipValue returns the index just past the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errMalformed
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errMalformed
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && !isSpace(b[j]) {
			j++
		}
		if j == i {
			return 0, errMalformed
		}
		return j, nil
	}
}

// ReplaceValue replaces the value from with to wherever it stands as the
// value of key, at any depth. from and to are raw JSON values. It returns
// body itself when nothing matched.
func ReplaceValue(body []byte, key, from, to string) []byte {
	pat := make([]byte, 0, len(key)+2)
	pat = append(append(append(pat, '"'), key...), '"')
	var out []byte
	prev := 0
	for i := 0; ; {
		j := bytes.Index(body[i:], pat)
		if j < 0 {
			break
		}
		at := i + j
		i = at + len(pat)
		if at > 0 && body[at-1] == '\\' {
			continue
		}
		colon := skipSpace(body, i)
		if colon >= len(body) || body[colon] != ':' {
			continue
		}
		v := skipSpace(body, colon+1)
		if !bytes.HasPrefix(body[v:], []byte(from)) {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(body))
		}
		out = append(out, body[prev:v]...)
		out = append(out, to...)
		prev = v + len(from)
		i = prev
	}
	if out == nil {
		return body
	}
	return append(out, body[prev:]...)
}

// eachMember calls fn for every member of the JSON object obj, in order,
// with the key unescaped and the raw value. obj must be valid JSON.
func eachMember(obj []byte, fn func(key string, val []byte) error) error {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return errMalformed
	}
	i++
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) {
			return errMalformed
		}
		switch obj[i] {
		case '}':
			return nil
		case ',':
			i = skipSpace(obj, i+1)
		}
		kEnd, err := skipString(obj, i)
		if err != nil {
			return err
		}
		key, ok := keyString(obj[i+1 : kEnd-1])
		if !ok {
			return errMalformed
		}
		i = skipSpace(obj, kEnd)
		if i >= len(obj) || obj[i] != ':' {
			return errMalformed
		}
		i = skipSpace(obj, i+1)
		vEnd, err := skipValue(obj, i)
		if err != nil {
			return err
		}
		if err := fn(key, obj[i:vEnd]); err != nil {
			return err
		}
		i = vEnd
	}
}

// keyString is the key written raw (between its quotes): a constant for
// a common key, without allocating.
func keyString(raw []byte) (string, bool) {
	if k, ok := commonKey(raw); ok {
		return k, true
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw), true
	}
	tok := make([]byte, 0, len(raw)+2)
	return unquote(append(append(append(tok, '"'), raw...), '"'))
}

// commonKey returns a constant for the keys (raw: between the quotes, as
// written) that nearly every request and answer has, so that walking them
// allocates no string; ok is false for any other key. (The keys of the
// bodies the Messages and Responses translators write are here too: a
// translated streaming request with tools allocated three key strings.)
func commonKey(raw []byte) (string, bool) {
	switch string(raw) { // compiled without a conversion
	case "stream_options":
		return "stream_options", true
	case "include_usage":
		return "include_usage", true
	case "tools":
		return "tools", true
	case "tool_choice":
		return "tool_choice", true
	case "tool_calls":
		return "tool_calls", true
	case "tool_call_id":
		return "tool_call_id", true
	case "reasoning_content":
		return "reasoning_content", true
	case "top_p":
		return "top_p", true
	case "stop":
		return "stop", true
	case "thinking":
		return "thinking", true
	case "reasoning_effort":
		return "reasoning_effort", true
	case "parallel_tool_calls":
		return "parallel_tool_calls", true
	case "model":
		return "model", true
	case "messages":
		return "messages", true
	case "role":
		return "role", true
	case "content":
		return "content", true
	case "max_tokens":
		return "max_tokens", true
	case "temperature":
		return "temperature", true
	case "stream":
		return "stream", true
	case "usage":
		return "usage", true
	case "prompt_tokens":
		return "prompt_tokens", true
	case "completion_tokens":
		return "completion_tokens", true
	case "total_tokens":
		return "total_tokens", true
	}
	return "", false
}

// eachElement calls fn for every element of the JSON array arr. arr must
// be valid JSON.
func eachElement(arr []byte, fn func(i int, val []byte) error) error {
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return errMalformed
	}
	i++
	for n := 0; ; n++ {
		i = skipSpace(arr, i)
		if i >= len(arr) {
			return errMalformed
		}
		switch arr[i] {
		case ']':
			return nil
		case ',':
			i = skipSpace(arr, i+1)
		}
		end, err := skipValue(arr, i)
		if err != nil {
			return err
		}
		if err := fn(n, arr[i:end]); err != nil {
			return err
		}
		i = end
	}
}

// unquote decodes a JSON string token without allocating when it has no
// escapes.
func unquote(tok []byte) (string, bool) {
	if len(tok) < 2 || tok[0] != '"' || tok[len(tok)-1] != '"' {
		return "", false
	}
	raw := tok[1 : len(tok)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw), true
	}
	var s string
	if json.Unmarshal(tok, &s) != nil {
		return "", false
	}
	return s, true
}
