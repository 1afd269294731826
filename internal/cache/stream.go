package cache

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Limits that keep a hostile or broken stream from growing the assembler
// without bound.
const (
	maxChoices   = 128
	maxToolCalls = 1024
)

// Object names used to tell the endpoints apart.
const (
	objectChat      = "chat.completion"
	objectChatChunk = "chat.completion.chunk"
	objectText      = "text_completion"
)

// chatCompletion is the non-stream chat answer. Field order follows
// OpenAI's, and only fields the stream can carry are kept.
type chatCompletion struct {
	ID                string          `json:"id"`
	Object            string          `json:"object"`
	Created           json.Number     `json:"created"`
	Model             string          `json:"model"`
	Choices           []chatChoice    `json:"choices"`
	Usage             json.RawMessage `json:"usage,omitempty"`
	SystemFingerprint *string         `json:"system_fingerprint,omitempty"`
	ServiceTier       *string         `json:"service_tier,omitempty"`
}

type chatChoice struct {
	Index        int           `json:"index"`
	Message      chatMessage   `json:"message"`
	Logprobs     *chatLogprobs `json:"logprobs"`
	FinishReason *string       `json:"finish_reason"`
	// texts accumulate the message's content, reasoning_content and
	// refusal while a stream is assembled (see finishTexts).
	texts [3]text
}

// text is a streamed text being accumulated: a buffer that grows by
// doubling, where adding each delta to a string would copy the whole
// text each time (quadratic in a long answer). set: a delta came that was
// not null, so the field is not null either.
type text struct {
	b   []byte
	set bool
}

func (t *text) add(delta *string) {
	if delta != nil {
		t.room(len(*delta))
		t.b, t.set = append(t.b, *delta...), true
	}
}

// room makes the first buffer: tokens come one by one, so room for a
// short answer at once rather than doubling from the first token up.
func (t *text) room(n int) {
	if t.b == nil && n > 0 {
		t.b = make([]byte, 0, max(n, 256))
	}
}

// addToken adds the delta the JSON string token tok holds, as add would
// add it decoded (stringPtr), without a string of its own.
func (t *text) addToken(tok []byte) {
	t.set = true
	t.room(len(tok))
	if inner := tok[1 : len(tok)-1]; plainASCII(string(inner)) {
		t.b = append(t.b, inner...)
		return
	}
	p, _ := stringPtr(tok)
	t.b = append(t.b, *p...)
}

// value is the accumulated text, nil while no delta was set.
func (t *text) value() *string {
	if !t.set {
		return nil
	}
	s := string(t.b)
	return &s
}

// finishTexts moves the accumulated texts into the message.
func (ch *chatChoice) finishTexts() {
	m := &ch.Message
	m.Content, m.ReasoningContent, m.Refusal = ch.texts[0].value(), ch.texts[1].value(), ch.texts[2].value()
}

type chatMessage struct {
	Role             string     `json:"role"`
	Content          *string    `json:"content"`
	ReasoningContent *string    `json:"reasoning_content,omitempty"`
	Refusal          *string    `json:"refusal,omitempty"`
	ToolCalls        []toolCall `json:"tool_calls,omitempty"`
}

type toolCall struct {
	Index    *int         `json:"index,omitempty"` // only in stream deltas
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function toolFunction `json:"function"`
}

type toolFunction struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// chatLogprobs holds per-token log probabilities; the lists concatenate
// across chunks.
type chatLogprobs struct {
	Content          []json.RawMessage `json:"content"`
	ReasoningContent []json.RawMessage `json:"reasoning_content,omitempty"`
	Refusal          []json.RawMessage `json:"refusal"`
}

// chatChunk is one chat.completion.chunk, read or written.
type chatChunk struct {
	ID                string          `json:"id"`
	Object            string          `json:"object"`
	Created           json.Number     `json:"created"`
	Model             string          `json:"model"`
	SystemFingerprint *string         `json:"system_fingerprint,omitempty"`
	ServiceTier       *string         `json:"service_tier,omitempty"`
	Choices           []chunkChoice   `json:"choices"`
	Usage             json.RawMessage `json:"usage,omitempty"`
	Error             json.RawMessage `json:"error,omitempty"`
}

