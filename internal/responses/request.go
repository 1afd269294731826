package responses

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/dsgate/dsgate/internal/chatwire"
	"github.com/dsgate/dsgate/internal/openai"
)

// RequestInfo is what the response side needs to know about the request:
// the parameters a Response echoes back. Raw fields are the client's JSON.
type RequestInfo struct {
	Model              string
	Stream             bool
	Store              bool
	PreviousResponseID string
	Instructions       json.RawMessage
	MaxOutputTokens    int
	Temperature        json.RawMessage
	TopP               json.RawMessage
	Tools              json.RawMessage
	ToolChoice         json.RawMessage
	ParallelToolCalls  *bool
	Text               json.RawMessage
	Reasoning          json.RawMessage
	Metadata           json.RawMessage
	User               string
}

// request is the Responses request body.
type request struct {
	Model              string          `json:"model"`
	Input              json.RawMessage `json:"input"`
	Instructions       json.RawMessage `json:"instructions"`
	MaxOutputTokens    int             `json:"max_output_tokens"`
	Temperature        json.RawMessage `json:"temperature"`
	TopP               json.RawMessage `json:"top_p"`
	Tools              json.RawMessage `json:"tools"`
	ToolChoice         json.RawMessage `json:"tool_choice"`
	ParallelToolCalls  *bool           `json:"parallel_tool_calls"`
	Text               json.RawMessage `json:"text"`
	Reasoning          json.RawMessage `json:"reasoning"`
	Stream             bool            `json:"stream"`
	Store              *bool           `json:"store"`
	PreviousResponseID string          `json:"previous_response_id"`
	Metadata           json.RawMessage `json:"metadata"`
	User               string          `json:"user"`
}

