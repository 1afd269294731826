package upstream

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseLoad(t *testing.T) {
	now := time.Unix(1, 0)
	tests := []struct {
		name string
		page string
		want Load
		ok   bool
	}{
		{"vllm data parallel", `# HELP vllm:num_requests_running x
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 3
vllm:num_requests_running{engine="1",model_name="m"} 2
vllm:num_requests_waiting{engine="0",model_name="m"} 4
vllm:num_requests_waiting{engine="1",model_name="m"} 0
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25
vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.75
vllm:prompt_tokens_total{model_name="m"} 100
`, Load{Running: 5, Waiting: 4, KVCache: 0.75}, true},
		{"old vllm name", "vllm:num_requests_running 1\nvllm:gpu_cache_usage_perc 0.5\n", Load{Running: 1, KVCache: 0.5}, true},
		{"sglang", "sglang:num_running_reqs{tp_rank=\"0\"} 7\nsglang:num_queue_reqs{tp_rank=\"0\"} 1\nsglang:token_usage{tp_rank=\"0\"} 0.3\n",
			Load{Running: 7, Waiting: 1, KVCache: 0.3}, true},
		{"llama.cpp NaN kv", "llamacpp:requests_processing 2\nllamacpp:requests_deferred 3\nllamacpp:kv_cache_usage_ratio NaN\n",
			Load{Running: 2, Waiting: 3, KVCache: -1}, true},
		{"unrelated", "go_goroutines 12\n", Load{KVCache: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseLoad([]byte(tt.page), now)
			tt.want.At = now
			if ok != tt.ok || got != tt.want {
				t.Errorf("got %+v %v, want %+v %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// llamaCppMetrics is current llama-server's /metrics page (--metrics), as
// tools/server/server-context.cpp writes it: no KV-cache gauge any more
// (llamacpp:kv_cache_usage_ratio and kv_cache_tokens were removed).
const llamaCppMetrics = `# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.
# TYPE llamacpp:prompt_tokens_total counter
llamacpp:prompt_tokens_total 6886
# HELP llamacpp:prompt_seconds_total Prompt process time
# TYPE llamacpp:prompt_seconds_total counter
llamacpp:prompt_seconds_total 29.03
# HELP llamacpp:tokens_predicted_total Number of generation tokens processed.
# TYPE llamacpp:tokens_predicted_total counter
llamacpp:tokens_predicted_total 3469
# HELP llamacpp:tokens_predicted_seconds_total Predict process time
# TYPE llamacpp:tokens_predicted_seconds_total counter
llamacpp:tokens_predicted_seconds_total 35.44
# HELP llamacpp:n_decode_total Total number of llama_decode() calls
# TYPE llamacpp:n_decode_total counter
llamacpp:n_decode_total 3512
# HELP llamacpp:n_tokens_max Largest observed n_tokens.
# TYPE llamacpp:n_tokens_max counter
llamacpp:n_tokens_max 812
# HELP llamacpp:n_busy_slots_per_decode Average number of busy slots per llama_decode() call
# TYPE llamacpp:n_busy_slots_per_decode counter
llamacpp:n_busy_slots_per_decode 1.3
# HELP llamacpp:prompt_tokens_seconds Average prompt throughput in tokens/s.
# TYPE llamacpp:prompt_tokens_seconds gauge
llamacpp:prompt_tokens_seconds 237.2
# HELP llamacpp:predicted_tokens_seconds Average generation throughput in tokens/s.
# TYPE llamacpp:predicted_tokens_seconds gauge
llamacpp:predicted_tokens_seconds 97.9
# HELP llamacpp:requests_processing Number of requests processing.
# TYPE llamacpp:requests_processing gauge
llamacpp:requests_processing 2
# HELP llamacpp:requests_deferred Number of requests deferred.
# TYPE llamacpp:requests_deferred gauge
llamacpp:requests_deferred 1
`

// Issue 20: a current llama-server has no KV-cache gauge, and its load
// showed in /admin/upstreams as {"Running":..,"KVCache":-1,...}. Its load
// is what it reports (running and deferred requests); the KV-cache usage
// is unknown (null), and every key is snake_case.
func TestLlamaCppLoadIsKnown(t *testing.T) {
	now := time.Unix(1700000000, 0).UTC()
	l, ok := ParseLoad([]byte(llamaCppMetrics), now)
	if !ok || l.Running != 2 || l.Waiting != 1 {
		t.Fatalf("got %+v %v; want running 2, waiting 1", l, ok)
	}
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"running":2,"waiting":1,"kv_cache_usage":null,"sampled_at":"2023-11-14T22:13:20Z"}`
	if string(b) != want {
		t.Errorf("JSON %s\nwant %s", b, want)
	}
	l.KVCache = 0.5
	if b, _ := json.Marshal(l); !strings.Contains(string(b), `"kv_cache_usage":0.5`) {
		t.Errorf("known KV usage: %s", b)
	}
}

// Every key /admin/upstreams shows is snake_case (issue 20 found the load's
// Go-cased keys): a status with every field set is checked key by key.
func TestStatusKeysAreSnakeCase(t *testing.T) {
	now := time.Unix(1700000000, 0)
	s := Status{Name: "n", Kind: KindLlamaCpp, Load: &Load{Running: 1, KVCache: 0.2, At: now}, LoadStale: true,
		LastError: "x", LastErrorAt: now, Balance: &Balance{Infos: []BalanceInfo{{Currency: "CNY"}}, CheckedAt: now}, BalancePollFailures: 1}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k != strings.ToLower(k) || strings.ContainsAny(k, " -") {
					t.Errorf("key %q is not snake_case in %s", k, b)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var v any
	json.Unmarshal(b, &v)
	walk(v)
}
