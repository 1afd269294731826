package sim

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// The DeepSeek personality serves DeepSeek's Anthropic-compatible API
// (base URL https://api.deepseek.com/anthropic, so POST
// /anthropic/v1/messages), following its compatibility table
// (api-docs.deepseek.com/guides/anthropic_api):
//
//   - x-api-key authenticates (a Bearer token too, as Claude Code's
//     ANTHROPIC_AUTH_TOKEN sends); anthropic-version and anthropic-beta are
//     ignored.
//   - model: DeepSeek's names; claude-opus* is served by deepseek-v4-pro,
//     any other claude* name by deepseek-flash; other names answer 400.
//   - max_tokens is required; system, messages (text, thinking, tool_use,
//     tool_result blocks), stop_sequences, stream, tools and tool_choice
//     are honoured; thinking enabled|disabled (budget_tokens ignored), on
//     by default as on the chat API; image and document blocks answer 400
//     (not supported); metadata, top_k, service_tier are ignored.
//   - Answers, stream events (message_start, ping, content_block_start/
//     delta/stop, message_delta, message_stop) and errors ({"type":"error",
//     "error":{type, message}}) have Anthropic's shapes; usage counts the
//     context-cache hits as cache_read_input_tokens, which input_tokens
//     does not include.
//
// The answer is the one the chat endpoint plans for the same conversation
// (same words, tool call and usage), rendered in Anthropic's shape.

// anthropicPrefix is the path prefix of the Anthropic API.
const anthropicPrefix = "/anthropic"

