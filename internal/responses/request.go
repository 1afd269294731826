package responses

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/dsgate/dsgate/internal/chatwire"
	"github.com/dsgate/dsgate/internal/jsonenc"
	"github.com/dsgate/dsgate/internal/openai"
)

// RequestInfo is what the response side needs to know about the request:
// the parameters a Response echoes back. Raw fields are the client's JSON
// and alias the request body.
type RequestInfo struct {
	// ID is the response's id, minted per response by the caller
	// (NewID): it is the stored response's key, and an upstream's chat
	// ids need not be unique (Ollama numbers them below 1000, a cached
	// answer repeats one, an engine may send none). Empty: resp_ and the
	// chat id.
	ID                 string
	Model              string
	Stream             bool
	Store              bool // as asked (default true); the caller decides whether it stores
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

	// CustomTools names the custom (freeform) tools. They are offered
	// upstream as functions taking {"input": string}; their calls come back
	// as custom_tool_call items.
	CustomTools []string
	// DroppedTools lists the hosted tool types (web_search, file_search,
	// local_shell, mcp, ...) that were not sent upstream: chat completions
	// upstreams cannot run them. The caller may log or audit them.
	DroppedTools []string
	// Chat is the chat body as the pipeline reads it (chatwire's Encode
	// read it as it wrote it): the pipeline takes it and does not read the
	// body again.
	Chat openai.Parsed
}

// custom reports whether name is a custom tool of the request.
func (i *RequestInfo) custom(name string) bool {
	for _, n := range i.CustomTools {
		if n == name {
			return true
		}
	}
	return false
}

// customParameters is the function schema a custom tool is offered with.
var customParameters = json.RawMessage(`{"type":"object","properties":{"input":{"type":"string","description":"The tool input, as free text."}},"required":["input"]}`)

// item is an input item as read by parseItem; Type (or, for messages,
// Role) says which fields are set.
type item struct {
	typ       string
	role      string
	content   []byte
	callID    string
	name      string
	arguments string
	input     string
	output    []byte
	summary   []byte
}

var thinkingDisabled = json.RawMessage(`{"type":"disabled"}`)

// ToChat translates a Responses request body into a chat completions body.
// Errors are *openai.Error values with status 400. Requests that need
// stored state (previous_response_id, item_reference) must be expanded by
// the caller first: ToChat reports item_reference as unsupported and
// leaves previous_response_id in RequestInfo. The body is validated and
// walked in one pass (no reflection).
func ToChat(body []byte) ([]byte, RequestInfo, error) { return toChat(body, true) }

