package cache

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// Entry is one complete stored answer.
//
// Body is always the non-stream JSON (chat.completion, text_completion or an
// embeddings list). Chunks, when the answer came from a stream, are the
// original SSE data payloads (without "data: " and without [DONE]) so a
// streaming hit can replay the upstream's exact bytes. Stores treat the
// slices as immutable: a caller must not modify an Entry it passed to Set or
// got from Get.
type Entry struct {
	Body   []byte
	Chunks [][]byte
	// Model is the public model name; Purge by model matches it.
	Model     string
	CreatedAt time.Time
	// ExpiresAt is filled by Get from the tier's TTL; zero means unknown.
	// Set ignores it and uses its ttl argument.
	ExpiresAt time.Time
	Usage     Usage
}

// Usage is the token usage of the stored answer, for accounting on a hit.
type Usage struct {
	PromptTokens     int64
	CompletionTokens int64
	TotalTokens      int64
	ReasoningTokens  int64
	CachedTokens     int64
}

// Size is the approximate number of bytes the entry occupies, used to bound
// the memory tier.
func (e Entry) Size() int {
	n := len(e.Body) + len(e.Model) + 128
	for _, c := range e.Chunks {
		n += len(c) + 24
	}
	return n
}

// NewEntry builds an entry from a complete non-stream body and, if the answer
// was streamed, its original chunk payloads. Model and Usage are read from the
// body; model overrides the body's model when not empty (pass the public
// model name so Purge by model works with the name clients use).
func NewEntry(body []byte, chunks [][]byte, model string, now time.Time) (Entry, error) {
	if h, _, ok := scanAnswer(body); ok {
		return h.entry(body, chunks, model, now), nil
	}
	var head answerHead
	if err := json.Unmarshal(body, &head); err != nil {
		return Entry{}, fmt.Errorf("decoding answer: %w", err)
	}
	return head.entry(body, chunks, model, now), nil
}

// NewCheckedEntry is NewEntry and Storable(body) from one decode of the
// answer instead of two, for the miss path that does both: a scan without
// reflection (scanAnswer), or where the scan is not sure to read what
// encoding/json reads, one encoding/json decode. When that decode fails
// (bad JSON, or a member of a type only one of the two reads), it falls
// back to NewEntry and Storable, so its results are theirs.
func NewCheckedEntry(body []byte, chunks [][]byte, model string, now time.Time) (e Entry, storable bool, err error) {
	if h, storable, ok := scanAnswer(body); ok {
		return h.entry(body, chunks, model, now), storable, nil
	}
	return checkedEntryJSON(body, chunks, model, now)
}

// checkedEntryJSON is NewCheckedEntry with encoding/json.
func checkedEntryJSON(body []byte, chunks [][]byte, model string, now time.Time) (e Entry, storable bool, err error) {
	var both struct {
		answerHead
		responseShape
	}
	if json.Unmarshal(body, &both) != nil {
		if e, err = NewEntry(body, chunks, model, now); err != nil {
			return Entry{}, false, err
		}
		storable, _ = Storable(body)
		return e, storable, nil
	}
	storable, _ = both.storable()
	return both.entry(body, chunks, model, now), storable, nil
}

func (h *answerHead) entry(body []byte, chunks [][]byte, model string, now time.Time) Entry {
	if model == "" {
		model = h.Model
	}
	return Entry{
		Body:      body,
		Chunks:    chunks,
		Model:     model,
		CreatedAt: now,
		Usage:     h.Usage.usage(),
	}
}

// answerHead is what an entry keeps from its answer besides the bytes.
type answerHead struct {
	Model string    `json:"model"`
	Usage wireUsage `json:"usage"`
}

// wireUsage is the usage object as OpenAI and DeepSeek send it.
type wireUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	TotalTokens         int64 `json:"total_tokens"`
	PromptCacheHit      int64 `json:"prompt_cache_hit_tokens"`
	PromptTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func (w wireUsage) usage() Usage {
	cached := w.PromptTokensDetails.CachedTokens
	if cached == 0 {
		cached = w.PromptCacheHit
	}
	return Usage{
		PromptTokens:     w.PromptTokens,
		CompletionTokens: w.CompletionTokens,
		TotalTokens:      w.TotalTokens,
		ReasoningTokens:  w.CompletionTokensDetails.ReasoningTokens,
		CachedTokens:     cached,
	}
}

