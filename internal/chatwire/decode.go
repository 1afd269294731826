package chatwire

import (
	"bytes"
	"errors"
	"strconv"
	"sync"

	"github.com/dsgate/dsgate/internal/jsonenc"
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
	if !jsonenc.Valid(b) {
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
		usageMember(u, key, val)
		return nil
	})
}

// usageMember reads one member of a usage object, its checked value val:
// a counter that is no integer (null included) is 0, a null details
// object is as if absent.
func usageMember(u *openai.Usage, key, val []byte) {
	n := func() int { return int(integer(val)) }
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
		if !Null(val) {
			u.PromptTokensDetails = &struct {
				CachedTokens int `json:"cached_tokens"`
			}{memberInt(val, "cached_tokens")}
		}
	case "completion_tokens_details":
		if !Null(val) {
			u.CompletionTokensDetails = &struct {
				ReasoningTokens int `json:"reasoning_tokens"`
			}{memberInt(val, "reasoning_tokens")}
		}
	}
}

// DecodeChunk reads a stream chunk into c, reusing c's storage (the
// translators decode every chunk of a stream into the same Chunk). It
// reads a completion too: its message is read as a chunk's delta. A
// malformed chunk is ErrInvalid, as with Decode, but DecodeChunk checks
// the chunk in the same pass that reads it (what it skips is checked by
// jsonenc.Value), not in a pass before; and the texts stay Tokens into b,
// so a chunk costs no allocation beyond a new id, model or tool call name.
// Only choice 0 is read. A chunk that differs from the last one with one
// text only in that text is read without a walk (template.go).
func DecodeChunk(b []byte, c *Chunk) error {
	doc := b
	b = Trim(b)
	if !c.fromTemplate(b) {
		if err := decodeChunk(b, c, true); err != nil {
			c.last = nil // no chunk to Mark: not the one before, in the same buffer
			return err
		}
		c.remember(b)
	}
	c.last = doc
	return nil
}

// DecodeCompletion reads a whole chat completion into c as DecodeChunk
// reads a chunk, its message as the delta, but keeps no template: a
// completion is read once.
func DecodeCompletion(b []byte, c *Chunk) error {
	return decodeChunk(Trim(b), c, false)
}

// completionChunks are the Chunks that whole completions are read into
// (GetChunk, PutChunk): a Chunk is some 700 bytes, and the storage of its
// tool calls goes with it; a Chunk of the caller's own was garbage after
// each translated answer.
var completionChunks = sync.Pool{New: func() any { return new(Chunk) }}

// GetChunk returns an empty Chunk to read a completion into
// (DecodeCompletion), to be handed back with PutChunk.
func GetChunk() *Chunk { return completionChunks.Get().(*Chunk) }

// PutChunk hands c back for reuse: nothing read from it (its tokens and
// strings) may be used after.
func PutChunk(c *Chunk) {
	if cap(c.ToolCalls) > 64 {
		return // grown by a huge completion: left to the garbage collector
	}
	c.Reset()
	completionChunks.Put(c)
}

