package chatwire

import (
	"errors"
	"strconv"

	"github.com/dsgate/dsgate/internal/openai"
)

// ErrInvalid reports an upstream answer that is not valid JSON.
var ErrInvalid = errors.New("invalid JSON")

// Decode reads a chat completion or a stream chunk into c, reusing c's
// storage: a Stream decodes every chunk into the same Completion, so a
// chunk costs one validating pass, one walk and no allocation beyond the
// strings it carries. Only choice 0 is read (the translators serve n=1).
// id and model keep their previous string when unchanged.
func Decode(b []byte, c *Completion) error {
	b = Trim(b)
	if !Valid(b) {
		return ErrInvalid
	}
	prevID, prevModel := c.ID, c.Model
	c.ID, c.Model, c.Created = "", "", 0
	c.Choices = c.Choices[:0]
	c.Usage = nil
	return Object(b, func(key, v []byte) error {
		if Null(v) {
			return nil
		}
		switch string(key) {
		case "id":
			c.ID = keep(prevID, v)
		case "model":
			c.Model = keep(prevModel, v)
		case "created":
			c.Created, _ = strconv.ParseInt(string(v), 10, 64)
		case "choices":
			return Array(v, func(i int, e []byte) error {
				if i > 0 {
					return nil
				}
				if cap(c.Choices) > 0 {
					c.Choices = c.Choices[:1]
				} else {
					c.Choices = make([]Choice, 1)
				}
				return decodeChoice(e, &c.Choices[0])
			})
		case "usage":
			c.usage = openai.Usage{}
			c.Usage = &c.usage
			return decodeUsage(v, &c.usage)
		}
		return nil
	})
}

// keep returns old when the JSON string v decodes to it, else the decoded
// string; v that is not a string gives "".
func keep(old string, v []byte) string {
	if len(v) >= 2 && v[0] == '"' && string(v[1:len(v)-1]) == old {
		return old
	}
	s, _ := Unquote(v)
	return s
}

func decodeChoice(v []byte, ch *Choice) error {
	calls := ch.Delta.ToolCalls[:0]
	*ch = Choice{}
	ch.Delta.ToolCalls = calls
	return Object(v, func(key, val []byte) error {
		if Null(val) {
			return nil
		}
		switch string(key) {
		case "index":
			ch.Index, _ = strconv.Atoi(string(val))
		case "finish_reason":
			ch.FinishReason, _ = Name(val)
		case "message", "delta":
			if err := decodeDelta(val, &ch.Delta); err != nil {
				return err
			}
			ch.Message = ch.Delta
		}
		return nil
	})
}

func decodeDelta(v []byte, d *Delta) error {
	return Object(v, func(key, val []byte) error {
		if Null(val) {
			return nil
		}
		switch string(key) {
		case "role":
			d.Role, _ = Name(val)
		case "content":
			d.Content, _ = Unquote(val)
		case "reasoning_content":
			d.ReasoningContent, _ = Unquote(val)
		case "refusal":
			d.Refusal, _ = Unquote(val)
		case "tool_calls":
			return Array(val, func(i int, e []byte) error {
				d.ToolCalls = append(d.ToolCalls, ToolCall{})
				return decodeToolCall(e, &d.ToolCalls[len(d.ToolCalls)-1])
			})
		}
		return nil
	})
}

func decodeToolCall(v []byte, tc *ToolCall) error {
	return Object(v, func(key, val []byte) error {
		if Null(val) {
			return nil
		}
		switch string(key) {
		case "index":
			tc.Index, _ = strconv.Atoi(string(val))
		case "id":
			tc.ID, _ = Unquote(val)
		case "type":
			tc.Type, _ = Name(val)
		case "function":
			return Object(val, func(k, fv []byte) error {
				switch string(k) {
				case "name":
					tc.Function.Name, _ = Unquote(fv)
				case "arguments":
					tc.Function.Arguments, _ = Unquote(fv)
				}
				return nil
			})
		}
		return nil
	})
}