// item is any input item; Type (or, for messages, Role) says which fields
// are set.
type item struct {
	Type      string          `json:"type"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments string          `json:"arguments"`
	Output    json.RawMessage `json:"output"`
	Summary   []part          `json:"summary"`
}

// part is a content part of a message or reasoning item.
type part struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Refusal  string `json:"refusal"`
	ImageURL string `json:"image_url"`
	Detail   string `json:"detail"`
}

type functionTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      *bool           `json:"strict"`
}

var thinkingDisabled = json.RawMessage(`{"type":"disabled"}`)

// ToChat translates a Responses request body into a chat completions body.
// Errors are *openai.Error values with status 400. Requests that need
// stored state (previous_response_id, item_reference) must be expanded by
// the caller first: ToChat reports item_reference as unsupported and
// leaves previous_response_id in RequestInfo.
func ToChat(body []byte) ([]byte, RequestInfo, error) {
	var r request
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, RequestInfo{}, decodeError(err)
	}
	info := RequestInfo{
		Model: r.Model, Stream: r.Stream, Store: r.Store == nil || *r.Store,
		PreviousResponseID: r.PreviousResponseID, Instructions: r.Instructions,
		MaxOutputTokens: r.MaxOutputTokens, Temperature: r.Temperature, TopP: r.TopP,
		Tools: r.Tools, ToolChoice: r.ToolChoice, ParallelToolCalls: r.ParallelToolCalls,
		Text: r.Text, Reasoning: r.Reasoning, Metadata: r.Metadata, User: r.User,
	}
	if r.Model == "" {
		return nil, info, invalid("model", "Missing required parameter: 'model'.")
	}
	c := chatwire.Request{
		Model: r.Model, MaxTokens: r.MaxOutputTokens, Temperature: r.Temperature, TopP: r.TopP,
		Stream: r.Stream, ParallelToolCalls: r.ParallelToolCalls, User: r.User,
	}
	if r.Stream {
		c.StreamOptions = &chatwire.StreamOptions{IncludeUsage: true}
	}
	if err := instructions(&c, r.Instructions); err != nil {
		return nil, info, err
	}
	if err := input(&c, r.Input); err != nil {
		return nil, info, err
	}
	if len(c.Messages) == 0 {
		return nil, info, invalid("input", "Missing required parameter: 'input'.")
	}
	if err := tools(&c, r.Tools, r.ToolChoice); err != nil {
		return nil, info, err
	}
	if err := textFormat(&c, r.Text); err != nil {
		return nil, info, err
	}
	if err := reasoning(&c, r.Reasoning); err != nil {
		return nil, info, err
	}
	out, err := json.Marshal(&c)
	if err != nil {
		e := invalid("", "request cannot be translated")
		e.Err = err
		return nil, info, e
	}
	return out, info, nil
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

func instructions(c *chatwire.Request, raw json.RawMessage) *openai.Error {
	if isNull(raw) {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return invalid("instructions", "instructions must be a string")
	}
	if s != "" {
		c.Messages = append(c.Messages, chatwire.Message{Role: "system", Content: chatwire.String(s)})
	}
	return nil
}

// input converts the input string or items.
func input(c *chatwire.Request, raw json.RawMessage) *openai.Error {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return nil
	}
	if raw[0] == '"' {
		c.Messages = append(c.Messages, chatwire.Message{Role: "user", Content: raw})
		return nil
	}
	var items []item
	if err := json.Unmarshal(raw, &items); err != nil {
		return invalid("input", "input must be a string or an array of input items")
	}
	if c.Messages == nil {
		c.Messages = make([]chatwire.Message, 0, len(items)+1)
	}
	var f folder
	for i, it := range items {
		if err := f.add(c, &it); err != nil {
			err.Param = "input[" + strconv.Itoa(i) + "]" + err.Param
			return err
		}
	}
	f.flush(c)
	return nil
}

// folder gathers consecutive assistant-side items into one chat message.
type folder struct {
	active       bool
	text         strings.Builder
	reasoning    strings.Builder
	hasReasoning bool
	calls        []chatwire.ToolCall
}

func (f *folder) flush(c *chatwire.Request) {
	if !f.active {
		return
	}
	m := chatwire.Message{Role: "assistant", Content: chatwire.String(f.text.String()), ToolCalls: f.calls}
	if f.hasReasoning || len(f.calls) > 0 {
		m.ReasoningContent = chatwire.Ptr(f.reasoning.String())
	}
	c.Messages = append(c.Messages, m)
	*f = folder{}
}

func (f *folder) add(c *chatwire.Request, it *item) *openai.Error {
	typ := it.Type
	if typ == "" && it.Role != "" {
		typ = "message"
	}
	switch typ {
	case "reasoning":
		if f.text.Len() > 0 || len(f.calls) > 0 {
			f.flush(c)
		}
		f.active = true
		f.hasReasoning = true
		f.reasoning.WriteString(reasoningText(it))
	case "function_call":
		if it.CallID == "" || it.Name == "" {
			return invalid(".call_id", "function_call items need call_id and name")
		}
		f.active = true
		args := it.Arguments
		if args == "" {
			args = "{}"
		}
		f.calls = append(f.calls, chatwire.ToolCall{ID: it.CallID, Type: "function",
			Function: chatwire.Function{Name: it.Name, Arguments: args}})
	case "function_call_output":
		f.flush(c)
		if it.CallID == "" {
			return invalid(".call_id", "function_call_output items need call_id")
		}
		text, err := outputText(it.Output)
		if err != nil {
			return err
		}
		c.Messages = append(c.Messages, chatwire.Message{Role: "tool", ToolCallID: it.CallID, Content: chatwire.String(text)})
	case "message":
		return f.message(c, it)
	case "item_reference":
		return invalid(".type", "item_reference needs a stored response; it is not supported here")
	default:
		return invalid(".type", "input item type "+strconv.Quote(typ)+" is not supported")
	}
	return nil
}

// message converts a message item.
func (f *folder) message(c *chatwire.Request, it *item) *openai.Error {
	role := it.Role
	switch role {
	case "assistant":
		if len(f.calls) > 0 {
			f.flush(c)
		}
		parts, err := contentParts(it.Content)
		if err != nil {
			return err
		}
		f.active = true
		for _, p := range parts {
			f.text.WriteString(p.Text)
		}
		return nil
	case "developer":
		role = "system"
	case "user", "system":
	default:
		return invalid(".role", "role must be user, assistant, system or developer")
	}
	f.flush(c)
	raw := bytes.TrimSpace(it.Content)
	if len(raw) > 0 && raw[0] == '"' {
		c.Messages = append(c.Messages, chatwire.Message{Role: role, Content: raw})
		return nil
	}
	parts, err := contentParts(raw)
	if err != nil {
		return err
	}
	c.Messages = append(c.Messages, chatwire.Message{Role: role, Content: chatwire.Content(parts)})
	return nil
}

// contentParts reads a message's content: a string or input/output parts.
func contentParts(raw json.RawMessage) ([]chatwire.Part, *openai.Error) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, invalid(".content", "content must be a string or an array of parts")
		}
		return []chatwire.Part{{Text: s}}, nil
	}
	var ps []part
	if err := json.Unmarshal(raw, &ps); err != nil {
		return nil, invalid(".content", "content must be a string or an array of parts")
	}
	out := make([]chatwire.Part, 0, len(ps))
	for i, p := range ps {
		switch p.Type {
		case "input_text", "output_text", "text":
			out = append(out, chatwire.Part{Text: p.Text})
		case "refusal":
			out = append(out, chatwire.Part{Text: p.Refusal})
		case "input_image":
			if p.ImageURL == "" {
				return nil, invalid(".content["+strconv.Itoa(i)+"].image_url", "input_image needs image_url (file_id is not supported)")
			}
			out = append(out, chatwire.Part{ImageURL: p.ImageURL, Detail: p.Detail})
		default:
			return nil, invalid(".content["+strconv.Itoa(i)+"].type", "content part type "+strconv.Quote(p.Type)+" is not supported")
		}
	}
	return out, nil
}

// reasoningText is a reasoning item's text: its reasoning_text content,
// else its summary (what clients keep when content was not returned).
func reasoningText(it *item) string {
	var ps []part
	if !isNull(it.Content) && json.Unmarshal(it.Content, &ps) == nil && len(ps) > 0 {
		var sb strings.Builder
		for _, p := range ps {
			sb.WriteString(p.Text)
		}
		return sb.String()
	}
	var sb strings.Builder
	for i, p := range it.Summary {
		if i > 0 {
			sb.WriteString("\n\n")
		}
		sb.WriteString(p.Text)
	}
	return sb.String()
}

// outputText reads a function_call_output's output: a string or text parts.
func outputText(raw json.RawMessage) (string, *openai.Error) {
	parts, err := contentParts(raw)
	if err != nil {
		err.Param = ".output"
		return "", err
	}
	var sb strings.Builder
	for i, p := range parts {
		if p.ImageURL != "" {
			return "", invalid(".output", "images in function_call_output are not supported")
		}
		if i > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(p.Text)
	}
	return sb.String(), nil
}

// tools maps function tools and tool_choice.
func tools(c *chatwire.Request, raw, choice json.RawMessage) *openai.Error {
	if !isNull(raw) {
		var ts []functionTool
		if err := json.Unmarshal(raw, &ts); err != nil {
			return invalid("tools", "tools must be an array of tools")
		}
		c.Tools = make([]chatwire.Tool, 0, len(ts))
		for i, t := range ts {
			if t.Type != "function" {
				return invalid("tools["+strconv.Itoa(i)+"].type", "tool type "+strconv.Quote(t.Type)+" is not supported; only function tools are")
			}
			if t.Name == "" {
				return invalid("tools["+strconv.Itoa(i)+"].name", "Missing required parameter: 'tools["+strconv.Itoa(i)+"].name'.")
			}
			c.Tools = append(c.Tools, chatwire.Tool{Type: "function", Function: chatwire.FunctionDef{
				Name: t.Name, Description: t.Description, Parameters: t.Parameters, Strict: t.Strict}})
		}
	}
	choice = bytes.TrimSpace(choice)
	if isNull(choice) {
		return nil
	}
	if choice[0] == '"' {
		switch string(choice) {
		case `"auto"`, `"none"`, `"required"`:
			c.ToolChoice = choice
			return nil
		}
		return invalid("tool_choice", "tool_choice must be auto, none, required or a function")
	}
	var tc struct{ Type, Name string }
	if err := json.Unmarshal(choice, &tc); err != nil || tc.Type != "function" || tc.Name == "" {
		return invalid("tool_choice", "only {\"type\":\"function\",\"name\":...} tool choices are supported")
	}
	b := append([]byte(`{"type":"function","function":{"name":`), chatwire.String(tc.Name)...)
	c.ToolChoice = append(b, `}}`...)
	return nil
}

// textFormat maps text.format to response_format.
func textFormat(c *chatwire.Request, raw json.RawMessage) *openai.Error {
	if isNull(raw) {
		return nil
	}
	var t struct {
		Format *struct {
			Type        string          `json:"type"`
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Schema      json.RawMessage `json:"schema"`
			Strict      *bool           `json:"strict"`
		} `json:"format"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return invalid("text", "text must be an object")
	}
	if t.Format == nil {
		return nil
	}
	switch t.Format.Type {
	case "", "text":
	case "json_object":
		c.ResponseFormat = json.RawMessage(`{"type":"json_object"}`)
	case "json_schema":
		js := struct {
			Name        string          `json:"name"`
			Description string          `json:"description,omitempty"`
			Schema      json.RawMessage `json:"schema,omitempty"`
			Strict      *bool           `json:"strict,omitempty"`
		}{t.Format.Name, t.Format.Description, t.Format.Schema, t.Format.Strict}
		b, err := json.Marshal(struct {
			Type       string `json:"type"`
			JSONSchema any    `json:"json_schema"`
		}{"json_schema", js})
		if err != nil {
			return invalid("text.format.schema", "schema must be a JSON object")
		}
		c.ResponseFormat = b
	default:
		return invalid("text.format.type", "text.format.type must be text, json_object or json_schema")
	}
	return nil
}

// reasoning maps reasoning.effort: none turns thinking off, anything else
// is passed on as reasoning_effort.
func reasoning(c *chatwire.Request, raw json.RawMessage) *openai.Error {
	if isNull(raw) {
		return nil
	}
	var r struct {
		Effort string `json:"effort"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return invalid("reasoning", "reasoning must be an object")
	}
	switch r.Effort {
	case "":
	case "none":
		c.Thinking = thinkingDisabled
	default:
		c.ReasoningEffort = r.Effort
	}
	return nil
}
