package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/dsgate/dsgate/internal/chatwire"
	"github.com/dsgate/dsgate/internal/jsonenc"
	"github.com/dsgate/dsgate/internal/openai"
)

// RequestInfo is what the response side needs to know about the request.
type RequestInfo struct {
	Model    string // as the client asked for it
	Stream   bool
	Thinking bool // the client enabled thinking
	// Prefill is the text of a trailing assistant message: the answer
	// continues it and does not repeat it. Some engines (llama.cpp's
	// server) repeat it at the start of their answer; the translators
	// drop it there (dropPrefill).
	Prefill string
	// DroppedTools lists the Anthropic server and built-in tool types
	// (web_search_..., bash_..., text_editor_...) that were not sent
	// upstream: a chat completions upstream cannot run them. The caller may
	// log or audit them.
	DroppedTools []string
	// Chat is the chat body as the pipeline reads it (chatwire's Encode
	// read it as it wrote it): the pipeline takes it and does not read the
	// body again.
	Chat openai.Parsed
}

// request is a Messages request body as read by parse. Byte slices are
// raw JSON values aliasing the body.
type request struct {
	model        string
	maxTokens    int
	hasMaxTokens bool
	system       []byte
	messages     []byte
	stop         []string
	stream       bool
	temperature  []byte
	topP         []byte
	tools        []byte
	toolChoice   []byte
	thinking     string
	effort       string
}

// block is a content block as read by parseBlock: strings that are copied
// to the chat body stay raw JSON string tokens.
type block struct {
	typ       string
	text      []byte // raw string
	thinking  []byte // raw string
	signature []byte // raw string
	id        string
	name      string
	input     []byte
	toolUseID string
	content   []byte
	source    []byte
}

var (
	thinkingEnabled  = json.RawMessage(`{"type":"enabled"}`)
	thinkingDisabled = json.RawMessage(`{"type":"disabled"}`)
)

// ToChat translates a Messages request body into a chat completions body.
// Errors are *Error values (status 400) naming what is wrong. The body is
// validated once and walked once (no reflection): this runs on every
// request.
func ToChat(body []byte) ([]byte, RequestInfo, error) { return toChat(body, true) }

// toChat is ToChat. With inWalk false it converts the messages and tools
// after the walk that checks the body, not in it, as ToChat did before
// (FuzzToChatInWalk holds the two ways to the same answers).
func toChat(body []byte, inWalk bool) ([]byte, RequestInfo, error) {
	var conv conversion
	walkConv := &conv
	if !inWalk {
		walkConv = nil
	}
	r, err := parse(body, walkConv)
	if err != nil {
		return nil, RequestInfo{}, err
	}
	info := RequestInfo{Model: r.model, Stream: r.stream}
	if r.model == "" {
		return nil, info, invalid("model: field required")
	}
	if !r.hasMaxTokens {
		return nil, info, invalid("max_tokens: field required")
	}
	if err := checkMaxTokens(r.maxTokens); err != nil {
		return nil, info, err
	}
	c := chatwire.Request{
		Model:       r.model,
		MaxTokens:   r.maxTokens,
		Temperature: r.temperature,
		TopP:        r.topP,
		Stop:        r.stop,
		Stream:      r.stream,
	}
	if r.stream {
		c.StreamOptions = &chatwire.StreamOptions{IncludeUsage: true}
	}
	sys, err := system(r.system)
	if err != nil {
		return nil, info, err
	}
	if chatwire.Null(r.messages) {
		return nil, info, invalid("messages: field required")
	}
	if !conv.walked { // not an array: the walk says what is wrong
		conv.messages(r.messages, 0, chatwire.Walk{})
	}
	if conv.err != nil {
		return nil, info, conv.err
	}
	if conv.n == 0 {
		return nil, info, invalid("messages: at least one message is required")
	}
	c.Messages = conv.chat.Messages
	if sys.Role != "" {
		c.Messages = slices.Insert(c.Messages, 0, sys)
	}
	joinSystem(&c, conv.late.Messages)
	if n := len(c.Messages); n > 0 && c.Messages[n-1].Role == "assistant" {
		if last := c.Messages[n-1].Content; len(last) > 0 && last[0] == '"' {
			info.Prefill, _ = chatwire.Unquote(last)
		}
	}
	if err := tools(&c, r, &conv, &info); err != nil {
		return nil, info, err
	}
	switch r.thinking {
	case "":
	case "enabled", "adaptive":
		c.Thinking = thinkingEnabled
		info.Thinking = true
	case "disabled":
		c.Thinking = thinkingDisabled
	default:
		return nil, info, invalid("thinking.type: must be enabled, adaptive or disabled")
	}
	c.ReasoningEffort = r.effort
	chat, req, readErr := c.Encode()
	info.Chat = openai.Parsed{Req: req, Err: readErr}
	return chat, info, nil
}

