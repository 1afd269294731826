package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// Endpoint names an inference API the gateway serves.
type Endpoint int

// The endpoints. FIM is DeepSeek's /beta/completions (prompt + suffix).
// EndpointMessages is the Anthropic Messages API as an upstream serves it
// (DeepSeek's /anthropic/v1/messages): the gateway relays such a request
// untouched to an upstream that serves it; Parse does not read its bodies
// (the transport translates them to chat for every other upstream).
const (
	EndpointChat Endpoint = iota
	EndpointCompletion
	EndpointFIM
	EndpointEmbedding
	EndpointMessages
)

func (e Endpoint) String() string {
	switch e {
	case EndpointChat:
		return "chat"
	case EndpointCompletion:
		return "completion"
	case EndpointFIM:
		return "fim"
	case EndpointEmbedding:
		return "embedding"
	case EndpointMessages:
		return "messages"
	}
	return "unknown"
}

// Request is what the gateway reads from an inference request body. The
// body itself is forwarded; these fields only route and validate it.
type Request struct {
	Endpoint     Endpoint
	Model        string
	Stream       bool
	IncludeUsage bool // stream_options.include_usage
	MaxTokens    int  // max_tokens or max_completion_tokens; 0 when absent
	N            int  // choices to generate (n); 1 when absent
	HasDeveloper bool // a message has role "developer"
	HasThinking  bool // the client set thinking, chat_template_kwargs or reasoning_effort
	HasSuffix    bool // a completion with suffix: fill in the middle
	PromptChars  int  // characters of prompt (messages, tool calls, tool definitions), for token estimates
	// What makes an answer reproducible, for the response cache.
	Temperature0 bool // temperature is 0
	Seed         bool // a seed is set
	BestOfOther  bool // best_of is set to anything but 1
}

// FIM reports whether the request asks to fill in the middle: DeepSeek's
// /beta/completions, or a completion with a suffix.
func (r *Request) FIM() bool {
	return r.Endpoint == EndpointFIM || (r.Endpoint == EndpointCompletion && r.HasSuffix)
}

// MaxChoices bounds n. Each choice generates up to max_tokens, so n
// multiplies what one request costs the upstream and reserves against the
// caller's TPM. OpenAI accepts up to 128 and DeepSeek generates one; 16
// keeps sampling use cases (best-of, self-consistency) while one request
// cannot ask for 128 completion budgets at once.
const MaxChoices = 16

var validRoles = map[string]bool{
	"system": true, "developer": true, "user": true, "assistant": true, "tool": true, "function": true,
}

// Parse decodes and validates an inference request body for endpoint e.
// Every error is an *Error with status 400 naming the offending parameter.
//
// The body is checked as it is walked (encoding/json's grammar, with
// jsonenc's validator, about five times faster than json.Valid): only the
// fields the gateway needs are decoded, so a large conversation costs one
// validating pass and no allocation per message; a malformed body is
// refused as malformed whatever else is wrong with it. As with
// encoding/json, null means absent. Keys are matched exactly; a body with
// duplicate keys or case variants of the keys dsgate reads is refused (see
// keyGuard), so what dsgate reads is what every upstream reads.
func Parse(e Endpoint, body []byte) (*Request, error) {
	b := trimSpace(body)
	if len(b) == 0 || b[0] != '{' {
		return nil, InvalidRequest("", "request body must be a JSON object")
	}
	r, err := parse(e, b)
	if err != nil && !jsonenc.Valid(b) { // malformed, whatever else is wrong
		var v struct{}
		return nil, decodeError(json.Unmarshal(b, &v))
	}
	return r, err
}

// parse reads the request object body (trimmed), checking its syntax in
// the same pass.
func parse(e Endpoint, body []byte) (*Request, error) {
	r := &Request{Endpoint: e, N: 1}
	p := parser{r: r}
	g := keyGuard{known: topKeys}
	if end, err := g.walkValid(body, p.member); err != nil {
		return nil, err
	} else if len(trimSpace(body[end:])) > 0 {
		return nil, errMalformed // Parse reports it
	}
	return r, p.finish()
}

// parser collects the fields of one request body.
type parser struct {
	r                  *Request
	model              string
	messages           int
	tools              []byte // counted into PromptChars: tool definitions are prompt too
	prompt, input      []byte
	streamOptions      []byte
	maxTokens, maxComp int
	hasMaxTokens       bool
	hasMaxComp         bool
	encodingFormat     string
	dimensions         int
	hasDimensions      bool
}