type chunkChoice struct {
	Index        int           `json:"index"`
	Delta        chunkDelta    `json:"delta"`
	Logprobs     *chatLogprobs `json:"logprobs"`
	FinishReason *string       `json:"finish_reason"`
}

type chunkDelta struct {
	Role             *string    `json:"role,omitempty"`
	Content          *string    `json:"content,omitempty"`
	ReasoningContent *string    `json:"reasoning_content,omitempty"`
	Refusal          *string    `json:"refusal,omitempty"`
	ToolCalls        []toolCall `json:"tool_calls,omitempty"`

	// spans are where scanChunkDelta read each of the fields above, by
	// deltaKeys index: the start and end of the value in the chunk.
	spans [4][2]int
	// roleCut is the role member when another member follows it: from its
	// key's quote to the next key's (textTemplate.remember).
	roleCut [2]int
}

// AssembleStream turns the SSE data payloads of a chat or text completion
// stream into the equivalent non-stream JSON body: content, reasoning_content
// and refusal concatenate per choice, tool calls merge by index (arguments
// and name fragments concatenate), the last finish_reason and usage win.
// Empty payloads and [DONE] are skipped. A choice that never finished keeps a
// null finish_reason, which Storable refuses, so an interrupted stream is
// never stored as complete.
func AssembleStream(chunks [][]byte) ([]byte, error) {
	for _, p := range chunks {
		if skipPayload(p) {
			continue
		}
		// The first chunk tells chat from text completions; read by the
		// scan, it is where the chat assembly starts.
		var first chatChunk
		if scanChatChunk(p, &first) {
			if first.Object == objectText {
				return assembleText(chunks)
			}
			return assembleChat(chunks, true, &first)
		}
		var head struct {
			Object string `json:"object"`
		}
		if err := json.Unmarshal(p, &head); err != nil {
			return nil, fmt.Errorf("decoding chunk: %w", err)
		}
		if head.Object == objectText {
			return assembleText(chunks)
		}
		break
	}
	return assembleChat(chunks, true, nil)
}

func skipPayload(p []byte) bool {
	p = bytes.TrimSpace(p)
	return len(p) == 0 || bytes.Equal(p, []byte("[DONE]"))
}

// present reports whether a raw JSON field was sent with a non-null value.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// assembleChat assembles a chat completion stream. fast reads the chunks
// with scanChatChunk and from templates where it can; without it, every
// chunk is read by encoding/json (what the tests compare fast with).
// first, when set, is the first chunk (the first not skipped), already
// scanned.
func assembleChat(chunks [][]byte, fast bool, first *chatChunk) ([]byte, error) {
	out := chatCompletion{Object: objectChat}
	var choices []*chatChoice
	var c chatChunk // decoded into chunk after chunk (scanChatChunk)
	var t textTemplate
	for i, payload := range chunks {
		if skipPayload(payload) {
			continue
		}
		if text, ok := t.match(payload); ok {
			// The template's chunk, merged already, with another text:
			// merging it again changes nothing but the text.
			choices[t.index].texts[t.field-1].addToken(text)
			continue
		}
		if first != nil {
			c, first = *first, nil
			t.remember(payload, &c)
		} else if fast && scanChatChunk(payload, &c) {
			t.remember(payload, &c)
		} else {
			t.clear()
			c = chatChunk{}
			if err := json.Unmarshal(payload, &c); err != nil {
				return nil, fmt.Errorf("decoding chunk %d: %w", i, err)
			}
		}
		if present(c.Error) {
			return nil, fmt.Errorf("chunk %d: %w", i, ErrStreamError)
		}
		mergeChatHead(&out, &c)
		for _, d := range c.Choices {
			if d.Index < 0 || d.Index >= maxChoices {
				return nil, fmt.Errorf("chunk %d: choice index %d out of range", i, d.Index)
			}
			for len(choices) <= d.Index {
				choices = append(choices, nil)
			}
			if choices[d.Index] == nil {
				choices[d.Index] = &chatChoice{Index: d.Index}
			}
			if err := mergeChatDelta(choices[d.Index], &d); err != nil {
				return nil, fmt.Errorf("chunk %d: %w", i, err)
			}
		}
	}
	out.Choices = make([]chatChoice, 0, len(choices))
	for _, ch := range choices {
		if ch == nil {
			continue
		}
		ch.finishTexts()
		if ch.Message.Role == "" {
			ch.Message.Role = "assistant"
		}
		ch.Message.ToolCalls = compactToolCalls(ch.Message.ToolCalls)
		out.Choices = append(out.Choices, *ch)
	}
	if !fast {
		return json.Marshal(out)
	}
	return appendChatCompletion(make([]byte, 0, 256+out.size()), &out)
}

