package grpcapi

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
	"github.com/dsgate/dsgate/internal/openai"
)

// The types below mirror the OpenAI JSON answers the gateway produces;
// pointers tell null from empty so nothing set is lost on the way to proto.

type wireToolCall struct {
	Index    *int    `json:"index"`
	ID       *string `json:"id"`
	Type     *string `json:"type"`
	Function struct {
		Name      *string `json:"name"`
		Arguments string  `json:"arguments"`
	} `json:"function"`
}

type wireMessage struct {
	Role             *string        `json:"role"`
	Content          *string        `json:"content"`
	ReasoningContent *string        `json:"reasoning_content"`
	Refusal          *string        `json:"refusal"`
	ToolCalls        []wireToolCall `json:"tool_calls"`
}

type wireTopLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int32 `json:"bytes"`
}

type wireTokenLogprob struct {
	wireTopLogprob
	TopLogprobs []wireTopLogprob `json:"top_logprobs"`
}

type wireLogprobs struct {
	Content []wireTokenLogprob `json:"content"`
	Refusal []wireTokenLogprob `json:"refusal"`
}

type wireChoice struct {
	Index        int           `json:"index"`
	Message      *wireMessage  `json:"message"`
	Delta        *wireMessage  `json:"delta"`
	Logprobs     *wireLogprobs `json:"logprobs"`
	FinishReason *string       `json:"finish_reason"`
}

type wireAnswer struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	SystemFingerprint *string       `json:"system_fingerprint"`
	Choices           []wireChoice  `json:"choices"`
	Usage             *openai.Usage `json:"usage"`
}

// completionChoice is a legacy completion choice; its logprobs have a
// different shape from chat's.
type completionChoice struct {
	Index    int    `json:"index"`
	Text     string `json:"text"`
	Logprobs *struct {
		Tokens        []string         `json:"tokens"`
		TokenLogprobs []float64        `json:"token_logprobs"`
		TextOffset    []int32          `json:"text_offset"`
		TopLogprobs   []map[string]any `json:"top_logprobs"`
	} `json:"logprobs"`
	FinishReason *string `json:"finish_reason"`
}

type completionAnswer struct {
	ID                string             `json:"id"`
	Object            string             `json:"object"`
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	SystemFingerprint *string            `json:"system_fingerprint"`
	Choices           []completionChoice `json:"choices"`
	Usage             *openai.Usage      `json:"usage"`
}

// ChatResponse converts a chat.completion body.
func ChatResponse(body []byte) (*pb.ChatCompletionResponse, error) {
	var a wireAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("decoding chat completion: %w", err)
	}
	out := &pb.ChatCompletionResponse{Id: a.ID, Object: a.Object, Created: a.Created, Model: a.Model,
		SystemFingerprint: a.SystemFingerprint, Usage: usageProto(a.Usage)}
	for _, c := range a.Choices {
		ch := &pb.ChatChoice{Index: int32(c.Index), Logprobs: logprobsProto(c.Logprobs)}
		ch.FinishReason, ch.RawFinishReason = finishReason(c.FinishReason)
		if c.Message != nil {
			ch.Message = messageProto(c.Message)
		}
		out.Choices = append(out.Choices, ch)
	}
	return out, nil
}

// CompletionResponseOf converts a text_completion body.
func CompletionResponseOf(body []byte) (*pb.CompletionResponse, error) {
	var a completionAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("decoding completion: %w", err)
	}
	out := &pb.CompletionResponse{Id: a.ID, Object: a.Object, Created: a.Created, Model: a.Model,
		SystemFingerprint: a.SystemFingerprint, Usage: usageProto(a.Usage)}
	for _, c := range a.Choices {
		ch := &pb.CompletionChoice{Index: int32(c.Index), Text: c.Text}
		ch.FinishReason, ch.RawFinishReason = finishReason(c.FinishReason)
		if lp := c.Logprobs; lp != nil {
			p := &pb.CompletionLogprobs{Tokens: lp.Tokens, TokenLogprobs: lp.TokenLogprobs, TextOffset: lp.TextOffset}
			for _, t := range lp.TopLogprobs {
				if s, err := structpb.NewStruct(t); err == nil {
					p.TopLogprobs = append(p.TopLogprobs, s)
				}
			}
			ch.Logprobs = p
		}
		out.Choices = append(out.Choices, ch)
	}
	return out, nil
}

