package sim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// reasoningSalt separates the reasoning word stream from the answer's.
const reasoningSalt uint64 = 0x5eed_5eed_5eed_5eed

// argFragment is the byte length of streamed tool-call argument fragments.
const argFragment = 8

// maxChoices bounds n, as OpenAI does.
const maxChoices = 128

// chatPlan is everything a chat response contains, decided before waiting.
type chatPlan struct {
	usage        usage
	reasoning    bool // the answer carries reasoning (thinking mode)
	choices      []choicePlan
	includeUsage bool
}

// choicePlan is one choice of a chat response.
type choicePlan struct {
	seed      uint64
	reasoning int       // reasoning tokens
	content   int       // answer tokens
	text      string    // the answer when explicit (JSON output, or cut at a stop)
	explicit  bool      // text holds the answer; otherwise content filler words
	finish    string    // finish_reason
	tool      *toolCall // non-nil: answer with this call instead of text
}

// chatMode is how a request is answered, as the personality's rules
// decide it from the request.
type chatMode struct {
	thinking bool // emit reasoning first
	effort   string
	choices  int
}

// toolCall is the single function call the simulator makes.
type toolCall struct {
	id, name, args string
}

// chunks is how many streamed deltas carry the call: the opening delta
// (id, type, name) and the argument fragments. It doubles as the call's
// completion-token count.
func (t *toolCall) chunks() int {
	n := 1
	for off := 0; off < len(t.args); off += argFragmentLen(t.args[off:]) {
		n++
	}
	return n
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
	if a := s.opts.AnswerTokens; a > 0 && limited && n > a {
		n, limited = a, false
	}
	mode, ok := s.chatMode(w, m, &req)
	if !ok || !s.fundsAvailable(w) {
		return
	}
	p := s.planChat(m, &req, n, limited, mode)
	if !s.fitsContext(w, p.usage.prompt, n) {
		return
	}
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

// chatMode applies the personality's request rules; on a violation it
// answers 400 itself and ok is false. The plain simulator accepts every
// request: thinking follows the model unless the request's thinking switch
// says otherwise, and n may be 1 to maxChoices.
func (s *Server) chatMode(w http.ResponseWriter, m *modelState, req *chatRequest) (chatMode, bool) {
	if s.deepseek() {
		return deepSeekChatMode(w, req)
	}
	mode := chatMode{thinking: m.reasoning, choices: 1}
	if req.Thinking != nil {
		switch req.Thinking.Type {
		case "enabled":
			mode.thinking = true
		case "disabled":
			mode.thinking = false
		}
	}
	if req.N != nil {
		if *req.N < 1 || *req.N > maxChoices {
			badRequest(w, "n", "n must be between 1 and "+strconv.Itoa(maxChoices))
			return mode, false
		}
		mode.choices = *req.N
	}
	return mode, true
}

// planChat derives the answer from the model and messages alone.
func (s *Server) planChat(m *modelState, req *chatRequest, n int, limited bool, mode chatMode) chatPlan {
	u, seed := s.promptUsage(m, req.Messages)
	p := chatPlan{reasoning: mode.thinking, choices: make([]choicePlan, mode.choices)}
	if req.StreamOptions != nil {
		p.includeUsage = req.StreamOptions.IncludeUsage
	}
	tool, callTool := toolToCall(req)
	for i := range p.choices {
		c := &p.choices[i]
		c.seed = seed
		if i > 0 {
			c.seed = mix64(seed ^ uint64(i)*golden64)
		}
		if mode.thinking {
			c.reasoning = reasoningTokens(n, mode.effort)
		}
		if callTool {
			c.tool = newToolCall(c.seed, tool)
			c.finish = "tool_calls"
			u.completion += c.reasoning + c.tool.chunks()
		} else {
			shapeAnswer(c, req, n, limited)
			u.completion += c.reasoning + c.content
		}
		u.reasoning += c.reasoning
	}
	p.usage = u
	return p
}

// promptUsage counts the prompt and its cached part, and returns the
// answer's seed: a hash of the model and the messages. The plain simulator
// counts every message but the newest as cached; the DeepSeek personality
// asks its prefix cache.
func (s *Server) promptUsage(m *modelState, msgs []chatMessage) (usage, uint64) {
	h := newHasher()
	h.addField(m.name)
	var u usage
	var prefixes []uint64 // DeepSeek: the hash after each message
	var tokens []int
	if s.deepseek() {
		prefixes = make([]uint64, 0, len(msgs))
		tokens = make([]int, 0, len(msgs))
	}
	for i, msg := range msgs {
		h.addField(msg.Role)
		h.addField(string(msg.Content))
		t := countWords(string(msg.Content)) + 4
		u.prompt += t
		if prefixes != nil {
			prefixes = append(prefixes, h.sum())
			tokens = append(tokens, t)
		} else if i < len(msgs)-1 {
			u.cached += t
		}
	}
	if prefixes != nil {
		u.cached = s.prefixes.hit(prefixes, tokens)
	}
	return u, h.sum()
}

// reasoningTokens is the reasoning share of n completion tokens: half, or
// three quarters at DeepSeek's "max" effort.
func reasoningTokens(n int, effort string) int {
	if effort == "max" {
		return n * 3 / 4
	}
	return n / 2
}

// shapeAnswer decides a choice's answer text within n completion tokens
// (reasoning included). Filler words follow the length rule; JSON output
// (response_format json_object or json_schema) is a complete JSON value,
// finish_reason "stop", unless the limit cuts it ("length"); a stop
// sequence ends the answer before it, finish_reason "stop".
func shapeAnswer(c *choicePlan, req *chatRequest, n int, limited bool) {
	budget := n - c.reasoning
	c.finish = "stop"
	if limited {
		c.finish = "length"
	}
	r := rng{state: c.seed}
	switch rf := req.ResponseFormat; {
	case rf != nil && rf.Type == "json_object":
		c.text, c.explicit, c.finish = jsonAnswer(&r, max(budget-2, 1)), true, "stop"
	case rf != nil && rf.Type == "json_schema" && rf.JSONSchema != nil:
		c.text, c.explicit, c.finish = string(schemaValue(rf.JSONSchema.Schema, c.seed)), true, "stop"
	case len(req.Stop) > 0:
		c.text, c.explicit = wordsText(&r, budget), true
	default:
		c.content = budget
		return
	}
	if cut, ok := cutAtStop(c.text, req.Stop); ok {
		c.text, c.finish = cut, "stop"
	}
	c.content = countPieces(c.text)
	if limited && c.content > budget {
		c.text, c.content, c.finish = cutPieces(c.text, budget), budget, "length"
	}
}

// toolToCall decides whether to answer with a tool call and picks the
// tool. tool_choice "none" never calls; "required" calls the first tool; a
// named function calls that one; otherwise ("auto" or absent) the
// simulator calls when the last message is a user message that mentions a
// tool: its name, or a word of four letters or more of it ("order" for
// lookup_order), or "weather" (the first tool).
func toolToCall(req *chatRequest) (*chatTool, bool) {
	var first *chatTool
	for i := range req.Tools {
		if req.Tools[i].Function.Name != "" {
			first = &req.Tools[i]
			break
		}
	}
	if first == nil {
		return nil, false
	}
	choice := bytes.TrimSpace(req.ToolChoice)
	switch {
	case string(choice) == `"none"`:
		return nil, false
	case string(choice) == `"required"`:
		return first, true
	case len(choice) > 0 && choice[0] == '{':
		var named struct {
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if json.Unmarshal(choice, &named) != nil || named.Function.Name == "" {
			return first, true
		}
		if t := findTool(req.Tools, named.Function.Name); t != nil {
			return t, true
		}
		t := &chatTool{Type: "function"}
		t.Function.Name = named.Function.Name
		return t, true
	}
	last := req.Messages[len(req.Messages)-1]
	if last.Role != "user" {
		return nil, false
	}
	if t := mentionedTool(req.Tools, string(last.Content)); t != nil {
		return t, true
	}
	if containsFold(string(last.Content), "weather") {
		return first, true
	}
	return nil, false
}

// mentionedTool returns the first tool whose name text mentions, or else
// the first with a word of four letters or more of its name in text.
func mentionedTool(tools []chatTool, text string) *chatTool {
	for i := range tools {
		if name := tools[i].Function.Name; name != "" && containsFold(text, strings.ToLower(name)) {
			return &tools[i]
		}
	}
	for i := range tools {
		words := strings.FieldsFunc(strings.ToLower(tools[i].Function.Name), func(r rune) bool {
			return r == '_' || r == '-' || r == '.'
		})
		for _, w := range words {
			if len(w) >= 4 && containsFold(text, w) {
				return &tools[i]
			}
		}
	}
	return nil
}

func findTool(tools []chatTool, name string) *chatTool {
	for i := range tools {
		if tools[i].Function.Name == name {
			return &tools[i]
		}
	}
	return nil
}

// newToolCall makes the call to t. Its arguments are generated from the
// tool's parameters schema; a tool without one, or whose object schema
// declares no properties and allows extra ones, gets a weather-style
// {"location", "unit"} object.
func newToolCall(seed uint64, t *chatTool) *toolCall {
	r := rng{state: seed ^ 0x7001}
	city := cityList[r.next()%uint64(len(cityList))]
	id := appendHex([]byte("call_"), r.next())
	call := &toolCall{id: string(id), name: t.Function.Name}
	if params := t.Function.Parameters; declaresArguments(params) {
		call.args = string(toolArguments(params, r.next()))
	} else {
		call.args = `{"location":"` + city + `","unit":"celsius"}`
	}
	return call
}

// declaresArguments reports whether a parameters schema says what the
// arguments are: it has properties, or forbids any.
func declaresArguments(params json.RawMessage) bool {
	var s struct {
		Properties           map[string]json.RawMessage `json:"properties"`
		AdditionalProperties *bool                      `json:"additionalProperties"`
		Ref                  string                     `json:"$ref"`
	}
	if len(params) == 0 || json.Unmarshal(params, &s) != nil {
		return false
	}
	return len(s.Properties) > 0 || s.Ref != "" || (s.AdditionalProperties != nil && !*s.AdditionalProperties)
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

	b := make([]byte, 0, 512+len(c.m.quoted)+12*(p.usage.completion))
	b = appendHead(b, s.newHead(c.m), "chat.completion")
	for i := range p.choices {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.appendChoice(b, i, &p.choices[i], p.reasoning)
	}
	b = append(b, `],"usage":`...)
	b = appendUsage(b, p.usage)
	b = append(b, '}', '\n')
	c.writeJSON(b)
}

// appendChoice renders one non-streamed choice.
func (s *Server) appendChoice(b []byte, i int, ch *choicePlan, reasoning bool) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `,"message":{"role":"assistant","content":`...)
	if ch.explicit {
		b = jsonenc.AppendString(b, ch.text)
	} else {
		content := rng{state: ch.seed}
		b = append(b, '"')
		b = appendWords(b, &content, ch.content)
		b = append(b, '"')
	}
	if reasoning {
		b = append(b, ',')
		b = append(b, s.reasoningKey...)
		b = append(b, ':', '"')
		r := rng{state: ch.seed ^ reasoningSalt}
		b = appendWords(b, &r, ch.reasoning)
		b = append(b, '"')
	}
	if t := ch.tool; t != nil {
		b = append(b, `,"tool_calls":[{"id":`...)
		b = jsonenc.AppendString(b, t.id)
		b = append(b, `,"type":"function","function":{"name":`...)
		b = jsonenc.AppendString(b, t.name)
		b = append(b, `,"arguments":`...)
		b = jsonenc.AppendString(b, t.args)
		b = append(b, "}}]"...)
	}
	b = append(b, '}')
	return appendChoiceEnd(b, ch.finish)
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

	for i := range p.choices {
		if s.streamChoice(st, i, &p.choices[i], p.reasoning) != nil {
			return
		}
	}
	_ = st.end(p.includeUsage, p.usage)
}