// size is about the length of out's texts, to size its encoding.
func (out *chatCompletion) size() int {
	n := len(out.Usage)
	for i := range out.Choices {
		m := &out.Choices[i].Message
		for _, s := range [...]*string{m.Content, m.ReasoningContent, m.Refusal} {
			if s != nil {
				n += len(*s) + 32
			}
		}
		for _, tc := range m.ToolCalls {
			n += len(tc.ID) + len(tc.Function.Name) + len(tc.Function.Arguments) + 64
		}
		n += 128
	}
	return n
}

func mergeChatHead(out *chatCompletion, c *chatChunk) {
	if out.ID == "" {
		out.ID = c.ID
	}
	if out.Created == "" {
		out.Created = c.Created
	}
	if out.Model == "" {
		out.Model = c.Model
	}
	if out.SystemFingerprint == nil {
		out.SystemFingerprint = c.SystemFingerprint
	}
	if out.ServiceTier == nil {
		out.ServiceTier = c.ServiceTier
	}
	if present(c.Usage) {
		out.Usage = c.Usage
	}
}

func mergeChatDelta(ch *chatChoice, d *chunkChoice) error {
	m := &ch.Message
	if d.Delta.Role != nil && *d.Delta.Role != "" && m.Role == "" {
		m.Role = *d.Delta.Role
	}
	ch.texts[0].add(d.Delta.Content)
	ch.texts[1].add(d.Delta.ReasoningContent)
	ch.texts[2].add(d.Delta.Refusal)
	for _, tc := range d.Delta.ToolCalls {
		idx := 0
		if tc.Index != nil && *tc.Index > 0 {
			idx = *tc.Index // -1 (some providers' single call) counts as 0
		}
		if idx >= maxToolCalls {
			return fmt.Errorf("tool call index %d out of range", idx)
		}
		for len(m.ToolCalls) <= idx {
			m.ToolCalls = append(m.ToolCalls, toolCall{})
		}
		dst := &m.ToolCalls[idx]
		dst.Index = &idx
		if tc.ID != "" {
			dst.ID = tc.ID
		}
		if tc.Type != "" {
			dst.Type = tc.Type
		}
		dst.Function.Name += tc.Function.Name
		dst.Function.Arguments += tc.Function.Arguments
	}
	if d.Logprobs != nil {
		if ch.Logprobs == nil {
			ch.Logprobs = &chatLogprobs{}
		}
		ch.Logprobs.Content = append(ch.Logprobs.Content, d.Logprobs.Content...)
		ch.Logprobs.ReasoningContent = append(ch.Logprobs.ReasoningContent, d.Logprobs.ReasoningContent...)
		ch.Logprobs.Refusal = append(ch.Logprobs.Refusal, d.Logprobs.Refusal...)
	}
	if d.FinishReason != nil && *d.FinishReason != "" {
		ch.FinishReason = d.FinishReason
	}
	return nil
}

