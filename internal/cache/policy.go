package cache

import (
	"encoding/json"
	"strings"
)

// Policy decides which requests of a model may use the cache.
type Policy struct {
	// AllowSampled also caches requests that sample (temperature not 0 and
	// no seed). Such a hit returns one of many possible answers, which is
	// fine for some workloads (evaluations, FAQ bots) and wrong for others,
	// so it is off unless configured per model.
	AllowSampled bool
}

// requestParams are the request fields that decide cacheability.
type requestParams struct {
	Temperature *json.Number `json:"temperature"`
	Seed        presence     `json:"seed"`
	N           *json.Number `json:"n"`
	BestOf      *json.Number `json:"best_of"`
	Messages    presence     `json:"messages"`
	Prompt      presence     `json:"prompt"`
	Input       presence     `json:"input"`
}

// presence records whether a member was there and whether it was null,
// without copying its value as json.RawMessage does (a conversation's
// whole messages array, on every request).
type presence struct{ set, null bool }

// UnmarshalJSON is called with the member's raw value, null included.
func (p *presence) UnmarshalJSON(b []byte) error {
	p.set, p.null = true, string(b) == "null"
	return nil
}

// value reports a member that is there and not null.
func (p presence) value() bool { return p.set && !p.null }

// Cacheable reports whether a request body may be answered from and stored in
// the cache, and if not, why. A request is cacheable when its output is meant
// to be reproducible: temperature 0 or a fixed seed, or any embeddings
// request; with p.AllowSampled also a sampled one. Requests for several
// choices (n>1, best_of>1) never are: callers ask for them to get different
// answers.
func Cacheable(body []byte, p Policy) (ok bool, reason string) {
	return CacheableRequest(body, p, false)
}

// CacheableRequest is Cacheable for a request whose thinking mode is
// known. A request answered in thinking mode is a sampled request whatever
// its temperature or seed: DeepSeek ignores temperature and top_p while
// thinking, so temperature 0 promises nothing there. It is cacheable only
// when p.AllowSampled.
func CacheableRequest(body []byte, p Policy, thinking bool) (ok bool, reason string) {
	var r requestParams
	if err := json.Unmarshal(body, &r); err != nil {
		return false, "invalid JSON body"
	}
	return Sampling{
		Embedding:    !r.Messages.set && !r.Prompt.set && r.Input.set,
		Temperature0: r.Temperature != nil && isNumber(*r.Temperature, 0),
		Seed:         r.Seed.value(),
		Choices:      r.N == nil || isNumber(*r.N, 1),
		BestOfOther:  r.BestOf != nil && !isNumber(*r.BestOf, 1),
	}.Cacheable(p, thinking)
}

// Sampling is what decides whether a request's answer is reproducible,
// read from the request by whoever parsed it (the gateway has it from
// openai.Parse, without decoding the body again).
type Sampling struct {
	Embedding    bool // an embeddings request
	Temperature0 bool // temperature is 0
	Seed         bool // a seed is set
	Choices      bool // one choice: n is absent or 1
	BestOfOther  bool // best_of is set to anything but 1
}

// Cacheable is CacheableRequest's verdict on a request's sampling.
func (s Sampling) Cacheable(p Policy, thinking bool) (ok bool, reason string) {
	switch {
	case !s.Choices:
		return false, "n > 1"
	case s.BestOfOther:
		return false, "best_of > 1"
	case s.Embedding:
		return true, "embeddings are deterministic"
	case thinking && p.AllowSampled:
		return true, "sampled output allowed by policy"
	case thinking:
		return false, "thinking mode samples (temperature and top_p are ignored)"
	case s.Temperature0:
		return true, "temperature 0"
	case s.Seed:
		return true, "seed fixed"
	case p.AllowSampled:
		return true, "sampled output allowed by policy"
	}
	return false, "sampled output (temperature not 0 and no seed)"
}

func isNumber(n json.Number, want int64) bool {
	s, err := normalizeNumber(string(n))
	if err != nil {
		return false
	}
	switch want {
	case 0:
		return s == "0"
	case 1:
		return s == "1"
	}
	return false
}

// responseShape is the part of an answer that decides whether it is complete.
type responseShape struct {
	Error   presence `json:"error"`
	Object  string   `json:"object"`
	Choices []struct {
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Data presence `json:"data"`
}

// Storable reports whether a non-stream response body is a complete answer
// that may be stored, and if not, why. Errors, answers without choices and
// answers that did not finish normally are refused: only stop, length and
// tool_calls count as finished. content_filter is refused because a filter
// decision may change, and DeepSeek's insufficient_system_resource marks a
// partial answer.
func Storable(body []byte) (ok bool, reason string) {
	var r responseShape
	if err := json.Unmarshal(body, &r); err != nil {
		return false, "invalid JSON response"
	}
	return r.storable()
}

// storable is Storable's verdict on a decoded answer.
func (r *responseShape) storable() (ok bool, reason string) {
	if r.Error.value() {
		return false, "error response"
	}
	if r.Object == "list" && r.Data.value() {
		return true, "embeddings"
	}
	if len(r.Choices) == 0 {
		return false, "no choices"
	}
	for _, c := range r.Choices {
		if c.FinishReason == nil {
			return false, "unfinished choice"
		}
		switch *c.FinishReason {
		case "stop", "length", "tool_calls":
		default:
			return false, "finish_reason " + *c.FinishReason
		}
	}
	return true, "complete"
}

// Directive is a client's cache opt-out, from its Cache-Control header.
type Directive struct {
	// NoStore: neither read nor write the cache for this request.
	NoStore bool
	// NoCache: do not read, but store the fresh answer (a refresh).
	NoCache bool
}

// Read reports whether the cache may answer the request.
func (d Directive) Read() bool { return !d.NoStore && !d.NoCache }

// Write reports whether the answer may be stored.
func (d Directive) Write() bool { return !d.NoStore }

// ParseCacheControl parses a request's Cache-Control header value. Only
// no-store, no-cache and max-age=0 (treated as no-cache, as HTTP caches do)
// matter; other directives are ignored.
func ParseCacheControl(header string) Directive {
	var d Directive
	for part := range strings.SplitSeq(header, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "no-store":
			d.NoStore = true
		case "no-cache":
			d.NoCache = true
		case "max-age":
			if strings.Trim(strings.TrimSpace(value), `"`) == "0" {
				d.NoCache = true
			}
		}
	}
	return d
}
