package sim

import "strconv"

// fingerprint marks every response as coming from the simulator.
const fingerprint = "fp_dsgate_sim"

// usage is one response's token accounting.
type usage struct {
	prompt, cached, completion, reasoning int
}

// appendUsage writes both DeepSeek (prompt_cache_hit/miss_tokens) and
// OpenAI (prompt_tokens_details.cached_tokens) forms.
func appendUsage(b []byte, u usage) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(u.prompt), 10)
	b = appendIntField(b, "completion_tokens", u.completion)
	b = appendIntField(b, "total_tokens", u.prompt+u.completion)
	b = append(b, `,"prompt_tokens_details":{"cached_tokens":`...)
	b = strconv.AppendInt(b, int64(u.cached), 10)
	b = append(b, `},"completion_tokens_details":{"reasoning_tokens":`...)
	b = strconv.AppendInt(b, int64(u.reasoning), 10)
	b = append(b, '}')
	b = appendIntField(b, "prompt_cache_hit_tokens", u.cached)
	b = appendIntField(b, "prompt_cache_miss_tokens", u.prompt-u.cached)
	return append(b, '}')
}

// head is what every chunk or body of one response starts with.
type head struct {
	id      [2]uint64
	created int64
	model   *modelState
}

func (s *Server) newHead(m *modelState) head {
	seq := s.idSeq.Add(1)
	r := rng{state: s.idBase ^ seq*golden64}
	return head{id: [2]uint64{r.next(), r.next()}, created: s.opts.Clock().Unix(), model: m}
}

// appendHead appends `{"id":…,"object":…,"created":…,"model":…,
// "system_fingerprint":…,"choices":[`.
func appendHead(b []byte, h head, object string) []byte {
	b = append(b, `{"id":"`...)
	b = appendHex(b, h.id[0])
	b = appendHex(b, h.id[1])
	b = append(b, `","object":"`...)
	b = append(b, object...)
	b = append(b, `","created":`...)
	b = strconv.AppendInt(b, h.created, 10)
	b = append(b, `,"model":`...)
	b = append(b, h.model.quoted...)
	b = append(b, `,"system_fingerprint":"`+fingerprint+`","choices":[`...)
	return b
}

// appendChoiceEnd closes a choice: `,"logprobs":null,"finish_reason":…}`;
// an empty finish renders as null.
func appendChoiceEnd(b []byte, finish string) []byte {
	b = append(b, `,"logprobs":null,"finish_reason":`...)
	if finish == "" {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = append(b, finish...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// endChunk closes a streamed choice and its chunk: choice end, then `]}`.
func endChunk(b []byte, finish string) []byte {
	return append(appendChoiceEnd(b, finish), ']', '}')
}
