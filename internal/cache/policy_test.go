package cache

import (
	"strings"
	"testing"
)

func TestCacheable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		p    Policy
		want bool
	}{
		{"temperature 0", `{"messages":[],"temperature":0}`, Policy{}, true},
		{"temperature 0.0", `{"messages":[],"temperature":0.0}`, Policy{}, true},
		{"seed", `{"messages":[],"temperature":0.8,"seed":7}`, Policy{}, true},
		{"default temperature", `{"messages":[]}`, Policy{}, false},
		{"sampled", `{"messages":[],"temperature":0.7}`, Policy{}, false},
		{"null seed", `{"messages":[],"temperature":0.7,"seed":null}`, Policy{}, false},
		{"sampled allowed", `{"messages":[],"temperature":0.7}`, Policy{AllowSampled: true}, true},
		{"n 2", `{"messages":[],"temperature":0,"n":2}`, Policy{AllowSampled: true}, false},
		{"n 1", `{"messages":[],"temperature":0,"n":1}`, Policy{}, true},
		{"best_of 3", `{"prompt":"x","temperature":0,"best_of":3}`, Policy{}, false},
		{"fim temperature 0", `{"prompt":"def f(","suffix":"x","temperature":0}`, Policy{}, true},
		{"embeddings", `{"input":"hello","model":"e"}`, Policy{}, true},
		{"invalid", `{"messages":`, Policy{AllowSampled: true}, false},
	}
	for _, tt := range tests {
		if got, reason := Cacheable([]byte(tt.body), tt.p); got != tt.want {
			t.Errorf("%s: Cacheable = %v (%s), want %v", tt.name, got, reason, tt.want)
		}
	}
}

func TestStorable(t *testing.T) {
	t.Parallel()
	choice := func(fr string) string {
		return `{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":` + fr + `}]}`
	}
	tests := []struct {
		name string
		body string
		want bool
	}{
		{"stop", choice(`"stop"`), true},
		{"length", choice(`"length"`), true},
		{"tool_calls", choice(`"tool_calls"`), true},
		{"content_filter", choice(`"content_filter"`), false},
		{"insufficient_system_resource", choice(`"insufficient_system_resource"`), false},
		{"unfinished", choice(`null`), false},
		{"error", `{"error":{"message":"boom","type":"server_error"}}`, false},
		{"no choices", `{"object":"chat.completion","choices":[]}`, false},
		{"second choice unfinished", `{"choices":[{"finish_reason":"stop"},{"finish_reason":null}]}`, false},
		{"text completion", `{"object":"text_completion","choices":[{"index":0,"text":"x","finish_reason":"stop"}]}`, true},
		{"embeddings", `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1]}]}`, true},
		{"not JSON", `data: {}`, false},
	}
	for _, tt := range tests {
		if got, reason := Storable([]byte(tt.body)); got != tt.want {
			t.Errorf("%s: Storable = %v (%s), want %v", tt.name, got, reason, tt.want)
		}
	}
}

func TestParseCacheControl(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header      string
		read, write bool
	}{
		{"", true, true},
		{"no-store", false, false},
		{"No-Store", false, false},
		{"no-cache", false, true},
		{"max-age=0", false, true},
		{`max-age="0"`, false, true},
		{"max-age=60", true, true},
		{"private, no-cache", false, true},
		{"no-cache, no-store", false, false},
		{"no-transform", true, true},
	}
	for _, tt := range tests {
		d := ParseCacheControl(tt.header)
		if d.Read() != tt.read || d.Write() != tt.write {
			t.Errorf("ParseCacheControl(%q) read=%v write=%v, want %v %v", tt.header, d.Read(), d.Write(), tt.read, tt.write)
		}
	}
}

// A request answered in thinking mode samples whatever its temperature:
// DeepSeek ignores temperature and top_p while thinking.
func TestThinkingRequestIsSampled(t *testing.T) {
	body := []byte(`{"model":"m","temperature":0,"seed":1,"messages":[{"role":"user","content":"hi"}]}`)
	if ok, _ := CacheableRequest(body, Policy{}, false); !ok {
		t.Error("temperature 0 without thinking should be cacheable")
	}
	if ok, reason := CacheableRequest(body, Policy{}, true); ok || !strings.Contains(reason, "thinking") {
		t.Errorf("thinking: ok=%v reason=%q", ok, reason)
	}
	if ok, _ := CacheableRequest(body, Policy{AllowSampled: true}, true); !ok {
		t.Error("allow_sampled should cover thinking requests")
	}
	emb := []byte(`{"model":"m","input":"x"}`)
	if ok, _ := CacheableRequest(emb, Policy{}, true); !ok {
		t.Error("embeddings never think")
	}
}
