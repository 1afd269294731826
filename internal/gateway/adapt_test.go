package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/upstream"
)

// bodies is a fake upstream that keeps every request body and answers
// with a finished completion naming the model it was sent.
type bodies struct {
	mu  sync.Mutex
	got []map[string]json.RawMessage
}

func (b *bodies) handle(w http.ResponseWriter, r *http.Request, _ int) {
	raw, _ := io.ReadAll(r.Body)
	var m map[string]json.RawMessage
	json.Unmarshal(raw, &m)
	b.mu.Lock()
	b.got = append(b.got, m)
	b.mu.Unlock()
	var model string
	json.Unmarshal(m["model"], &model)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","created":1,"model":%q,`+
		`"choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],`+
		`"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`, model)
}

func (b *bodies) last(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.got) == 0 {
		t.Fatal("upstream got no request")
	}
	return b.got[len(b.got)-1]
}

func (b *bodies) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.got)
}

// field returns a member of the last body as compact JSON ("" when absent).
func (b *bodies) field(t *testing.T, key string) string {
	t.Helper()
	return string(b.last(t)[key])
}

// one builds a gateway with one route "pub" served by one upstream of the
// given kind and thinking switch, whose model name for it is target.
func one(t *testing.T, kind, sw, target string, mod func(*gateway.Route)) (*gateway.Gateway, *bodies) {
	t.Helper()
	b := &bodies{}
	f := newFake(t, "u", b.handle)
	u := up("u", f.srv.URL, func(o *upstream.Options) { o.Kind, o.ThinkingSwitch = kind, sw })
	r := gateway.Route{Name: "pub", Pool: upstream.NewPool([]*upstream.Target{{Upstream: u, Model: target, Weight: 1}}, nil, nil)}
	if mod != nil {
		mod(&r)
	}
	return newGateway(gateway.Options{Routes: []gateway.Route{r}}), b
}

