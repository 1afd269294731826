package responses

import (
	"github.com/dsgate/dsgate/internal/chatwire"
	"github.com/dsgate/dsgate/internal/jsonenc"
	"github.com/dsgate/dsgate/internal/openai"
)

// Stored conversations (store: true, previous_response_id) are the
// caller's: it keeps each response's input and output items and, for a
// request that names a previous response, splices them in front of the new
// input with WithHistory before calling ToChat. As in OpenAI's API, the
// previous instructions are not carried over; only items are.

// InputItems returns the request's input as an array of items: a string
// input becomes one user message item. Use it to store a response's input
// (and to serve GET /v1/responses/{id}/input_items).
func InputItems(body []byte) ([]byte, error) {
	input, err := field(body, "input")
	if err != nil {
		return nil, err
	}
	return asItems(input), nil
}

// OutputItems returns the output array of a Response object (as returned by
// FromChat or the final event of a Stream), to store with its input.
func OutputItems(response []byte) ([]byte, error) {
	out, err := field(response, "output")
	if err != nil {
		return nil, err
	}
	if chatwire.Null(out) {
		return []byte("[]"), nil
	}
	return out, nil
}

// WithHistory returns body with history (a JSON array of items: earlier
// inputs and outputs, oldest first) placed before its input, and without
// previous_response_id. The result is a complete stateless request.
func WithHistory(body, history []byte) ([]byte, error) {
	history = chatwire.Trim(history)
	if len(history) == 0 || history[0] != '[' || !jsonenc.Valid(history) {
		return nil, invalid("previous_response_id", "stored history is not an array of items")
	}
	input, err := field(body, "input")
	if err != nil {
		return nil, err
	}
	items := asItems(input)
	merged := make([]byte, 0, len(history)+len(items)+1)
	merged = append(merged, history[:len(history)-1]...)
	if len(chatwire.Trim(history[1:len(history)-1])) > 0 && len(items) > 2 {
		merged = append(merged, ',')
	}
	merged = append(merged, items[1:]...)

	out := make([]byte, 0, len(body)+len(merged))
	out = append(out, '{')
	n := 0
	put := func(key, v []byte) {
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = append(out, '"')
		out = append(out, key...)
		out = append(out, `":`...)
		out = append(out, v...)
	}
	_ = chatwire.Object(chatwire.Trim(body), func(key, v []byte) error {
		switch string(key) {
		case "previous_response_id":
		case "input":
			put(key, merged)
		default:
			put(key, v)
		}
		return nil
	})
	if len(input) == 0 {
		put([]byte("input"), merged)
	}
	return append(out, '}'), nil
}

// field validates body and returns the raw value of its top-level key
// (nil when absent).
func field(body []byte, key string) ([]byte, *openai.Error) {
	body = chatwire.Trim(body)
	if !jsonenc.Valid(body) || len(body) == 0 || body[0] != '{' {
		return nil, invalid("", "body must be a JSON object")
	}
	var v []byte
	_ = chatwire.Object(body, func(k, val []byte) error {
		if string(k) == key {
			v = val
		}
		return nil
	})
	return v, nil
}

// asItems turns an input value into an items array.
func asItems(input []byte) []byte {
	switch {
	case chatwire.Null(input):
		return []byte("[]")
	case input[0] == '"':
		b := append([]byte(`[{"type":"message","role":"user","content":`), input...)
		return append(b, `}]`...)
	}
	return input
}
