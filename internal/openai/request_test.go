package openai

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		endpoint  Endpoint
		body      string
		wantParam string // "" with wantErr false means success
		wantErr   bool
		check     func(t *testing.T, r *Request)
	}{
		{name: "minimal chat", endpoint: EndpointChat,
			body: `{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
			check: func(t *testing.T, r *Request) {
				if r.Model != "m" || r.Stream || r.IncludeUsage {
					t.Errorf("got %+v", r)
				}
			}},
		{name: "stream with usage and extras", endpoint: EndpointChat,
			body: `{"model":"m","stream":true,"stream_options":{"include_usage":true},"top_k":5,"messages":[{"role":"developer","content":"x"},{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_completion_tokens":7}`,
			check: func(t *testing.T, r *Request) {
				if !r.Stream || !r.IncludeUsage || !r.HasDeveloper || r.MaxTokens != 7 {
					t.Errorf("got %+v", r)
				}
			}},
		{name: "assistant with reasoning_content and tool calls", endpoint: EndpointChat,
			body: `{"model":"m","messages":[{"role":"user","content":"a"},{"role":"assistant","content":null,"reasoning_content":"r","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"1"}]}`},
		{name: "thinking set by client", endpoint: EndpointChat,
			body: `{"model":"m","thinking":{"type":"enabled"},"messages":[{"role":"user","content":"a"}]}`,
			check: func(t *testing.T, r *Request) {
				if !r.HasThinking {
					t.Error("HasThinking false")
				}
			}},
		{name: "leading whitespace", endpoint: EndpointChat, body: "\n {\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}"},
		{name: "not an object", endpoint: EndpointChat, body: `[1]`, wantErr: true},
		{name: "empty body", endpoint: EndpointChat, body: ``, wantErr: true},
		{name: "malformed", endpoint: EndpointChat, body: `{"model":"m",`, wantErr: true},
		{name: "missing model", endpoint: EndpointChat, body: `{"messages":[{"role":"user","content":"a"}]}`, wantErr: true, wantParam: "model"},
		{name: "model wrong type", endpoint: EndpointChat, body: `{"model":3,"messages":[{"role":"user","content":"a"}]}`, wantErr: true, wantParam: "model"},
		{name: "no messages", endpoint: EndpointChat, body: `{"model":"m","messages":[]}`, wantErr: true, wantParam: "messages"},
		{name: "bad role", endpoint: EndpointChat, body: `{"model":"m","messages":[{"role":"robot","content":"a"}]}`, wantErr: true, wantParam: "messages[0].role"},
		{name: "stream not bool", endpoint: EndpointChat, body: `{"model":"m","stream":"yes","messages":[{"role":"user","content":"a"}]}`, wantErr: true, wantParam: "stream"},
		{name: "stream_options without stream", endpoint: EndpointChat, body: `{"model":"m","stream_options":{"include_usage":true},"messages":[{"role":"user","content":"a"}]}`, wantErr: true, wantParam: "stream_options"},
		{name: "temperature too high", endpoint: EndpointChat, body: `{"model":"m","temperature":2.5,"messages":[{"role":"user","content":"a"}]}`, wantErr: true, wantParam: "temperature"},
		{name: "top_p zero", endpoint: EndpointChat, body: `{"model":"m","top_p":0,"messages":[{"role":"user","content":"a"}]}`, wantErr: true, wantParam: "top_p"},
		{name: "max_tokens zero", endpoint: EndpointChat, body: `{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"a"}]}`, wantErr: true, wantParam: "max_tokens"},
		{name: "n zero", endpoint: EndpointChat, body: `{"model":"m","n":0,"messages":[{"role":"user","content":"a"}]}`, wantErr: true, wantParam: "n"},
		{name: "completion", endpoint: EndpointCompletion, body: `{"model":"m","prompt":["a","b"]}`},
		{name: "completion no prompt", endpoint: EndpointCompletion, body: `{"model":"m"}`, wantErr: true, wantParam: "prompt"},
		{name: "fim", endpoint: EndpointFIM, body: `{"model":"m","prompt":"def f(","suffix":"return 1"}`},
		{name: "fim prompt array", endpoint: EndpointFIM, body: `{"model":"m","prompt":["a"]}`, wantErr: true, wantParam: "prompt"},
		{name: "embedding", endpoint: EndpointEmbedding, body: `{"model":"m","input":["a","b"],"encoding_format":"base64"}`},
		{name: "embedding empty input", endpoint: EndpointEmbedding, body: `{"model":"m","input":""}`, wantErr: true, wantParam: "input"},
		{name: "embedding bad format", endpoint: EndpointEmbedding, body: `{"model":"m","input":"a","encoding_format":"hex"}`, wantErr: true, wantParam: "encoding_format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := Parse(tt.endpoint, []byte(tt.body))
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if tt.check != nil {
					tt.check(t, r)
				}
				return
			}
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if ae.Status != 400 || ae.Type != "invalid_request_error" {
				t.Errorf("status %d type %q", ae.Status, ae.Type)
			}
			if ae.Param != tt.wantParam {
				t.Errorf("param = %q, want %q (message %q)", ae.Param, tt.wantParam, ae.Message)
			}
		})
	}
}

