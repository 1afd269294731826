package upstream

import (
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