func messageProto(m *wireMessage) *pb.Message {
	out := &pb.Message{Content: m.Content, ReasoningContent: m.ReasoningContent, Refusal: m.Refusal}
	if m.Role != nil {
		out.Role = *m.Role
	}
	for _, tc := range m.ToolCalls {
		c := &pb.ToolCall{Function: &pb.FunctionCall{Arguments: tc.Function.Arguments}}
		if tc.ID != nil {
			c.Id = *tc.ID
		}
		if tc.Type != nil {
			c.Type = *tc.Type
		}
		if tc.Function.Name != nil {
			c.Function.Name = *tc.Function.Name
		}
		out.ToolCalls = append(out.ToolCalls, c)
	}
	return out
}

func logprobsProto(l *wireLogprobs) *pb.Logprobs {
	if l == nil {
		return nil
	}
	conv := func(ts []wireTokenLogprob) []*pb.TokenLogprob {
		var out []*pb.TokenLogprob
		for _, t := range ts {
			p := &pb.TokenLogprob{Token: t.Token, Logprob: t.Logprob, Bytes: t.Bytes}
			for _, tt := range t.TopLogprobs {
				p.TopLogprobs = append(p.TopLogprobs, &pb.TopLogprob{Token: tt.Token, Logprob: tt.Logprob, Bytes: tt.Bytes})
			}
			out = append(out, p)
		}
		return out
	}
	return &pb.Logprobs{Content: conv(l.Content), Refusal: conv(l.Refusal)}
}

func usageProto(u *openai.Usage) *pb.Usage {
	if u == nil {
		return nil
	}
	out := &pb.Usage{PromptTokens: int32(u.PromptTokens), CompletionTokens: int32(u.CompletionTokens),
		TotalTokens: int32(u.TotalTokens)}
	if u.PromptCacheHitTokens > 0 || u.PromptCacheMissTokens > 0 {
		hit, miss := int32(u.PromptCacheHitTokens), int32(u.PromptCacheMissTokens)
		out.PromptCacheHitTokens, out.PromptCacheMissTokens = &hit, &miss
	}
	if d := u.PromptTokensDetails; d != nil {
		v := int32(d.CachedTokens)
		out.CachedTokens = &v
	}
	if d := u.CompletionTokensDetails; d != nil {
		v := int32(d.ReasoningTokens)
		out.ReasoningTokens = &v
	}
	return out
}

var finishReasons = map[string]pb.FinishReason{
	"stop":                         pb.FinishReason_FINISH_REASON_STOP,
	"length":                       pb.FinishReason_FINISH_REASON_LENGTH,
	"tool_calls":                   pb.FinishReason_FINISH_REASON_TOOL_CALLS,
	"content_filter":               pb.FinishReason_FINISH_REASON_CONTENT_FILTER,
	"insufficient_system_resource": pb.FinishReason_FINISH_REASON_INSUFFICIENT_SYSTEM_RESOURCE,
	"function_call":                pb.FinishReason_FINISH_REASON_FUNCTION_CALL,
}

// finishReason maps a finish_reason; unknown values keep their text in the
// raw field and map to UNSPECIFIED instead of failing.
func finishReason(s *string) (pb.FinishReason, string) {
	if s == nil {
		return pb.FinishReason_FINISH_REASON_UNSPECIFIED, ""
	}
	return finishReasons[*s], *s
}

// errorProto renders an OpenAI error for an error event or batch item.
func errorProto(e *openai.Error) *pb.Error {
	return &pb.Error{HttpStatus: int32(e.Status), Type: e.Type, Code: e.Code, Param: e.Param, Message: e.Message}
}