// deltaFrags are the JSON fragments of one choice's streamed deltas.
type deltaFrags struct {
	open      string // `{"index":i,"delta":{`
	reasoning string // opens a reasoning delta's text
	words     string // opens a content delta's text
	pieces    string // opens a content delta before a JSON string
	endNull   string // closes a content delta in thinking mode: the reasoning field is null
	finish    string // the finish chunk's delta
}

// deltaFrags renders choice i's fragments; choice 0's are kept in
// Server.frags0 so the common case builds no strings.
func (s *Server) deltaFrags(i int) deltaFrags {
	open := `{"index":` + strconv.Itoa(i) + `,"delta":{`
	return deltaFrags{
		open:      open,
		reasoning: open + `"content":null,` + string(s.reasoningKey) + `:"`,
		words:     open + `"content":"`,
		pieces:    open + `"content":`,
		endNull:   `,` + string(s.reasoningKey) + `:null}`,
		finish:    open + `"content":""}`,
	}
}

// streamChoice sends one choice's deltas, all carrying its index: the
// role, reasoning words, answer words or pieces, a tool call, and the
// finish chunk. Choices are streamed one after another.
func (s *Server) streamChoice(st *streamer, i int, ch *choicePlan, reasoning bool) error {
	f := &s.frags0
	if i > 0 {
		fi := s.deltaFrags(i)
		f = &fi
	}
	b := append(st.open(), f.open...)
	b = append(b, `"role":"assistant","content":""}`...)
	if err := st.send(endChunk(b, "")); err != nil {
		return err
	}
	r := rng{state: ch.seed ^ reasoningSalt}
	if err := st.words(&r, ch.reasoning, f.reasoning, `}`); err != nil {
		return err
	}
	end := "}"
	if reasoning {
		end = f.endNull
	}
	var err error
	if ch.explicit {
		err = st.pieces(ch.text, f.pieces, end)
	} else {
		content := rng{state: ch.seed}
		err = st.words(&content, ch.content, f.words, end)
	}
	if err != nil {
		return err
	}
	if ch.tool != nil {
		if err := streamToolCall(st, f.open, ch.tool); err != nil {
			return err
		}
	}
	return st.finishChoice(f.finish, ch.finish)
}

