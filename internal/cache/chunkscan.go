package cache

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// scanChatChunk reads a chat chunk into c (zeroed first) as
// encoding/json reads it, without reflection, for the shapes upstreams
// stream: text and reasoning deltas, a finish reason, usage. Like
// scanAnswer it gives up (ok false, the caller decodes with encoding/json)
// on anything it is not sure to read the same: a key with a capital, a
// non-ASCII byte or an escape, a key given twice, a value of another type
// than the field's, and the rarer members (tool calls, logprobs).
//
// Decoding the chunks of one stream into the same c costs less: the
// choices' storage is reused, and so are the previous chunk's id, object,
// model and created when the new chunk repeats them (as every chunk does).
func scanChatChunk(b []byte, c *chatChunk) (ok bool) {
	prev := *c
	*c = chatChunk{}
	var seen uint16
	b = trimSpace(b)
	end, ok := jsonenc.Members(b, 0, 1, func(key []byte, v int) (int, bool) {
		k := chunkKey(key)
		if k < 0 {
			if !plainKey(key) {
				return v, false
			}
			return jsonenc.Value(b, v, 1)
		}
		if seen&(1<<k) != 0 {
			return v, false
		}
		seen |= 1 << k
		end, ok := jsonenc.Value(b, v, 1)
		if !ok {
			return end, false
		}
		val := b[v:end]
		switch k {
		case 0:
			ok = stringField(val, prev.ID, &c.ID)
		case 1:
			ok = stringField(val, prev.Object, &c.Object)
		case 2:
			switch {
			case string(val) == string(prev.Created):
				c.Created = prev.Created
			case val[0] == '-' || val[0] >= '0' && val[0] <= '9':
				c.Created = json.Number(val)
			case val[0] != 'n':
				return end, false
			}
		case 3:
			ok = stringField(val, prev.Model, &c.Model)
		case 4:
			c.SystemFingerprint, ok = stringPtr(val)
		case 5:
			c.ServiceTier, ok = stringPtr(val)
		case 6:
			if val[0] != 'n' {
				c.Choices = prev.Choices[:0]
				if c.Choices == nil {
					c.Choices = []chunkChoice{} // [] is an empty slice, not nil
				}
				_, ok = jsonenc.Elements(b, v, 2, func(_, e int) (int, bool) {
					c.Choices = append(c.Choices, chunkChoice{})
					return scanChunkChoice(b, e, &c.Choices[len(c.Choices)-1])
				})
			}
		case 7:
			c.Usage = json.RawMessage(string(val))
		case 8:
			c.Error = json.RawMessage(string(val))
		}
		return end, ok
	})
	return ok && end == len(b)
}

// chunkKey numbers the members of chatChunk; -1 for any other key.
func chunkKey(k []byte) int {
	switch string(k) {
	case "id":
		return 0
	case "object":
		return 1
	case "created":
		return 2
	case "model":
		return 3
	case "system_fingerprint":
		return 4
	case "service_tier":
		return 5
	case "choices":
		return 6
	case "usage":
		return 7
	case "error":
		return 8
	}
	return -1
}

// scanChunkChoice reads one element of choices into d.
func scanChunkChoice(b []byte, i int, d *chunkChoice) (int, bool) {
	if b[i] == 'n' {
		return jsonenc.Value(b, i, 2)
	}
	var seen uint8
	return jsonenc.Members(b, i, 3, func(key []byte, v int) (int, bool) {
		var bit uint8
		switch string(key) {
		case "index":
			bit = 1
		case "delta":
			bit = 2
		case "logprobs":
			bit = 4
		case "finish_reason":
			bit = 8
		default:
			if !plainKey(key) {
				return v, false
			}
			return jsonenc.Value(b, v, 3)
		}
		if seen&bit != 0 {
			return v, false
		}
		seen |= bit
		if bit == 2 && b[v] == '{' {
			return scanChunkDelta(b, v, &d.Delta)
		}
		end, ok := jsonenc.Value(b, v, 3)
		if !ok {
			return end, false
		}
		val := b[v:end]
		switch bit {
		case 1:
			var n int64
			if _, ok = scanInt(b, v, 3, &n); ok && int64(int(n)) == n {
				d.Index = int(n)
			}
		case 2, 4:
			ok = val[0] == 'n' // a delta of another type; logprobs: left to encoding/json
		case 8:
			d.FinishReason, ok = stringPtr(val)
		}
		return end, ok
	})
}

// scanChunkDelta reads the delta object at b[i] into d.
func scanChunkDelta(b []byte, i int, d *chunkDelta) (int, bool) {
	var seen uint8
	return jsonenc.Members(b, i, 4, func(key []byte, v int) (int, bool) {
		var bit uint8
		var dst **string
		switch string(key) {
		case "role":
			bit, dst = 1, &d.Role
		case "content":
			bit, dst = 2, &d.Content
		case "reasoning_content":
			bit, dst = 4, &d.ReasoningContent
		case "refusal":
			bit, dst = 8, &d.Refusal
		case "tool_calls":
			return v, false // left to encoding/json
		default:
			if !plainKey(key) {
				return v, false
			}
			return jsonenc.Value(b, v, 4)
		}
		if seen&bit != 0 {
			return v, false
		}
		seen |= bit
		end, ok := jsonenc.Value(b, v, 4)
		if ok {
			*dst, ok = stringPtr(b[v:end])
		}
		return end, ok
	})
}

// stringField reads the JSON string (or null, which leaves s alone) v
// into s: prev when v holds just that.
func stringField(v []byte, prev string, s *string) bool {
	if v[0] == 'n' {
		return true
	}
	if len(v) == len(prev)+2 && v[0] == '"' && string(v[1:len(v)-1]) == prev && plainASCII(prev) {
		*s = prev
		return true
	}
	p, ok := stringPtr(v)
	if ok {
		*s = *p
	}
	return ok
}

// stringPtr is the JSON string v, nil for null; ok is false for another
// type. A string with escapes or invalid UTF-8 is decoded by
// encoding/json (which replaces invalid UTF-8).
func stringPtr(v []byte) (*string, bool) {
	switch {
	case v[0] == 'n':
		return nil, true
	case v[0] != '"':
		return nil, false
	}
	inner := v[1 : len(v)-1]
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			var s string
			if json.Unmarshal(v, &s) != nil {
				return nil, false
			}
			return &s, true
		}
	}
	s := string(inner)
	return &s, true
}

// plainASCII reports a string that is the same encoded in JSON and not.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