// toChat is ToChat. With inWalk false it converts the input items and
// tools after the walk that checks the body, not in it, as ToChat did
// before (FuzzToChatInWalk holds the two ways to the same answers).
func toChat(body []byte, inWalk bool) ([]byte, RequestInfo, error) {
	body = chatwire.Trim(body)
	// One pass validates the body and reads its fields (the walk checks
	// the values it skips); a malformed body is refused as malformed
	// whatever else is wrong with it.
	malformed := func() error {
		var v struct{}
		return decodeError(json.Unmarshal(body, &v))
	}
	if len(body) == 0 || body[0] != '{' {
		if !jsonenc.Valid(body) {
			return nil, RequestInfo{}, malformed()
		}
		return nil, RequestInfo{}, invalid("", "request body must be a JSON object")
	}
	info := RequestInfo{Store: true}
	var input []byte
	hasMaxOutput := false
	var perr *openai.Error
	var conv conversion
	end, ok := jsonenc.Members(body, 0, 1, func(key []byte, at int) (int, bool) {
		if inWalk && at < len(body) && body[at] == '[' && (string(key) == "input" || string(key) == "tools") {
			w := chatwire.Walk{Check: true, Depth: 2}
			if string(key) == "tools" {
				end, ok := conv.tools(body, at, w)
				if ok {
					info.Tools = body[at:end]
				}
				return end, ok
			}
			end, ok := conv.input(body, at, w)
			if ok {
				input = body[at:end]
			}
			return end, ok
		}
		end, ok := jsonenc.Value(body, at, 1)
		if !ok {
			return end, false
		}
		v := body[at:end]
		if chatwire.Null(v) {
			return end, true
		}
		switch string(key) {
		case "model":
			info.Model, perr = str("model", v)
		case "input":
			input = v
		case "instructions":
			if v[0] != '"' {
				perr = invalid("instructions", "instructions must be a string")
			}
			info.Instructions = v
		case "max_output_tokens":
			info.MaxOutputTokens, perr = integer("max_output_tokens", v)
			hasMaxOutput = true
		case "temperature":
			info.Temperature, perr = number("temperature", v)
		case "top_p":
			info.TopP, perr = number("top_p", v)
		case "tools":
			info.Tools = v
		case "tool_choice":
			info.ToolChoice = v
		case "parallel_tool_calls":
			var b bool
			b, perr = boolean("parallel_tool_calls", v)
			info.ParallelToolCalls = &b
		case "text":
			info.Text = v
		case "reasoning":
			info.Reasoning = v
		case "stream":
			info.Stream, perr = boolean("stream", v)
		case "store":
			info.Store, perr = boolean("store", v)
		case "previous_response_id":
			info.PreviousResponseID, perr = str("previous_response_id", v)
		case "metadata":
			info.Metadata = v
		case "user":
			info.User, perr = str("user", v)
		}
		return end, perr == nil
	})
	if (!ok || end != len(body)) && !jsonenc.Valid(body) {
		return nil, RequestInfo{}, malformed()
	}
	if perr != nil {
		return nil, info, perr
	}
	if info.Model == "" {
		return nil, info, invalid("model", "Missing required parameter: 'model'.")
	}
	if err := checkMaxOutputTokens(info.MaxOutputTokens, hasMaxOutput); err != nil {
		return nil, info, err
	}
	c := chatwire.Request{
		Model: info.Model, MaxTokens: info.MaxOutputTokens, Temperature: info.Temperature, TopP: info.TopP,
		Stream: info.Stream, ParallelToolCalls: info.ParallelToolCalls, User: info.User,
	}
	if info.Stream {
		c.StreamOptions = &chatwire.StreamOptions{IncludeUsage: true}
	}
	if err := convertInput(&conv, input); err != nil {
		return nil, info, err
	}
	c.Messages = conv.chat.Messages
	if !chatwire.Null(info.Instructions) && len(info.Instructions) > 2 {
		c.Messages = slices.Insert(c.Messages, 0, chatwire.Message{Role: "system", Content: info.Instructions})
	}
	if len(c.Messages) == 0 {
		return nil, info, invalid("input", "Missing required parameter: 'input'.")
	}
	if err := tools(&c, &conv, &info); err != nil {
		return nil, info, err
	}
	if err := textFormat(&c, info.Text); err != nil {
		return nil, info, err
	}
	if err := reasoning(&c, info.Reasoning); err != nil {
		return nil, info, err
	}
	chat, req, readErr := c.Encode()
	info.Chat = openai.Parsed{Req: req, Err: readErr}
	return chat, info, nil
}

// toolString reads a tool's string field with read (chatwire.Name or
// Unquote); the parameter path is built only when it fails.
func toolString(param func(string) string, field string, v []byte, read func([]byte) (string, bool)) (string, *openai.Error) {
	s, ok := read(v)
	if !ok {
		return "", invalid(param(field), param(field)+" must be a string")
	}
	return s, nil
}

func str(param string, v []byte) (string, *openai.Error) {
	s, ok := chatwire.Unquote(v)
	if !ok {
		return "", invalid(param, param+" must be a string")
	}
	return s, nil
}

// name reads an enum string without allocating for known values.
func name(param string, v []byte) (string, *openai.Error) {
	s, ok := chatwire.Name(v)
	if !ok {
		return "", invalid(param, param+" must be a string")
	}
	return s, nil
}

