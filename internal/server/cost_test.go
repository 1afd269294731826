package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/pricing"
	"github.com/dsgate/dsgate/internal/sim"
)

// TestCostHeader runs a DeepSeek-kind upstream (the simulator standing in
// for the cloud) and a local engine serving the same model name: the cloud
// answer carries X-Dsgate-Cost at DeepSeek's shipped price for its real
// usage, the local one none (no price configured for it), and a local
// engine with a configured internal price carries that.
func TestCostHeader(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("sk-test"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := `
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
upstreams:
  - {name: ds, kind: deepseek, url: "$ds", api_key: "file:` + keyFile + `", balance_poll_interval: 0s}
  - {name: loc, kind: openai, url: "$loc"}
  - {name: gpu, kind: openai, url: "$gpu"}
models:
  - {name: deepseek-flash, targets: [{upstream: ds}]}
  - {name: local-flash, targets: [{upstream: loc, model: deepseek-flash}]}
  - {name: gpu-flash, targets: [{upstream: gpu, model: deepseek-flash}]}
pricing:
  models:
    - {model: "*", upstream: gpu, internal: true, currency: USD, cache_hit: "0", cache_miss: "0.5", output: "1"}
`
	flash := sim.Options{Models: []string{"deepseek-flash"}}
	e := start(t, cfg, map[string]sim.Options{"ds": flash, "loc": flash, "gpu": flash})
	book, err := pricing.New(pricing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(model string) (string, pricing.Usage) {
		t.Helper()
		resp, err := http.Post(e.base+"/v1/chat/completions", "application/json", strings.NewReader(
			`{"model":"`+model+`","max_tokens":20,"messages":[{"role":"user","content":"hello there"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", model, resp.StatusCode, body)
		}
		var out struct {
			Usage struct {
				Prompt     int64 `json:"prompt_tokens"`
				Completion int64 `json:"completion_tokens"`
				Hit        int64 `json:"prompt_cache_hit_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		return resp.Header.Get(pricing.HeaderName), pricing.Usage{PromptTokens: out.Usage.Prompt,
			CompletionTokens: out.Usage.Completion, CacheHitTokens: out.Usage.Hit}
	}

	before := time.Now()
	got, u := ask("deepseek-flash")
	after := time.Now()
	q := pricing.Query{Upstream: "ds", UpstreamModel: "deepseek-flash", PublicModel: "deepseek-flash"}
	q.Start = before
	c1, _ := book.Quote(q, u)
	q.Start = after
	c2, _ := book.Quote(q, u)
	if got == "" || (got != c1.Header() && got != c2.Header()) || !strings.HasSuffix(got, " USD") {
		t.Errorf("cloud: %s %q, want %q (usage %+v)", pricing.HeaderName, got, c1.Header(), u)
	}
	if got, _ := ask("local-flash"); got != "" {
		t.Errorf("a local engine serving deepseek-flash billed at cloud prices: %q", got)
	}
	got, u = ask("gpu-flash")
	want := pricing.Price{Rates: pricing.Rates{CacheMiss: pricing.MustAmount("0.5"), Output: pricing.MustAmount("1")},
		Currency: pricing.USD}.Cost(u)
	if got != want.Header() {
		t.Errorf("gpu: %q, want %q", got, want.Header())
	}
}
