package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit"
)

// The engine conformance suite (issue 20): one table of requests, each
// sent directly to an engine and through dsgate in front of it, the two
// answers compared event by event with ids, timestamps, fingerprints and
// timing values left out. It runs against a real llama.cpp server with
// the tiny models of internal/tinymodel (engine_llama_test.go) and
// against the simulator in each personality (so the simulator is held to
// the behaviour of the engines it stands for). A case may also check the
// relayed answer against what the engine is known to say.

// engine is one engine under test with dsgate in front of it.
type engine struct {
	name    string
	gateway *gatewayProc
	// direct is each public model's engine root URL.
	direct map[string]string
	// models maps the table's model roles (chat, tools, embed) to the
	// public model names; a missing role skips the cases that use it.
	models map[string]string
	// llama is set for llama.cpp, whose FIM endpoint is /infill.
	llama bool
	// sim is the simulator personality ("" for real engines).
	sim string
	// directKey is the bearer key direct requests carry ("" for none).
	directKey string
}

// engineAnswer is one answer: the status and either the JSON body or the SSE
// events (each decoded JSON; "[DONE]" kept as a string).
type engineAnswer struct {
	status int
	body   any
	events []any
	raw    string
}

// engineCase is one row of the table.
type engineCase struct {
	name string
	role string // the model role the request uses
	path string
	// body is the request; "MODEL" is replaced by the public model name.
	body string
	// llamaPath and llamaBody, when set, are the same request in
	// llama-server's own API, sent directly to it (FIM at /infill, the
	// thinking switch as chat_template_kwargs).
	llamaPath, llamaBody string
	// deepseekPath is the direct path on DeepSeek's API (the legacy
	// completions it serves only under /beta).
	deepseekPath string
	// only limits the case to engines of these names (empty: all).
	only []string
	// statusOnly compares statuses only (error bodies are dsgate's own).
	statusOnly bool
	// check looks at the relayed answer (after the comparison).
	check func(t *testing.T, e *engine, direct, relayed engineAnswer)
}

func (c engineCase) runsOn(e *engine) bool {
	if _, ok := e.models[c.role]; !ok {
		return false
	}
	if len(c.only) == 0 {
		return true
	}
	for _, n := range c.only {
		if n == e.name || (n == "sim" && e.sim != "") {
			return true
		}
	}
	return false
}

// runConformance runs every case of the table on e.
func runConformance(t *testing.T, e *engine, cases []engineCase) {
	c := newClient()
	c.Timeout = 30 * time.Second
	for _, tc := range cases {
		if !tc.runsOn(e) {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			model := e.models[tc.role]
			body := strings.ReplaceAll(tc.body, "MODEL", model)
			path, directBody := tc.path, body
			if e.llama && tc.llamaPath != "" {
				path = tc.llamaPath
			}
			if e.sim == "deepseek" && tc.deepseekPath != "" {
				path = tc.deepseekPath
			}
			if e.llama && tc.llamaBody != "" {
				directBody = strings.ReplaceAll(tc.llamaBody, "MODEL", model)
			}
			direct := sendEngine(t, c, e.direct[model]+path, directBody, e.directKey)
			relayed := sendEngine(t, c, e.gateway.base+tc.path, body, "")
			compareExchanges(t, direct, relayed, tc.statusOnly)
			if tc.check != nil && !t.Failed() {
				tc.check(t, e, direct, relayed)
			}
		})
	}
}

// sendEngine posts body and reads the answer, as SSE events when the response
// is an event stream.
func sendEngine(t *testing.T, c *http.Client, url, body, key string) engineAnswer {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	x := engineAnswer{status: resp.StatusCode}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		x.events, x.raw = readEvents(t, resp.Body)
		return x
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	x.raw = string(b)
	if err := json.Unmarshal(b, &x.body); err != nil {
		x.body = string(b)
	}
	return x
}