// decodeChunk is DecodeChunk's walk of b, trimmed. A chunk that starts
// with the bytes the last walked chunk had before its choices (its id,
// object, created and model: its head, kept when keepHead is set) is
// walked from there, with what the head read.
func decodeChunk(b []byte, c *Chunk, keepHead bool) error {
	// The decoded fields are emptied one by one: the Chunk's other state
	// (its template and head, the relay's mark) is most of its size.
	prevID, prevModel, h := c.ID, c.Model, c.head
	c.ID, c.Model, c.Created, c.FinishReason = "", "", 0, ""
	c.Content, c.ReasoningContent, c.Refusal, c.Usage = nil, nil, nil, nil
	c.ToolCalls = c.ToolCalls[:0]
	c.role = [2]int{}
	// The head is the bytes before the first choices, when members came
	// before it and none of them was usage; it reads what was read when
	// the choices came (the chunk may give id, model or created again
	// after them).
	headAt, before, sawChoices, usageFirst := -1, 0, false, false
	var head chunkHead
	read := func(key []byte, i int) (int, error) {
		switch string(key) {
		case "choices":
			if !sawChoices && before > 0 && !usageFirst {
				// Its key's quote: the head ends past a ',' and spaces.
				headAt = cap(b) - cap(key) - 1
				head.id, head.model, head.created = c.ID, c.Model, c.Created
			}
			sawChoices = true
			if end, ok := c.readChoices(b, i); ok {
				return end, nil
			}
			return elements(b, i, 2, func(n, e int) (int, error) {
				if n > 0 {
					return value(b, e, 2)
				}
				// A second choices array replaces the first's choice, as
				// in Decode.
				c.Content, c.ReasoningContent, c.Refusal, c.FinishReason = nil, nil, nil, ""
				c.ToolCalls = c.ToolCalls[:0]
				return members(b, e, 3, func(k []byte, v int) (int, error) { return c.choiceMember(b, k, v) })
			})
		case "usage":
			usageFirst = usageFirst || headAt < 0
			c.usage = openai.Usage{} // a second usage replaces the first
			c.Usage = &c.usage
			return readUsage(b, i, &c.usage)
		}
		before++
		end, err := value(b, i, 1)
		if err != nil {
			return 0, err
		}
		switch v := b[i:end]; string(key) {
		case "id":
			c.ID = keep(prevID, v)
		case "model":
			c.Model = keep(prevModel, v)
		case "created":
			c.Created = integer(v)
		}
		return end, nil
	}
	var end int
	var err error
	if n := len(h.bytes); n > 0 && len(b) > n && bytes.HasPrefix(b, h.bytes) {
		c.ID, c.Model, c.Created = h.id, h.model, h.created
		end, err = moreMembers(b, n, read)
	} else if n, ok := c.readHead(b, prevID, prevModel); ok {
		head := chunkHead{id: c.ID, model: c.Model, created: c.Created}
		end, err = moreMembers(b, n, read)
		if err == nil && keepHead {
			c.head.bytes = append(c.head.bytes[:0], b[:n]...)
			c.head.id, c.head.model, c.head.created = head.id, head.model, head.created
		}
	} else {
		end, err = members(b, 0, 1, read)
		if err == nil && keepHead && headAt > 0 {
			c.head.bytes = append(c.head.bytes[:0], b[:headAt]...)
			c.head.id, c.head.model, c.head.created = head.id, head.model, head.created
		}
	}
	switch {
	case err == ErrShape && !jsonenc.Valid(b):
		return ErrInvalid // malformed as well: the error Decode gives
	case err != nil:
		return err
	case end != len(b):
		return ErrInvalid
	}
	return nil
}

// readHead reads the members before "choices" of a chunk written the
// usual way (every engine's: {"id":"...","object":"...","created":N,
// "model":"...", and any others such as system_fingerprint) without a
// walk: no space between the tokens, keys and strings of plain ASCII
// (ASCIIRun: no escape, nothing a JSON string cannot hold as it is),
// integers without a sign, fraction or leading zero, and nulls. What it
// checks is then valid JSON, and it reads id, model and created as the
// walk does (a later one of a name replaces an earlier one). It returns
// the index of the "choices" key's quote, or ok false when a member is
// written otherwise, none comes before choices, or one is usage: the walk
// reads those.
func (c *Chunk) readHead(b []byte, prevID, prevModel string) (int, bool) {
	if len(b) == 0 || b[0] != '{' {
		return 0, false
	}
	for i := 1; ; {
		if i >= len(b) || b[i] != '"' {
			return 0, false
		}
		k := jsonenc.ASCIIRun(b, i+1)
		if k+1 >= len(b) || b[k] != '"' || b[k+1] != ':' {
			return 0, false
		}
		key, v := b[i+1:k], k+2
		if string(key) == "choices" {
			return i, i > 1
		}
		if v >= len(b) {
			return 0, false
		}
		var next int
		switch c0 := b[v]; {
		case c0 == '"':
			e := jsonenc.ASCIIRun(b, v+1)
			if e >= len(b) || b[e] != '"' {
				return 0, false
			}
			next = e + 1
		case c0 >= '0' && c0 <= '9':
			next = v + 1
			for next < len(b) && b[next] >= '0' && b[next] <= '9' {
				next++
			}
			if c0 == '0' && next > v+1 || next-v > 18 {
				return 0, false // a leading zero (invalid), or past integer's quick form
			}
		case c0 == 'n':
			if len(b)-v < 4 || string(b[v:v+4]) != "null" {
				return 0, false
			}
			next = v + 4
		default:
			return 0, false
		}
		if next >= len(b) || b[next] != ',' {
			return 0, false
		}
		val := b[v:next]
		switch string(key) {
		case "usage":
			return 0, false
		case "id", "model", "created":
			if Null(val) {
				break // passed over, as the walk does
			}
			if key[0] == 'c' {
				if val[0] == '"' {
					return 0, false
				}
				c.Created = integer(val)
			} else if val[0] != '"' {
				return 0, false
			} else if key[0] == 'i' {
				c.ID = keep(prevID, val)
			} else {
				c.Model = keep(prevModel, val)
			}
		}
		i = next + 1
	}
}