// Stream returns the SSE data payloads to replay for a streaming hit, without
// the final [DONE] (the SSE writer adds it). The original chunks are used when
// present, adjusted to includeUsage (the client's
// stream_options.include_usage): without it a trailing usage-only chunk is
// dropped; with it a usage chunk is appended only when no chunk carries usage
// yet (DeepSeek puts it on the finish chunk), because SDKs sum the usage of
// every chunk. Without original chunks the stream is rebuilt from Body by
// ReplayChunks. Embeddings cannot stream.
func (e Entry) Stream(includeUsage bool) ([][]byte, error) {
	if len(e.Chunks) == 0 {
		return ReplayChunks(e.Body, includeUsage)
	}
	if !includeUsage {
		if isUsageChunk(e.Chunks[len(e.Chunks)-1]) {
			return e.Chunks[:len(e.Chunks)-1], nil
		}
		return e.Chunks, nil
	}
	for _, c := range e.Chunks {
		if chunkHasUsage(c) {
			return e.Chunks, nil
		}
	}
	uc, err := usageChunkFor(e.Body)
	if err != nil || uc == nil {
		return e.Chunks, err
	}
	out := make([][]byte, 0, len(e.Chunks)+1)
	return append(append(out, e.Chunks...), uc), nil
}

type usageProbe struct {
	Choices []json.RawMessage `json:"choices"`
	Usage   json.RawMessage   `json:"usage"`
}

func chunkHasUsage(payload []byte) bool {
	var c usageProbe
	return json.Unmarshal(payload, &c) == nil && present(c.Usage)
}

// isUsageChunk reports whether a chunk is the include_usage trailer: no
// choices and a usage object.
func isUsageChunk(payload []byte) bool {
	var c usageProbe
	return json.Unmarshal(payload, &c) == nil && len(c.Choices) == 0 && present(c.Usage)
}

// scanAnswer reads what NewCheckedEntry needs of an answer (its model,
// usage and whether it is storable) in one validating pass without
// reflection. ok is false whenever encoding/json might read the answer
// differently or fail on it: a key with a capital, a non-ASCII byte or an
// escape (encoding/json matches keys without regard to case), a key it
// reads given twice, a string with an escape, a number that is not a
// plain integer, a value of another type than the field's. The caller
// then decodes the answer with encoding/json, which has the last word.
func scanAnswer(b []byte) (h answerHead, storable, ok bool) {
	var (
		seen                                   uint8
		errSet, list, data, unfinished, choice bool
	)
	const (
		seenModel = 1 << iota
		seenObject
		seenError
		seenData
		seenChoices
		seenUsage
	)
	b = trimSpace(b)
	end, ok := jsonenc.Members(b, 0, 1, func(key []byte, v int) (int, bool) {
		var bit uint8
		switch string(key) {
		case "model":
			bit = seenModel
		case "object":
			bit = seenObject
		case "error":
			bit = seenError
		case "data":
			bit = seenData
		case "choices":
			bit = seenChoices
		case "usage":
			bit = seenUsage
		default:
			if !plainKey(key) {
				return v, false
			}
			return jsonenc.Value(b, v, 1)
		}
		if seen&bit != 0 {
			return v, false
		}
		seen |= bit
		end, ok := jsonenc.Value(b, v, 1)
		if !ok {
			return end, false
		}
		val, null := b[v:end], b[v] == 'n'
		switch bit {
		case seenModel:
			h.Model, ok = plainString(val)
		case seenObject:
			var object string
			object, ok = plainString(val)
			list = object == "list"
		case seenError:
			errSet = !null
		case seenData:
			data = !null
		case seenChoices:
			if !null {
				_, ok = jsonenc.Elements(b, v, 2, func(_, e int) (int, bool) {
					choice = true
					end, fin, ok := scanChoice(b, e)
					unfinished = unfinished || !fin
					return end, ok
				})
			}
		case seenUsage:
			if !null {
				ok = scanUsage(b, v, &h.Usage)
			}
		}
		return end, ok
	})
	if !ok || end != len(b) {
		return answerHead{}, false, false
	}
	storable = !errSet && (list && data || choice && !unfinished)
	return h, storable, true
}

