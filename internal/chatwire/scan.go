package chatwire

import (
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// The walkers below read JSON that has already passed Valid: they
// find value boundaries without re-validating, so a translator decodes a
// request in one validating pass plus one walk, without reflection. Keys
// are matched exactly (escaped keys do not match), as upstreams do.

// ErrShape reports a value of the wrong JSON kind for the walker.
var ErrShape = errors.New("unexpected JSON value kind")

// Trim returns b without surrounding JSON whitespace.
func Trim(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// Null reports whether v is absent or JSON null.
func Null(v []byte) bool { return len(v) == 0 || v[0] == 'n' }

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i].
func skipString(b []byte, i int) int {
	end, _ := jsonenc.SkipString(b, i)
	return end
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && !isSpace(b[j]) {
		j++
	}
	return j
}

// Object calls fn for each member of the object obj (trimmed, validated):
// key is the raw key between its quotes, val the trimmed raw value.
func Object(obj []byte, fn func(key, val []byte) error) error {
	_, err := ObjectAt(obj, 0, fn)
	return err
}

// ObjectAt is Object for the object at b[i] of a larger checked document,
// and returns the index just past it: a walk of the document need not find
// the object's end before reading it (Elements).
func ObjectAt(b []byte, i int, fn func(key, val []byte) error) (int, error) {
	if i >= len(b) || b[i] != '{' {
		return i, ErrShape
	}
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] != '}' {
		kEnd := skipString(b, i)
		key := b[i+1 : kEnd-1]
		i = skipSpace(b, kEnd) + 1 // past ':'
		i = skipSpace(b, i)
		vEnd := skipValue(b, i)
		if err := fn(key, b[i:vEnd]); err != nil {
			return i, err
		}
		i = skipSpace(b, vEnd)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return i + 1, nil
}

// Array calls fn for each element of the array arr (trimmed, validated).
func Array(arr []byte, fn func(i int, val []byte) error) error {
	return Elements(arr, func(n, at int) (int, error) {
		end := skipValue(arr, at)
		return end, fn(n, arr[at:end])
	})
}

// Elements calls fn with the index in arr of each element of the array
// arr (trimmed, validated); fn reads the element and returns the index
// just past it. An element read with ObjectAt is then passed over once,
// not once to find its end and again to read it: each level of a
// conversation walked with Array cost a pass over its text.
func Elements(arr []byte, fn func(n, at int) (int, error)) error {
	if len(arr) == 0 || arr[0] != '[' {
		return ErrShape
	}
	i := skipSpace(arr, 1)
	for n := 0; i < len(arr) && arr[i] != ']'; n++ {
		end, err := fn(n, i)
		if err != nil {
			return err
		}
		i = skipSpace(arr, end)
		if i < len(arr) && arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
	}
	return nil
}

// Unquote decodes the JSON string v. ok is false when v is not a string.
func Unquote(v []byte) (s string, ok bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	plain, ascii := true, true
	for _, c := range inner {
		if c == '\\' {
			plain = false
			break
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if plain && (ascii || utf8.Valid(inner)) {
		return string(inner), true
	}
	return unquoteSlow(v)
}

// unquoteSlow decodes a string with escapes or invalid UTF-8. It is apart
// from Unquote so that its decoding target, which escapes to the heap,
// is not allocated on Unquote's fast path.
func unquoteSlow(v []byte) (string, bool) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// names are the enum strings of the three APIs, returned by Name without
// allocating.
var names = [...]string{
	"text", "image", "tool_use", "tool_result", "thinking", "redacted_thinking",
	"user", "assistant", "system", "developer", "tool", "function",
	"message", "function_call", "function_call_output", "reasoning", "item_reference",
	"input_text", "output_text", "input_image", "refusal", "reasoning_text", "summary_text",
	"base64", "url", "auto", "any", "none", "required", "enabled", "disabled", "adaptive",
	"custom", "completed", "in_progress", "incomplete",
	"stop", "length", "tool_calls", "content_filter", "function_call", "insufficient_system_resource",
}

// Name decodes the JSON string v like Unquote, returning a shared string
// for the enum values the translators switch on (block and item types,
// roles), so that reading them does not allocate.
func Name(v []byte) (string, bool) {
	if len(v) >= 2 && v[0] == '"' {
		inner := v[1 : len(v)-1]
		for _, n := range names {
			if string(inner) == n {
				return n, true
			}
		}
	}
	return Unquote(v)
}
