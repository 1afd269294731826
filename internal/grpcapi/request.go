package grpcapi

import (
	"encoding/json"
	"fmt"

	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
	"github.com/dsgate/dsgate/internal/openai"
)

// The builders below turn proto requests into the OpenAI JSON bodies the
// gateway forwards. Only fields the client set are written, so the body is
// the one an OpenAI SDK would send for the same call. encoding/json sorts
// map keys, which keeps bodies byte-stable for prefix and response caches.

// ChatBody renders r as the body of POST /v1/chat/completions.
func ChatBody(r *pb.ChatCompletionRequest, stream, includeUsage bool) ([]byte, error) {
	if r == nil {
		return nil, openai.InvalidRequest("request", "request is required")
	}
	m := map[string]any{}
	if err := mergeExtra(m, r.GetExtraBody().AsMap()); err != nil {
		return nil, err
	}
	m["model"] = r.GetModel()
	msgs := make([]any, 0, len(r.GetMessages()))
	for _, msg := range r.GetMessages() {
		msgs = append(msgs, messageJSON(msg))
	}
	m["messages"] = msgs
	setOpt(m, "temperature", r.Temperature)
	setOpt(m, "top_p", r.TopP)
	setOpt(m, "max_tokens", r.MaxTokens)
	setOpt(m, "max_completion_tokens", r.MaxCompletionTokens)
	setOpt(m, "frequency_penalty", r.FrequencyPenalty)
	setOpt(m, "presence_penalty", r.PresencePenalty)
	setOpt(m, "logprobs", r.Logprobs)
	setOpt(m, "top_logprobs", r.TopLogprobs)
	setOpt(m, "parallel_tool_calls", r.ParallelToolCalls)
	setOpt(m, "reasoning_effort", r.ReasoningEffort)
	setOpt(m, "user", r.User)
	setOpt(m, "n", r.N)
	setOpt(m, "seed", r.Seed)
	if len(r.GetStop()) > 0 {
		m["stop"] = r.GetStop()
	}
	if len(r.GetLogitBias()) > 0 {
		m["logit_bias"] = r.GetLogitBias()
	}
	if f := r.GetResponseFormat(); f != nil {
		rf := map[string]any{"type": f.GetType()}
		if f.GetJsonSchema() != nil {
			rf["json_schema"] = f.GetJsonSchema().AsMap()
		}
		m["response_format"] = rf
	}
	if len(r.GetTools()) > 0 {
		tools := make([]any, 0, len(r.GetTools()))
		for _, t := range r.GetTools() {
			tools = append(tools, toolJSON(t))
		}
		m["tools"] = tools
	}
	if tc := r.GetToolChoice(); tc != nil {
		switch c := tc.GetChoice().(type) {
		case *pb.ToolChoice_Mode:
			m["tool_choice"] = c.Mode
		case *pb.ToolChoice_FunctionName:
			m["tool_choice"] = map[string]any{"type": "function", "function": map[string]any{"name": c.FunctionName}}
		}
	}
	if th := r.GetThinking(); th != nil {
		m["thinking"] = map[string]any{"type": th.GetType()}
	}
	streamFields(m, stream, includeUsage)
	return json.Marshal(m)
}

// CompletionBody renders r as the body of POST /v1/completions (or of
// DeepSeek's /beta/completions when r has a suffix).
func CompletionBody(r *pb.CompletionRequest, stream, includeUsage bool) ([]byte, error) {
	if r == nil {
		return nil, openai.InvalidRequest("request", "request is required")
	}
	m := map[string]any{}
	if err := mergeExtra(m, r.GetExtraBody().AsMap()); err != nil {
		return nil, err
	}
	m["model"] = r.GetModel()
	m["prompt"] = r.GetPrompt()
	setOpt(m, "suffix", r.Suffix)
	setOpt(m, "max_tokens", r.MaxTokens)
	setOpt(m, "temperature", r.Temperature)
	setOpt(m, "top_p", r.TopP)
	setOpt(m, "echo", r.Echo)
	setOpt(m, "logprobs", r.Logprobs)
	setOpt(m, "frequency_penalty", r.FrequencyPenalty)
	setOpt(m, "presence_penalty", r.PresencePenalty)
	setOpt(m, "n", r.N)
	setOpt(m, "seed", r.Seed)
	setOpt(m, "user", r.User)
	if len(r.GetStop()) > 0 {
		m["stop"] = r.GetStop()
	}
	streamFields(m, stream, includeUsage)
	return json.Marshal(m)
}

// CompletionEndpoint is FIM when the request has a suffix.
func CompletionEndpoint(r *pb.CompletionRequest) openai.Endpoint {
	if r.Suffix != nil {
		return openai.EndpointFIM
	}
	return openai.EndpointCompletion
}

func streamFields(m map[string]any, stream, includeUsage bool) {
	if !stream {
		return
	}
	m["stream"] = true
	if includeUsage {
		m["stream_options"] = map[string]any{"include_usage": true}
	}
}

// mergeExtra copies extra_body into m. The typed fields are written after
// it and so win.
func mergeExtra(m, extra map[string]any) error {
	for k, v := range extra {
		switch k {
		case "stream", "stream_options":
			return openai.InvalidRequest("extra_body."+k, fmt.Sprintf("%s is set by the RPC, not by extra_body", k))
		}
		m[k] = v
	}
	return nil
}

// setOpt writes an optional scalar when it is set.
func setOpt[T any](m map[string]any, key string, v *T) {
	if v != nil {
		m[key] = *v
	}
}

func messageJSON(msg *pb.Message) map[string]any {
	m := map[string]any{"role": msg.GetRole()}
	switch {
	case len(msg.GetContentParts()) > 0:
		parts := make([]any, 0, len(msg.GetContentParts()))
		for _, p := range msg.GetContentParts() {
			part := map[string]any{"type": p.GetType()}
			setOpt(part, "text", p.Text)
			if iu := p.GetImageUrl(); iu != nil {
				img := map[string]any{"url": iu.GetUrl()}
				setOpt(img, "detail", iu.Detail)
				part["image_url"] = img
			}
			parts = append(parts, part)
		}
		m["content"] = parts
	case msg.Content != nil:
		m["content"] = msg.GetContent()
	default:
		m["content"] = nil
	}
	setOpt(m, "reasoning_content", msg.ReasoningContent)
	setOpt(m, "tool_call_id", msg.ToolCallId)
	setOpt(m, "name", msg.Name)
	setOpt(m, "prefix", msg.Prefix)
	setOpt(m, "refusal", msg.Refusal)
	if len(msg.GetToolCalls()) > 0 {
		calls := make([]any, 0, len(msg.GetToolCalls()))
		for _, tc := range msg.GetToolCalls() {
			typ := tc.GetType()
			if typ == "" {
				typ = "function"
			}
			calls = append(calls, map[string]any{"id": tc.GetId(), "type": typ, "function": map[string]any{
				"name": tc.GetFunction().GetName(), "arguments": tc.GetFunction().GetArguments(),
			}})
		}
		m["tool_calls"] = calls
	}
	return m
}

func toolJSON(t *pb.Tool) map[string]any {
	typ := t.GetType()
	if typ == "" {
		typ = "function"
	}
	fn := t.GetFunction()
	f := map[string]any{"name": fn.GetName()}
	setOpt(f, "description", fn.Description)
	setOpt(f, "strict", fn.Strict)
	if fn.GetParameters() != nil {
		f["parameters"] = fn.GetParameters().AsMap()
	}
	return map[string]any{"type": typ, "function": f}
}