// messagesRequest is the part of a Messages request the double reads.
type messagesRequest struct {
	Model         string             `json:"model"`
	MaxTokens     *int               `json:"max_tokens"`
	System        json.RawMessage    `json:"system"`
	Messages      []anthropicMessage `json:"messages"`
	Stream        bool               `json:"stream"`
	StopSequences []string           `json:"stop_sequences"`
	Tools         []struct {
		Name        string          `json:"name"`
		InputSchema json.RawMessage `json:"input_schema"`
	} `json:"tools"`
	ToolChoice *struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"tool_choice"`
	Thinking *thinking `json:"thinking"`
}

type anthropicMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// anthropicBlock is one content block, reduced to its text.
type anthropicBlock struct {
	Type     string          `json:"type"`
	Text     string          `json:"text"`
	Thinking string          `json:"thinking"`
	Input    json.RawMessage `json:"input"`
	Content  json.RawMessage `json:"content"`
}

// anthropicError writes Anthropic's error shape.
func anthropicError(w http.ResponseWriter, status int, typ, msg string) {
	b := make([]byte, 0, 96+len(msg))
	b = append(b, `{"type":"error","error":{"type":`...)
	b = jsonenc.AppendString(b, typ)
	b = append(b, `,"message":`...)
	b = jsonenc.AppendString(b, msg)
	b = append(b, "}}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// anthropicType is Anthropic's error type for a status.
func anthropicType(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusServiceUnavailable, 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// anthropicWriter rewrites the OpenAI-shaped errors of the shared request
// steps (body decoding, balance, injected faults) into Anthropic's shape.
type anthropicWriter struct {
	http.ResponseWriter
	status int
}

func (a *anthropicWriter) WriteHeader(status int) {
	if status < 400 {
		a.ResponseWriter.WriteHeader(status)
		return
	}
	a.status = status
}

func (a *anthropicWriter) Write(b []byte) (int, error) {
	if a.status == 0 {
		return a.ResponseWriter.Write(b)
	}
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	status := a.status
	a.status = 0
	anthropicError(a.ResponseWriter, status, anthropicType(status), e.Error.Message)
	return len(b), nil
}

// Unwrap lets http.ResponseController flush and hijack.
func (a *anthropicWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// routeAnthropic serves DeepSeek's Anthropic API paths.
func (s *Server) routeAnthropic(w http.ResponseWriter, r *http.Request, path string) {
	if path != anthropicPrefix+"/v1/messages" {
		anthropicError(w, http.StatusNotFound, "not_found_error", "no route for "+path)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		anthropicError(w, http.StatusMethodNotAllowed, "invalid_request_error", "method "+r.Method+" not allowed")
		return
	}
	s.handleMessages(&anthropicWriter{ResponseWriter: w}, r)
}

// authenticateAnthropic checks the key of an Anthropic API request:
// x-api-key, else a Bearer token; failures in Anthropic's shape.
func (s *Server) authenticateAnthropic(w http.ResponseWriter, r *http.Request) bool {
	key := r.Header.Get("X-Api-Key")
	if key == "" {
		if scheme, k, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
			key = k
		}
	}
	if key == "" {
		anthropicError(w, http.StatusUnauthorized, "authentication_error", "x-api-key header is required")
		return false
	}
	if subtle.ConstantTimeCompare([]byte(key), []byte(s.opts.APIKey)) != 1 {
		anthropicError(w, http.StatusUnauthorized, "authentication_error", "Authentication Fails, Your api key: ****"+key[max(len(key)-4, 0):]+" is invalid")
		return false
	}
	return true
}

// anthropicModel maps a requested name to the model that serves it.
func (s *Server) anthropicModel(name string) (string, bool) {
	switch {
	case strings.HasPrefix(name, "claude-opus"):
		return "deepseek-v4-pro", true
	case strings.HasPrefix(name, "claude"):
		return "deepseek-flash", true
	}
	_, ok := s.byName[name]
	return name, ok
}

func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) {
	var req messagesRequest
	if !decode(w, r, &req) {
		return
	}
	name, ok := s.anthropicModel(req.Model)
	if !ok {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error",
			"The supported API model names are deepseek-v4-pro or deepseek-flash, but you passed "+req.Model+".")
		return
	}
	if req.MaxTokens == nil {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "max_tokens: Field required")
		return
	}
	chat, msg := req.toChat(name)
	if msg != "" {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", msg)
		return
	}
	m, ok := s.lookupModel(w, name)
	if !ok {
		return
	}
	n, limited, ok := tokenLimit(w, s.opts.MaxTokens, nil, chat.MaxTokens)
	if !ok {
		return
	}
	if a := s.opts.AnswerTokens; a > 0 && limited && n > a {
		n, limited = a, false
	}
	mode, ok := s.chatMode(w, m, chat)
	if !ok || !s.fundsAvailable(w) {
		return
	}
	p := s.planChat(m, chat, n, limited, mode)
	c := call{s: s, w: w, r: r, rc: http.NewResponseController(w), m: m, stream: req.Stream}
	if !s.admit(&c) {
		return
	}
	a := anthropicAnswer{plan: &p, model: req.Model, id: s.newHead(m).id}
	if req.Stream {
		s.streamMessage(&c, &a)
	} else {
		s.completeMessage(&c, &a)
	}
}

// toChat turns the request into the chat request the planner reads. msg
// is a 400's message.
func (req *messagesRequest) toChat(model string) (*chatRequest, string) {
	if len(req.Messages) == 0 {
		return nil, "messages: at least one message is required"
	}
	c := &chatRequest{Model: model, MaxTokens: req.MaxTokens, Stop: req.StopSequences, Thinking: req.Thinking}
	if t := c.Thinking; t != nil && t.Type == "adaptive" {
		c.Thinking = &thinking{Type: "enabled"}
	}
	system := ""
	if len(req.System) > 0 && string(req.System) != "null" {
		text, msg := blocksText(req.System)
		if msg != "" {
			return nil, msg
		}
		system = text
	}
	for i, m := range req.Messages {
		// Claude Code sends a system message among the messages (its agent
		// list), and DeepSeek documents Claude Code as working.
		if m.Role != "user" && m.Role != "assistant" && m.Role != "system" {
			return nil, "messages." + strconv.Itoa(i) + ".role: Input should be 'user', 'assistant' or 'system'"
		}
		text, msg := blocksText(m.Content)
		if msg != "" {
			return nil, "messages." + strconv.Itoa(i) + ".content: " + msg
		}
		role := m.Role
		switch {
		case role == "system":
			system += "\n" + text // joins the system prompt, wherever it stands
			continue
		case role == "user" && onlyToolResults(m.Content):
			role = "tool" // answered tool calls: the model replies in text
		}
		c.Messages = append(c.Messages, chatMessage{Role: role, Content: messageContent(text)})
	}
	if system != "" {
		c.Messages = append([]chatMessage{{Role: "system", Content: messageContent(system)}}, c.Messages...)
	}
	for _, t := range req.Tools {
		ct := chatTool{Type: "function"}
		ct.Function.Name, ct.Function.Parameters = t.Name, t.InputSchema
		c.Tools = append(c.Tools, ct)
	}
	if tc := req.ToolChoice; tc != nil {
		switch tc.Type {
		case "none":
			c.ToolChoice = json.RawMessage(`"none"`)
		case "any":
			c.ToolChoice = json.RawMessage(`"required"`)
		case "tool":
			c.ToolChoice = json.RawMessage(`{"type":"function","function":{"name":` + strconv.Quote(tc.Name) + `}}`)
		}
	}
	return c, ""
}

// blocksText is the text of a string or an array of content blocks; image,
// document and search_result blocks are refused, as DeepSeek lists them
// unsupported; other block types add no text.
func blocksText(raw json.RawMessage) (string, string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", "invalid string"
		}
		return s, ""
	}
	var blocks []anthropicBlock
	if json.Unmarshal(raw, &blocks) != nil {
		return "", "expected a string or an array of content blocks"
	}
	var sb strings.Builder
	for _, b := range blocks {
		switch b.Type {
		case "text":
			sb.WriteString(b.Text)
		case "thinking", "redacted_thinking":
			sb.WriteString(b.Thinking)
		case "tool_use":
			sb.Write(b.Input)
		case "tool_result":
			if t, msg := blocksText(b.Content); msg == "" {
				sb.WriteString(t)
			}
		case "image", "document", "search_result":
			return "", "content block type " + strconv.Quote(b.Type) + " is not supported"
		}
		sb.WriteByte('\n')
	}
	return sb.String(), ""
}

func onlyToolResults(raw json.RawMessage) bool {
	var blocks []anthropicBlock
	if json.Unmarshal(raw, &blocks) != nil || len(blocks) == 0 {
		return false
	}
	for _, b := range blocks {
		if b.Type != "tool_result" {
			return false
		}
	}
	return true
}

// anthropicAnswer is a planned chat answer rendered as a Message.
type anthropicAnswer struct {
	plan  *chatPlan
	model string // the name the request used, as DeepSeek echoes it
	id    [2]uint64
}

func (a *anthropicAnswer) choice() *choicePlan { return &a.plan.choices[0] }

// stopReason maps the planned finish to Anthropic's stop_reason.
func (a *anthropicAnswer) stopReason() string {
	switch a.choice().finish {
	case "length":
		return "max_tokens"
	case "tool_calls":
		return "tool_use"
	}
	return "end_turn"
}

// appendUsage writes Anthropic's usage: input_tokens without the cache hits.
func (a *anthropicAnswer) appendUsage(b []byte, output int) []byte {
	u := a.plan.usage
	b = append(b, `{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(u.prompt-u.cached), 10)
	b = append(b, `,"cache_creation_input_tokens":0,"cache_read_input_tokens":`...)
	b = strconv.AppendInt(b, int64(u.cached), 10)
	b = appendIntField(b, "output_tokens", output)
	return append(b, '}')
}

// appendHead writes a Message up to its content array's opening bracket.
func (a *anthropicAnswer) appendHead(b []byte) []byte {
	b = append(b, `{"id":"msg_`...)
	b = appendHex(b, a.id[0])
	b = appendHex(b, a.id[1])
	b = append(b, `","type":"message","role":"assistant","model":`...)
	b = jsonenc.AppendString(b, a.model)
	return append(b, `,"content":[`...)
}

// signature is an opaque token for a thinking block, as the API sends.
func (a *anthropicAnswer) signature() []byte {
	return appendHex([]byte(`"sig_`), a.choice().seed^reasoningSalt)
}

func toolUseID(t *toolCall) string { return "toolu_" + strings.TrimPrefix(t.id, "call_") }

func (s *Server) completeMessage(c *call, a *anthropicAnswer) {
	if err := s.acquire(c); err != nil {
		return
	}
	defer s.release(c)
	p, ch := a.plan, a.choice()
	if err := c.wait(c.delay + s.genTime(p.usage.completion)); err != nil {
		return
	}
	s.countTokens(c.m, p.usage.prompt, p.usage.completion)
	b := a.appendHead(make([]byte, 0, 512+12*p.usage.completion))
	if p.reasoning {
		b = append(b, `{"type":"thinking","thinking":"`...)
		r := rng{state: ch.seed ^ reasoningSalt}
		b = appendWords(b, &r, ch.reasoning)
		b = append(append(b, `","signature":`...), a.signature()...)
		b = append(b, `"},`...)
	}
	if t := ch.tool; t != nil {
		b = append(b, `{"type":"tool_use","id":`...)
		b = jsonenc.AppendString(b, toolUseID(t))
		b = append(b, `,"name":`...)
		b = jsonenc.AppendString(b, t.name)
		b = append(append(b, `,"input":`...), t.args...)
		b = append(b, '}')
	} else {
		b = append(b, `{"type":"text","text":`...)
		if ch.explicit {
			b = jsonenc.AppendString(b, ch.text)
		} else {
			r := rng{state: ch.seed}
			b = appendWords(append(b, '"'), &r, ch.content)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, `],"stop_reason":"`...)
	b = append(b, a.stopReason()...)
	b = append(b, `","stop_sequence":null,"usage":`...)
	b = a.appendUsage(b, p.usage.completion)
	b = append(b, '}', '\n')
	c.writeJSON(b)
}
