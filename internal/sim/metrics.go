package sim

import (
	"net/http"
	"strconv"
)

// handleMetrics writes Prometheus text (format 0.0.4) with vLLM's metric
// names, one sample per served model, so load-aware routing can be tested
// against the simulator. It is written by hand to keep sim a leaf package.
func (s *Server) handleMetrics(w http.ResponseWriter) {
	b := make([]byte, 0, 512+len(s.models)*400)
	b = s.appendGauge(b, "vllm:num_requests_running",
		"Number of requests in model execution batches.",
		func(m *modelState) float64 { return float64(m.running.Load()) })
	b = s.appendGauge(b, "vllm:num_requests_waiting",
		"Number of requests waiting to be processed.",
		func(m *modelState) float64 { return float64(m.waiting.Load()) })
	b = s.appendGauge(b, "vllm:kv_cache_usage_perc",
		"KV-cache usage. 1 means 100 percent usage.",
		func(m *modelState) float64 { return min(1, float64(m.running.Load())/float64(s.kvSlots)) })
	b = s.appendCounter(b, "vllm:prompt_tokens_total",
		"Number of prefill tokens processed.",
		func(m *modelState) uint64 { return m.promptTok.Load() })
	b = s.appendCounter(b, "vllm:generation_tokens_total",
		"Number of generation tokens processed.",
		func(m *modelState) uint64 { return m.genTok.Load() })
	writeBody(w, "text/plain; version=0.0.4; charset=utf-8", b)
}

func (s *Server) appendGauge(b []byte, name, help string, value func(*modelState) float64) []byte {
	b = appendMetricHeader(b, name, help, "gauge")
	for _, m := range s.models {
		b = appendSampleName(b, name, m.name)
		b = strconv.AppendFloat(b, value(m), 'g', -1, 64)
		b = append(b, '\n')
	}
	return b
}

func (s *Server) appendCounter(b []byte, name, help string, value func(*modelState) uint64) []byte {
	b = appendMetricHeader(b, name, help, "counter")
	for _, m := range s.models {
		b = appendSampleName(b, name, m.name)
		b = strconv.AppendUint(b, value(m), 10)
		b = append(b, '\n')
	}
	return b
}

func appendMetricHeader(b []byte, name, help, kind string) []byte {
	b = append(b, "# HELP "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, help...)
	b = append(b, "\n# TYPE "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, kind...)
	return append(b, '\n')
}

// appendSampleName appends `name{model_name="…"} ` with the label value
// escaped as the text format requires.
func appendSampleName(b []byte, name, model string) []byte {
	b = append(b, name...)
	b = append(b, `{model_name="`...)
	for i := 0; i < len(model); i++ {
		switch c := model[i]; c {
		case '\\', '"':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"', '}', ' ')
}