// readChoicesFast is off only in tests that compare readChoices with the
// walk.
var readChoicesFast = true

// readChoices reads the choices array at b[i] without a walk when it is
// written the usual way: [], or one choice, with no space between tokens
// and keys of plain ASCII (no escape), its delta (or message) an object
// of such members (its tool calls read as the walk reads them). Each value
// is checked by jsonenc.Value as the walk checks it, nulls are passed over
// as the walk passes them over, and a later member of a name replaces an
// earlier one, so what it reads is what the walk reads. The walk's
// closures, one a JSON level, were a quarter of the instructions of a
// chunk the relay's template does not match (a stream's first, finish and
// usage chunks) and a twentieth of a whole completion's translation
// (bench/RESULTS.md, twentieth session). For anything else, or a fault, ok
// is false and the walk reads the array from b[i]: what readChoices set
// is what the walk sets again (its first choice empties the fields first,
// and it finds the same role member, if readChoices got that far).
func (c *Chunk) readChoices(b []byte, i int) (end int, ok bool) {
	if !readChoicesFast || i+1 >= len(b) || b[i] != '[' {
		return 0, false
	}
	if b[i+1] == ']' {
		return i + 2, true
	}
	if b[i+1] != '{' {
		return 0, false
	}
	c.Content, c.ReasoningContent, c.Refusal, c.FinishReason = nil, nil, nil, ""
	c.ToolCalls = c.ToolCalls[:0]
	if end, ok = c.readChoice(b, i+1); !ok || end >= len(b) || b[end] != ']' {
		return 0, false
	}
	return end + 1, true
}

// readChoice is readChoices' reading of choice 0, the object at b[i]
// (choiceMember's, without a walk). It returns the index past the object.
func (c *Chunk) readChoice(b []byte, i int) (int, bool) {
	return plainObject(b, i, 3, func(key []byte, v int) (int, bool) {
		switch string(key) {
		case "delta", "message":
			return plainObject(b, v, 4, func(key []byte, v int) (int, bool) { return c.deltaMember(b, key, v) })
		}
		end, ok := jsonenc.Value(b, v, 3)
		if ok && string(key) == "finish_reason" {
			c.FinishReason, _ = Name(b[v:end])
		}
		return end, ok
	})
}

// deltaMember reads one member of choice 0's delta (or message), key, its
// value at b[v] and not null, as choiceMember's walk reads it.
func (c *Chunk) deltaMember(b, key []byte, v int) (int, bool) {
	var end int
	var err error
	switch string(key) {
	case "role":
		end, err = c.readRole(b, key, v)
	case "tool_calls":
		end, err = c.readToolCalls(b, v)
	default:
		end, err = value(b, v, 4)
		switch {
		case err != nil:
		case string(key) == "content":
			c.Content = str(b[v:end])
		case string(key) == "reasoning_content":
			c.ReasoningContent = str(b[v:end])
		case string(key) == "refusal":
			c.Refusal = str(b[v:end])
		}
	}
	return end, err == nil
}