// asError returns err as an *Error, or a 400 with msg for a walker error.
func asError(err error, msg string) *Error {
	if e, ok := err.(*Error); ok {
		return e
	}
	return &Error{Status: 400, Type: "invalid_request_error", Message: msg, Err: err}
}

// Key smuggling (see openai's notes): a request for a deepseek upstream
// is relayed as it came, and DeepSeek's JSON parser unescapes keys and
// keeps the last duplicate, where this parser matches the keys' bytes. A
// body whose {"max_tokens":16,"max_tok\u0065ns":100000} dsgate admitted
// as 16 tokens would be answered with 100,000. So the objects dsgate reads
// (the request, each message) refuse a key written with an escape, two
// keys equal up to case, and a case variant of a key they read.
var (
	requestKeys = []string{"model", "max_tokens", "system", "messages", "stop_sequences", "stream",
		"temperature", "top_p", "tools", "tool_choice", "thinking", "output_config"}
	messageKeys = []string{"role", "content"}
)

// checkKey refuses key, the next key of an object g guards, when it is
// smuggled (see above): written with an escape, or ambiguous with another
// (openai.KeyGuard). path names the object. It runs in the walk that
// reads the object (a walk of its own per object was a tenth of a
// request's translation).
func checkKey(g *openai.KeyGuard, path string, key []byte) *Error {
	if bytes.IndexByte(key, '\\') >= 0 {
		return invalid(path + string(key) + ": a key must be written without escapes")
	}
	if err := g.Check(key); err != nil {
		var oe *openai.Error
		if errors.As(err, &oe) {
			return invalid(oe.Param + ": " + oe.Message)
		}
		return asError(err, "invalid key")
	}
	return nil
}

// parse validates body and reads the top-level fields, in one pass: the
// walk checks the values it skips (a pass to validate the body first, then
// one to walk it, were a tenth of a coding agent's request's translation).
// With conv, the messages are converted in that pass too (conversion).
// A malformed body is refused as malformed whatever else is wrong with it.
func parse(body []byte, conv *conversion) (*request, *Error) {
	body = chatwire.Trim(body)
	r, err := walkRequest(body, conv)
	if err != nil && !jsonenc.Valid(body) {
		var v struct{}
		return nil, decodeError(json.Unmarshal(body, &v))
	}
	return r, err
}

// walkRequest is parse's walk of the trimmed body.
func walkRequest(body []byte, conv *conversion) (*request, *Error) {
	if len(body) == 0 || body[0] != '{' {
		return nil, invalid("request body must be a JSON object")
	}
	r := &request{}
	guard := openai.NewKeyGuard("", requestKeys)
	var err *Error
	end, ok := jsonenc.Members(body, 0, 1, func(key []byte, at int) (int, bool) {
		if conv != nil && (string(key) == "messages" || string(key) == "tools") && at < len(body) && body[at] == '[' {
			if err = checkKey(&guard, "", key); err != nil {
				return at, false
			}
			w := chatwire.Walk{Check: true, Depth: 2}
			if string(key) == "tools" {
				end, ok := conv.tools(body, at, w)
				if ok {
					r.tools = body[at:end]
				}
				return end, ok
			}
			end, ok := conv.messages(body, at, w)
			if ok {
				r.messages = body[at:end]
			}
			return end, ok
		}
		end, ok := jsonenc.Value(body, at, 1)
		if !ok {
			return end, false
		}
		if err = checkKey(&guard, "", key); err != nil {
			return end, false
		}
		v := body[at:end]
		if chatwire.Null(v) {
			return end, true
		}
		switch string(key) {
		case "model":
			r.model, err = str("model", v)
		case "max_tokens":
			r.maxTokens, err = integer("max_tokens", v)
			r.hasMaxTokens = true
		case "system":
			r.system = v
		case "messages":
			r.messages = v
		case "stop_sequences":
			r.stop, err = stringList("stop_sequences", v)
		case "stream":
			r.stream, err = boolean("stream", v)
		case "temperature":
			r.temperature, err = number("temperature", v)
		case "top_p":
			r.topP, err = number("top_p", v)
		case "tools":
			r.tools = v
		case "tool_choice":
			r.toolChoice = v
		case "thinking":
			r.thinking, err = member("thinking", v, "type")
		case "output_config":
			r.effort, err = member("output_config", v, "effort")
		}
		return end, err == nil
	})
	switch {
	case err != nil:
		return nil, err
	case !ok || end != len(body):
		return nil, invalid("request body must be a JSON object") // malformed: parse says so
	}
	return r, nil
}

