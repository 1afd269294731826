package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
)

// llamaTimings is llama.cpp's timings object (result_timings::to_json).
const llamaTimings = `{"cache_n":0,"prompt_n":9,"prompt_ms":12.5,"prompt_per_token_ms":1.39,"prompt_per_second":720.0,` +
	`"predicted_n":2,"predicted_ms":8.1,"predicted_per_token_ms":4.05,"predicted_per_second":246.9}`

// llamaChatStream answers a chat stream as llama-server does
// (server_task_result_cmpl_final::to_json_oaicompat_chat_stream): the
// finish chunk, then with include_usage a chunk with empty choices and the
// usage; timings go on the last of them.
func llamaChatStream(w http.ResponseWriter, r *http.Request, _ int) {
	var req struct {
		Model         string `json:"model"`
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	json.NewDecoder(r.Body).Decode(&req)
	w.Header().Set("Content-Type", "text/event-stream")
	tail := fmt.Sprintf(`"created":1,"id":"chatcmpl-x","model":%q,"system_fingerprint":"b7000-abc","object":"chat.completion.chunk"}`, req.Model)
	chunks := []string{
		`{"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}],` + tail,
		`{"choices":[{"finish_reason":null,"index":0,"delta":{"content":"hi"}}],` + tail,
		`{"choices":[{"finish_reason":"stop","index":0,"delta":{}}],` + tail,
	}
	if req.StreamOptions.IncludeUsage {
		chunks = append(chunks, `{"choices":[],"usage":{"completion_tokens":2,"prompt_tokens":9,"total_tokens":11},`+tail)
	}
	last := chunks[len(chunks)-1]
	chunks[len(chunks)-1] = last[:len(last)-1] + `,"timings":` + llamaTimings + `}`
	for _, c := range chunks {
		fmt.Fprintf(w, "data: %s\n\n", c)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

// Issue 20: llama.cpp puts timings on the last chunk of a stream. dsgate
// asks every stream for usage and drops the usage chunk for clients that
// did not ask for it, and the timings went with it. They now ride on the
// last chunk the client receives, whether it asked for usage or not.
func TestStreamKeepsLlamaCppTimings(t *testing.T) {
	t.Parallel()
	for _, withUsage := range []bool{false, true} {
		t.Run(fmt.Sprint("include_usage=", withUsage), func(t *testing.T) {
			t.Parallel()
			f := newFake(t, "llama", llamaChatStream)
			g := newGateway(gateway.Options{Routes: []gateway.Route{route("m", nil, up("llama", f.srv.URL))}})
			opts := ""
			if withUsage {
				opts = `"stream_options":{"include_usage":true},`
			}
			c := call(t, openai.EndpointChat, "1", `{"model":"m","stream":true,`+opts+`"messages":[{"role":"user","content":"hi"}]}`)
			var s sink
			res, err := g.Stream(context.Background(), c, &s)
			if err != nil {
				t.Fatal(err)
			}
			if !res.HasUsage || res.Usage.PromptTokens != 9 {
				t.Errorf("usage not read: %+v", res.Usage)
			}
			ev := s.events
			if len(ev) < 2 || ev[len(ev)-1] != "[DONE]" {
				t.Fatalf("stream %q", ev)
			}
			last := ev[len(ev)-2]
			if !strings.Contains(last, `"timings":`+llamaTimings) {
				t.Errorf("last chunk before [DONE] has no timings: %s", last)
			}
			if strings.Count(s.all(), `"timings"`) != 1 {
				t.Errorf("timings sent %d times:\n%s", strings.Count(s.all(), `"timings"`), s.all())
			}
			hasUsage := strings.Contains(s.all(), `"usage"`)
			if hasUsage != withUsage {
				t.Errorf("usage in the stream: %v, client asked: %v\n%s", hasUsage, withUsage, s.all())
			}
			if !withUsage && !strings.Contains(last, `"finish_reason":"stop"`) {
				t.Errorf("timings not on the finish chunk: %s", last)
			}
		})
	}
}