// streamToolCall sends the call as OpenAI tool-call deltas: first the id,
// type, name and empty arguments, then argument fragments, all at tool
// index 0. open starts the choice's delta.
func streamToolCall(st *streamer, open string, t *toolCall) error {
	if err := st.token(); err != nil {
		return err
	}
	b := append(st.open(), open...)
	b = append(b, `"content":null,"tool_calls":[{"index":0,"id":`...)
	b = jsonenc.AppendString(b, t.id)
	b = append(b, `,"type":"function","function":{"name":`...)
	b = jsonenc.AppendString(b, t.name)
	b = append(b, `,"arguments":""}}]}`...)
	if err := st.sendToken(endChunk(b, "")); err != nil {
		return err
	}
	for off := 0; off < len(t.args); {
		if err := st.token(); err != nil {
			return err
		}
		n := argFragmentLen(t.args[off:])
		b := append(st.open(), open...)
		b = append(b, `"tool_calls":[{"index":0,"function":{"arguments":`...)
		b = jsonenc.AppendString(b, t.args[off:off+n])
		b = append(b, `}}]}`...)
		if err := st.sendToken(endChunk(b, "")); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// argFragmentLen is the length of the next argument fragment: argFragment
// bytes, shortened so that no UTF-8 sequence is split.
func argFragmentLen(s string) int {
	if len(s) <= argFragment {
		return len(s)
	}
	n := argFragment
	for n > 1 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}
