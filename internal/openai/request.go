package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Endpoint names an inference API the gateway serves.
type Endpoint int

// The endpoints. FIM is DeepSeek's /beta/completions (prompt + suffix).
const (
	EndpointChat Endpoint = iota
	EndpointCompletion
	EndpointFIM
	EndpointEmbedding
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
	HasDeveloper bool // a message has role "developer"
	HasThinking  bool // the client set thinking, chat_template_kwargs or reasoning_effort
	PromptChars  int  // characters of prompt text, for token estimates
}

// chatBody lists the chat fields that are validated. Pointers tell absent
// from zero.
type chatBody struct {
	Model               *string         `json:"model"`
	Messages            []message       `json:"messages"`
	Stream              *bool           `json:"stream"`
	StreamOptions       *streamOptions  `json:"stream_options"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	N                   *int            `json:"n"`
	Thinking            json.RawMessage `json:"thinking"`
	ChatTemplateKwargs  json.RawMessage `json:"chat_template_kwargs"`
	ReasoningEffort     json.RawMessage `json:"reasoning_effort"`
}

type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type completionBody struct {
	Model         *string         `json:"model"`
	Prompt        json.RawMessage `json:"prompt"`
	Suffix        *string         `json:"suffix"`
	Stream        *bool           `json:"stream"`
	StreamOptions *streamOptions  `json:"stream_options"`
	MaxTokens     *int            `json:"max_tokens"`
	Temperature   *float64        `json:"temperature"`
	TopP          *float64        `json:"top_p"`
	N             *int            `json:"n"`
}

type embeddingBody struct {
	Model          *string         `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat *string         `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
}

var validRoles = map[string]bool{
	"system": true, "developer": true, "user": true, "assistant": true, "tool": true, "function": true,
}

// Parse decodes and validates an inference request body for endpoint e.
// Every error is an *Error with status 400 naming the offending parameter.
func Parse(e Endpoint, body []byte) (*Request, error) {
	body = trimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, InvalidRequest("", "request body must be a JSON object")
	}
	switch e {
	case EndpointChat:
		return parseChat(body)
	case EndpointCompletion, EndpointFIM:
		return parseCompletion(e, body)
	case EndpointEmbedding:
		return parseEmbedding(body)
	}
	return nil, fmt.Errorf("unknown endpoint %d", e)
}

func parseChat(body []byte) (*Request, error) {
	var b chatBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, decodeError(err)
	}
	r := &Request{Endpoint: EndpointChat}
	if err := commonFields(r, b.Model, b.Stream, b.StreamOptions, b.Temperature, b.TopP, b.N); err != nil {
		return nil, err
	}
	if len(b.Messages) == 0 {
		return nil, InvalidRequest("messages", "messages must be a non-empty array")
	}
	for i, m := range b.Messages {
		if !validRoles[m.Role] {
			return nil, InvalidRequest(fmt.Sprintf("messages[%d].role", i),
				fmt.Sprintf("invalid role %q: must be one of system, developer, user, assistant, tool", m.Role))
		}
		if m.Role == "developer" {
			r.HasDeveloper = true
		}
		r.PromptChars += len(m.Content)
	}
	mt, err := maxTokens(b.MaxTokens, b.MaxCompletionTokens)
	if err != nil {
		return nil, err
	}
	r.MaxTokens = mt
	r.HasThinking = len(b.Thinking) > 0 || len(b.ChatTemplateKwargs) > 0 || len(b.ReasoningEffort) > 0
	return r, nil
}

func parseCompletion(e Endpoint, body []byte) (*Request, error) {
	var b completionBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, decodeError(err)
	}
	r := &Request{Endpoint: e}
	if err := commonFields(r, b.Model, b.Stream, b.StreamOptions, b.Temperature, b.TopP, b.N); err != nil {
		return nil, err
	}
	if len(b.Prompt) == 0 || bytes.Equal(b.Prompt, []byte("null")) {
		return nil, InvalidRequest("prompt", "prompt is required")
	}
	if e == EndpointFIM && b.Prompt[0] != '"' {
		return nil, InvalidRequest("prompt", "prompt must be a string for FIM completion")
	}
	mt, err := maxTokens(b.MaxTokens, nil)
	if err != nil {
		return nil, err
	}
	r.MaxTokens = mt
	r.PromptChars = len(b.Prompt)
	if b.Suffix != nil {
		r.PromptChars += len(*b.Suffix)
	}
	return r, nil
}

func parseEmbedding(body []byte) (*Request, error) {
	var b embeddingBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, decodeError(err)
	}
	r := &Request{Endpoint: EndpointEmbedding}
	if err := commonFields(r, b.Model, nil, nil, nil, nil, nil); err != nil {
		return nil, err
	}
	if len(b.Input) == 0 || bytes.Equal(b.Input, []byte("null")) ||
		bytes.Equal(b.Input, []byte(`""`)) || bytes.Equal(b.Input, []byte("[]")) {
		return nil, InvalidRequest("input", "input must be a non-empty string or array")
	}
	if f := b.EncodingFormat; f != nil && *f != "float" && *f != "base64" {
		return nil, InvalidRequest("encoding_format", `encoding_format must be "float" or "base64"`)
	}
	if b.Dimensions != nil && *b.Dimensions < 1 {
		return nil, InvalidRequest("dimensions", "dimensions must be at least 1")
	}
	r.PromptChars = len(b.Input)
	return r, nil
}

func commonFields(r *Request, model *string, stream *bool, so *streamOptions, temp, topP *float64, n *int) error {
	if model == nil || *model == "" {
		return InvalidRequest("model", "model is required")
	}
	r.Model = *model
	if stream != nil {
		r.Stream = *stream
	}
	if so != nil {
		if !r.Stream {
			return InvalidRequest("stream_options", "stream_options is only allowed when stream is true")
		}
		r.IncludeUsage = so.IncludeUsage
	}
	if temp != nil && (*temp < 0 || *temp > 2) {
		return InvalidRequest("temperature", "temperature must be between 0 and 2")
	}
	if topP != nil && (*topP <= 0 || *topP > 1) {
		return InvalidRequest("top_p", "top_p must be greater than 0 and at most 1")
	}
	if n != nil && (*n < 1 || *n > 128) {
		return InvalidRequest("n", "n must be between 1 and 128")
	}
	return nil
}

func maxTokens(mt, mct *int) (int, error) {
	if mct != nil {
		if *mct < 1 {
			return 0, InvalidRequest("max_completion_tokens", "max_completion_tokens must be at least 1")
		}
		return *mct, nil
	}
	if mt != nil {
		if *mt < 1 {
			return 0, InvalidRequest("max_tokens", "max_tokens must be at least 1")
		}
		return *mt, nil
	}
	return 0, nil
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