func str(key string, v []byte) (string, *Error) {
	s, ok := chatwire.Unquote(v)
	if !ok {
		return "", invalid(key + ": expected string")
	}
	return s, nil
}

// name reads an enum string without allocating for known values.
func name(key string, v []byte) (string, *Error) {
	s, ok := chatwire.Name(v)
	if !ok {
		return "", invalid(key + ": expected string")
	}
	return s, nil
}

// checkMaxTokens applies the max_tokens bounds, before admission.
func checkMaxTokens(n int) *Error {
	switch {
	case n < 1:
		return invalid("max_tokens: must be at least 1")
	case n > chatwire.MaxOutputTokens:
		return invalid("max_tokens: must be at most " + strconv.Itoa(chatwire.MaxOutputTokens))
	}
	return nil
}

func integer(key string, v []byte) (int, *Error) {
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0, invalid(key + ": expected integer")
	}
	return n, nil
}

func number(key string, v []byte) ([]byte, *Error) {
	if c := v[0]; c != '-' && (c < '0' || c > '9') {
		return nil, invalid(key + ": expected number")
	}
	return v, nil
}

func boolean(key string, v []byte) (bool, *Error) {
	switch string(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, invalid(key + ": expected boolean")
}

func stringList(key string, v []byte) ([]string, *Error) {
	var out []string
	err := chatwire.Array(v, func(i int, e []byte) error {
		s, err := str(key+"."+strconv.Itoa(i), e)
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, asError(err, key+": expected an array of strings")
	}
	return out, nil
}

// member reads the string field name of the object v (key names v).
func member(key string, v []byte, field string) (string, *Error) {
	var out string
	err := chatwire.Object(v, func(k, val []byte) error {
		if string(k) != field || chatwire.Null(val) {
			return nil
		}
		s, err := name(key+"."+field, val)
		if err != nil {
			return err
		}
		out = s
		return nil
	})
	if err != nil {
		return "", asError(err, key+": expected object")
	}
	return out, nil
}

// parseBlock reads the content block at buf[at], walked by w, and returns
// the index just past it.
func parseBlock(buf []byte, at int, w chatwire.Walk) (block, int, *Error) {
	var b block
	end, err := w.Members(buf, at, func(key []byte, at int, in chatwire.Walk) (int, error) {
		val, end, werr := in.Value(buf, at)
		if werr != nil || chatwire.Null(val) {
			return end, werr
		}
		var err *Error
		switch string(key) {
		case "type":
			b.typ, err = name("type", val)
		case "text":
			b.text, err = rawString("text", val)
		case "thinking":
			b.thinking, err = rawString("thinking", val)
		case "signature":
			b.signature, err = rawString("signature", val)
		case "id":
			b.id, err = str("id", val)
		case "name":
			b.name, err = str("name", val)
		case "input":
			b.input = val
		case "tool_use_id":
			b.toolUseID, err = str("tool_use_id", val)
		case "content":
			b.content = val
		case "source":
			b.source = val
		}
		if err != nil {
			return end, err
		}
		return end, nil
	})
	if err != nil {
		return b, end, asError(err, "expected a content block object")
	}
	return b, end, nil
}

func rawString(key string, v []byte) ([]byte, *Error) {
	if v[0] != '"' {
		return nil, invalid(key + ": expected string")
	}
	return v, nil
}

// unquote decodes a raw string read by parseBlock ("" when absent).
func unquote(raw []byte) string {
	s, _ := chatwire.Unquote(raw)
	return s
}

// blocks calls fn for each block of the content array at buf[at], walked
// by w, and returns the index just past it.
func blocks(buf []byte, at int, w chatwire.Walk, fn func(i int, b block) *Error) (int, *Error) {
	end, err := w.Elements(buf, at, func(i, at int, in chatwire.Walk) (int, error) {
		b, end, err := parseBlock(buf, at, in)
		if err == nil {
			err = fn(i, b)
		}
		if err != nil {
			if !strings.HasPrefix(err.Message, "content.") {
				err.Message = "content." + strconv.Itoa(i) + "." + err.Message
			}
			return end, err
		}
		return end, nil
	})
	if err != nil {
		return end, asError(err, "content: must be a string or an array of content blocks")
	}
	return end, nil
}

// system is the system prompt's message, a string or an array of text
// blocks (no message, no Role, when raw is null).
func system(raw []byte) (chatwire.Message, *Error) {
	if chatwire.Null(raw) {
		return chatwire.Message{}, nil
	}
	if raw[0] == '"' {
		return chatwire.Message{Role: "system", Content: raw}, nil
	}
	var parts []chatwire.Part
	_, err := blocks(raw, 0, chatwire.Walk{}, func(i int, b block) *Error {
		if b.typ != "text" {
			return invalid("type: must be text")
		}
		parts = append(parts, chatwire.Part{Raw: b.text})
		return nil
	})
	if err != nil {
		err.Message = "system." + strings.TrimPrefix(err.Message, "content.")
		return chatwire.Message{}, err
	}
	return chatwire.Message{Role: "system", Content: chatwire.Content(parts)}, nil
}

// joinSystem puts the system messages found among the messages (late, in
// their order) after the leading ones, in one move: moving each as it was
// found cost a shift of the whole conversation per system message, which a
// body of thousands of them made quadratic.
func joinSystem(c *chatwire.Request, late []chatwire.Message) {
	if len(late) == 0 {
		return
	}
	at := 0
	for at < len(c.Messages) && c.Messages[at].Role == "system" {
		at++
	}
	c.Messages = slices.Insert(c.Messages, at, late...)
}

// conversion is ToChat's conversion of the messages and of the tools,
// done in parse's walk of the body (the walk that checks them): a coding
// agent's conversation and tool definitions, most of its request, are
// then passed over once, not checked and then walked again to be read.
// Faults are kept, not returned, so that ToChat reports them in the order
// it checks the fields whatever the order of the body's members.
type conversion struct {
	chat chatwire.Request // the converted messages and tools

	walked bool             // the messages
	late   chatwire.Request // the system messages among them (joinSystem)
	n      int              // messages
	err    *Error           // the messages' first fault

	toolsWalked bool
	dropped     []string // RequestInfo.DroppedTools
	toolsErr    *Error
}

// messages converts the array of messages at b[at] with the walk w and
// returns the index just past it.
func (v *conversion) messages(b []byte, at int, w chatwire.Walk) (end int, ok bool) {
	v.walked, v.n, v.late = true, 0, chatwire.Request{}
	v.chat.Messages = make([]chatwire.Message, 0, 4)
	end, ok, v.err = walkArray(b, at, w, "messages", func(at int, in chatwire.Walk) (int, *Error) {
		v.n++
		return convert(&v.chat, &v.late, b, at, in)
	})
	return end, ok
}

// tools converts the array of tool definitions at b[at] with the walk w
// and returns the index just past it.
func (v *conversion) tools(b []byte, at int, w chatwire.Walk) (end int, ok bool) {
	v.toolsWalked, v.chat.Tools, v.dropped = true, nil, nil // the last array, were there two (the key guard refuses them)
	end, ok, v.toolsErr = walkArray(b, at, w, "tools", func(at int, in chatwire.Walk) (int, *Error) {
		return v.tool(b, at, in)
	})
	return end, ok
}

// walkArray calls each for the elements of the array at b[at] (its name
// is what, for errors), walked by w (chatwire.Walk.Array), and returns the
// index just past it and the first fault.
func walkArray(b []byte, at int, w chatwire.Walk, what string, each func(at int, in chatwire.Walk) (int, *Error)) (end int, ok bool, fault *Error) {
	end, ok, err := w.Array(b, at, func(i, at int, in chatwire.Walk) (int, error) {
		end, err := each(at, in)
		if err != nil {
			err.Message = what + "." + strconv.Itoa(i) + "." + err.Message
			return end, err
		}
		return end, nil
	})
	if err != nil {
		fault = asError(err, what+": expected an array of "+what)
	}
	return end, ok, fault
}

// convert appends the chat messages for the Messages message at buf[at]
// to c, or, for a system message, to late (joinSystem), and returns the
// index just past it. A message whose role comes before its content (as
// every SDK writes one) has its blocks converted as w walks them.
func convert(c, late *chatwire.Request, buf []byte, at int, w chatwire.Walk) (int, *Error) {
	var role string
	var content []byte
	converted := false
	var contentErr *Error
	guard := openai.NewKeyGuard("", messageKeys)
	end, err := w.Members(buf, at, func(key []byte, at int, in chatwire.Walk) (int, error) {
		if err := checkKey(&guard, "", key); err != nil {
			return at, err
		}
		if string(key) == "content" && (role == "user" || role == "assistant") && at < len(buf) && buf[at] == '[' {
			converted = true
			end, err := blocksOf(c, role, buf, at, in)
			if err == nil {
				return end, nil
			}
			// Reported after the message's other members are read, as
			// when the content is converted after them.
			contentErr = err
			_, end, verr := in.Value(buf, at)
			return end, verr
		}
		val, end, werr := in.Value(buf, at)
		if werr != nil {
			return end, werr
		}
		var err *Error
		switch string(key) {
		case "role":
			role, err = name("role", val)
		case "content":
			content = val
		}
		if err != nil {
			return end, err
		}
		return end, nil
	})
	if err != nil {
		return end, asError(err, "expected a message object")
	}
	if converted {
		if contentErr != nil {
			return end, contentErr
		}
		return end, nil
	}
	if role == "system" {
		// Claude Code sends a system message among the messages (its
		// agent list). Chat templates want system text first, and the
		// turn order must stay user/assistant: it joins the leading
		// system messages.
		m, err := system(content)
		if m.Role != "" {
			late.Messages = append(late.Messages, m)
		}
		return end, err
	}
	if role != "user" && role != "assistant" {
		return end, invalid("role: must be user, assistant or system")
	}
	if chatwire.Null(content) {
		return end, invalid("content: field required")
	}
	if content[0] == '"' {
		c.Messages = append(c.Messages, chatwire.Message{Role: role, Content: content})
		return end, nil
	}
	if _, err := blocksOf(c, role, content, 0, chatwire.Walk{}); err != nil {
		return end, err
	}
	return end, nil
}

// blocksOf converts the content blocks of a user or assistant message,
// the array at buf[at] that w walks, and returns the index just past it.
func blocksOf(c *chatwire.Request, role string, buf []byte, at int, w chatwire.Walk) (int, *Error) {
	if role == "assistant" {
		return assistant(c, buf, at, w)
	}
	return user(c, buf, at, w)
}

// user appends tool results as tool messages, then the rest as one user
// message. Chat completions wants tool results right after the assistant
// message that called the tools, which is where Messages puts them too.
func user(c *chatwire.Request, buf []byte, at int, w chatwire.Walk) (int, *Error) {
	var parts, images []chatwire.Part
	end, err := blocks(buf, at, w, func(i int, b block) *Error {
		switch b.typ {
		case "text":
			parts = append(parts, chatwire.Part{Raw: b.text})
		case "image":
			p, err := image(b)
			if err != nil {
				return err
			}
			parts = append(parts, p)
		case "tool_result":
			if b.toolUseID == "" {
				return invalid("tool_use_id: field required")
			}
			text, imgs, err := resultContent(b.content, b.toolUseID)
			if err != nil {
				return err
			}
			images = append(images, imgs...)
			c.Messages = append(c.Messages, chatwire.Message{Role: "tool", ToolCallID: b.toolUseID, Content: text})
		default:
			return invalid("type: " + b.typ + " is not supported in user messages")
		}
		return nil
	})
	if err != nil {
		return end, err
	}
	parts = append(images, parts...)
	if len(parts) > 0 {
		c.Messages = append(c.Messages, chatwire.Message{Role: "user", Content: chatwire.Content(parts)})
	}
	return end, nil
}

// image turns an image block's source into an image URL part.
func image(b block) (chatwire.Part, *Error) {
	if chatwire.Null(b.source) {
		return chatwire.Part{}, invalid("source: field required")
	}
	var typ, mediaType, data, url string
	err := chatwire.Object(b.source, func(key, val []byte) error {
		var err *Error
		switch string(key) {
		case "type":
			typ, err = name("source.type", val)
		case "media_type":
			mediaType, err = str("source.media_type", val)
		case "data":
			data, err = str("source.data", val)
		case "url":
			url, err = str("source.url", val)
		}
		if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return chatwire.Part{}, asError(err, "source: expected object")
	}
	switch typ {
	case "base64":
		return chatwire.Part{ImageURL: "data:" + mediaType + ";base64," + data}, nil
	case "url":
		return chatwire.Part{ImageURL: url}, nil
	}
	return chatwire.Part{}, invalid("source.type: must be base64 or url")
}

// resultContent flattens a tool_result's content (a string or text and
// image blocks) to the string content of a chat tool message. Chat tool
// messages carry text only, so images are returned apart, to travel in the
// user message that follows the turn's tool messages; the tool message
// says so.
func resultContent(raw []byte, toolUseID string) ([]byte, []chatwire.Part, *Error) {
	if chatwire.Null(raw) {
		return []byte(`""`), nil, nil
	}
	if raw[0] == '"' {
		return raw, nil, nil
	}
	var parts, images []chatwire.Part
	_, err := blocks(raw, 0, chatwire.Walk{}, func(i int, b block) *Error {
		switch b.typ {
		case "text":
			parts = append(parts, chatwire.Part{Raw: b.text})
		case "image":
			p, err := image(b)
			if err != nil {
				return err
			}
			images = append(images, p)
		default:
			return invalid("type: " + b.typ + " is not supported in tool results")
		}
		return nil
	})
	if err != nil {
		err.Message = "content." + err.Message
		return nil, nil, err
	}
	if len(images) > 0 {
		note := "[" + strconv.Itoa(len(images)) + " image(s) from this tool result are attached to the next user message]"
		parts = append(parts, chatwire.Part{Text: note})
		images = append([]chatwire.Part{{Text: "[image(s) from tool result " + toolUseID + "]"}}, images...)
	}
	if len(parts) == 0 {
		return []byte(`""`), nil, nil
	}
	return chatwire.Content(parts), images, nil
}

// assistant folds an assistant turn into one chat message: thinking into
// reasoning_content, text into content, tool_use into tool_calls.
func assistant(c *chatwire.Request, buf []byte, at int, w chatwire.Walk) (int, *Error) {
	var texts []chatwire.Part
	var reasoning strings.Builder
	var calls []chatwire.ToolCall
	hasReasoning := false
	end, err := blocks(buf, at, w, func(i int, b block) *Error {
		switch b.typ {
		case "text":
			texts = append(texts, chatwire.Part{Raw: b.text})
		case "thinking":
			t := unquote(b.thinking)
			if err := checkSignature(t, unquote(b.signature)); err != nil {
				return &Error{Status: 400, Type: "invalid_request_error", Message: "signature: " + err.Error(), Err: err}
			}
			reasoning.WriteString(t)
			hasReasoning = true
		case "redacted_thinking":
			// Encrypted by another provider: nothing to pass on.
		case "tool_use":
			args := b.input
			if chatwire.Null(args) {
				args = []byte("{}")
			}
			calls = append(calls, chatwire.ToolCall{ID: b.id, Type: "function",
				Function: chatwire.Function{Name: b.name, Arguments: compact(args)}})
		default:
			return invalid("type: " + b.typ + " is not supported in assistant messages")
		}
		return nil
	})
	if err != nil {
		return end, err
	}
	msg := chatwire.Message{Role: "assistant", ToolCalls: calls}
	if len(texts) == 0 {
		msg.Content = []byte(`""`)
	} else {
		msg.Content = joined(texts)
	}
	if hasReasoning || len(calls) > 0 {
		msg.ReasoningContent = chatwire.Ptr(reasoning.String())
	}
	c.Messages = append(c.Messages, msg)
	return end, nil
}

// joined concatenates text parts (no separator: they are one answer).
func joined(parts []chatwire.Part) json.RawMessage {
	if len(parts) == 1 {
		return parts[0].Raw
	}
	var sb strings.Builder
	for _, p := range parts {
		sb.WriteString(unquote(p.Raw))
	}
	return chatwire.String(sb.String())
}

// compact returns a JSON value without insignificant space, as chat
// arguments.
func compact(raw []byte) string {
	if !bytes.ContainsAny(raw, " \n\r\t") {
		return string(raw)
	}
	var buf bytes.Buffer
	buf.Grow(len(raw))
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}

// tool converts the tool definition at b[at], walked by w, and returns
// the index just past it.
func (v *conversion) tool(b []byte, at int, w chatwire.Walk) (int, *Error) {
	var typ, toolName string
	var desc, schema []byte
	end, err := w.Members(b, at, func(key []byte, at int, in chatwire.Walk) (int, error) {
		val, end, werr := in.Value(b, at)
		if werr != nil || chatwire.Null(val) {
			return end, werr
		}
		var err *Error
		switch string(key) {
		case "type":
			typ, err = name("type", val)
		case "name":
			toolName, err = str("name", val)
		case "description":
			desc, err = rawString("description", val)
		case "input_schema":
			schema = val
		}
		if err != nil {
			return end, err
		}
		return end, nil
	})
	if err != nil {
		return end, asError(err, "expected a tool object")
	}
	if typ != "" && typ != "custom" {
		v.dropped = append(v.dropped, typ)
		return end, nil
	}
	if toolName == "" {
		return end, invalid("name: field required")
	}
	if !jsonenc.NestsWithin(schema, chatwire.ToolParametersDepth) {
		return end, invalid("input_schema: nested too deeply")
	}
	v.chat.Tools = append(v.chat.Tools, chatwire.Tool{Type: "function", Function: chatwire.FunctionDef{
		Name: toolName, Description: desc, Parameters: schema}})
	return end, nil
}

// tools maps the tool definitions (converted in parse's walk when they
// are an array) and tool_choice.
func tools(c *chatwire.Request, r *request, conv *conversion, info *RequestInfo) *Error {
	if !conv.toolsWalked && !chatwire.Null(r.tools) { // not an array: the walk says what is wrong
		conv.tools(r.tools, 0, chatwire.Walk{})
	}
	c.Tools, info.DroppedTools = conv.chat.Tools, conv.dropped
	if conv.toolsErr != nil {
		return conv.toolsErr
	}
	if chatwire.Null(r.toolChoice) {
		return nil
	}
	var typ, choiceName string
	disableParallel := false
	err := chatwire.Object(r.toolChoice, func(key, val []byte) error {
		var err *Error
		switch string(key) {
		case "type":
			typ, err = name("tool_choice.type", val)
		case "name":
			choiceName, err = str("tool_choice.name", val)
		case "disable_parallel_tool_use":
			disableParallel, err = boolean("tool_choice.disable_parallel_tool_use", val)
		}
		if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return asError(err, "tool_choice: expected object")
	}
	switch typ {
	case "auto":
		c.ToolChoice = json.RawMessage(`"auto"`)
	case "any":
		c.ToolChoice = json.RawMessage(`"required"`)
	case "none":
		c.ToolChoice = json.RawMessage(`"none"`)
	case "tool":
		if choiceName == "" {
			return invalid("tool_choice.name: field required")
		}
		b := append([]byte(`{"type":"function","function":{"name":`), chatwire.String(choiceName)...)
		c.ToolChoice = append(b, `}}`...)
	default:
		return invalid("tool_choice.type: must be auto, any, tool or none")
	}
	if disableParallel && typ != "none" {
		f := false
		c.ParallelToolCalls = &f
	}
	return nil
}
