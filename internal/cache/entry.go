package cache

import (
	"encoding/json"
	"fmt"
	"time"
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

// entryOverhead is what the memory tier keeps for an entry besides its
// bytes: otter's node (the key, the Entry's fields, list links), its slot
// in the hash table and its frequency counter; 300-320 bytes measured
// (TestMemoryHeapWithinMaxBytes), rounded up for the allocator's size
// classes.
const entryOverhead = 384

// Size is the approximate number of bytes the entry occupies in the memory
// tier, used to bound it.
func (e Entry) Size() int {
	n := allocated(cap(e.Body)) + len(e.Model) + entryOverhead
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

// allocated is about what the heap spends on an n-byte buffer: up to an
// eighth more for a small one (the allocator's size classes), whole 8 KiB
// pages for a large one.
func allocated(n int) int {
	if n < 32<<10 {
		return n + n/8
	}
	return (n + 8<<10 - 1) &^ (8<<10 - 1)
}
