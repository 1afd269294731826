package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/testkit"
)

// llamaCppMetricsPage is the part of current llama-server's /metrics page
// (tools/server/server-context.cpp, --metrics) that carries load: it has no
// KV-cache gauge.
const llamaCppMetricsPage = `# HELP llamacpp:requests_processing Number of requests processing.
# TYPE llamacpp:requests_processing gauge
llamacpp:requests_processing 2
# HELP llamacpp:requests_deferred Number of requests deferred.
# TYPE llamacpp:requests_deferred gauge
llamacpp:requests_deferred 1
`

// Issue 20: engine load showed only in /admin/upstreams, under Go-cased
// keys. It is exported as gauges per upstream (labels bounded by the
// configured names), a KV-cache gauge only where the engine reports one,
// and /admin/upstreams uses snake_case keys.
func TestEngineLoadGauges(t *testing.T) {
	t.Parallel()
	llama := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		io.WriteString(w, llamaCppMetricsPage)
	}))
	defer llama.Close()
	cfg := `
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
upstreams:
  - {name: llama, kind: llamacpp, url: "` + llama.URL + `", metrics_path: /metrics, metrics_interval: 50ms}
  - {name: vllm, kind: openai, url: "$vllm", metrics_path: /metrics, metrics_interval: 50ms}
models:
  - {name: m, targets: [{upstream: llama}, {upstream: vllm}]}
`
	e := start(t, cfg, map[string]sim.Options{"vllm": {}})
	scrape := func() string {
		resp, err := http.Get(e.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	testkit.Eventually(t, 5*time.Second, "engine load gauges", func() bool {
		p := scrape()
		return strings.Contains(p, `dsgate_upstream_engine_running{upstream="llama"} 2`) &&
			strings.Contains(p, `dsgate_upstream_engine_waiting{upstream="llama"} 1`) &&
			strings.Contains(p, `dsgate_upstream_engine_kv_cache_usage{upstream="vllm"}`)
	})
	if p := scrape(); strings.Contains(p, `dsgate_upstream_engine_kv_cache_usage{upstream="llama"}`) {
		t.Error("a KV-cache gauge for an engine that reports none")
	}

	resp, err := http.Get(e.base + "/admin/upstreams")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Data []map[string]json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	for _, u := range list.Data {
		var name string
		json.Unmarshal(u["name"], &name)
		if name != "llama" {
			continue
		}
		var load map[string]json.RawMessage
		if err := json.Unmarshal(u["load"], &load); err != nil {
			t.Fatalf("load %s: %v", u["load"], err)
		}
		if string(load["running"]) != "2" || string(load["waiting"]) != "1" || string(load["kv_cache_usage"]) != "null" || load["sampled_at"] == nil {
			t.Errorf("llama load %s; want snake_case running 2, waiting 1, kv_cache_usage null, sampled_at", u["load"])
		}
		return
	}
	t.Fatal("no llama upstream in /admin/upstreams")
}
