package sim

import (
	"net/http"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// textPlan is everything a text completion contains.
type textPlan struct {
	seed         uint64
	usage        usage
	text         string // the answer when explicit (cut at a stop sequence)
	explicit     bool
	finish       string
	includeUsage bool
}

// handleCompletion serves legacy completions and DeepSeek FIM
// (/beta/completions with prompt and suffix). Several prompts still get a
// single choice; reasoning is never emitted here (DeepSeek FIM is
// non-thinking only, and the DeepSeek personality refuses a request that
// asks for thinking).
func (s *Server) handleCompletion(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	if !decode(w, r, &req) {
		return
	}
	m, ok := s.lookupModel(w, req.Model)
	if !ok {
		return
	}
	if !req.Prompt.set {
		badRequest(w, "prompt", "prompt is required")
		return
	}
	n, limited, ok := tokenLimit(w, s.opts.MaxTokens, nil, req.MaxTokens)
	if !ok {
		return
	}
	if s.deepseek() && !deepSeekCompletionAllowed(w, &req) {
		return
	}
	if !s.fundsAvailable(w) {
		return
	}
	p := planText(m, &req, n, limited)
	if !s.fitsContext(w, p.usage.prompt, n) {
		return
	}
	c := call{s: s, w: w, r: r, rc: http.NewResponseController(w), m: m, stream: req.Stream}
	if !s.admit(&c) {
		return
	}
	if req.Stream {
		s.streamText(&c, &p)
	} else {
		s.completeText(&c, &p)
	}
}

func planText(m *modelState, req *completionRequest, n int, limited bool) textPlan {
	h := newHasher()
	h.addField(m.name)
	p := textPlan{finish: "stop", usage: usage{completion: n}}
	for _, it := range req.Prompt.items {
		h.addUint64(it.hash)
		p.usage.prompt += it.tokens
	}
	h.addField(req.Suffix)
	p.usage.prompt += countWords(req.Suffix)
	p.seed = h.sum()
	if limited {
		p.finish = "length"
	}
	if req.StreamOptions != nil {
		p.includeUsage = req.StreamOptions.IncludeUsage
	}
	if len(req.Stop) > 0 {
		r := rng{state: p.seed}
		p.text, p.explicit = wordsText(&r, n), true
		if cut, ok := cutAtStop(p.text, req.Stop); ok {
			p.text, p.finish = cut, "stop"
		}
		p.usage.completion = countPieces(p.text)
	}
	return p
}

func (s *Server) completeText(c *call, p *textPlan) {
	if err := s.acquire(c); err != nil {
		return
	}
	defer s.release(c)
	if err := c.wait(c.delay + s.genTime(p.usage.completion)); err != nil {
		return
	}
	s.countTokens(c.m, p.usage.prompt, p.usage.completion)

	b := make([]byte, 0, 512+len(c.m.quoted)+12*p.usage.completion)
	b = appendHead(b, s.newHead(c.m), "text_completion")
	b = append(b, `{"index":0,"text":`...)
	if p.explicit {
		b = jsonenc.AppendString(b, p.text)
	} else {
		words := rng{state: p.seed}
		b = append(b, '"')
		b = appendWords(b, &words, p.usage.completion)
		b = append(b, '"')
	}
	b = appendChoiceEnd(b, p.finish)
	b = append(b, `],"usage":`...)
	b = appendUsage(b, p.usage)
	b = append(b, '}', '\n')
	c.writeJSON(b)
}

func (s *Server) streamText(c *call, p *textPlan) {
	c.startStream()
	if err := s.acquire(c); err != nil {
		return
	}
	defer s.release(c)
	if err := c.wait(c.delay); err != nil {
		return
	}
	// Legacy completion chunks reuse object "text_completion" (no ".chunk").
	st := newStreamer(c, appendHead(make([]byte, 0, 192+len(c.m.quoted)), s.newHead(c.m), "text_completion"))
	defer st.stop()
	defer func() { s.countTokens(c.m, p.usage.prompt, st.tokens) }()

	var err error
	if p.explicit {
		err = st.pieces(p.text, `{"index":0,"text":`, ``)
	} else {
		words := rng{state: p.seed}
		err = st.words(&words, p.usage.completion, `{"index":0,"text":"`, ``)
	}
	if err != nil {
		return
	}
	if st.finishChoice(`{"index":0,"text":""`, p.finish) == nil {
		_ = st.end(p.includeUsage, p.usage)
	}
}
