package chatwire

import "testing"

// Divergences of DecodeChunk from Decode that a hostile trial of the
// chunk head and of readUsage found (decode_hostile2_test.go has the rest
// of the trial). They failed on 77a2791 and b30a36a and pass since the
// head reads what was read when its choices came, only the first choices
// ends it, and readUsage reads a null counter as 0.

// Bug 1 (head, 77a2791): the head keeps the id, model and created the
// whole chunk read (chunkHead.set is called after the walk), not what its
// bytes before choices read. When the chunk that kept the head has id,
// model or created after its choices, a later chunk that starts with the
// head but has no such member after its own choices reads the earlier
// chunk's value; Decode reads none (or the head's).
func TestDecodeChunkHeadKeepsTailFieldsHostile2(t *testing.T) {
	for _, seq := range [][]string{
		// id only after choices: the head has no id, the next chunk reads "a".
		{`{"object":"x","choices":[],"id":"a"}`, `{"object":"x","choices":[{"delta":{"content":"hi"}}]}`},
		// The usage chunk of such a stream.
		{`{"object":"chat.completion.chunk","choices":[{"delta":{"content":"hi"}}],"id":"c1","model":"m","created":7}`,
			`{"object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":1}}`},
		// id given again after choices: the head's "a" is read as "b".
		{`{"id":"a","choices":[],"id":"b"}`, `{"id":"a","choices":[]}`},
		// created given again after choices.
		{`{"id":"a","created":1,"choices":[],"created":2}`, `{"id":"a","created":1,"choices":[]}`},
		// model given again after choices.
		{`{"id":"a","model":"m","choices":[],"model":"m2"}`, `{"id":"a","model":"m","choices":[]}`},
	} {
		var c Chunk
		for _, b := range seq {
			checkDecodeChunk(t, []byte(b), &c)
		}
	}
}

// Bug 2 (head, 77a2791): a chunk whose first member is choices, followed
// by another member and a second choices, keeps as its head the bytes up
// to the second choices: the head holds the first choices. A later chunk
// that starts with that head and has no second choices is walked past the
// first choices and reads no choice; Decode reads the first choices.
func TestDecodeChunkHeadHoldsChoicesHostile2(t *testing.T) {
	for _, seq := range [][]string{
		{`{"choices":[{"delta":{"content":"x"}}],"id":"a","choices":[]}`, `{"choices":[{"delta":{"content":"x"}}],"id":"a","model":"m"}`},
		{`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}],"id":"a","choices":[]}`,
			`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}],"id":"a","model":"m"}`},
	} {
		var c Chunk
		for _, b := range seq {
			checkDecodeChunk(t, []byte(b), &c)
		}
	}
}

// Bug 3 (readUsage, b30a36a): a usage counter given again as null. Decode
// (and decodeUsage, which DecodeChunk used before readUsage) reads null as
// 0 (strconv.Atoi("null") fails), so the second member resets the
// counter; readUsage walks with members, which skips null members, so the
// first value stays.
func TestDecodeChunkUsageNullAgainHostile2(t *testing.T) {
	var c Chunk
	for _, k := range []string{"prompt_tokens", "completion_tokens", "total_tokens", "prompt_cache_hit_tokens", "prompt_cache_miss_tokens"} {
		checkDecodeChunk(t, []byte(`{"usage":{"`+k+`":5,"`+k+`":null}}`), &c)
		checkDecodeChunk(t, []byte(`{"id":"a","choices":[],"usage":{"`+k+`":5,"`+k+`":null}}`), &c)
	}
}