func complete(t *testing.T, g *gateway.Gateway, e openai.Endpoint, body string) *gateway.Result {
	t.Helper()
	res, err := g.Complete(context.Background(), call(t, e, "r", body))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

const hi = `"messages":[{"role":"user","content":"hi"}]`

// Issue 12: no retired name ever reaches a deepseek upstream. A target
// still naming deepseek-chat or deepseek-reasoner is sent as
// deepseek-v4-flash with the alias's thinking mode, and the client sees
// the public name.
func TestRetiredDeepSeekNameIsReplaced(t *testing.T) {
	for _, tt := range []struct {
		target, thinking string
	}{
		{"deepseek-chat", `{"type":"disabled"}`},
		{"deepseek-reasoner", `{"type":"enabled"}`},
	} {
		g, b := one(t, upstream.KindDeepSeek, "", tt.target, nil)
		res := complete(t, g, openai.EndpointChat, `{"model":"pub",`+hi+`}`)
		if got := b.field(t, "model"); got != `"deepseek-v4-flash"` {
			t.Errorf("%s: upstream got model %s", tt.target, got)
		}
		if got := b.field(t, "thinking"); got != tt.thinking {
			t.Errorf("%s: thinking = %s, want %s", tt.target, got, tt.thinking)
		}
		if !strings.Contains(string(res.Body), `"model":"pub"`) {
			t.Errorf("%s: client sees %s", tt.target, res.Body)
		}
		// The client's own choice still wins over the alias's mode.
		complete(t, g, openai.EndpointChat, `{"model":"pub","thinking":{"type":"enabled"},`+hi+`}`)
		if got := b.field(t, "thinking"); got != `{"type":"enabled"}` {
			t.Errorf("%s: client's thinking replaced: %s", tt.target, got)
		}
	}
	// Other engines may well serve a model they call deepseek-chat.
	g, b := one(t, upstream.KindOpenAI, "", "deepseek-chat", nil)
	complete(t, g, openai.EndpointChat, `{"model":"pub",`+hi+`}`)
	if got := b.field(t, "model"); got != `"deepseek-chat"` {
		t.Errorf("openai upstream got %s", got)
	}
}

// Issue 12: DeepSeek serves FIM only in non-thinking mode and thinks by
// default, so FIM goes out with thinking disabled, even when the model's
// default (or the client) says otherwise.
func TestFIMToDeepSeekIsNonThinking(t *testing.T) {
	on := true
	g, b := one(t, upstream.KindDeepSeek, "", "deepseek-v4-flash", func(r *gateway.Route) {
		r.Thinking, r.ReasoningEffort = &on, "max"
	})
	complete(t, g, openai.EndpointFIM, `{"model":"pub","prompt":"def f(","suffix":")"}`)
	if got := b.field(t, "thinking"); got != `{"type":"disabled"}` {
		t.Errorf("thinking = %q", got)
	}
	if got := b.field(t, "reasoning_effort"); got != "" && got != "null" {
		t.Errorf("reasoning_effort = %s", got)
	}
	complete(t, g, openai.EndpointFIM, `{"model":"pub","prompt":"def f(","suffix":")","thinking":{"type":"enabled"}}`)
	if got := b.field(t, "thinking"); got != `{"type":"disabled"}` {
		t.Errorf("client's thinking on FIM: %q", got)
	}
}

// A model's thinking and reasoning_effort defaults apply to requests that
// choose nothing; OpenAI's effort words are mapped to DeepSeek's; none
// turns thinking off.
func TestThinkingDefaultsAndEffortWords(t *testing.T) {
	off := false
	for _, tt := range []struct {
		name     string
		thinking *bool
		effort   string
		body     string
		wantTh   string // "" absent
		wantEff  string // "" absent
	}{
		{"nothing chosen, no default", nil, "", `{"model":"pub",` + hi + `}`, "", ""},
		{"model default off", &off, "", `{"model":"pub",` + hi + `}`, `{"type":"disabled"}`, ""},
		{"model effort default", nil, "max", `{"model":"pub",` + hi + `}`, "", `"max"`},
		{"model effort default in OpenAI words", nil, "xhigh", `{"model":"pub",` + hi + `}`, "", `"high"`},
		{"effort default not added when off", &off, "max", `{"model":"pub",` + hi + `}`, `{"type":"disabled"}`, ""},
		{"client thinking wins", &off, "", `{"model":"pub","thinking":{"type":"enabled"},` + hi + `}`, `{"type":"enabled"}`, ""},
		{"client effort kept", nil, "max", `{"model":"pub","reasoning_effort":"low",` + hi + `}`, "", `"low"`},
		{"minimal is low", nil, "", `{"model":"pub","reasoning_effort":"minimal",` + hi + `}`, "", `"low"`},
		{"medium is high", nil, "", `{"model":"pub","reasoning_effort":"medium",` + hi + `}`, "", `"high"`},
		{"none disables thinking", nil, "max", `{"model":"pub","reasoning_effort":"none",` + hi + `}`, `{"type":"disabled"}`, "null"},
	} {
		g, b := one(t, upstream.KindDeepSeek, "", "deepseek-v4-pro", func(r *gateway.Route) {
			r.Thinking, r.ReasoningEffort = tt.thinking, tt.effort
		})
		complete(t, g, openai.EndpointChat, tt.body)
		if got := b.field(t, "thinking"); got != tt.wantTh {
			t.Errorf("%s: thinking = %q, want %q", tt.name, got, tt.wantTh)
		}
		if got := b.field(t, "reasoning_effort"); got != tt.wantEff {
			t.Errorf("%s: reasoning_effort = %q, want %q", tt.name, got, tt.wantEff)
		}
	}
}

// Issue 12: each engine is switched the way its docs say. llama.cpp (and
// Qwen templates) read chat_template_kwargs.enable_thinking, the DeepSeek
// V3.1+ templates on vLLM/SGLang chat_template_kwargs.thinking, Ollama's
// /v1 reasoning_effort. Before, llama.cpp got {"thinking":false}.
func TestThinkingSwitchPerEngine(t *testing.T) {
	off := false
	for _, tt := range []struct {
		sw, field, want string
	}{
		{upstream.ThinkingTemplate, "chat_template_kwargs", `{"thinking":false}`},
		{upstream.ThinkingTemplateEnable, "chat_template_kwargs", `{"enable_thinking":false}`},
		{upstream.ThinkingOllama, "reasoning_effort", `"none"`},
		{upstream.ThinkingNone, "chat_template_kwargs", ``},
		{upstream.ThinkingDeepSeek, "thinking", `{"type":"disabled"}`},
	} {
		g, b := one(t, upstream.KindOpenAI, tt.sw, "m", func(r *gateway.Route) { r.Thinking = &off })
		complete(t, g, openai.EndpointChat, `{"model":"pub",`+hi+`}`)
		if got := b.field(t, tt.field); got != tt.want {
			t.Errorf("%s: %s = %q, want %q", tt.sw, tt.field, got, tt.want)
		}
		if tt.sw != upstream.ThinkingDeepSeek && b.field(t, "thinking") != "" {
			t.Errorf("%s: DeepSeek's thinking object sent to an engine", tt.sw)
		}
		// A client's DeepSeek-style choice is translated to the engine's switch.
		complete(t, g, openai.EndpointChat, `{"model":"pub","thinking":{"type":"enabled"},`+hi+`}`)
		want := strings.NewReplacer("false", "true", `"none"`, `"medium"`, "disabled", "enabled").Replace(tt.want)
		if got := b.field(t, tt.field); got != want {
			t.Errorf("%s: client's thinking: %s = %q, want %q", tt.sw, tt.field, got, want)
		}
		// The client's own engine switch is left alone.
		complete(t, g, openai.EndpointChat, `{"model":"pub","chat_template_kwargs":{"enable_thinking":true,"x":1},`+hi+`}`)
		if got := b.field(t, "chat_template_kwargs"); got != `{"enable_thinking":true,"x":1}` {
			t.Errorf("%s: client's kwargs replaced: %s", tt.sw, got)
		}
	}
	if got := upstream.New(upstream.Options{Kind: upstream.KindOpenAI}).ThinkingSwitch(); got != upstream.ThinkingTemplate {
		t.Errorf("openai default switch = %s", got)
	}
	if got := upstream.New(upstream.Options{Kind: upstream.KindDeepSeek}).ThinkingSwitch(); got != upstream.ThinkingDeepSeek {
		t.Errorf("deepseek default switch = %s", got)
	}
}

// Issue 20: against a real llama-server, dsgate's default switch for a
// local engine (chat_template_kwargs.thinking) had no effect: llama.cpp
// reads chat_template_kwargs.enable_thinking itself and renders every
// template with it. Each engine kind now defaults to the switch it reads.
func TestThinkingSwitchDefaultPerKind(t *testing.T) {
	off := false
	for _, tt := range []struct {
		kind, field, want string
	}{
		{upstream.KindLlamaCpp, "chat_template_kwargs", `{"enable_thinking":false}`},
		{upstream.KindVLLM, "chat_template_kwargs", `{"thinking":false}`},
		{upstream.KindSGLang, "chat_template_kwargs", `{"thinking":false}`},
		{upstream.KindOllama, "reasoning_effort", `"none"`},
		{upstream.KindOpenAI, "chat_template_kwargs", `{"thinking":false}`},
		{upstream.KindDeepSeek, "thinking", `{"type":"disabled"}`},
	} {
		g, b := one(t, tt.kind, "", "m", func(r *gateway.Route) { r.Thinking = &off })
		complete(t, g, openai.EndpointChat, `{"model":"pub",`+hi+`}`)
		if got := b.field(t, tt.field); got != tt.want {
			t.Errorf("kind %s: %s = %q, want %q", tt.kind, tt.field, got, tt.want)
		}
	}
}

// Issue 12: DeepSeek answers 400 when a thinking-mode assistant turn with
// tool calls comes back without its reasoning_content, so the gateway
// passes it back byte for byte.
func TestReasoningContentOnToolCallTurnPassesThrough(t *testing.T) {
	const turn = `{"role":"assistant","content":null,"reasoning_content":"I need the weather.",` +
		`"tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]}`
	body := `{"model":"pub","thinking":{"type":"enabled"},"tools":[{"type":"function","function":{"name":"weather","parameters":{"type":"object"}}}],` +
		`"messages":[{"role":"user","content":"weather in Paris?"},` + turn + `,{"role":"tool","tool_call_id":"call_1","content":"sunny"}]}`
	g, b := one(t, upstream.KindDeepSeek, "", "deepseek-v4-flash", nil)
	complete(t, g, openai.EndpointChat, body)
	if got := b.field(t, "messages"); !strings.Contains(got, turn) {
		t.Errorf("assistant turn changed:\n%s", got)
	}
	// An engine that says "reasoning" gets the same text under its name.
	b2 := &bodies{}
	f := newFake(t, "v", b2.handle)
	u := up("v", f.srv.URL, func(o *upstream.Options) { o.ReasoningField = "reasoning" })
	r := gateway.Route{Name: "pub", Pool: upstream.NewPool([]*upstream.Target{{Upstream: u, Model: "m", Weight: 1}}, nil, nil)}
	complete(t, newGateway(gateway.Options{Routes: []gateway.Route{r}}), openai.EndpointChat, body)
	if got := b2.field(t, "messages"); !strings.Contains(got, `"reasoning":"I need the weather."`) {
		t.Errorf("vLLM-style upstream got:\n%s", got)
	}
}

// memCache is the smallest gateway.Cache.
type memCache struct {
	mu sync.Mutex
	m  map[cache.Key]cache.Entry
}

func (c *memCache) Get(_ context.Context, k cache.Key) (cache.Hit, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return cache.Hit{}, cache.ErrMiss
	}
	return cache.Hit{Entry: e, Tier: "memory"}, nil
}

