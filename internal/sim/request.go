package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	maxBodyBytes = 32 << 20
	// maxTokensLimit guards against absurd max_tokens values.
	maxTokensLimit = 1 << 20
	// maxDimensions bounds the embeddings "dimensions" parameter.
	maxDimensions = 8192
)

// Request bodies are decoded with encoding/json into small structs holding
// only the fields the simulator uses; every other field (temperature, seed,
// ...) is accepted and ignored.

type chatRequest struct {
	Model               string          `json:"model"`
	Messages            []chatMessage   `json:"messages"`
	Stream              bool            `json:"stream"`
	StreamOptions       *streamOptions  `json:"stream_options"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Tools               []chatTool      `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
	N                   *int            `json:"n"`
	Stop                stopList        `json:"stop"`
	ResponseFormat      *responseFormat `json:"response_format"`
	Thinking            *thinking       `json:"thinking"`
	ReasoningEffort     string          `json:"reasoning_effort"`
}

type chatMessage struct {
	Role    string         `json:"role"`
	Content messageContent `json:"content"`
	// ToolCalls and ReasoningContent matter only to the DeepSeek
	// personality's rule that a thinking-mode assistant turn with tool
	// calls carries its reasoning back. A nil ReasoningContent means the
	// field was absent (or null).
	ToolCalls        []json.RawMessage `json:"tool_calls"`
	ReasoningContent *string           `json:"reasoning_content"`
}

type chatTool struct {
	Type     string `json:"type"`
	Function struct {
		Name       string          `json:"name"`
		Parameters json.RawMessage `json:"parameters"`
	} `json:"function"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// thinking is DeepSeek's {"type": "enabled"|"disabled"} switch.
type thinking struct {
	Type string `json:"type"`
}

// responseFormat is OpenAI's response_format: "text", "json_object" or
// "json_schema" with a schema.
type responseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
	} `json:"json_schema"`
}

// maxStops is how many stop sequences OpenAI and DeepSeek accept.
const maxStops = 16

// stopList is the stop parameter: a string, an array of strings or null.
// Empty strings are dropped.
type stopList []string

// UnmarshalJSON accepts a string, an array of strings or null.
func (l *stopList) UnmarshalJSON(data []byte) error {
	switch {
	case string(data) == "null":
		*l = nil
		return nil
	case len(data) > 0 && data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*l = nil
		if s != "" {
			*l = stopList{s}
		}
		return nil
	case len(data) > 0 && data[0] == '[':
		var all []string
		if err := json.Unmarshal(data, &all); err != nil {
			return errors.New("stop must be a string or an array of strings")
		}
		if len(all) > maxStops {
			return errors.New("stop accepts at most " + strconv.Itoa(maxStops) + " sequences")
		}
		out := all[:0]
		for _, s := range all {
			if s != "" {
				out = append(out, s)
			}
		}
		*l = out
		return nil
	}
	return errors.New("stop must be a string or an array of strings")
}

type completionRequest struct {
	Model         string         `json:"model"`
	Prompt        inputs         `json:"prompt"`
	Suffix        string         `json:"suffix"`
	Stream        bool           `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options"`
	MaxTokens     *int           `json:"max_tokens"`
	Stop          stopList       `json:"stop"`
	Thinking      *thinking      `json:"thinking"`
}

type embeddingRequest struct {
	Model          string `json:"model"`
	Input          inputs `json:"input"`
	Dimensions     *int   `json:"dimensions"`
	EncodingFormat string `json:"encoding_format"`
}

// messageContent is a message's text: a string, the text parts of an array
// of content parts joined by newlines, or "" for null.
type messageContent string

// UnmarshalJSON accepts a string, an array of content parts or null.
func (c *messageContent) UnmarshalJSON(data []byte) error {
	switch {
	case len(data) > 0 && data[0] == '"':
		// encoding/json has validated the literal; one without escapes and
		// with valid UTF-8 is its own text, which skips a second scan.
		inner := data[1 : len(data)-1]
		if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			*c = messageContent(inner)
			return nil
		}
		return json.Unmarshal(data, (*string)(c))
	case len(data) > 0 && data[0] == '[':
		var parts []struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(data, &parts); err != nil {
			return err
		}
		var sb strings.Builder
		for i, p := range parts {
			if i > 0 {
				sb.WriteByte('\n')
			}
			sb.WriteString(p.Text)
		}
		*c = messageContent(sb.String())
		return nil
	case string(data) == "null":
		*c = ""
		return nil
	}
	return errors.New("content must be a string, an array of content parts or null")
}

// inputItem is one prompt or embeddings input, reduced to what the
// simulator needs: a hash of its content and its token estimate.
type inputItem struct {
	hash   uint64
	tokens int
}

// inputs is an OpenAI prompt/input value: a string, an array of strings, an
// array of token ids or an array of token-id arrays.
type inputs struct {
	items []inputItem
	set   bool
}

// UnmarshalJSON accepts every input form OpenAI documents; null leaves the
// value unset.
func (in *inputs) UnmarshalJSON(data []byte) error {
	if len(data) == 0 || string(data) == "null" {
		return nil
	}
	in.set = true
	switch data[0] {
	case '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		in.items = []inputItem{textItem(s)}
		return nil
	case '[':
		return in.unmarshalArray(data)
	}
	return errors.New("must be a string, an array of strings or an array of token ids")
}

func (in *inputs) unmarshalArray(data []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if len(raw) == 0 {
		return nil
	}
	switch raw[0][0] {
	case '"':
		in.items = make([]inputItem, 0, len(raw))
		for i, el := range raw {
			var s string
			if err := json.Unmarshal(el, &s); err != nil {
				return errors.New("element " + strconv.Itoa(i) + " must be a string")
			}
			in.items = append(in.items, textItem(s))
		}
	case '[':
		in.items = make([]inputItem, 0, len(raw))
		for i, el := range raw {
			var ids []int64
			if err := json.Unmarshal(el, &ids); err != nil {
				return errors.New("element " + strconv.Itoa(i) + " must be an array of token ids")
			}
			in.items = append(in.items, tokenItem(ids))
		}
	default:
		var ids []int64
		if err := json.Unmarshal(data, &ids); err != nil {
			return errors.New("must be an array of strings or of token ids")
		}
		in.items = []inputItem{tokenItem(ids)}
	}
	return nil
}

func textItem(s string) inputItem {
	h := newHasher()
	h.addField(s)
	return inputItem{hash: h.sum(), tokens: countWords(s)}
}

func tokenItem(ids []int64) inputItem {
	h := newHasher()
	h.addUint64(0xfe) // token arrays never hash like text
	for _, id := range ids {
		h.addUint64(uint64(id))
	}
	return inputItem{hash: h.sum(), tokens: len(ids)}
}

// decode reads r's JSON body into v. On failure it answers 400 or 413
// itself and returns false.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := readBody(w, r)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, apiError{
				Message: "request body too large", Type: "invalid_request_error",
			})
			return false
		}
		badRequest(w, "", "reading request body: "+err.Error())
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		badRequest(w, "", "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

// readBody reads the whole body, sized by Content-Length when it is known.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	rd := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if n := r.ContentLength; n > 0 && n <= maxBodyBytes {
		b := make([]byte, n)
		if _, err := io.ReadFull(rd, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	return io.ReadAll(rd)
}

// lookupModel resolves the request's model, answering 400 or 404 itself.
func (s *Server) lookupModel(w http.ResponseWriter, model string) (*modelState, bool) {
	if model == "" {
		badRequest(w, "model", "model is required")
		return nil, false
	}
	m, ok := s.byName[model]
	if !ok {
		if s.deepseek() {
			unsupportedModel(w, model)
		} else {
			modelNotFound(w, model)
		}
		return nil, false
	}
	return m, true
}

// tokenLimit picks the completion length: the request's limit
// (max_completion_tokens first) or def. limited reports whether the request
// set one. On a bad value it answers 400 itself and ok is false.
func tokenLimit(w http.ResponseWriter, def int, maxCompletionTokens, maxTokens *int) (n int, limited, ok bool) {
	param, l := "max_completion_tokens", maxCompletionTokens
	if l == nil {
		param, l = "max_tokens", maxTokens
	}
	if l == nil {
		return def, false, true
	}
	if *l < 1 || *l > maxTokensLimit {
		badRequest(w, param, param+" must be between 1 and "+strconv.Itoa(maxTokensLimit))
		return 0, false, false
	}
	return *l, true, true
}
