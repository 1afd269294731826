package server_test

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/dsgate/dsgate/internal/sim"
)

// collector is an OTLP/HTTP trace receiver: what a real collector gets.
type collector struct {
	mu    sync.Mutex
	spans map[string]string // span name -> trace id (hex)
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				c.spans[sp.Name] = hex.EncodeToString(sp.TraceId)
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Write(out)
}

func TestTracingExportsSpansAndPropagates(t *testing.T) {
	t.Parallel()
	col := &collector{spans: map[string]string{}}
	colSrv := httptest.NewServer(col)
	defer colSrv.Close()

	// An upstream that records the traceparent it receives, then answers
	// like an engine.
	var traceparent string
	var mu sync.Mutex
	engine := sim.New(sim.Options{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		traceparent = r.Header.Get("Traceparent")
		mu.Unlock()
		engine.ServeHTTP(w, r)
	}))
	defer up.Close()

	cfg := strings.ReplaceAll(`
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
tracing: {enabled: true, insecure: true, endpoint: "COL"}
upstreams:
  - {name: a, kind: openai, url: "UP"}
models:
  - {name: deepseek-chat, targets: [{upstream: a}]}
`, "COL", strings.TrimPrefix(colSrv.URL, "http://"))
	cfg = strings.ReplaceAll(cfg, "UP", up.URL)
	e := start(t, cfg, nil)

	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req, _ := http.NewRequest("POST", e.base+"/v1/chat/completions", strings.NewReader(chatBody))
	req.Header.Set("Traceparent", parent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	e.stop() // flushes the exporter
	<-e.done
	e.done <- nil

	mu.Lock()
	got := traceparent
	mu.Unlock()
	if !strings.HasPrefix(got, "00-4bf92f3577b34da6a3ce929d0e0e4736-") || got == parent {
		t.Errorf("upstream traceparent %q: want the caller's trace with the gateway's span", got)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	for _, name := range []string{"POST /v1/chat/completions", "authenticate", "upstream a"} {
		if id, ok := col.spans[name]; !ok || id != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("span %q: trace %q (spans: %v)", name, id, col.spans)
		}
	}
}