// plainObject reads the object at b[i], nested depth deep, written the
// usual way (plainKey's keys, no space between tokens), handing member
// each member whose value is not null; a null is checked and passed over,
// as the walk passes it over. It returns the index past the object, or
// ok false at anything else.
func plainObject(b []byte, i, depth int, member func(key []byte, v int) (end int, ok bool)) (int, bool) {
	if i+1 >= len(b) || b[i] != '{' {
		return 0, false
	}
	if b[i+1] == '}' {
		return i + 2, true
	}
	for i++; ; {
		key, v, ok := plainKey(b, i)
		if !ok {
			return 0, false
		}
		var end int
		if v < len(b) && b[v] == 'n' {
			end, ok = jsonenc.Value(b, v, depth)
		} else {
			end, ok = member(key, v)
		}
		if !ok || end >= len(b) {
			return 0, false
		}
		switch b[end] {
		case ',':
			i = end + 1
		case '}':
			return end + 1, true
		default:
			return 0, false
		}
	}
}

// plainKey reads the key of the member at b[i], its quote, written the
// usual way: plain ASCII (jsonenc.ASCIIRun: no escape), then a colon, no
// space. It returns the key (a slice of b, as the walk's keys are) and the
// index of the member's value.
func plainKey(b []byte, i int) (key []byte, v int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	k := jsonenc.ASCIIRun(b, i+1)
	if k+1 >= len(b) || b[k] != '"' || b[k+1] != ':' {
		return nil, 0, false
	}
	return b[i+1 : k], k + 2, true
}

// choiceMember reads one member of choice 0, its value at b[i], and
// returns the index past the value.
func (c *Chunk) choiceMember(b, key []byte, i int) (int, error) {
	switch string(key) {
	case "delta", "message":
		return members(b, i, 4, func(k []byte, v int) (int, error) {
			if string(k) == "role" {
				return c.readRole(b, k, v)
			}
			if string(k) == "tool_calls" {
				return c.readToolCalls(b, v)
			}
			end, err := value(b, v, 4)
			if err != nil {
				return 0, err
			}
			switch string(k) {
			case "content":
				c.Content = str(b[v:end])
			case "reasoning_content":
				c.ReasoningContent = str(b[v:end])
			case "refusal":
				c.Refusal = str(b[v:end])
			}
			return end, nil
		})
	case "finish_reason":
		end, err := value(b, i, 3)
		if err == nil && !Null(b[i:end]) {
			c.FinishReason, _ = Name(b[i:end])
		}
		return end, err
	}
	return value(b, i, 3)
}

// readToolCalls reads the tool_calls array at b[v] of choice 0's delta
// (or message), and returns the index past it.
func (c *Chunk) readToolCalls(b []byte, v int) (int, error) {
	return elements(b, v, 5, func(_, e int) (int, error) {
		end, err := value(b, e, 5)
		if err != nil {
			return 0, err
		}
		c.ToolCalls = append(c.ToolCalls, ChunkToolCall{})
		return end, decodeChunkToolCall(b[e:end], &c.ToolCalls[len(c.ToolCalls)-1])
	})
}

// readRole checks the value of the delta member role (key k, its value at
// b[v]), which a Chunk does not keep, and notes where the member is when
// another member follows it: its chunk without it, the stream's chunks
// after the first, is then a template (remember).
func (c *Chunk) readRole(b, k []byte, v int) (int, error) {
	end, err := value(b, v, 4)
	if err != nil {
		return 0, err
	}
	j := skipSpace(b, end)
	if j < len(b) && b[j] == ',' {
		c.role = [2]int{cap(b) - cap(k) - 1, skipSpace(b, j+1)} // from its key's quote to the next key's
	}
	return end, nil
}

