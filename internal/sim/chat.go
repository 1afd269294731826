package sim

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// reasoningSalt separates the reasoning word stream from the answer's.
const reasoningSalt uint64 = 0x5eed_5eed_5eed_5eed

// argFragment is the byte length of streamed tool-call argument fragments.
const argFragment = 8

// chatPlan is everything a chat response contains, decided before waiting.
type chatPlan struct {
	seed         uint64
	usage        usage
	reasoning    int // reasoning tokens
	content      int // answer tokens
	finish       string
	tool         *toolCall // non-nil: answer with this call instead of text
	includeUsage bool
}

// toolCall is the single function call the simulator makes.
type toolCall struct {
	id, name, args string
}

// chunks is how many streamed deltas carry the call: the opening delta
// (id, type, name) and the argument fragments. It doubles as the call's
// completion-token count.
func (t *toolCall) chunks() int {
	return 1 + (len(t.args)+argFragment-1)/argFragment
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if !decode(w, r, &req) {
		return
	}
	m, ok := s.lookupModel(w, req.Model)
	if !ok {
		return
	}
	if len(req.Messages) == 0 {
		badRequest(w, "messages", "messages must be a non-empty array")
		return
	}
	n, limited, ok := tokenLimit(w, s.opts.MaxTokens, req.MaxCompletionTokens, req.MaxTokens)
	if !ok {
		return
	}
	p := planChat(m, &req, n, limited)
	c := call{s: s, w: w, r: r, rc: http.NewResponseController(w), m: m, stream: req.Stream}
	if !s.admit(&c) {
		return
	}
	if req.Stream {
		s.streamChat(&c, &p)
	} else {
		s.completeChat(&c, &p)
	}
}

// planChat derives the answer from the model and messages alone.
func planChat(m *modelState, req *chatRequest, n int, limited bool) chatPlan {
	h := newHasher()
	h.addField(m.name)
	var u usage
	last := len(req.Messages) - 1
	for i, msg := range req.Messages {
		h.addField(msg.Role)
		h.addField(string(msg.Content))
		t := countWords(string(msg.Content)) + 4
		u.prompt += t
		if i < last {
			u.cached += t // prefix caching: everything but the newest message was seen before
		}
	}
	p := chatPlan{seed: h.sum(), finish: "stop"}
	if limited {
		p.finish = "length"
	}
	if req.StreamOptions != nil {
		p.includeUsage = req.StreamOptions.IncludeUsage
	}
	if m.reasoning {
		p.reasoning = n / 2
	}
	p.content = n - p.reasoning
	if name, ok := toolToCall(req); ok {
		p.tool = newToolCall(p.seed, name)
		p.content = 0
		p.finish = "tool_calls"
	}
	u.reasoning = p.reasoning
	u.completion = p.reasoning + p.content
	if p.tool != nil {
		u.completion += p.tool.chunks()
	}
	p.usage = u
	return p
}