func (c *memCache) Set(_ context.Context, k cache.Key, e cache.Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k] = e
}

// Issue 12: in thinking mode DeepSeek ignores temperature, so a
// temperature-0 request that thinks is sampled and must not be answered
// from the cache; one that does not think still is.
func TestCacheTreatsThinkingAsSampled(t *testing.T) {
	off := false
	for _, tt := range []struct {
		name      string
		kind, sw  string
		thinking  *bool
		body      string
		wantCache bool
	}{
		{"deepseek thinks by default", upstream.KindDeepSeek, "", nil, `{"model":"pub","temperature":0,` + hi + `}`, false},
		{"model default off", upstream.KindDeepSeek, "", &off, `{"model":"pub","temperature":0,` + hi + `}`, true},
		{"client turns thinking on", upstream.KindDeepSeek, "", &off, `{"model":"pub","temperature":0,"thinking":{"type":"enabled"},` + hi + `}`, false},
		{"client turns thinking off", upstream.KindDeepSeek, "", nil, `{"model":"pub","temperature":0,"thinking":{"type":"disabled"},` + hi + `}`, true},
		{"reasoning_effort none", upstream.KindDeepSeek, "", nil, `{"model":"pub","temperature":0,"reasoning_effort":"none",` + hi + `}`, true},
		{"seed does not help a thinker", upstream.KindDeepSeek, "", nil, `{"model":"pub","seed":7,` + hi + `}`, false},
		{"vLLM DeepSeek template off by default", upstream.KindOpenAI, upstream.ThinkingTemplate, nil, `{"model":"pub","temperature":0,` + hi + `}`, true},
		{"llama.cpp thinks by default", upstream.KindOpenAI, upstream.ThinkingTemplateEnable, nil, `{"model":"pub","temperature":0,` + hi + `}`, false},
	} {
		b := &bodies{}
		f := newFake(t, "u", b.handle)
		u := up("u", f.srv.URL, func(o *upstream.Options) { o.Kind, o.ThinkingSwitch = tt.kind, tt.sw })
		r := gateway.Route{Name: "pub", Thinking: tt.thinking,
			Pool: upstream.NewPool([]*upstream.Target{{Upstream: u, Model: "deepseek-v4-flash", Weight: 1}}, nil, nil)}
		g := newGateway(gateway.Options{Routes: []gateway.Route{r}, Cache: &memCache{m: map[cache.Key]cache.Entry{}}})
		complete(t, g, openai.EndpointChat, tt.body)
		res := complete(t, g, openai.EndpointChat, tt.body)
		if got := res.Cache == gateway.CacheHit; got != tt.wantCache {
			t.Errorf("%s: second answer from cache = %v (%s), want %v", tt.name, got, res.Cache, tt.wantCache)
		}
		if want := map[bool]int{true: 1, false: 2}[tt.wantCache]; b.count() != want {
			t.Errorf("%s: upstream calls = %d, want %d", tt.name, b.count(), want)
		}
	}
}

