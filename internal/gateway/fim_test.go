package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/dsgate/dsgate/internal/apierror"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/upstream"
)

// fakeLlama answers as llama-server does: /infill fills the middle (native
// result shape, server_task_result_cmpl_final::to_json_non_oaicompat; a
// stream of native partial results ending with stop true and no [DONE]),
// while /v1/completions ignores suffix and continues the prompt.
type fakeLlama struct {
	mu    sync.Mutex
	paths []string
	last  map[string]json.RawMessage
}

func (f *fakeLlama) handle(w http.ResponseWriter, r *http.Request, _ int) {
	raw, _ := io.ReadAll(r.Body)
	var m map[string]json.RawMessage
	json.Unmarshal(raw, &m)
	f.mu.Lock()
	f.paths, f.last = append(f.paths, r.URL.Path), m
	f.mu.Unlock()
	stream := string(m["stream"]) == "true"
	switch r.URL.Path {
	case "/infill":
		if stream {
			w.Header().Set("Content-Type", "text/event-stream")
			for i, piece := range []string{"return", " a", " + b"} {
				fmt.Fprintf(w, "data: {\"index\":0,\"content\":%q,\"tokens\":[%d],\"stop\":false,\"id_slot\":0,\"tokens_predicted\":%d,\"tokens_evaluated\":14}\n\n", piece, 100+i, i+1)
			}
			fmt.Fprintf(w, "data: {\"index\":0,\"content\":\"\",\"tokens\":[],\"id_slot\":0,\"stop\":true,\"model\":\"gguf\",\"tokens_predicted\":3,\"tokens_evaluated\":14,"+
				"\"generation_settings\":{\"n_predict\":16},\"prompt\":\"<fim_pre>...\",\"has_new_line\":false,\"truncated\":false,\"stop_type\":\"eos\",\"stopping_word\":\"\",\"tokens_cached\":16,\"timings\":%s}\n\n", llamaTimings)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprintf(w, `{"index":0,"content":"return a + b","tokens":[],"id_slot":0,"stop":true,"model":"gguf","tokens_predicted":3,"tokens_evaluated":14,`+
			`"generation_settings":{"n_predict":16},"prompt":"<fim_pre>...","has_new_line":false,"truncated":false,"stop_type":"eos","stopping_word":"","tokens_cached":16,"timings":%s}`, llamaTimings)
	case "/v1/completions":
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprint(w, `{"choices":[{"text":"\n\nprint(add(1, 2))","index":0,"logprobs":null,"finish_reason":"length"}],"created":1,"model":"gguf",`+
			`"system_fingerprint":"b7000","object":"text_completion","usage":{"completion_tokens":8,"prompt_tokens":9,"total_tokens":17},"id":"chatcmpl-x"}`)
	default:
		http.NotFound(w, r)
	}
}

const fimBody = `{"model":"coder","prompt":"def add(a, b):\n    ","suffix":"\n\nprint(add(1, 2))","max_tokens":16`

// Issue 20: FIM to llama.cpp went to its /v1/completions, which ignores
// suffix and answered 200 with a plain continuation. /beta/completions and
// /v1/completions with a suffix now go to /infill, whose native answer and
// stream come back as OpenAI completions with usage and timings.
func TestFIMGoesToLlamaCppInfill(t *testing.T) {
	t.Parallel()
	for _, ep := range []openai.Endpoint{openai.EndpointFIM, openai.EndpointCompletion} {
		t.Run(ep.String(), func(t *testing.T) {
			t.Parallel()
			f := &fakeLlama{}
			srv := newFake(t, "llama", f.handle)
			u := up("llama", srv.srv.URL, func(o *upstream.Options) { o.Kind = upstream.KindLlamaCpp })
			g := newGateway(gateway.Options{Routes: []gateway.Route{route("coder", nil, u)}})

			if _, err := g.Complete(context.Background(), call(t, ep, "n", fimBody+`,"n":2}`)); apierror.From(err).Param != "n" {
				t.Errorf("n 2 to /infill (one completion): %v; want a 400 about n", err)
			}
			res := complete(t, g, ep, fimBody+`}`)
			var got struct {
				Object  string `json:"object"`
				Model   string `json:"model"`
				Choices []struct {
					Text         string `json:"text"`
					FinishReason string `json:"finish_reason"`
				} `json:"choices"`
				Usage   openai.Usage    `json:"usage"`
				Timings json.RawMessage `json:"timings"`
			}
			if err := json.Unmarshal(res.Body, &got); err != nil {
				t.Fatalf("%v: %s", err, res.Body)
			}
			if len(got.Choices) != 1 || got.Choices[0].Text != "return a + b" || got.Choices[0].FinishReason != "stop" ||
				got.Object != "text_completion" || got.Model != "coder" {
				t.Fatalf("answer %s; want the middle, return a + b", res.Body)
			}
			if got.Usage.PromptTokens != 14 || got.Usage.CompletionTokens != 3 || !res.HasUsage || string(got.Timings) != llamaTimings {
				t.Errorf("usage or timings lost: %s", res.Body)
			}
			f.mu.Lock()
			path, sent := f.paths[len(f.paths)-1], f.last
			f.mu.Unlock()
			if path != "/infill" || string(sent["input_prefix"]) != `"def add(a, b):\n    "` ||
				string(sent["input_suffix"]) != `"\n\nprint(add(1, 2))"` || sent["prompt"] != nil || sent["suffix"] != nil {
				t.Errorf("sent to %s: %v", path, sent)
			}

			for _, withUsage := range []bool{false, true} {
				opts := ""
				if withUsage {
					opts = `,"stream_options":{"include_usage":true}`
				}
				var s sink
				res, err := g.Stream(context.Background(), call(t, ep, "s", fimBody+`,"stream":true`+opts+`}`), &s)
				if err != nil {
					t.Fatal(err)
				}
				var text strings.Builder
				for _, e := range s.events[:len(s.events)-1] {
					var ch struct {
						Choices []struct {
							Text string `json:"text"`
						} `json:"choices"`
					}
					if err := json.Unmarshal([]byte(e), &ch); err != nil {
						t.Fatalf("chunk %s: %v", e, err)
					}
					for _, c := range ch.Choices {
						text.WriteString(c.Text)
					}
				}
				ev := s.events
				if text.String() != "return a + b" || ev[len(ev)-1] != "[DONE]" || !strings.Contains(ev[len(ev)-2], `"timings":`+llamaTimings) {
					t.Errorf("include_usage %v: stream %q", withUsage, ev)
				}
				if !res.HasUsage || res.Usage.CompletionTokens != 3 || strings.Contains(s.all(), `"usage"`) != withUsage {
					t.Errorf("include_usage %v: usage %+v in stream %v", withUsage, res.Usage, strings.Contains(s.all(), `"usage"`))
				}
			}
		})
	}
}

// vLLM and SGLang have no FIM API (vLLM refuses suffix): the prompt is
// built with the model family's FIM tokens, named on the target or guessed
// from a coder model's name. A target whose tokens are unknown is refused
// with a 400, never answered with a plain continuation.
func TestFIMWithModelTokens(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind, model, family string
		want                string // the prompt sent; "" for a 400
	}{
		{upstream.KindVLLM, "deepseek-ai/deepseek-coder-6.7b-base", "", "<｜fim▁begin｜>def add(a, b):\n    <｜fim▁hole｜>\n\nprint(add(1, 2))<｜fim▁end｜>"},
		{upstream.KindSGLang, "Qwen/Qwen2.5-Coder-7B", "", "<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>\n\nprint(add(1, 2))<|fim_middle|>"},
		{upstream.KindVLLM, "my-finetune", "starcoder", "<fim_prefix>def add(a, b):\n    <fim_suffix>\n\nprint(add(1, 2))<fim_middle>"},
		{upstream.KindOpenAI, "my-finetune", "qwen-coder", "<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>\n\nprint(add(1, 2))<|fim_middle|>"},
		{upstream.KindVLLM, "meta-llama/Llama-3.1-8B", "", ""},
		{upstream.KindLlamaCpp, "coder", upstream.FIMNoneFamily, ""},
	} {
		t.Run(tc.kind+"/"+tc.model, func(t *testing.T) {
			t.Parallel()
			b := &bodies{}
			f := newFake(t, "u", b.handle)
			u := up("u", f.srv.URL, func(o *upstream.Options) { o.Kind = tc.kind })
			r := gateway.Route{Name: "coder", Pool: upstream.NewPool([]*upstream.Target{{Upstream: u, Model: tc.model, Weight: 1, FIMFamily: tc.family}}, nil, nil)}
			g := newGateway(gateway.Options{Routes: []gateway.Route{r}})
			for _, ep := range []openai.Endpoint{openai.EndpointFIM, openai.EndpointCompletion} {
				_, err := g.Complete(context.Background(), call(t, ep, "1", fimBody+`}`))
				if tc.want == "" {
					ae := apierror.From(err)
					if ae.Status != 400 || ae.Code != "fim_not_supported" || b.count() != 0 {
						t.Fatalf("%s: got %v (%d sent); want a 400 fim_not_supported and nothing sent", ep, err, b.count())
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				var prompt string
				json.Unmarshal(b.last(t)["prompt"], &prompt)
				if prompt != tc.want || b.last(t)["suffix"] != nil {
					t.Errorf("%s: prompt %q suffix %s; want %q and no suffix", ep, prompt, b.last(t)["suffix"], tc.want)
				}
			}
		})
	}
	// A completion without a suffix is a plain completion everywhere.
	g, b := one(t, upstream.KindVLLM, "", "meta-llama/Llama-3.1-8B", nil)
	complete(t, g, openai.EndpointCompletion, `{"model":"pub","prompt":"once upon"}`)
	if got := b.field(t, "prompt"); got != `"once upon"` {
		t.Errorf("plain completion prompt %s", got)
	}
}
