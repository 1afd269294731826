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
	return Walk{}.Members(b, i, func(key []byte, at int, in Walk) (int, error) {
		val, end, _ := in.Value(b, at)
		return end, fn(key, val)
	})
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
	_, err := Walk{}.Elements(arr, 0, func(n, at int, _ Walk) (int, error) { return fn(n, at) })
	return err
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

// namesByLen are the names by length: Name compares a string with the
// few of its length (a scan of all of them was some 300 instructions a
// stop reason).
var namesByLen = func() (t [32][]string) {
	for _, n := range names {
		t[len(n)] = append(t[len(n)], n)
	}
	return t
}()

// Name decodes the JSON string v like Unquote, returning a shared string
// for the enum values the translators switch on (block and item types,
// roles), so that reading them does not allocate.
func Name(v []byte) (string, bool) {
	if len(v) >= 2 && v[0] == '"' {
		if inner := v[1 : len(v)-1]; len(inner) < len(namesByLen) {
			for _, n := range namesByLen[len(inner)] {
				if string(inner) == n {
					return n, true
				}
			}
		}
	}
	return Unquote(v)
}

// A Walk walks a client's document with position callbacks, as Elements
// does. With Check set it also checks the syntax of what it passes over,
// as jsonenc.Valid would: a translator that reads a part of a request as
// it checks it passes over that part once (a check of the body, then a
// walk to read it, were two passes over a coding agent's conversation).
// Depth is the nesting depth of the object or array walked, as
// jsonenc.Members takes it (1 for a document). Without Check the part was
// checked before, and the walk only finds where values end.
//
// A checking walk's errors are fn's own, ErrShape when b[i] is not the
// object or array walked, and ErrInvalid when the syntax is wrong. After
// an error the walk stops where it is: a caller that must still tell a
// malformed document from a wrong one checks the rest itself.
type Walk struct {
	Check bool
	Depth int
}

// Members calls fn for each member of the object at b[i], with the
// member's key (the raw bytes between its quotes), the index of its value
// and in, the walk of that value: fn reads the value with in.Value, or
// walks it with in.Members or in.Elements, and returns the index just past
// it. Members returns the index just past the object.
func (w Walk) Members(b []byte, i int, fn func(key []byte, at int, in Walk) (int, error)) (int, error) {
	if i >= len(b) || b[i] != '{' {
		return i, ErrShape
	}
	in := Walk{Check: w.Check, Depth: w.Depth + 1}
	if w.Check {
		var err error
		end, ok := jsonenc.Members(b, i, w.Depth, func(key []byte, at int) (int, bool) {
			var end int
			end, err = fn(key, at, in)
			return end, err == nil
		})
		return walked(end, ok, err)
	}
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] != '}' {
		kEnd := skipString(b, i)
		key := b[i+1 : kEnd-1]
		at := skipSpace(b, skipSpace(b, kEnd)+1) // past ':'
		end, err := fn(key, at, in)
		if err != nil {
			return end, err
		}
		i = next(b, end)
	}
	return i + 1, nil
}

// Elements is Members for the array at b[i]: fn gets each element's
// index n and position.
func (w Walk) Elements(b []byte, i int, fn func(n, at int, in Walk) (int, error)) (int, error) {
	if i >= len(b) || b[i] != '[' {
		return i, ErrShape
	}
	in := Walk{Check: w.Check, Depth: w.Depth + 1}
	if w.Check {
		return elements(b, i, w.Depth, func(n, at int) (int, error) { return fn(n, at, in) })
	}
	i = skipSpace(b, i+1)
	for n := 0; i < len(b) && b[i] != ']'; n++ {
		end, err := fn(n, i, in)
		if err != nil {
			return end, err
		}
		i = next(b, end)
	}
	return i + 1, nil
}

// next is the index of what follows the member or element that ends at
// b[end] in a checked document: the next one's, or the closing bracket's.
func next(b []byte, end int) int {
	i := skipSpace(b, end)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	return i
}

// Array is Elements for an array a translator converts as it checks it:
// err is the first fault fn returns, which stops the walk; a checking walk
// then checks the rest of the array (ok is false when it is malformed), so
// that the caller still tells a malformed document from a wrong one.
func (w Walk) Array(b []byte, at int, fn func(n, at int, in Walk) (int, error)) (end int, ok bool, err error) {
	end, err = w.Elements(b, at, fn)
	if err == nil || !w.Check {
		return end, true, err
	}
	end, ok = jsonenc.Value(b, at, w.Depth-1)
	return end, ok, err
}

// Value returns the value at b[at] that w walks (the in of a Members or
// Elements callback) and the index just past it.
func (w Walk) Value(b []byte, at int) ([]byte, int, error) {
	if !w.Check {
		end := skipValue(b, at)
		return b[at:end], end, nil
	}
	end, ok := jsonenc.Value(b, at, w.Depth-1)
	if !ok {
		return nil, at, ErrInvalid
	}
	return b[at:end], end, nil
}