func (p *parser) member(key string, v []byte) error {
	r := p.r
	if isNull(v) {
		return nil
	}
	var err error
	switch key {
	case "model":
		p.model, err = str(key, v)
	case "stream":
		r.Stream, err = boolean(key, v)
	case "stream_options":
		if v[0] != '{' {
			return typeError(key, "an object")
		}
		p.streamOptions = v
	case "max_tokens":
		p.maxTokens, err = integer(key, v)
		p.hasMaxTokens = true
	case "max_completion_tokens":
		p.maxComp, err = integer(key, v)
		p.hasMaxComp = true
	case "temperature":
		err = numberIn(key, v, 0, 2, true, "temperature must be between 0 and 2")
		r.Temperature0 = err == nil && isZero(v)
	case "seed":
		r.Seed = true
	case "best_of":
		f, ferr := strconv.ParseFloat(string(v), 64)
		r.BestOfOther = ferr != nil || v[0] == '"' || f != 1
	case "top_p":
		err = numberIn(key, v, 0, 1, false, "top_p must be greater than 0 and at most 1")
	case "n":
		if r.N, err = integer(key, v); err == nil && (r.N < 1 || r.N > MaxChoices) {
			err = InvalidRequest("n", "n must be between 1 and "+strconv.Itoa(MaxChoices))
		}
	}
	if err != nil {
		return err
	}
	switch r.Endpoint {
	case EndpointChat:
		return p.chatMember(key, v)
	case EndpointCompletion, EndpointFIM:
		return p.completionMember(key, v)
	case EndpointEmbedding:
		return p.embeddingMember(key, v)
	}
	return nil
}

func (p *parser) chatMember(key string, v []byte) error {
	switch key {
	case "messages":
		if v[0] != '[' {
			return typeError(key, "an array")
		}
		p.messages = 0
		p.r.HasDeveloper, p.r.PromptChars = false, 0
		return eachElement(v, p.message)
	case "thinking":
		p.r.HasThinking = true
		if v[0] == '{' {
			return guardedObject(v, "thinking.", thinkingKeys, nil)
		}
	case "chat_template_kwargs":
		p.r.HasThinking = true
		if v[0] == '{' {
			return guardedObject(v, "chat_template_kwargs.", templateKeys, nil)
		}
	case "reasoning_effort":
		p.r.HasThinking = true
	case "tools":
		p.tools = v
	}
	return nil
}

func (p *parser) message(i int, m []byte) error {
	if m[0] != '{' {
		return InvalidRequest(fmt.Sprintf("messages[%d]", i), "each message must be an object")
	}
	var role string
	var content, toolCalls []byte
	g := keyGuard{known: messageKeys, path: "messages", index: i}
	err := g.walk(m, func(key string, v []byte) error {
		switch key {
		case "role":
			s, ok := unquote(v)
			if !ok {
				return InvalidRequest(fmt.Sprintf("messages[%d].role", i), "role must be a string")
			}
			role = s
		case "content":
			content = v
		case "tool_calls":
			toolCalls = v
		}
		return nil
	})
	if err != nil {
		return err
	}
	return p.read(i, role, content, toolCalls)
}

// read counts message i of the messages, with its role and the raw values
// of its content and tool_calls (nil when absent).
func (p *parser) read(i int, role string, content, toolCalls []byte) error {
	p.messages++
	p.r.PromptChars += len(content) + len(toolCalls) // an assistant's calls are sent back as prompt
	if !validRoles[role] {
		return InvalidRequest(fmt.Sprintf("messages[%d].role", i),
			fmt.Sprintf("invalid role %q: must be one of system, developer, user, assistant, tool", clipEcho(role)))
	}
	if role == "developer" {
		p.r.HasDeveloper = true
	}
	return nil
}

func (p *parser) completionMember(key string, v []byte) error {
	switch key {
	case "prompt":
		p.prompt = v
	case "suffix":
		if v[0] != '"' {
			return typeError(key, "a string")
		}
		p.r.PromptChars += len(v)
		p.r.HasSuffix = true
	}
	return nil
}

func (p *parser) embeddingMember(key string, v []byte) error {
	var err error
	switch key {
	case "input":
		p.input = v
	case "encoding_format":
		p.encodingFormat, err = str(key, v)
	case "dimensions":
		p.dimensions, err = integer(key, v)
		p.hasDimensions = true
	}
	return err
}