// toolToCall decides whether to answer with a tool call and names the
// tool. tool_choice "none" never calls; "required" or a named function
// always calls; otherwise ("auto" or absent) the simulator calls the first
// tool when the last message is a user message mentioning "weather".
func toolToCall(req *chatRequest) (string, bool) {
	first := ""
	for _, t := range req.Tools {
		if t.Function.Name != "" {
			first = t.Function.Name
			break
		}
	}
	if first == "" {
		return "", false
	}
	choice := bytes.TrimSpace(req.ToolChoice)
	switch {
	case string(choice) == `"none"`:
		return "", false
	case string(choice) == `"required"`:
		return first, true
	case len(choice) > 0 && choice[0] == '{':
		var named struct {
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if json.Unmarshal(choice, &named) == nil && named.Function.Name != "" {
			return named.Function.Name, true
		}
		return first, true
	}
	last := req.Messages[len(req.Messages)-1]
	if last.Role == "user" && containsFold(string(last.Content), "weather") {
		return first, true
	}
	return "", false
}

func newToolCall(seed uint64, name string) *toolCall {
	r := rng{state: seed ^ 0x7001}
	city := cityList[r.next()%uint64(len(cityList))]
	id := appendHex([]byte("call_"), r.next())
	return &toolCall{
		id:   string(id),
		name: name,
		args: `{"location":"` + city + `","unit":"celsius"}`,
	}
}

func (s *Server) completeChat(c *call, p *chatPlan) {
	if err := s.acquire(c); err != nil {
		return
	}
	defer s.release(c)
	if err := c.wait(c.delay + s.genTime(p.usage.completion)); err != nil {
		return
	}
	s.countTokens(c.m, p.usage.prompt, p.usage.completion)

	b := make([]byte, 0, 512+len(c.m.quoted)+12*(p.reasoning+p.content))
	b = appendHead(b, s.newHead(c.m), "chat.completion")
	b = append(b, `{"index":0,"message":{"role":"assistant","content":"`...)
	content := rng{state: p.seed}
	b = appendWords(b, &content, p.content)
	b = append(b, '"')
	if c.m.reasoning {
		b = append(b, ',')
		b = append(b, s.reasoningKey...)
		b = append(b, ':', '"')
		reasoning := rng{state: p.seed ^ reasoningSalt}
		b = appendWords(b, &reasoning, p.reasoning)
		b = append(b, '"')
	}
	if t := p.tool; t != nil {
		b = append(b, `,"tool_calls":[{"id":`...)
		b = jsonenc.AppendString(b, t.id)
		b = append(b, `,"type":"function","function":{"name":`...)
		b = jsonenc.AppendString(b, t.name)
		b = append(b, `,"arguments":`...)
		b = jsonenc.AppendString(b, t.args)
		b = append(b, "}}]"...)
	}
	b = append(b, '}')
	b = appendChoiceEnd(b, p.finish)
	b = append(b, `],"usage":`...)
	b = appendUsage(b, p.usage)
	b = append(b, '}', '\n')
	c.writeJSON(b)
}

func (s *Server) streamChat(c *call, p *chatPlan) {
	c.startStream()
	if err := s.acquire(c); err != nil {
		return
	}
	defer s.release(c)
	if err := c.wait(c.delay); err != nil {
		return
	}
	st := newStreamer(c, appendHead(make([]byte, 0, 192+len(c.m.quoted)), s.newHead(c.m), "chat.completion.chunk"))
	defer st.stop()
	defer func() { s.countTokens(c.m, p.usage.prompt, st.tokens) }()

	b := append(st.open(), `{"index":0,"delta":{"role":"assistant","content":""}`...)
	if st.send(endChunk(b, "")) != nil {
		return
	}
	reasoning := rng{state: p.seed ^ reasoningSalt}
	if st.words(&reasoning, p.reasoning, s.reasoningDelta, `"}`) != nil {
		return
	}
	contentEnd := `"}`
	if c.m.reasoning {
		contentEnd = s.contentEndNullReasoning
	}
	content := rng{state: p.seed}
	if st.words(&content, p.content, `{"index":0,"delta":{"content":"`, contentEnd) != nil {
		return
	}
	if p.tool != nil && streamToolCall(st, p.tool) != nil {
		return
	}
	_ = st.finish(`{"index":0,"delta":{"content":""}`, p.finish, p.includeUsage, p.usage)
}

// streamToolCall sends the call as OpenAI tool-call deltas: first the id,
// type, name and empty arguments, then argument fragments, all at index 0.
func streamToolCall(st *streamer, t *toolCall) error {
	if err := st.token(); err != nil {
		return err
	}
	b := append(st.open(), `{"index":0,"delta":{"content":null,"tool_calls":[{"index":0,"id":`...)
	b = jsonenc.AppendString(b, t.id)
	b = append(b, `,"type":"function","function":{"name":`...)
	b = jsonenc.AppendString(b, t.name)
	b = append(b, `,"arguments":""}}]}`...)
	if err := st.sendToken(endChunk(b, "")); err != nil {
		return err
	}
	for off := 0; off < len(t.args); off += argFragment {
		if err := st.token(); err != nil {
			return err
		}
		b := append(st.open(), `{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":`...)
		b = jsonenc.AppendString(b, t.args[off:min(off+argFragment, len(t.args))])
		b = append(b, `}}]}`...)
		if err := st.sendToken(endChunk(b, "")); err != nil {
			return err
		}
	}
	return nil
}
