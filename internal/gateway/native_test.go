package gateway_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/upstream"
)

// anthropicUsage reads an Anthropic usage object the way the transport's
// reader (anthropic.UsageOf) does, for these tests.
func anthropicUsage(v json.RawMessage, u *openai.Usage) {
	var au struct {
		Input     *int `json:"input_tokens"`
		CacheRead int  `json:"cache_read_input_tokens"`
		Output    int  `json:"output_tokens"`
	}
	if json.Unmarshal(v, &au) != nil {
		return
	}
	if au.Input != nil {
		u.PromptTokens, u.PromptCacheHitTokens = *au.Input+au.CacheRead, au.CacheRead
	}
	u.CompletionTokens = au.Output
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
}

// nativeCall is a Messages request with its chat translation.
func nativeCall(t *testing.T, stream bool) *gateway.Call {
	s := "false"
	if stream {
		s = "true"
	}
	chatBody := `{"model":"deepseek-chat","stream":` + s + `,"max_tokens":16,"messages":[{"role":"user","content":"relay me"}]}`
	c := call(t, openai.EndpointChat, "r1", chatBody)
	c.Native = &gateway.Native{Endpoint: openai.EndpointMessages,
		Body: []byte(`{"model":"deepseek-chat","max_tokens":16,"stream":` + s + `,"messages":[{"role":"user","content":"relay me"}]}`),
		Usage: func(b []byte) (openai.Usage, bool) {
			var m struct{ Usage json.RawMessage }
			var u openai.Usage
			if json.Unmarshal(b, &m) != nil || m.Usage == nil {
				return u, false
			}
			anthropicUsage(m.Usage, &u)
			return u, true
		},
		EventUsage: func(event string, data []byte, u *openai.Usage) {
			var e struct {
				Message struct{ Usage json.RawMessage }
				Usage   json.RawMessage
			}
			_ = json.Unmarshal(data, &e)
			if event == "message_start" {
				anthropicUsage(e.Message.Usage, u)
			} else if event == "message_delta" {
				var out openai.Usage
				anthropicUsage(e.Usage, &out)
				u.CompletionTokens, u.TotalTokens = out.CompletionTokens, u.PromptTokens+out.CompletionTokens
			}
		}}
	return c
}

// eventSink collects named events.
type eventSink struct {
	sink
	mu    sync.Mutex
	names []string
}

func (s *eventSink) Event(name string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names = append(s.names, name)
	return nil
}

// A native request reaches the strict DeepSeek double's Anthropic endpoint
// as DeepSeek takes it (its model, the route's thinking default, the
// upstream's key) and comes back as a Message with its usage settled,
// cache reads included; streamed, the events go to the sink's Event.
func TestNativeRelayToTheDeepSeekDouble(t *testing.T) {
	t.Parallel()
	double, _, _ := simUpstream(t, "ds", sim.Options{Personality: sim.PersonalityDeepSeek, APIKey: "sk-k"}, func(o *upstream.Options) {
		o.Kind, o.APIKey = upstream.KindDeepSeek, "sk-k"
	})
	off := false
	g := gateway.New(gateway.Options{Routes: []gateway.Route{{Name: "deepseek-chat", Thinking: &off,
		Pool: upstream.NewPool([]*upstream.Target{{Upstream: double, Model: "deepseek-chat"}}, &upstream.RoundRobin{}, upstream.DefaultRules())}}})
	ctx := context.Background()
	res, err := g.Complete(ctx, nativeCall(t, false))
	if err != nil {
		t.Fatal(err)
	}
	body := string(res.Body)
	if !res.Native || !strings.Contains(body, `"type":"message"`) || !strings.Contains(body, `"model":"deepseek-chat"`) ||
		strings.Contains(body, `"thinking"`) || res.Usage.PromptTokens == 0 || res.Usage.CompletionTokens != 16 {
		t.Fatalf("%+v %s", res, body)
	}
	again, err := g.Complete(ctx, nativeCall(t, false))
	if err != nil || again.Usage.PromptCacheHitTokens == 0 {
		t.Errorf("second call: %v %+v", err, again)
	}
	var sk eventSink
	res, err = g.Stream(ctx, nativeCall(t, true), &sk)
	if err != nil || !res.Native || !res.HasUsage || res.Usage.CompletionTokens != 16 || res.UsageEstimated {
		t.Fatalf("%v %+v", err, res)
	}
	if got := strings.Join(sk.names, " "); !strings.HasPrefix(got, "message_start ping content_block_start") ||
		!strings.HasSuffix(got, "message_delta message_stop") || len(sk.events) != 0 {
		t.Errorf("events %s; data %v", got, sk.events)
	}
	// A sink that takes no named events gets the translation instead.
	var plain sink
	if res, err := g.Stream(ctx, nativeCall(t, true), &plain); err != nil || res.Native || !strings.Contains(plain.all(), "chat.completion.chunk") {
		t.Errorf("plain sink: %v %+v %s", err, res, plain.all())
	}
}