func decodeUsage(v []byte, u *openai.Usage) error {
	return Object(v, func(key, val []byte) error {
		n := func() int { i, _ := strconv.Atoi(string(val)); return i }
		switch string(key) {
		case "prompt_tokens":
			u.PromptTokens = n()
		case "completion_tokens":
			u.CompletionTokens = n()
		case "total_tokens":
			u.TotalTokens = n()
		case "prompt_cache_hit_tokens":
			u.PromptCacheHitTokens = n()
		case "prompt_cache_miss_tokens":
			u.PromptCacheMissTokens = n()
		case "prompt_tokens_details":
			if Null(val) {
				return nil
			}
			var cached int
			_ = Object(val, func(k, dv []byte) error {
				if string(k) == "cached_tokens" {
					cached, _ = strconv.Atoi(string(dv))
				}
				return nil
			})
			u.PromptTokensDetails = &struct {
				CachedTokens int `json:"cached_tokens"`
			}{cached}
		case "completion_tokens_details":
			if Null(val) {
				return nil
			}
			var reasoning int
			_ = Object(val, func(k, dv []byte) error {
				if string(k) == "reasoning_tokens" {
					reasoning, _ = strconv.Atoi(string(dv))
				}
				return nil
			})
			u.CompletionTokensDetails = &struct {
				ReasoningTokens int `json:"reasoning_tokens"`
			}{reasoning}
		}
		return nil
	})
}

// DecodeChunk reads a stream chunk into c, reusing c's storage (the
// translators decode every chunk of a stream into the same Chunk). Like
// Decode it validates the chunk first, so a malformed one is ErrInvalid;
// unlike it, the texts stay Tokens into b, so a chunk costs no allocation
// beyond a new id, model or tool call name. Only choice 0 is read.
func DecodeChunk(b []byte, c *Chunk) error {
	b = Trim(b)
	if !Valid(b) {
		return ErrInvalid
	}
	prevID, prevModel, calls := c.ID, c.Model, c.ToolCalls[:0]
	*c = Chunk{ToolCalls: calls}
	return Object(b, func(key, v []byte) error {
		if Null(v) {
			return nil
		}
		switch string(key) {
		case "id":
			c.ID = keep(prevID, v)
		case "model":
			c.Model = keep(prevModel, v)
		case "created":
			c.Created, _ = strconv.ParseInt(string(v), 10, 64)
		case "choices":
			return Array(v, func(i int, e []byte) error {
				if i > 0 {
					return nil
				}
				return decodeChunkChoice(e, c)
			})
		case "usage":
			c.Usage = &c.usage
			return decodeUsage(v, &c.usage)
		}
		return nil
	})
}

// str is v when it is a JSON string token, else nil.
func str(v []byte) Token {
	if len(v) >= 2 && v[0] == '"' {
		return v
	}
	return nil
}

func decodeChunkChoice(v []byte, c *Chunk) error {
	return Object(v, func(key, val []byte) error {
		if Null(val) {
			return nil
		}
		switch string(key) {
		case "finish_reason":
			c.FinishReason, _ = Name(val)
		case "delta", "message":
			return Object(val, func(k, dv []byte) error {
				if Null(dv) {
					return nil
				}
				switch string(k) {
				case "content":
					c.Content = str(dv)
				case "reasoning_content":
					c.ReasoningContent = str(dv)
				case "refusal":
					c.Refusal = str(dv)
				case "tool_calls":
					return Array(dv, func(_ int, e []byte) error {
						c.ToolCalls = append(c.ToolCalls, ChunkToolCall{})
						return decodeChunkToolCall(e, &c.ToolCalls[len(c.ToolCalls)-1])
					})
				}
				return nil
			})
		}
		return nil
	})
}

func decodeChunkToolCall(v []byte, tc *ChunkToolCall) error {
	return Object(v, func(key, val []byte) error {
		if Null(val) {
			return nil
		}
		switch string(key) {
		case "index":
			tc.Index, _ = strconv.Atoi(string(val))
		case "id":
			tc.ID, _ = Unquote(val)
		case "function":
			return Object(val, func(k, fv []byte) error {
				switch string(k) {
				case "name":
					tc.Name, _ = Unquote(fv)
				case "arguments":
					tc.Arguments = str(fv)
				}
				return nil
			})
		}
		return nil
	})
}