// readEvents decodes the data lines of an SSE stream; comments and
// keep-alives are not events.
func readEvents(t *testing.T, r io.Reader) ([]any, string) {
	t.Helper()
	var events []any
	var raw strings.Builder
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		raw.WriteString(line + "\n")
		data, ok := strings.CutPrefix(line, "data:")
		if !ok {
			continue
		}
		data = strings.TrimSpace(data)
		var v any
		if data == "[DONE]" {
			v = data
		} else if err := json.Unmarshal([]byte(data), &v); err != nil {
			t.Fatalf("event is not JSON: %q", data)
		}
		events = append(events, v)
	}
	return events, raw.String()
}

// ignored are the fields whose values differ between two identical
// answers: ids, timestamps, fingerprints, timings, and the prompt-cache
// counts (the second of two identical requests finds the first's prefix
// cached). Their presence is compared, not their values.
var ignored = map[string]bool{"id": true, "created": true, "system_fingerprint": true, "timings": true,
	"cached_tokens": true, "prompt_cache_hit_tokens": true, "prompt_cache_miss_tokens": true}

// normalize replaces ignored values with a marker, recursively.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			if ignored[k] {
				out[k] = "<ignored>"
				continue
			}
			out[k] = normalize(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = normalize(val)
		}
		return out
	}
	return v
}

// compareExchanges fails t when the relayed answer differs from the direct
// one.
func compareExchanges(t *testing.T, direct, relayed engineAnswer, statusOnly bool) {
	t.Helper()
	if direct.status != relayed.status {
		t.Fatalf("status: direct %d, through dsgate %d\ndirect: %s\nrelayed: %s", direct.status, relayed.status,
			clip(direct.raw), clip(relayed.raw))
	}
	if statusOnly {
		return
	}
	if len(direct.events) > 0 || len(relayed.events) > 0 {
		compareEvents(t, direct.events, relayed.events)
		return
	}
	if d, r := normalize(direct.body), normalize(relayed.body); !reflect.DeepEqual(d, r) {
		t.Fatalf("bodies differ\ndirect:  %s\nrelayed: %s", jsonText(d), jsonText(r))
	}
}

func compareEvents(t *testing.T, direct, relayed []any) {
	t.Helper()
	n := max(len(direct), len(relayed))
	for i := range n {
		var d, r any = "<none>", "<none>"
		if i < len(direct) {
			d = normalize(direct[i])
		}
		if i < len(relayed) {
			r = normalize(relayed[i])
		}
		if !reflect.DeepEqual(d, r) {
			t.Fatalf("event %d of %d/%d differs\ndirect:  %s\nrelayed: %s", i, len(direct), len(relayed),
				jsonText(d), jsonText(r))
		}
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return clip(string(b))
}

func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}

// writeGatewayConfig writes a dsgate config with the upstreams and models
// YAML and starts dsgate serve.
func startEngineGateway(t *testing.T, upstreams, models string) *gatewayProc {
	t.Helper()
	port := testkit.FreePort(t)
	cfg := fmt.Sprintf("version: 1\nserver: {listen: \"127.0.0.1:%d\", shutdown_grace: 1s}\n"+
		"log: {access: false, level: warn}\nupstreams:\n%smodels:\n%s", port, upstreams, models)
	path := filepath.Join(t.TempDir(), "dsgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g := &gatewayProc{base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	g.p = startProc(t, "gateway", "serve", "--config", path)
	testkit.Eventually(t, 20*time.Second, "gateway /readyz", func() bool {
		select {
		case <-g.p.done:
			t.Fatalf("gateway exited:\n%s\nconfig:\n%s", g.p.out.Tail(20), cfg)
		default:
		}
		resp, err := http.Get(g.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return g
}

// engineUpstream is one upstream entry for an engine at url: fast probes
// and breaker recovery, llama.cpp's /metrics scraped for load.
func engineUpstream(name, kind, url, extra string) string {
	return fmt.Sprintf(`  - name: %s
    kind: %s
    url: %s
    first_token_timeout: 10s
    idle_timeout: 5s
    health_check: {path: /health, interval: 200ms, timeout: 1s, healthy_threshold: 1, unhealthy_threshold: 1}
    breaker: {failure_threshold: 5, recovery_timeout: 1s}
%s`, name, kind, url, extra)
}