func TestNormalizeUpstreamError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		status         int
		body           string
		msg, typ, code string
	}{
		{"deepseek 402", 402, `{"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,"code":"invalid_request_error"}}`,
			"Insufficient Balance", "insufficient_quota", "insufficient_quota"},
		{"deepseek 429", 429, `{"error":{"message":"Rate Limit Reached","type":"unknown_error","param":null,"code":"invalid_request_error"}}`,
			"Rate Limit Reached", "rate_limit_error", "rate_limit_exceeded"},
		{"vllm nested int code", 400, `{"error":{"message":"too long","type":"BadRequestError","param":null,"code":400}}`,
			"too long", "invalid_request_error", ""},
		{"vllm flat", 400, `{"object":"error","message":"flat msg","type":"BadRequestError","param":null,"code":400}`,
			"flat msg", "invalid_request_error", ""},
		{"ollama string", 500, `{"error":"the model failed"}`, "the model failed", "server_error", ""},
		{"openai code kept", 400, `{"error":{"message":"ctx","type":"invalid_request_error","code":"context_length_exceeded"}}`,
			"ctx", "invalid_request_error", "context_length_exceeded"},
		{"llama.cpp", 503, `{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}`,
			"Loading model", "service_unavailable_error", ""},
		{"not json", 502, `<html>bad gateway</html>`, "upstream returned HTTP 502", "server_error", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := NormalizeUpstreamError(tt.status, []byte(tt.body))
			if e.Message != tt.msg || e.Type != tt.typ || e.Code != tt.code || e.Status != tt.status {
				t.Errorf("got %+v", e)
			}
		})
	}
}

func TestErrorJSON(t *testing.T) {
	t.Parallel()
	got := string(InvalidRequest("", "bad").JSON())
	want := `{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}}`
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

// TestParseChecksSyntaxInItsWalk: Parse validates the body in the walk
// that reads it; whatever the walk skips or stops at, a malformed body is
// refused as malformed, and whitespace after the object is no fault.
func TestParseChecksSyntaxInItsWalk(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	for _, body := range []string{
		`{"model":"m",` + msgs + "}\n \t",
		" \n{\"model\":\"m\"," + msgs + "}",
	} {
		if _, err := Parse(EndpointChat, []byte(body)); err != nil {
			t.Errorf("Parse(%q) = %v, want it read", body, err)
		}
	}
	for _, body := range []string{
		`{"model":"m",` + msgs + `} x`,
		`{"model":"m",` + msgs + `}}`,
		`{"model":"m" ` + msgs + `}`,
		`{,"model":"m",` + msgs + `}`,
		`{"model":"m",` + msgs + `,}`,
		`{"model":"m","messages":[{"role":"user","content":"hi"]}`,
		`{"model":"m","messages":[{"role":"user","content":"h` + "\x01" + `i"}]}`,
		`{"model":"m","MODEL":"x",` + msgs + `,"n":tru}`, // a smuggled key before the fault
		`{"model":5,` + msgs + `,"x":[}`,                 // a wrong type before the fault
	} {
		_, err := Parse(EndpointChat, []byte(body))
		var ae *Error
		if !errors.As(err, &ae) || !strings.HasPrefix(ae.Message, "malformed JSON") {
			t.Errorf("Parse(%q) = %v, want malformed JSON", body, err)
		}
	}
}