// compactToolCalls drops placeholder slots of sparse indices and the
// stream-only index field.
func compactToolCalls(calls []toolCall) []toolCall {
	out := calls[:0]
	for _, tc := range calls {
		if tc.Index == nil {
			continue
		}
		tc.Index = nil
		if tc.Type == "" {
			tc.Type = "function"
		}
		out = append(out, tc)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// ReplayChunks turns a non-stream chat.completion or text_completion body
// into SSE data payloads (without [DONE]) that a client accumulates into the
// same answer. Per choice a chat replay sends: the role chunk, the
// reasoning_content, the content, the refusal, each tool call (a header delta
// with id, type and name, then its arguments, index kept), and a finish chunk
// carrying logprobs and finish_reason. With includeUsage every chunk has
// "usage":null and a last chunk with no choices carries the usage.
func ReplayChunks(body []byte, includeUsage bool) ([][]byte, error) {
	var head struct {
		Object string `json:"object"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, fmt.Errorf("decoding answer: %w", err)
	}
	switch head.Object {
	case objectChat:
		return replayChat(body, includeUsage)
	case objectText:
		return replayText(body, includeUsage)
	}
	return nil, fmt.Errorf("cannot stream an answer of object %q", head.Object)
}

func replayChat(body []byte, includeUsage bool) ([][]byte, error) {
	var cc chatCompletion
	if err := json.Unmarshal(body, &cc); err != nil {
		return nil, fmt.Errorf("decoding chat completion: %w", err)
	}
	base := chatChunk{
		ID: cc.ID, Object: objectChatChunk, Created: cc.Created, Model: cc.Model,
		SystemFingerprint: cc.SystemFingerprint, ServiceTier: cc.ServiceTier,
	}
	if includeUsage {
		base.Usage = json.RawMessage("null")
	}
	var out [][]byte
	emit := func(d chunkChoice) error {
		c := base
		c.Choices = []chunkChoice{d}
		b, err := json.Marshal(c)
		out = append(out, b)
		return err
	}
	for _, ch := range cc.Choices {
		for _, d := range chatDeltas(ch) {
			if err := emit(d); err != nil {
				return nil, fmt.Errorf("encoding chunk: %w", err)
			}
		}
	}
	if includeUsage && present(cc.Usage) {
		c := base
		c.Choices = []chunkChoice{}
		c.Usage = cc.Usage
		b, err := json.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("encoding usage chunk: %w", err)
		}
		out = append(out, b)
	}
	return out, nil
}

// chatDeltas returns the deltas that rebuild one choice.
func chatDeltas(ch chatChoice) []chunkChoice {
	m := ch.Message
	role := m.Role
	if role == "" {
		role = "assistant"
	}
	first := chunkChoice{Index: ch.Index, Delta: chunkDelta{Role: &role}}
	if m.Content != nil {
		empty := ""
		first.Delta.Content = &empty
	}
	ds := []chunkChoice{first}
	add := func(d chunkDelta) { ds = append(ds, chunkChoice{Index: ch.Index, Delta: d}) }
	if m.ReasoningContent != nil {
		add(chunkDelta{ReasoningContent: m.ReasoningContent})
	}
	if m.Content != nil && *m.Content != "" {
		add(chunkDelta{Content: m.Content})
	}
	if m.Refusal != nil {
		add(chunkDelta{Refusal: m.Refusal})
	}
	for i, tc := range m.ToolCalls {
		idx := i
		header := toolCall{Index: &idx, ID: tc.ID, Type: tc.Type, Function: toolFunction{Name: tc.Function.Name}}
		add(chunkDelta{ToolCalls: []toolCall{header}})
		if tc.Function.Arguments != "" {
			add(chunkDelta{ToolCalls: []toolCall{{Index: &idx, Function: toolFunction{Arguments: tc.Function.Arguments}}}})
		}
	}
	ds = append(ds, chunkChoice{Index: ch.Index, Logprobs: ch.Logprobs, FinishReason: ch.FinishReason})
	return ds
}

// usageChunkFor builds the include_usage trailer for an answer, or nil when
// the answer has no usage.
func usageChunkFor(body []byte) ([]byte, error) {
	var h struct {
		ID                string          `json:"id"`
		Object            string          `json:"object"`
		Created           json.Number     `json:"created"`
		Model             string          `json:"model"`
		SystemFingerprint *string         `json:"system_fingerprint,omitempty"`
		Usage             json.RawMessage `json:"usage"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return nil, fmt.Errorf("decoding answer: %w", err)
	}
	if !present(h.Usage) {
		return nil, nil
	}
	object := objectChatChunk
	if h.Object == objectText {
		object = objectText
	}
	c := chatChunk{
		ID: h.ID, Object: object, Created: h.Created, Model: h.Model,
		SystemFingerprint: h.SystemFingerprint, Choices: []chunkChoice{}, Usage: h.Usage,
	}
	return json.Marshal(c)
}
