package gwprof

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/server"
	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/testkit"
)

// startSim runs the simulator on a loopback port, its goroutines labelled
// part=sim.
func startSim(tb testing.TB) string {
	tb.Helper()
	ts := httptest.NewUnstartedServer(sim.New(sim.Options{MaxTokens: 16}))
	pprof.Do(context.Background(), pprof.Labels("part", "sim"), func(context.Context) { ts.Start() })
	tb.Cleanup(ts.Close)
	return ts.URL
}

// startGateway runs dsgate's server from a config like bench/run.sh's,
// its goroutines labelled part=gateway, and returns its base URL.
func startGateway(tb testing.TB, simURL string, accessLog bool) string {
	tb.Helper()
	yaml := fmt.Sprintf(`version: 1
server: {listen: "127.0.0.1:0"}
log: {access: %t}
upstreams:
  - {name: sim, kind: openai, url: %q}
models:
  - {name: deepseek-chat, targets: [{upstream: sim}]}
`, accessLog, simURL)
	cfg, err := config.Parse(strings.NewReader(yaml))
	if err != nil {
		tb.Fatalf("config: %v", err)
	}
	// The access log goes through the real JSON handler into io.Discard,
	// so its encoding cost shows in the profile.
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	srv, err := server.New(cfg, log)
	if err != nil {
		tb.Fatalf("server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go pprof.Do(ctx, pprof.Labels("part", "gateway"), func(ctx context.Context) {
		defer close(done)
		srv.Run(ctx)
	})
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	base := "http://" + srv.Addr()
	testkit.Eventually(tb, 5*time.Second, "the gateway to be ready", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base
}

func chatBody(stream bool) []byte {
	return []byte(fmt.Sprintf(`{"model":"deepseek-chat","messages":[{"role":"system","content":"You are a helpful assistant."},`+
		`{"role":"user","content":"Write one short sentence about load balancers."}],"max_tokens":16,"stream":%t}`, stream))
}

func benchChat(b *testing.B, stream, accessLog bool) {
	base := startGateway(b, startSim(b), accessLog)
	url := base + "/v1/chat/completions"
	body := chatBody(stream)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}
	b.Cleanup(client.CloseIdleConnections)
	b.SetParallelism(8) // 8 x GOMAXPROCS clients, like the harness's c=16 on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		pprof.Do(context.Background(), pprof.Labels("part", "client"), func(context.Context) {
			buf := make([]byte, 32<<10)
			for pb.Next() {
				resp, err := client.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				n := 0
				for {
					m, err := resp.Body.Read(buf)
					n += m
					if err != nil {
						break
					}
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || n == 0 {
					b.Errorf("status %d, %d bytes", resp.StatusCode, n)
					return
				}
			}
		})
	})
}

func BenchmarkGatewayChat(b *testing.B)                { benchChat(b, false, false) }
func BenchmarkGatewayChatStream(b *testing.B)          { benchChat(b, true, false) }
func BenchmarkGatewayChatAccessLog(b *testing.B)       { benchChat(b, false, true) }
func BenchmarkGatewayChatStreamAccessLog(b *testing.B) { benchChat(b, true, true) }

// TestGatewayServesThroughSim keeps the benchmark's setup honest in a
// normal test run.
func TestGatewayServesThroughSim(t *testing.T) {
	base := startGateway(t, startSim(t), false)
	for _, stream := range []bool{false, true} {
		resp, err := http.Post(base+"/v1/chat/completions", "application/json", bytes.NewReader(chatBody(stream)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream=%t: status %d: %s", stream, resp.StatusCode, b)
		}
		if stream && !bytes.Contains(b, []byte("data: [DONE]")) {
			t.Fatalf("stream without [DONE]: %s", b)
		}
	}
}