// scanChoice reads one element of choices: fin reports a finish_reason
// of stop, length or tool_calls (what Storable accepts).
func scanChoice(b []byte, i int) (end int, fin, ok bool) {
	if b[i] == 'n' {
		end, ok = jsonenc.Value(b, i, 2)
		return end, false, ok
	}
	seen := false
	end, ok = jsonenc.Members(b, i, 3, func(key []byte, v int) (int, bool) {
		if string(key) != "finish_reason" {
			if !plainKey(key) {
				return v, false
			}
			return jsonenc.Value(b, v, 3)
		}
		if seen {
			return v, false
		}
		seen = true
		end, ok := jsonenc.Value(b, v, 3)
		if !ok || b[v] == 'n' {
			return end, ok
		}
		var reason string
		reason, ok = plainString(b[v:end])
		fin = reason == "stop" || reason == "length" || reason == "tool_calls"
		return end, ok
	})
	return end, fin, ok
}

// scanUsage reads the usage object at b[i] into u.
func scanUsage(b []byte, i int, u *wireUsage) bool {
	var seen [6]bool
	_, ok := jsonenc.Members(b, i, 2, func(key []byte, v int) (int, bool) {
		var n *int64
		var nested string
		k := -1
		switch string(key) {
		case "prompt_tokens":
			k, n = 0, &u.PromptTokens
		case "completion_tokens":
			k, n = 1, &u.CompletionTokens
		case "total_tokens":
			k, n = 2, &u.TotalTokens
		case "prompt_cache_hit_tokens":
			k, n = 3, &u.PromptCacheHit
		case "prompt_tokens_details":
			k, n, nested = 4, &u.PromptTokensDetails.CachedTokens, "cached_tokens"
		case "completion_tokens_details":
			k, n, nested = 5, &u.CompletionTokensDetails.ReasoningTokens, "reasoning_tokens"
		default:
			if !plainKey(key) {
				return v, false
			}
			return jsonenc.Value(b, v, 2)
		}
		if seen[k] {
			return v, false
		}
		seen[k] = true
		if nested != "" {
			return scanDetail(b, v, nested, n)
		}
		return scanInt(b, v, 2, n)
	})
	return ok
}

// scanDetail reads {"key": n} (or null) at b[i] into n.
func scanDetail(b []byte, i int, key string, n *int64) (int, bool) {
	if b[i] == 'n' {
		return jsonenc.Value(b, i, 2)
	}
	seen := false
	return jsonenc.Members(b, i, 3, func(k []byte, v int) (int, bool) {
		if string(k) != key {
			if !plainKey(k) {
				return v, false
			}
			return jsonenc.Value(b, v, 3)
		}
		if seen {
			return v, false
		}
		seen = true
		return scanInt(b, v, 3, n)
	})
}

// scanInt reads the integer (or null, which leaves n alone) at b[i].
func scanInt(b []byte, i, depth int, n *int64) (int, bool) {
	end, ok := jsonenc.Value(b, i, depth)
	if !ok || b[i] == 'n' {
		return end, ok
	}
	v := b[i:end]
	if len(v) > 18 || v[0] == '-' && len(v) == 1 {
		return end, false
	}
	neg := v[0] == '-'
	if neg {
		v = v[1:]
	}
	var x int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return end, false
		}
		x = x*10 + int64(c-'0')
	}
	if neg {
		x = -x
	}
	*n = x
	return end, true
}

// plainKey reports a key encoding/json could only match exactly: lower-case
// ASCII without escapes. Such a key that is not one of the fields it reads
// is one it ignores.
func plainKey(k []byte) bool {
	for _, c := range k {
		if c >= 'A' && c <= 'Z' || c >= 0x80 || c == '\\' {
			return false
		}
	}
	return true
}

// plainString is the JSON string v without escapes, or null as "".
func plainString(v []byte) (string, bool) {
	if v[0] == 'n' {
		return "", true
	}
	if v[0] != '"' || bytes.IndexByte(v, '\\') >= 0 || !utf8.Valid(v) {
		return "", false // (encoding/json replaces invalid UTF-8)
	}
	return string(v[1 : len(v)-1]), true
}

func trimSpace(b []byte) []byte {
	return bytes.TrimFunc(b, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}