// A model's thinking default is part of its cache keys: after a reload
// that changes it, answers given under the old default are not served.
func TestThinkingDefaultIsInCacheKey(t *testing.T) {
	c := &memCache{m: map[cache.Key]cache.Entry{}}
	off := false
	body := `{"model":"pub","temperature":0,` + hi + `}`
	var calls int
	for _, th := range []*bool{nil, &off} {
		b := &bodies{}
		f := newFake(t, "u", b.handle)
		u := up("u", f.srv.URL) // template_thinking: not thinking by default, so cacheable
		r := gateway.Route{Name: "pub", Thinking: th,
			Pool: upstream.NewPool([]*upstream.Target{{Upstream: u, Model: "m", Weight: 1}}, nil, nil)}
		g := newGateway(gateway.Options{Routes: []gateway.Route{r}, Cache: c})
		complete(t, g, openai.EndpointChat, body)
		calls += b.count()
	}
	if calls != 2 {
		t.Errorf("upstream calls = %d, want 2 (the second default must not reuse the first's entry)", calls)
	}
}

// On Ollama, whose only switch is reasoning_effort, "off" (the model's
// default or the client's thinking object) wins over an effort word, as
// it does on DeepSeek; a thinking request keeps the client's word.
func TestOllamaOffWinsOverEffortWord(t *testing.T) {
	off := false
	g, b := one(t, upstream.KindOpenAI, upstream.ThinkingOllama, "qwen3", func(r *gateway.Route) { r.Thinking = &off })
	complete(t, g, openai.EndpointChat, `{"model":"pub","reasoning_effort":"high",`+hi+`}`)
	if got := b.field(t, "reasoning_effort"); got != `"none"` {
		t.Errorf("model default off: reasoning_effort = %s", got)
	}
	complete(t, g, openai.EndpointChat, `{"model":"pub","thinking":{"type":"enabled"},"reasoning_effort":"low",`+hi+`}`)
	if got := b.field(t, "reasoning_effort"); got != `"low"` {
		t.Errorf("thinking on: reasoning_effort = %s", got)
	}
}

// The replacement of a retired name is logged once per upstream and
// model, not once per request.
func TestRetiredNameLoggedOnce(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	b := &bodies{}
	f := newFake(t, "u", b.handle)
	u := up("cloud", f.srv.URL, func(o *upstream.Options) {
		o.Kind = upstream.KindDeepSeek
		o.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	})
	r := gateway.Route{Name: "pub", Pool: upstream.NewPool([]*upstream.Target{{Upstream: u, Model: "deepseek-reasoner", Weight: 1}}, nil, nil)}
	g := newGateway(gateway.Options{Routes: []gateway.Route{r}})
	for range 3 {
		complete(t, g, openai.EndpointChat, `{"model":"pub",`+hi+`}`)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "retired DeepSeek model name replaced"); n != 1 {
		t.Errorf("logged %d times:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "model=deepseek-reasoner sent_as=deepseek-v4-flash thinking=enabled") {
		t.Errorf("log line lacks the mapping:\n%s", logs.String())
	}
}