// finish applies the rules that span fields.
func (p *parser) finish() error {
	r := p.r
	if p.model == "" {
		return InvalidRequest("model", "model is required")
	}
	if err := CheckModel(p.model); err != nil {
		return err
	}
	r.Model = p.model
	if p.streamOptions != nil {
		if !r.Stream {
			return InvalidRequest("stream_options", "stream_options is only allowed when stream is true")
		}
		err := guardedObject(p.streamOptions, "stream_options.", streamOptionKeys, func(key string, v []byte) error {
			if key != "include_usage" || isNull(v) {
				return nil
			}
			b, err := boolean("stream_options.include_usage", v)
			r.IncludeUsage = b
			return err
		})
		if err != nil {
			return err
		}
	}
	switch {
	case p.hasMaxComp && p.hasMaxTokens && p.maxComp != p.maxTokens:
		// Upstreams differ on which one wins; dsgate would limit one
		// and the upstream generate the other.
		return InvalidRequest("max_tokens", "max_tokens and max_completion_tokens disagree: set one of them")
	case p.hasMaxComp && p.maxComp < 1:
		return InvalidRequest("max_completion_tokens", "max_completion_tokens must be at least 1")
	case p.hasMaxComp:
		r.MaxTokens = p.maxComp
	case p.hasMaxTokens && p.maxTokens < 1:
		return InvalidRequest("max_tokens", "max_tokens must be at least 1")
	case p.hasMaxTokens:
		r.MaxTokens = p.maxTokens
	}
	switch r.Endpoint {
	case EndpointChat:
		if p.messages == 0 {
			return InvalidRequest("messages", "messages must be a non-empty array")
		}
		r.PromptChars += len(p.tools)
	case EndpointCompletion, EndpointFIM:
		if p.prompt == nil {
			return InvalidRequest("prompt", "prompt is required")
		}
		if r.Endpoint == EndpointFIM && p.prompt[0] != '"' {
			return InvalidRequest("prompt", "prompt must be a string for FIM completion")
		}
		r.PromptChars += len(p.prompt)
	case EndpointEmbedding:
		if p.input == nil || bytes.Equal(p.input, []byte(`""`)) || isEmptyJSONArray(p.input) {
			return InvalidRequest("input", "input must be a non-empty string or array")
		}
		if f := p.encodingFormat; f != "" && f != "float" && f != "base64" {
			return InvalidRequest("encoding_format", `encoding_format must be "float" or "base64"`)
		}
		if p.hasDimensions && p.dimensions < 1 {
			return InvalidRequest("dimensions", "dimensions must be at least 1")
		}
		r.PromptChars = len(p.input)
	}
	return nil
}

func isNull(v []byte) bool { return len(v) == 4 && string(v) == "null" }

// isZero reports whether the number v (checked) is zero: 0, -0, 0.0, 0e5.
func isZero(v []byte) bool {
	f, _ := strconv.ParseFloat(string(v), 64)
	return f == 0
}

func isEmptyJSONArray(v []byte) bool {
	if len(v) == 0 || v[0] != '[' {
		return false
	}
	return skipSpace(v, 1) < len(v) && v[skipSpace(v, 1)] == ']'
}

func str(key string, v []byte) (string, error) {
	s, ok := unquote(v)
	if !ok {
		return "", typeError(key, "a string")
	}
	return s, nil
}

func boolean(key string, v []byte) (bool, error) {
	switch string(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, typeError(key, "a boolean")
}

func integer(key string, v []byte) (int, error) {
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0, typeError(key, "an integer")
	}
	return n, nil
}

func numberIn(key string, v []byte, lo, hi float64, loInclusive bool, msg string) error {
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || v[0] == '"' {
		return typeError(key, "a number")
	}
	if f > hi || f < lo || (!loInclusive && f == lo) {
		return InvalidRequest(key, msg)
	}
	return nil
}

func typeError(key, want string) error {
	return InvalidRequest(key, fmt.Sprintf("invalid type for %q: expected %s", key, want))
}

// decodeError turns a json error into a 400 naming the field when it can.
func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		return InvalidRequest(field, fmt.Sprintf("invalid type for %q: expected %s", field, jsonKind(te.Type.Kind().String())))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return InvalidRequest("", fmt.Sprintf("malformed JSON at byte %d: %s", se.Offset, se.Error()))
	}
	return InvalidRequest("", "malformed JSON: "+err.Error())
}

func jsonKind(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "float"):
		return "a number"
	case goKind == "bool":
		return "a boolean"
	case goKind == "string":
		return "a string"
	case goKind == "slice":
		return "an array"
	case goKind == "struct", goKind == "map":
		return "an object"
	}
	return goKind
}
