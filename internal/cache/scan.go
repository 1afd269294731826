package cache

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// The scans below read answers and chunks without reflection, in one
// validating pass, for the hot paths (a miss stores every answer; a
// streamed miss assembles every chunk). Each must read exactly what
// encoding/json reads, so it gives up (ok false, and the caller decodes
// with encoding/json, which has the last word) on anything it is not sure
// of: a key encoding/json might match to a field without regard to case
// (a capital, a non-ASCII byte or an escape), a field's key given twice,
// a value of another type than the field's, a number that is not a plain
// integer. Their tests compare them with encoding/json, fuzzing included.

// scanMembers walks the object at b[i] (nested depth deep): fn gets each
// member whose key is one of keys, by its index in keys, and the index
// of its value, which fn checks and reads. Other members are checked and
// skipped.
func scanMembers(b []byte, i, depth int, keys []string, fn func(k, v int) (int, bool)) (int, bool) {
	var seen uint32
	return jsonenc.Members(b, i, depth, func(key []byte, v int) (int, bool) {
		for k, name := range keys {
			if string(key) != name {
				continue
			}
			if seen&(1<<k) != 0 {
				return v, false // encoding/json: the last wins, or merges
			}
			seen |= 1 << k
			return fn(k, v)
		}
		if !plainKey(key) {
			return v, false
		}
		return jsonenc.Value(b, v, depth)
	})
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

// answerKeys are the members of an answer scanAnswer reads.
var answerKeys = []string{"model", "object", "error", "data", "choices", "usage"}

// scanAnswer reads what NewCheckedEntry needs of an answer: its model,
// usage and whether it is storable (Storable's verdict).
func scanAnswer(b []byte) (h answerHead, storable, ok bool) {
	var errSet, list, data, unfinished, choice bool
	b = trimSpace(b)
	end, ok := scanMembers(b, 0, 1, answerKeys, func(k, v int) (int, bool) {
		end, ok := jsonenc.Value(b, v, 1)
		if !ok {
			return end, false
		}
		val, null := b[v:end], b[v] == 'n'
		switch answerKeys[k] {
		case "model":
			h.Model, ok = plainString(val)
		case "object":
			var object string
			object, ok = plainString(val)
			list = object == "list"
		case "error":
			errSet = !null
		case "data":
			data = !null
		case "choices":
			if !null {
				_, ok = jsonenc.Elements(b, v, 2, func(_, e int) (int, bool) {
					choice = true
					end, fin, ok := scanChoice(b, e)
					unfinished = unfinished || !fin
					return end, ok
				})
			}
		case "usage":
			if !null {
				_, ok = scanMembers(b, v, 2, usageKeys, func(k, v int) (int, bool) { return scanUsage(b, v, k, &h.Usage) })
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

var finishKeys = []string{"finish_reason"}

// scanChoice reads one element of choices: fin reports a finish_reason
// of stop, length or tool_calls (what Storable accepts).
func scanChoice(b []byte, i int) (end int, fin, ok bool) {
	if b[i] == 'n' {
		end, ok = jsonenc.Value(b, i, 2)
		return end, false, ok
	}
	end, ok = scanMembers(b, i, 3, finishKeys, func(_, v int) (int, bool) {
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

var (
	usageKeys = []string{"prompt_tokens", "completion_tokens", "total_tokens", "prompt_cache_hit_tokens",
		"prompt_tokens_details", "completion_tokens_details"}
	cachedKeys    = []string{"cached_tokens"}
	reasoningKeys = []string{"reasoning_tokens"}
)

// scanUsage reads usage member k (of usageKeys), its value at b[v].
func scanUsage(b []byte, v, k int, u *wireUsage) (int, bool) {
	n := [...]*int64{&u.PromptTokens, &u.CompletionTokens, &u.TotalTokens, &u.PromptCacheHit}
	switch {
	case k < len(n):
		return scanInt(b, v, 2, n[k])
	case b[v] == 'n':
		return jsonenc.Value(b, v, 2)
	case usageKeys[k] == "prompt_tokens_details":
		return scanMembers(b, v, 3, cachedKeys, func(_, v int) (int, bool) { return scanInt(b, v, 3, &u.PromptTokensDetails.CachedTokens) })
	}
	return scanMembers(b, v, 3, reasoningKeys, func(_, v int) (int, bool) {
		return scanInt(b, v, 3, &u.CompletionTokensDetails.ReasoningTokens)
	})
}

// scanInt reads the integer (or null, which leaves n alone) at b[i].
func scanInt(b []byte, i, depth int, n *int64) (int, bool) {
	end, ok := jsonenc.Value(b, i, depth)
	if !ok || b[i] == 'n' {
		return end, ok
	}
	v := b[i:end]
	neg := v[0] == '-'
	if neg {
		v = v[1:]
	}
	if len(v) == 0 || len(v) > 18 {
		return end, false
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

// chunkKeys are the members of chatChunk, in scanChatChunk's order.
var chunkKeys = []string{"id", "object", "created", "model", "system_fingerprint", "service_tier", "choices", "usage", "error"}

// scanChatChunk reads a chat chunk into c (zeroed first) for the shapes
// upstreams stream: text and reasoning deltas, a finish reason, usage.
// Tool calls and logprobs are left to encoding/json.
//
// Decoding the chunks of one stream into the same c costs less: the
// choices' storage is reused, and so are the previous chunk's id, object,
// model and created when the new chunk repeats them (as every chunk does).
func scanChatChunk(b []byte, c *chatChunk) (ok bool) {
	prev := *c
	*c = chatChunk{}
	b = trimSpace(b)
	end, ok := scanMembers(b, 0, 1, chunkKeys, func(k, v int) (int, bool) {
		end, ok := jsonenc.Value(b, v, 1)
		if !ok {
			return end, false
		}
		val := b[v:end]
		switch chunkKeys[k] {
		case "id":
			ok = stringField(val, prev.ID, &c.ID)
		case "object":
			ok = stringField(val, prev.Object, &c.Object)
		case "created":
			switch {
			case string(val) == string(prev.Created):
				c.Created = prev.Created
			case val[0] == '-' || val[0] >= '0' && val[0] <= '9':
				c.Created = json.Number(val)
			case val[0] != 'n':
				return end, false
			}
		case "model":
			ok = stringField(val, prev.Model, &c.Model)
		case "system_fingerprint":
			c.SystemFingerprint, ok = stringPtr(val)
		case "service_tier":
			c.ServiceTier, ok = stringPtr(val)
		case "choices":
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
		case "usage":
			c.Usage = json.RawMessage(string(val))
		case "error":
			c.Error = json.RawMessage(string(val))
		}
		return end, ok
	})
	return ok && end == len(b)
}

var choiceKeys = []string{"index", "delta", "logprobs", "finish_reason"}

// scanChunkChoice reads one element of choices into d.
func scanChunkChoice(b []byte, i int, d *chunkChoice) (int, bool) {
	if b[i] == 'n' {
		return jsonenc.Value(b, i, 2)
	}
	return scanMembers(b, i, 3, choiceKeys, func(k, v int) (int, bool) {
		if choiceKeys[k] == "delta" && b[v] == '{' {
			return scanChunkDelta(b, v, &d.Delta)
		}
		end, ok := jsonenc.Value(b, v, 3)
		if !ok {
			return end, false
		}
		val := b[v:end]
		switch choiceKeys[k] {
		case "index":
			var n int64
			if _, ok = scanInt(b, v, 3, &n); ok && int64(int(n)) == n {
				d.Index = int(n)
			}
		case "delta", "logprobs":
			ok = val[0] == 'n' // a delta of another type; logprobs: left to encoding/json
		case "finish_reason":
			d.FinishReason, ok = stringPtr(val)
		}
		return end, ok
	})
}

var deltaKeys = []string{"role", "content", "reasoning_content", "refusal", "tool_calls"}

// scanChunkDelta reads the delta object at b[i] into d.
func scanChunkDelta(b []byte, i int, d *chunkDelta) (int, bool) {
	dst := [...]**string{&d.Role, &d.Content, &d.ReasoningContent, &d.Refusal}
	return scanMembers(b, i, 4, deltaKeys, func(k, v int) (int, bool) {
		if k == len(dst) {
			return v, false // tool_calls: left to encoding/json
		}
		end, ok := jsonenc.Value(b, v, 4)
		if ok {
			*dst[k], ok = stringPtr(b[v:end])
			d.spans[k] = [2]int{v, end}
		}
		if ok && k == 0 {
			d.roleCut = memberCut(b, v, end, len(`"role"`))
		}
		return end, ok
	})
}

// memberCut is where the member whose key is n bytes long (quotes
// included, no escape) and whose value is b[v:end] starts, and where the
// next member's key starts: {0, 0} when no member follows it.
func memberCut(b []byte, v, end, n int) [2]int {
	i := v - 1
	for b[i] != ':' {
		i--
	}
	for i--; isSpace(b[i]); i-- {
	}
	j := end
	for j < len(b) && isSpace(b[j]) {
		j++
	}
	if j == len(b) || b[j] != ',' {
		return [2]int{}
	}
	for j++; j < len(b) && isSpace(b[j]); j++ {
	}
	return [2]int{i + 1 - n, j}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// textTemplate is the last chunk of a stream that carried one text, kept
// for the chunks after it that differ from it only in that text, as
// chatwire.DecodeChunk reads a stream (jsonenc.Template says why such a
// chunk reads exactly as a walk would read it).
type textTemplate struct {
	doc   jsonenc.CutTemplate // without the first chunk's role, and with it
	field int                 // the text's deltaKeys index (1 to 3); 0: no template
	index int                 // the choice's index
}

// remember makes b, just read into c by scanChatChunk, the template when
// its one choice carries exactly one text and nothing else varies with
// it (no tool calls, logprobs, usage or error: a usage or error that is
// null is none); else drops the template.
func (t *textTemplate) remember(b []byte, c *chatChunk) {
	t.clear()
	if len(c.Choices) != 1 || present(c.Usage) || present(c.Error) { // a null one merges nothing
		return
	}
	ch := &c.Choices[0]
	d := &ch.Delta
	if ch.Logprobs != nil || d.ToolCalls != nil || ch.Index < 0 || ch.Index >= maxChoices {
		return
	}
	field := 0
	for k, p := range [...]*string{d.Content, d.ReasoningContent, d.Refusal} {
		if p != nil {
			if field != 0 {
				return // two texts
			}
			field = k + 1
		}
	}
	if field == 0 {
		return
	}
	// A stream's first chunk has a role the chunks after it lack: its
	// template leaves the member out (as chatwire's does, which says why
	// that reads the same), so those chunks are read from it. Merged
	// again, the chunk without its role changes nothing but the text.
	span, cut := d.spans[field], d.roleCut
	if cut[1] > 0 && cut[1] <= span[0] {
		t.doc.SetCut(trimSpace(b), cut[0], cut[1], span[0], span[1])
	} else {
		t.doc.Set(trimSpace(b), span[0], span[1])
	}
	t.field, t.index = field, ch.Index
}

// clear drops the template.
func (t *textTemplate) clear() {
	t.field = 0
	t.doc.Clear()
}

// match returns the text token of b when b is the template's bytes around
// one JSON string: the template's chunk with another text.
func (t *textTemplate) match(b []byte) ([]byte, bool) {
	if t.field == 0 {
		return nil, false
	}
	return t.doc.Match(trimSpace(b))
}

// stringField reads the JSON string (or null, which leaves s alone) v
// into s: prev when v holds just that.
func stringField(v []byte, prev string, s *string) bool {
	if v[0] == 'n' {
		return true
	}
	if v[0] != '"' {
		return false
	}
	if inner := v[1 : len(v)-1]; plainASCII(string(inner)) {
		switch {
		case string(inner) == prev:
			*s = prev
		case string(inner) == objectChatChunk:
			*s = objectChatChunk
		default:
			*s = string(inner)
		}
		return true
	}
	p, ok := stringPtr(v)
	if ok {
		*s = *p
	}
	return ok
}

// stringPtr is the JSON string v, nil for null; ok is false for another
// type. A string with escapes or non-ASCII bytes is decoded by
// encoding/json (which replaces invalid UTF-8).
func stringPtr(v []byte) (*string, bool) {
	switch {
	case v[0] == 'n':
		return nil, true
	case v[0] != '"':
		return nil, false
	}
	inner := v[1 : len(v)-1]
	if !plainASCII(string(inner)) {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil, false
		}
		return &s, true
	}
	if p := common(inner); p != nil {
		return p, true
	}
	s := string(inner)
	return &s, true
}

// The values most chunks repeat (the first chunk's role and empty
// content, the last one's finish reason), shared instead of allocated per
// chunk: nothing writes through the pointers stringPtr returns.
var commonValues = [...]string{"", "assistant", "stop", "length", "tool_calls"}

// common is a shared copy of s when it is one of commonValues.
func common(s []byte) *string {
	for i := range commonValues {
		if string(s) == commonValues[i] {
			return &commonValues[i]
		}
	}
	return nil
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

// plainASCII reports a string that is the same encoded in JSON and not.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// trimSpace drops JSON whitespace around b; most payloads have none, and
// cost two comparisons.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