// value checks the value at b[i], nested depth deep, and returns the
// index just past it.
func value(b []byte, i, depth int) (int, error) {
	end, ok := jsonenc.Value(b, i, depth)
	if !ok {
		return 0, ErrInvalid
	}
	return end, nil
}

// members is jsonenc.Members with the walk's errors: fn's own, ErrShape
// when b[i] is no object, ErrInvalid when it is malformed. A null member
// is checked and skipped without calling fn.
func members(b []byte, i, depth int, fn func(key []byte, v int) (int, error)) (int, error) {
	if i < len(b) && b[i] != '{' {
		return 0, ErrShape
	}
	var err error
	end, ok := jsonenc.Members(b, i, depth, skipNulls(b, depth, fn, &err))
	return walked(end, ok, err)
}

// skipNulls is fn as jsonenc's walks call it, passing over null members
// without calling fn, and keeping fn's error in err.
func skipNulls(b []byte, depth int, fn func(key []byte, v int) (int, error), err *error) func(key []byte, v int) (int, bool) {
	return func(key []byte, v int) (int, bool) {
		if v < len(b) && b[v] == 'n' {
			return jsonenc.Value(b, v, depth)
		}
		var end int
		end, *err = fn(key, v)
		return end, *err == nil
	}
}

// elements is members for the array at b[i]: fn gets each element's
// position and index.
func elements(b []byte, i, depth int, fn func(n, v int) (int, error)) (int, error) {
	if i < len(b) && b[i] != '[' {
		return 0, ErrShape
	}
	var err error
	end, ok := jsonenc.Elements(b, i, depth, func(n, v int) (int, bool) {
		var end int
		end, err = fn(n, v)
		return end, err == nil
	})
	return walked(end, ok, err)
}

// readUsage reads the usage object at b[i] into u in the walk that
// checks it (Decode's decodeUsage reads a checked one), and returns the
// index past it.
func readUsage(b []byte, i int, u *openai.Usage) (int, error) {
	if i < len(b) && b[i] != '{' {
		return 0, ErrShape
	}
	// Not members, which passes over nulls: a counter given again as
	// null is 0, as decodeUsage reads it.
	end, ok := jsonenc.Members(b, i, 2, func(key []byte, v int) (int, bool) {
		end, ok := jsonenc.Value(b, v, 2)
		if ok {
			usageMember(u, key, b[v:end])
		}
		return end, ok
	})
	return walked(end, ok, nil)
}

// memberInt is the integer member key of the checked object obj (0 when
// absent or no integer, or when obj is no object).
func memberInt(obj []byte, key string) int {
	var n int64
	_ = Object(obj, func(k, v []byte) error {
		if string(k) == key {
			n = integer(v)
		}
		return nil
	})
	return int(n)
}

// moreMembers is members from b[i], the next key of the top-level object
// (jsonenc.MoreMembers).
func moreMembers(b []byte, i int, fn func(key []byte, v int) (int, error)) (int, error) {
	var err error
	end, ok := jsonenc.MoreMembers(b, i, skipNulls(b, 1, fn, &err))
	return walked(end, ok, err)
}

// chunkHead is the bytes of a chunk before its choices, and what they
// read to (decodeChunk).
type chunkHead struct {
	bytes     []byte
	id, model string
	created   int64
}

func walked(end int, ok bool, err error) (int, error) {
	switch {
	case err != nil:
		return 0, err
	case !ok:
		return 0, ErrInvalid
	}
	return end, nil
}

// integer is the JSON number v as strconv.ParseInt reads it (0 when it is
// no integer), without strconv's generality for the common case, a short
// run of digits (ParseInt was a tenth of a chunk's decoding).
func integer(v []byte) int64 {
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' || len(v) > 18 {
			n, _ = strconv.ParseInt(string(v), 10, 64)
			return n
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// str is v when it is a JSON string token, else nil.
func str(v []byte) Token {
	if len(v) >= 2 && v[0] == '"' {
		return v
	}
	return nil
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
