package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dsgate/dsgate/internal/openai"
)

func TestBlameAndRetryPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status      int
		body        string
		retryOn     []string // nil: default
		blame       Blame
		retryable   bool
		description string
	}{
		{503, `{"error":{"message":"Server Overloaded","type":"unknown_error","param":null,"code":"invalid_request_error"}}`, nil, BlameUpstream, true, "DeepSeek overloaded"},
		{500, `{"error":{"message":"Server Error","type":"unknown_error","param":null,"code":"invalid_request_error"}}`, nil, BlameUpstream, true, "DeepSeek server error"},
		{429, `{"error":{"message":"Rate Limit Reached"}}`, nil, BlameUpstream, true, "rate limited"},
		{400, `{"error":{"message":"bad"}}`, nil, BlameRequest, false, "client error"},
		{401, `{"error":{"message":"Authentication Fails"}}`, nil, BlameAccount, true, "key refused"},
		{402, `{"error":{"message":"Insufficient Balance"}}`, nil, BlameAccount, true, "balance"},
		{501, `{"error":{"code":501,"message":"This server does not support embeddings. Start it with --embeddings","type":"not_supported_error"}}`, nil, BlameRequest, false, "llama.cpp embeddings"},
		{500, `{"error":{"code":500,"message":"image input is not supported - hint: if this is unexpected, you may need to provide the mmproj","type":"server_error"}}`, nil, BlameRequest, false, "llama.cpp image"},
		{500, `{"error":{"message":"CUDA error","type":"server_error"}}`, nil, BlameUnsure, true, "unexplained 500"},
		{500, `{"error":{"message":"CUDA error","type":"server_error"}}`, []string{"503"}, BlameUnsure, false, "500 not in retry_on"},
		{502, `<html>`, []string{"5xx"}, BlameUpstream, true, "5xx"},
		{503, `{}`, []string{"connect"}, BlameUpstream, false, "503 not in retry_on"},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			o := Options{Name: "u", Kind: KindOpenAI, URL: srv.URL}
			if tt.retryOn != nil {
				p, err := ParseRetryOn(tt.retryOn)
				if err != nil {
					t.Fatal(err)
				}
				o.RetryOn = &p
			}
			_, err := New(o).Send(context.Background(), openai.EndpointChat, []byte(`{}`), "")
			var ue *Error
			if !errors.As(err, &ue) || ue.Blame != tt.blame || ue.Retryable != tt.retryable {
				t.Errorf("got %+v; want blame %v retryable %v", ue, tt.blame, tt.retryable)
			}
		})
	}
	if _, err := ParseRetryOn([]string{"sometimes"}); err == nil {
		t.Error("ParseRetryOn accepted a bad token")
	}
}