// checkMaxOutputTokens applies the max_output_tokens bounds, before
// admission: a value the upstream would refuse must not reserve quota.
func checkMaxOutputTokens(n int, set bool) *openai.Error {
	switch {
	case set && n < 1:
		return invalid("max_output_tokens", "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 1, but got "+strconv.Itoa(n)+" instead.")
	case n > chatwire.MaxOutputTokens:
		return invalid("max_output_tokens", "Invalid 'max_output_tokens': integer above maximum value. Expected a value <= "+
			strconv.Itoa(chatwire.MaxOutputTokens)+", but got "+strconv.Itoa(n)+" instead.")
	}
	return nil
}

func integer(param string, v []byte) (int, *openai.Error) {
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0, invalid(param, param+" must be an integer")
	}
	return n, nil
}

func number(param string, v []byte) ([]byte, *openai.Error) {
	if c := v[0]; c != '-' && (c < '0' || c > '9') {
		return nil, invalid(param, param+" must be a number")
	}
	return v, nil
}

func boolean(param string, v []byte) (bool, *openai.Error) {
	switch string(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, invalid(param, param+" must be a boolean")
}

// conversion is ToChat's conversion of the input items and of the tools,
// done in the walk that checks the body when they are arrays: a coding
// agent's conversation and tool definitions, most of its request, are then
// passed over once, not checked and then walked again to be read. Faults
// are kept, not returned, so that ToChat reports them in the order it
// checks the fields whatever the order of the body's members.
type conversion struct {
	chat chatwire.Request // the converted items and tools

	inputWalked bool
	inputErr    *openai.Error

	toolsWalked     bool
	custom, dropped []string // RequestInfo.CustomTools and DroppedTools
	toolsErr        *openai.Error
}

// input converts the array of input items at b[at], walked by w, and
// returns the index just past it.
func (v *conversion) input(b []byte, at int, w chatwire.Walk) (end int, ok bool) {
	v.inputWalked = true
	v.chat.Messages = make([]chatwire.Message, 0, 4)
	var f folder
	end, ok, v.inputErr = walkArray(b, at, w, func(i, at int, in chatwire.Walk) (int, *openai.Error) {
		it, end, err := parseItem(b, at, in)
		if err == nil {
			err = f.add(&v.chat, &it)
		}
		if err != nil {
			err.Param = "input[" + strconv.Itoa(i) + "]" + err.Param
		}
		return end, err
	})
	if v.inputErr == nil {
		f.flush(&v.chat)
		f.flushImages(&v.chat)
	}
	return end, ok
}

// walkArray calls each for the elements of the array at b[at], walked by
// w (chatwire.Walk.Array), and returns the index just past it and the
// first fault (when ok is false, the array is malformed, and ToChat
// reports the body as such whatever the fault).
func walkArray(b []byte, at int, w chatwire.Walk, each func(i, at int, in chatwire.Walk) (int, *openai.Error)) (end int, ok bool, fault *openai.Error) {
	end, ok, _ = w.Array(b, at, func(i, at int, in chatwire.Walk) (int, error) {
		end, err := each(i, at, in)
		if err != nil {
			fault = err
			return end, err
		}
		return end, nil
	})
	return end, ok, fault
}

// convertInput converts the input string or items (converted in the walk
// of the body when they are an array).
func convertInput(v *conversion, raw []byte) *openai.Error {
	if chatwire.Null(raw) {
		return nil
	}
	if raw[0] == '"' {
		v.chat.Messages = append(make([]chatwire.Message, 0, 2), chatwire.Message{Role: "user", Content: raw})
		return nil
	}
	if raw[0] != '[' {
		return invalid("input", "input must be a string or an array of input items")
	}
	if !v.inputWalked {
		v.input(raw, 0, chatwire.Walk{})
	}
	return v.inputErr
}

// parseItem reads the input item at buf[at], walked by w, and returns the
// index just past it.
func parseItem(buf []byte, at int, w chatwire.Walk) (item, int, *openai.Error) {
	var it item
	if at >= len(buf) || buf[at] != '{' {
		return it, at, invalid("", "input items must be objects")
	}
	var perr *openai.Error
	end, err := w.Members(buf, at, func(key []byte, at int, in chatwire.Walk) (int, error) {
		val, end, err := in.Value(buf, at)
		if err != nil || perr != nil || chatwire.Null(val) {
			return end, err
		}
		switch string(key) {
		case "type":
			it.typ, perr = name(".type", val)
		case "role":
			it.role, perr = name(".role", val)
		case "content":
			it.content = val
		case "call_id":
			it.callID, perr = str(".call_id", val)
		case "name":
			it.name, perr = str(".name", val)
		case "arguments":
			it.arguments, perr = str(".arguments", val)
		case "input":
			it.input, perr = str(".input", val)
		case "output":
			it.output = val
		case "summary":
			it.summary = val
		}
		return end, nil
	})
	if err != nil && perr == nil {
		perr = invalid("", "input items must be JSON objects") // malformed: ToChat says so
	}
	return it, end, perr
}

// folder gathers consecutive assistant-side items into one chat message.
type folder struct {
	active       bool
	text         []chatwire.Part
	reasoning    strings.Builder
	hasReasoning bool
	calls        []chatwire.ToolCall
	images       []chatwire.Part // from tool outputs, for the next user message
}

// flushImages adds the images of the tool outputs just converted as a user
// message: chat tool messages carry text only.
func (f *folder) flushImages(c *chatwire.Request) {
	if len(f.images) == 0 {
		return
	}
	c.Messages = append(c.Messages, chatwire.Message{Role: "user", Content: chatwire.Content(f.images)})
	f.images = nil
}

func (f *folder) flush(c *chatwire.Request) {
	if !f.active {
		return
	}
	m := chatwire.Message{Role: "assistant", ToolCalls: f.calls}
	switch len(f.text) {
	case 0:
		m.Content = []byte(`""`)
	case 1:
		m.Content = f.text[0].Raw
		if m.Content == nil {
			m.Content = chatwire.String(f.text[0].Text)
		}
	default:
		var sb strings.Builder
		for i := range f.text {
			sb.WriteString(partText(&f.text[i]))
		}
		m.Content = chatwire.String(sb.String())
	}
	if f.hasReasoning || len(f.calls) > 0 {
		m.ReasoningContent = chatwire.Ptr(f.reasoning.String())
	}
	c.Messages = append(c.Messages, m)
	images := f.images
	*f = folder{images: images}
}

func partText(p *chatwire.Part) string {
	if p.Raw != nil {
		s, _ := chatwire.Unquote(p.Raw)
		return s
	}
	return p.Text
}

func (f *folder) add(c *chatwire.Request, it *item) *openai.Error {
	typ := it.typ
	if typ == "" && it.role != "" {
		typ = "message"
	}
	if typ != "function_call_output" && typ != "custom_tool_call_output" {
		f.flushImages(c)
	}
	switch typ {
	case "reasoning":
		if len(f.text) > 0 || len(f.calls) > 0 {
			f.flush(c)
		}
		f.active = true
		f.hasReasoning = true
		return reasoningText(&f.reasoning, it)
	case "function_call":
		if it.callID == "" || it.name == "" {
			return invalid(".call_id", "function_call items need call_id and name")
		}
		f.active = true
		args := it.arguments
		if args == "" {
			args = "{}"
		}
		f.calls = append(f.calls, chatwire.ToolCall{ID: it.callID, Type: "function",
			Function: chatwire.Function{Name: it.name, Arguments: args}})
	case "custom_tool_call":
		if it.callID == "" || it.name == "" {
			return invalid(".call_id", "custom_tool_call items need call_id and name")
		}
		f.active = true
		args := append([]byte(`{"input":`), chatwire.String(it.input)...)
		f.calls = append(f.calls, chatwire.ToolCall{ID: it.callID, Type: "function",
			Function: chatwire.Function{Name: it.name, Arguments: string(append(args, '}'))}})
	case "function_call_output", "custom_tool_call_output":
		f.flush(c)
		if it.callID == "" {
			return invalid(".call_id", "function_call_output items need call_id")
		}
		content, images, err := outputContent(it.output, it.callID)
		if err != nil {
			return err
		}
		f.images = append(f.images, images...)
		c.Messages = append(c.Messages, chatwire.Message{Role: "tool", ToolCallID: it.callID, Content: content})
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
	role := it.role
	switch role {
	case "assistant":
		if len(f.calls) > 0 {
			f.flush(c)
		}
		parts, err := contentParts(it.content)
		if err != nil {
			return err
		}
		f.active = true
		f.text = append(f.text, parts...)
		return nil
	case "developer":
		role = "system"
	case "user", "system":
	default:
		return invalid(".role", "role must be user, assistant, system or developer")
	}
	f.flush(c)
	if !chatwire.Null(it.content) && it.content[0] == '"' {
		c.Messages = append(c.Messages, chatwire.Message{Role: role, Content: it.content})
		return nil
	}
	parts, err := contentParts(it.content)
	if err != nil {
		return err
	}
	c.Messages = append(c.Messages, chatwire.Message{Role: role, Content: chatwire.Content(parts)})
	return nil
}

// contentParts reads a message's content: a string or input/output parts.
func contentParts(raw []byte) ([]chatwire.Part, *openai.Error) {
	if chatwire.Null(raw) {
		return nil, nil
	}
	if raw[0] == '"' {
		return []chatwire.Part{{Raw: raw}}, nil
	}
	if raw[0] != '[' {
		return nil, invalid(".content", "content must be a string or an array of parts")
	}
	var out []chatwire.Part
	var perr *openai.Error
	_ = chatwire.Elements(raw, func(i, at int) (int, error) {
		p, end, err := parsePart(raw, at)
		if err != nil {
			err.Param = ".content[" + strconv.Itoa(i) + "]" + err.Param
			perr = err
			return end, err // the walk stops at the first fault
		}
		out = append(out, p)
		return end, nil
	})
	return out, perr
}

// parsePart reads the content part at buf[at] and returns the index just
// past it.
func parsePart(buf []byte, at int) (chatwire.Part, int, *openai.Error) {
	var typ, url, detail string
	var text []byte
	var perr *openai.Error
	if buf[at] != '{' {
		return chatwire.Part{}, at, invalid("", "content parts must be objects")
	}
	end, _ := chatwire.ObjectAt(buf, at, func(key, val []byte) error {
		if perr != nil || chatwire.Null(val) {
			return nil
		}
		switch string(key) {
		case "type":
			typ, perr = name(".type", val)
		case "text", "refusal":
			if val[0] != '"' {
				perr = invalid("."+string(key), string(key)+" must be a string")
			}
			text = val
		case "image_url":
			url, perr = str(".image_url", val)
		case "detail":
			detail, perr = str(".detail", val)
		}
		return nil
	})
	if perr != nil {
		return chatwire.Part{}, end, perr
	}
	switch typ {
	case "input_text", "output_text", "text", "refusal", "reasoning_text", "summary_text":
		if text == nil {
			text = []byte(`""`)
		}
		return chatwire.Part{Raw: text}, end, nil
	case "input_image":
		if url == "" {
			return chatwire.Part{}, end, invalid(".image_url", "input_image needs image_url (file_id is not supported)")
		}
		return chatwire.Part{ImageURL: url, Detail: detail}, end, nil
	}
	return chatwire.Part{}, end, invalid(".type", "content part type "+strconv.Quote(typ)+" is not supported")
}

// reasoningText appends a reasoning item's text: its reasoning_text
// content, else its summary (what clients keep when content was not
// returned), summaries separated by blank lines.
func reasoningText(sb *strings.Builder, it *item) *openai.Error {
	src, sep := it.content, ""
	if chatwire.Null(src) || len(src) <= 2 {
		src, sep = it.summary, "\n\n"
	}
	parts, err := contentParts(src)
	if err != nil {
		return err
	}
	for i := range parts {
		if i > 0 {
			sb.WriteString(sep)
		}
		sb.WriteString(partText(&parts[i]))
	}
	return nil
}

// outputContent reads a function_call_output's output (a string or text
// and image parts) as the string content of a chat tool message. Images
// are returned apart, for the user message that follows the tool
// messages; the tool message says so.
func outputContent(raw []byte, callID string) ([]byte, []chatwire.Part, *openai.Error) {
	if chatwire.Null(raw) {
		return []byte(`""`), nil, nil
	}
	if raw[0] == '"' {
		return raw, nil, nil
	}
	parts, err := contentParts(raw)
	if err != nil {
		err.Param = ".output" + strings.TrimPrefix(err.Param, ".content")
		return nil, nil, err
	}
	var sb strings.Builder
	var images []chatwire.Part
	for i := range parts {
		if parts[i].ImageURL != "" {
			images = append(images, parts[i])
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(partText(&parts[i]))
	}
	if len(images) > 0 {
		if sb.Len() > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString("[" + strconv.Itoa(len(images)) + " image(s) from this tool output are attached to the next user message]")
		images = append([]chatwire.Part{{Text: "[image(s) from tool output " + callID + "]"}}, images...)
	}
	return chatwire.String(sb.String()), images, nil
}

// tools converts the array of tool definitions at b[at], walked by w, and
// returns the index just past it: function and custom tools; hosted tools
// are dropped (see RequestInfo.DroppedTools).
func (v *conversion) tools(b []byte, at int, w chatwire.Walk) (end int, ok bool) {
	// A body may give tools twice (this API has no key guard): the last
	// array is the tools, as a walk after the body's reads them.
	v.toolsWalked, v.chat.Tools, v.custom, v.dropped = true, nil, nil, nil
	end, ok, v.toolsErr = walkArray(b, at, w, func(i, at int, in chatwire.Walk) (int, *openai.Error) {
		return v.tool(b, i, at, in)
	})
	return end, ok
}

// tool converts tool i, the definition at b[at] walked by w, and returns
// the index just past it.
func (v *conversion) tool(b []byte, i, at int, w chatwire.Walk) (int, *openai.Error) {
	// The parameter path is built only for an error message.
	param := func(field string) string { return "tools[" + strconv.Itoa(i) + "]" + field }
	var t chatwire.FunctionDef
	var typ string
	if at >= len(b) || b[at] != '{' {
		return at, invalid(param(""), "tools must be objects")
	}
	var perr *openai.Error
	end, err := w.Members(b, at, func(key []byte, at int, in chatwire.Walk) (int, error) {
		val, end, err := in.Value(b, at)
		if err != nil || perr != nil || chatwire.Null(val) {
			return end, err
		}
		switch string(key) {
		case "type":
			typ, perr = toolString(param, ".type", val, chatwire.Name)
		case "name":
			t.Name, perr = toolString(param, ".name", val, chatwire.Unquote)
		case "description":
			if val[0] != '"' {
				perr = invalid(param(".description"), param(".description")+" must be a string")
			}
			t.Description = val
		case "parameters":
			t.Parameters = val
		case "strict":
			var b bool
			if b, perr = boolean("strict", val); perr != nil {
				perr = invalid(param(".strict"), param(".strict")+" must be a boolean")
			}
			t.Strict = &b
		}
		return end, nil
	})
	switch {
	case err != nil && perr == nil:
		perr = invalid(param(""), "tools must be JSON objects") // malformed: ToChat says so
	case perr != nil:
	case typ != "function" && typ != "custom":
		v.dropped = append(v.dropped, typ)
	case t.Name == "":
		perr = invalid(param(".name"), "Missing required parameter: '"+param(".name")+"'.")
	case typ == "custom":
		v.custom = append(v.custom, t.Name)
		t.Parameters, t.Strict = customParameters, nil
		v.chat.Tools = append(v.chat.Tools, chatwire.Tool{Type: "function", Function: t})
	case !jsonenc.NestsWithin(t.Parameters, chatwire.ToolParametersDepth):
		perr = invalid(param(".parameters"), param(".parameters")+" is nested too deeply")
	default:
		v.chat.Tools = append(v.chat.Tools, chatwire.Tool{Type: "function", Function: t})
	}
	return end, perr
}

// tools maps the tool definitions (converted in the walk of the body when
// they are an array) and tool_choice.
func tools(c *chatwire.Request, v *conversion, info *RequestInfo) *openai.Error {
	raw, choice := info.Tools, info.ToolChoice
	if !chatwire.Null(raw) {
		if raw[0] != '[' {
			return invalid("tools", "tools must be an array of tools")
		}
		if !v.toolsWalked {
			v.tools(raw, 0, chatwire.Walk{})
		}
		c.Tools, info.CustomTools, info.DroppedTools = v.chat.Tools, v.custom, v.dropped
		if v.toolsErr != nil {
			return v.toolsErr
		}
	}
	if chatwire.Null(choice) {
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
	var typ, name string
	if choice[0] == '{' {
		_ = chatwire.Object(choice, func(key, val []byte) error {
			switch string(key) {
			case "type":
				typ, _ = chatwire.Unquote(val)
			case "name":
				name, _ = chatwire.Unquote(val)
			}
			return nil
		})
	}
	if typ != "function" && typ != "custom" || name == "" {
		return invalid("tool_choice", `only {"type":"function"|"custom","name":...} tool choices are supported`)
	}
	b := append([]byte(`{"type":"function","function":{"name":`), chatwire.String(name)...)
	c.ToolChoice = append(b, `}}`...)
	return nil
}

// textFormat maps text.format to response_format.
func textFormat(c *chatwire.Request, raw []byte) *openai.Error {
	if chatwire.Null(raw) {
		return nil
	}
	if raw[0] != '{' {
		return invalid("text", "text must be an object")
	}
	var format []byte
	_ = chatwire.Object(raw, func(key, val []byte) error {
		if string(key) == "format" {
			format = val
		}
		return nil
	})
	if chatwire.Null(format) {
		return nil
	}
	if format[0] != '{' {
		return invalid("text.format", "text.format must be an object")
	}
	var typ, name, desc string
	var schema, strict []byte
	_ = chatwire.Object(format, func(key, val []byte) error {
		if chatwire.Null(val) {
			return nil
		}
		switch string(key) {
		case "type":
			typ, _ = chatwire.Unquote(val)
		case "name":
			name, _ = chatwire.Unquote(val)
		case "description":
			desc, _ = chatwire.Unquote(val)
		case "schema":
			schema = val
		case "strict":
			strict = val
		}
		return nil
	})
	switch typ {
	case "text":
	case "json_object":
		c.ResponseFormat = json.RawMessage(`{"type":"json_object"}`)
	case "json_schema":
		b := append([]byte(`{"type":"json_schema","json_schema":{"name":`), chatwire.String(name)...)
		if desc != "" {
			b = append(append(b, `,"description":`...), chatwire.String(desc)...)
		}
		if schema != nil {
			b = append(append(b, `,"schema":`...), schema...)
		}
		if strict != nil {
			b = append(append(b, `,"strict":`...), strict...)
		}
		c.ResponseFormat = append(b, `}}`...)
	default:
		return invalid("text.format.type", "text.format.type must be text, json_object or json_schema")
	}
	return nil
}

// reasoning maps reasoning.effort: none turns thinking off, anything else
// is passed on as reasoning_effort.
func reasoning(c *chatwire.Request, raw []byte) *openai.Error {
	if chatwire.Null(raw) {
		return nil
	}
	if raw[0] != '{' {
		return invalid("reasoning", "reasoning must be an object")
	}
	var effort string
	_ = chatwire.Object(raw, func(key, val []byte) error {
		if string(key) == "effort" && !chatwire.Null(val) {
			effort, _ = chatwire.Unquote(val)
		}
		return nil
	})
	switch effort {
	case "":
	case "none":
		c.Thinking = thinkingDisabled
	default:
		c.ReasoningEffort = effort
	}
	return nil
}
