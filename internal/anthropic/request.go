package anthropic

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/dsgate/dsgate/internal/chatwire"
)

// RequestInfo is what the response side needs to know about the request.
type RequestInfo struct {
	Model    string // as the client asked for it
	Stream   bool
	Thinking bool // the client enabled thinking
}

// request is the Messages request body; raw fields pass through unparsed.
type request struct {
	Model         string          `json:"model"`
	MaxTokens     *int            `json:"max_tokens"`
	System        json.RawMessage `json:"system"`
	Messages      []message       `json:"messages"`
	StopSequences []string        `json:"stop_sequences"`
	Stream        bool            `json:"stream"`
	Temperature   json.RawMessage `json:"temperature"`
	TopP          json.RawMessage `json:"top_p"`
	Tools         []tool          `json:"tools"`
	ToolChoice    *toolChoice     `json:"tool_choice"`
	Thinking      *thinking       `json:"thinking"`
	OutputConfig  *struct {
		Effort string `json:"effort"`
	} `json:"output_config"`
}

type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// block is any content block; Type says which fields are set.
type block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	Thinking  string          `json:"thinking"`
	Signature string          `json:"signature"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	Source    *struct {
		Type      string `json:"type"`
		MediaType string `json:"media_type"`
		Data      string `json:"data"`
		URL       string `json:"url"`
	} `json:"source"`
}

type tool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type toolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
}

type thinking struct {
	Type string `json:"type"`
}

var (
	thinkingEnabled  = json.RawMessage(`{"type":"enabled"}`)
	thinkingDisabled = json.RawMessage(`{"type":"disabled"}`)
)

// ToChat translates a Messages request body into a chat completions body.
// Errors are *Error values (status 400) naming what is wrong.
func ToChat(body []byte) ([]byte, RequestInfo, error) {
	var r request
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, RequestInfo{}, decodeError(err)
	}
	info := RequestInfo{Model: r.Model, Stream: r.Stream}
	if r.Model == "" {
		return nil, info, invalid("model: field required")
	}
	if r.MaxTokens == nil {
		return nil, info, invalid("max_tokens: field required")
	}
	if *r.MaxTokens < 1 {
		return nil, info, invalid("max_tokens: must be at least 1")
	}
	if len(r.Messages) == 0 {
		return nil, info, invalid("messages: at least one message is required")
	}
	c := chatwire.Request{
		Model:       r.Model,
		MaxTokens:   *r.MaxTokens,
		Temperature: r.Temperature,
		TopP:        r.TopP,
		Stop:        r.StopSequences,
		Stream:      r.Stream,
		Messages:    make([]chatwire.Message, 0, len(r.Messages)+1),
	}
	if r.Stream {
		c.StreamOptions = &chatwire.StreamOptions{IncludeUsage: true}
	}
	if err := system(&c, r.System); err != nil {
		return nil, info, err
	}
	for i, m := range r.Messages {
		if err := convert(&c, m); err != nil {
			err.Message = "messages." + itoa(i) + "." + err.Message
			return nil, info, err
		}
	}
	if err := tools(&c, &r); err != nil {
		return nil, info, err
	}
	if r.Thinking != nil {
		switch r.Thinking.Type {
		case "enabled", "adaptive":
			c.Thinking = thinkingEnabled
			info.Thinking = true
		case "disabled":
			c.Thinking = thinkingDisabled
		default:
			return nil, info, invalid("thinking.type: must be enabled, adaptive or disabled")
		}
	}
	if r.OutputConfig != nil {
		c.ReasoningEffort = r.OutputConfig.Effort
	}
	out, err := json.Marshal(&c)
	if err != nil {
		return nil, info, &Error{Status: 400, Type: "invalid_request_error", Message: "request cannot be translated", Err: err}
	}
	return out, info, nil
}

// system adds the system prompt, a string or an array of text blocks.
func system(c *chatwire.Request, raw json.RawMessage) *Error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var text string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return decodeError(err)
		}
	} else {
		var blocks []block
		if err := json.Unmarshal(raw, &blocks); err != nil {
			return invalid("system: must be a string or an array of text blocks")
		}
		var sb strings.Builder
		for i, b := range blocks {
			if b.Type != "text" {
				return invalid("system." + itoa(i) + ".type: must be text")
			}
			if i > 0 {
				sb.WriteByte('\n')
			}
			sb.WriteString(b.Text)
		}
		text = sb.String()
	}
	c.Messages = append(c.Messages, chatwire.Message{Role: "system", Content: chatwire.String(text)})
	return nil
}

// convert appends the chat messages for one Messages message.
func convert(c *chatwire.Request, m message) *Error {
	if m.Role != "user" && m.Role != "assistant" {
		return invalid("role: must be user or assistant")
	}
	raw := bytes.TrimSpace(m.Content)
	if len(raw) == 0 {
		return invalid("content: field required")
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return invalid("content: " + err.Error())
		}
		msg := chatwire.Message{Role: m.Role, Content: raw}
		c.Messages = append(c.Messages, msg)
		return nil
	}
	var blocks []block
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return invalid("content: must be a string or an array of content blocks")
	}
	if m.Role == "assistant" {
		return assistant(c, blocks)
	}
	return user(c, blocks)
}

// user appends tool results as tool messages, then the rest as one user
// message. Chat completions wants tool results right after the assistant
// message that called the tools, which is where Messages puts them too.
func user(c *chatwire.Request, blocks []block) *Error {
	var parts []chatwire.Part
	for i, b := range blocks {
		switch b.Type {
		case "text":
			parts = append(parts, chatwire.Part{Text: b.Text})
		case "image":
			p, err := image(b)
			if err != nil {
				err.Message = "content." + itoa(i) + "." + err.Message
				return err
			}
			parts = append(parts, p)
		case "tool_result":
			if b.ToolUseID == "" {
				return invalid("content." + itoa(i) + ".tool_use_id: field required")
			}
			text, err := resultText(b.Content)
			if err != nil {
				err.Message = "content." + itoa(i) + "." + err.Message
				return err
			}
			c.Messages = append(c.Messages, chatwire.Message{Role: "tool", ToolCallID: b.ToolUseID, Content: chatwire.String(text)})
		default:
			return invalid("content." + itoa(i) + ".type: " + b.Type + " is not supported in user messages")
		}
	}
	if len(parts) > 0 {
		c.Messages = append(c.Messages, chatwire.Message{Role: "user", Content: chatwire.Content(parts)})
	}
	return nil
}

// image turns an image block's source into an image URL part.
func image(b block) (chatwire.Part, *Error) {
	if b.Source == nil {
		return chatwire.Part{}, invalid("source: field required")
	}
	switch b.Source.Type {
	case "base64":
		return chatwire.Part{ImageURL: "data:" + b.Source.MediaType + ";base64," + b.Source.Data}, nil
	case "url":
		return chatwire.Part{ImageURL: b.Source.URL}, nil
	}
	return chatwire.Part{}, invalid("source.type: must be base64 or url")
}

// resultText flattens a tool_result's content (a string or text blocks)
// to the text a chat tool message carries. Images in tool results have no
// chat equivalent and are rejected.
func resultText(raw json.RawMessage) (string, *Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", invalid("content: " + err.Error())
		}
		return s, nil
	}
	var blocks []block
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return "", invalid("content: must be a string or an array of text blocks")
	}
	var sb strings.Builder
	for i, b := range blocks {
		if b.Type != "text" {
			return "", invalid("content." + itoa(i) + ".type: only text is supported in tool results")
		}
		if i > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(b.Text)
	}
	return sb.String(), nil
}

// assistant folds an assistant turn into one chat message: thinking into
// reasoning_content, text into content, tool_use into tool_calls.
func assistant(c *chatwire.Request, blocks []block) *Error {
	var text, reasoning strings.Builder
	var calls []chatwire.ToolCall
	hasReasoning := false
	for i, b := range blocks {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "thinking":
			if err := checkSignature(b.Thinking, b.Signature); err != nil {
				return &Error{Status: 400, Type: "invalid_request_error", Message: "content." + itoa(i) + ".signature: " + err.Error(), Err: err}
			}
			reasoning.WriteString(b.Thinking)
			hasReasoning = true
		case "redacted_thinking":
			// Encrypted by another provider: nothing to pass on.
		case "tool_use":
			args := bytes.TrimSpace(b.Input)
			if len(args) == 0 || string(args) == "null" {
				args = []byte("{}")
			}
			calls = append(calls, chatwire.ToolCall{ID: b.ID, Type: "function",
				Function: chatwire.Function{Name: b.Name, Arguments: compact(args)}})
		default:
			return invalid("content." + itoa(i) + ".type: " + b.Type + " is not supported in assistant messages")
		}
	}
	msg := chatwire.Message{Role: "assistant", Content: chatwire.String(text.String()), ToolCalls: calls}
	if hasReasoning || len(calls) > 0 {
		msg.ReasoningContent = chatwire.Ptr(reasoning.String())
	}
	c.Messages = append(c.Messages, msg)
	return nil
}

// compact returns JSON without insignificant space, as chat arguments.
func compact(raw []byte) string {
	var buf bytes.Buffer
	buf.Grow(len(raw))
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}

// tools maps tool definitions and tool_choice.
func tools(c *chatwire.Request, r *request) *Error {
	for i, t := range r.Tools {
		if t.Type != "" && t.Type != "custom" {
			return invalid("tools." + itoa(i) + ".type: server tool " + t.Type + " is not supported")
		}
		if t.Name == "" {
			return invalid("tools." + itoa(i) + ".name: field required")
		}
		c.Tools = append(c.Tools, chatwire.Tool{Type: "function", Function: chatwire.FunctionDef{
			Name: t.Name, Description: t.Description, Parameters: t.InputSchema}})
	}
	tc := r.ToolChoice
	if tc == nil {
		return nil
	}
	switch tc.Type {
	case "auto":
		c.ToolChoice = json.RawMessage(`"auto"`)
	case "any":
		c.ToolChoice = json.RawMessage(`"required"`)
	case "none":
		c.ToolChoice = json.RawMessage(`"none"`)
	case "tool":
		if tc.Name == "" {
			return invalid("tool_choice.name: field required")
		}
		b := append([]byte(`{"type":"function","function":{"name":`), chatwire.String(tc.Name)...)
		c.ToolChoice = append(b, `}}`...)
	default:
		return invalid("tool_choice.type: must be auto, any, tool or none")
	}
	if tc.DisableParallelToolUse && tc.Type != "none" {
		f := false
		c.ParallelToolCalls = &f
	}
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }
