package responses

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/dsgate/dsgate/internal/chatwire"
	"github.com/dsgate/dsgate/internal/jsonenc"
	"github.com/dsgate/dsgate/internal/openai"
)

// itemKind is the type of an output item.
type itemKind uint8

const (
	reasoningItem itemKind = iota + 1
	messageItem
	functionCallItem
	customCallItem
)

// outItem is one output item being built: its text is the reasoning text,
// the message text or the call's arguments, held JSON-escaped (without the
// quotes) so that every event that carries it copies it instead of
// encoding it again.
type outItem struct {
	kind   itemKind
	prefix string // the id is prefix + base
	base   string
	text   []byte
	callID string
	name   string
	done   bool
}

// result is a response's state: what FromChat reads from a completion and
// Stream accumulates from chunks.
type result struct {
	id      string // RequestInfo.ID
	chatID  string
	model   string
	created int64
	finish  string
	usage   openai.Usage
	items   []outItem
}

// NewID returns a new response id: resp_ and 128 random bits in hex.
func NewID() string {
	var r [16]byte
	binary.BigEndian.PutUint64(r[:8], rand.Uint64())
	binary.BigEndian.PutUint64(r[8:], rand.Uint64())
	return "resp_" + hex.EncodeToString(r[:])
}

// appendResponseID appends the response's id: the one minted for it, or
// resp_ and the chat ID.
func (r *result) appendResponseID(b []byte) []byte {
	if r.id != "" {
		return jsonenc.AppendString(b, r.id)
	}
	if r.chatID == "" {
		return append(b, `"resp_dsgate"`...)
	}
	return chatwire.AppendID(b, "resp_", r.chatID)
}

// appendID appends the item's id.
func (it *outItem) appendID(b []byte) []byte {
	return chatwire.AppendID(b, it.prefix, it.base)
}

// status is the response status and the incomplete reason, if any.
func (r *result) status() (status, reason string) {
	switch r.finish {
	case "length":
		return "incomplete", "max_output_tokens"
	case "content_filter":
		return "incomplete", "content_filter"
	}
	return "completed", ""
}

// FromChat translates a chat completion into a Response object. Its
// texts are read as tokens (chatwire.DecodeCompletion reads a completion's
// message as it reads a chunk's delta) and copied as they are escaped,
// once, into the answer.
func FromChat(chatResp []byte, info RequestInfo) ([]byte, error) {
	return AppendFromChat(nil, chatResp, info)
}

// AppendFromChat is FromChat appending the Response to dst (a server's
// pooled buffer, so that the answer is not garbage of its own).
func AppendFromChat(dst, chatResp []byte, info RequestInfo) ([]byte, error) {
	c := chatwire.GetChunk()
	defer chatwire.PutChunk(c)
	if err := chatwire.DecodeCompletion(chatResp, c); err != nil {
		return nil, upstreamError(err)
	}
	r := result{id: info.ID, chatID: c.ID, model: c.Model, created: c.Created, finish: c.FinishReason,
		items: make([]outItem, 0, 2+len(c.ToolCalls))}
	if c.Usage != nil {
		r.usage = *c.Usage
	}
	if !c.ReasoningContent.Empty() {
		r.items = append(r.items, outItem{kind: reasoningItem, prefix: "rs_", base: c.ID, text: c.ReasoningContent.Escaped(), done: true})
	}
	text := c.Content
	if text.Empty() {
		text = c.Refusal
	}
	if !text.Empty() {
		r.items = append(r.items, outItem{kind: messageItem, prefix: "msg_", base: c.ID, text: text.Escaped(), done: true})
	}
	for i := range c.ToolCalls {
		tc := &c.ToolCalls[i]
		tc.Index = i // a completion's calls are told apart by position
		callID := tc.CallID(c.ID)
		it := outItem{kind: functionCallItem, prefix: "fc_", base: callID, callID: callID,
			name: tc.Name, text: tc.Arguments.Escaped(), done: true}
		if info.custom(tc.Name) {
			it.kind, it.prefix = customCallItem, "ctc_"
		}
		r.items = append(r.items, it)
	}
	// The object's own fields take about 900 bytes, an item about 200
	// besides its text: sized once, not grown.
	size := 1024 + len(info.Tools) + len(info.Instructions) + len(info.Metadata) + len(info.Text) + len(info.Reasoning)
	for _, it := range r.items {
		size += len(it.text) + 256
	}
	status, _ := r.status()
	return appendResponse(slices.Grow(dst, size), &r, info, status, nil), nil
}

// appendResponse appends the Response object. failure, when set, is the
// error of a failed response.
func appendResponse(b []byte, r *result, info RequestInfo, status string, failure *openai.Error) []byte {
	created := r.created
	if created == 0 {
		created = time.Now().Unix()
	}
	b = append(b, `{"id":`...)
	b = r.appendResponseID(b)
	b = append(b, `,"object":"response","created_at":`...)
	b = jsonenc.AppendInt(b, created)
	b = append(b, `,"status":`...)
	b = jsonenc.AppendString(b, status)
	b = append(b, `,"background":false,"error":`...)
	if failure != nil {
		b = append(b, `{"code":`...)
		b = jsonenc.AppendString(b, errorCode(failure))
		b = append(b, `,"message":`...)
		b = jsonenc.AppendString(b, failure.Message)
		b = append(b, '}')
	} else {
		b = append(b, `null`...)
	}
	b = append(b, `,"incomplete_details":`...)
	if _, reason := r.status(); reason != "" && status == "incomplete" {
		b = append(b, `{"reason":"`...)
		b = append(b, reason...)
		b = append(b, `"}`...)
	} else {
		b = append(b, `null`...)
	}
	b = append(b, `,"instructions":`...)
	b = appendRaw(b, info.Instructions, "null")
	b = append(b, `,"max_output_tokens":`...)
	if info.MaxOutputTokens > 0 {
		b = jsonenc.AppendInt(b, int64(info.MaxOutputTokens))
	} else {
		b = append(b, `null`...)
	}
	b = append(b, `,"metadata":`...)
	b = appendRaw(b, info.Metadata, "{}")
	b = append(b, `,"model":`...)
	mdl := r.model
	if mdl == "" {
		mdl = info.Model
	}
	b = jsonenc.AppendString(b, mdl)
	b = append(b, `,"output":[`...)
	for i := range r.items {
		if i > 0 {
			b = append(b, ',')
		}
		// Only the last item is cut by the limit that made the
		// response incomplete; the ones before it were finished.
		b = appendItem(b, &r.items[i], status == "incomplete" && i == len(r.items)-1)
	}
	b = append(b, `],"parallel_tool_calls":`...)
	b = strconv.AppendBool(b, info.ParallelToolCalls == nil || *info.ParallelToolCalls)
	b = append(b, `,"previous_response_id":`...)
	if info.PreviousResponseID != "" {
		b = jsonenc.AppendString(b, info.PreviousResponseID)
	} else {
		b = append(b, `null`...)
	}
	b = append(b, `,"reasoning":`...)
	b = appendRaw(b, info.Reasoning, `{"effort":null,"summary":null}`)
	b = append(b, `,"store":`...)
	b = strconv.AppendBool(b, info.Store)
	b = append(b, `,"temperature":`...)
	b = appendRaw(b, info.Temperature, "null")
	b = append(b, `,"text":`...)
	b = appendRaw(b, info.Text, `{"format":{"type":"text"}}`)
	b = append(b, `,"tool_choice":`...)
	b = appendRaw(b, info.ToolChoice, `"auto"`)
	b = append(b, `,"tools":`...)
	b = appendRaw(b, info.Tools, `[]`)
	b = append(b, `,"top_p":`...)
	b = appendRaw(b, info.TopP, "null")
	b = append(b, `,"truncation":"disabled","usage":`...)
	if status == "in_progress" {
		b = append(b, `null`...)
	} else {
		b = appendUsage(b, r.usage)
	}
	return append(b, '}')
}

func appendRaw(b []byte, raw json.RawMessage, dflt string) []byte {
	if chatwire.Null(raw) {
		return append(b, dflt...)
	}
	return append(b, raw...)
}

// appendItem appends one output item in its current state; incomplete
// marks the item the response's limit cut, whatever its kind (a function
// call's arguments cut short too).
func appendItem(b []byte, it *outItem, incomplete bool) []byte {
	status := "completed"
	if !it.done {
		status = "in_progress"
	} else if incomplete {
		status = "incomplete"
	}
	switch it.kind {
	case reasoningItem:
		b = append(b, `{"id":`...)
		b = it.appendID(b)
		b = append(b, `,"type":"reasoning","summary":[],"content":[`...)
		if it.done {
			b = appendReasoningPart(b, it.text)
		}
		b = append(b, `],"status":"`...)
		b = append(b, status...)
		return append(b, `"}`...)
	case messageItem:
		b = append(b, `{"id":`...)
		b = it.appendID(b)
		b = append(b, `,"type":"message","status":"`...)
		b = append(b, status...)
		b = append(b, `","role":"assistant","content":[`...)
		if it.done {
			b = appendTextPart(b, it.text)
		}
		return append(b, `]}`...)
	case customCallItem:
		b = append(b, `{"id":`...)
		b = it.appendID(b)
		b = append(b, `,"type":"custom_tool_call","status":"`...)
		b = append(b, status...)
		b = append(b, `","call_id":`...)
		b = jsonenc.AppendString(b, it.callID)
		b = append(b, `,"name":`...)
		b = jsonenc.AppendString(b, it.name)
		b = append(b, `,"input":`...)
		if it.done {
			b = jsonenc.AppendString(b, customInput(it.text))
		} else {
			b = append(b, `""`...)
		}
		return append(b, '}')
	default:
		b = append(b, `{"id":`...)
		b = it.appendID(b)
		b = append(b, `,"type":"function_call","status":"`...)
		b = append(b, status...)
		b = append(b, `","call_id":`...)
		b = jsonenc.AppendString(b, it.callID)
		b = append(b, `,"name":`...)
		b = jsonenc.AppendString(b, it.name)
		b = append(b, `,"arguments":`...)
		if it.done {
			b = appendQuoted(b, it.text)
		} else {
			b = append(b, `""`...)
		}
		return append(b, '}')
	}
}

// appendQuoted appends the escaped text esc as a JSON string.
func appendQuoted(b, esc []byte) []byte {
	b = append(b, '"')
	b = append(b, esc...)
	return append(b, '"')
}

func appendReasoningPart(b []byte, esc []byte) []byte {
	b = append(b, `{"type":"reasoning_text","text":`...)
	b = appendQuoted(b, esc)
	return append(b, '}')
}

func appendTextPart(b []byte, esc []byte) []byte {
	b = append(b, `{"type":"output_text","text":`...)
	b = appendQuoted(b, esc)
	return append(b, `,"annotations":[],"logprobs":[]}`...)
}

// appendUsage appends Responses usage from chat usage.
func appendUsage(b []byte, u openai.Usage) []byte {
	total := u.TotalTokens
	if total == 0 {
		total = u.PromptTokens + u.CompletionTokens
	}
	b = append(b, `{"input_tokens":`...)
	b = jsonenc.AppendInt(b, int64(u.PromptTokens))
	b = append(b, `,"input_tokens_details":{"cached_tokens":`...)
	b = jsonenc.AppendInt(b, int64(u.CacheHitTokens()))
	b = append(b, `},"output_tokens":`...)
	b = jsonenc.AppendInt(b, int64(u.CompletionTokens))
	b = append(b, `,"output_tokens_details":{"reasoning_tokens":`...)
	b = jsonenc.AppendInt(b, int64(u.ReasoningTokens()))
	b = append(b, `},"total_tokens":`...)
	b = jsonenc.AppendInt(b, int64(total))
	return append(b, '}')
}

// errorCode is the code a failed response reports.
func errorCode(e *openai.Error) string {
	if e.Code != "" {
		return e.Code
	}
	if e.Status == 429 {
		return "rate_limit_exceeded"
	}
	return "server_error"
}

// customInput is a custom tool call's input: the "input" string of the
// arguments the model produced for its function stand-in, or the
// arguments themselves when they are not that shape. esc is the
// arguments JSON-escaped.
func customInput(esc []byte) string {
	args := []byte(chatwire.Token(appendQuoted(nil, esc)).String())
	args = chatwire.Trim(args)
	if len(args) == 0 || args[0] != '{' || !jsonenc.Valid(args) {
		return string(args)
	}
	var in string
	found := false
	_ = chatwire.Object(args, func(key, val []byte) error {
		if string(key) == "input" {
			in, found = chatwire.Unquote(val)
		}
		return nil
	})
	if !found {
		return string(args)
	}
	return in
}
