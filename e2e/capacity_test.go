package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Issue 22: under the memory limit the Helm chart sets (GOMEMLIMIT from
// the pod's limit) the gateway let in as many streams as it had file
// descriptors for, far more than the pod could hold. The derived
// connection limit now also counts memory: 64 MiB for the process and
// 64 KiB an open stream, so 64 MiB + 128 KiB lets in two streams and
// refuses the third with 503 and Retry-After.
func TestMemoryLimitBoundsOpenStreams(t *testing.T) {
	t.Parallel()
	sim := startSim(t, "slow", 0, "--tps", "20")
	env := []string{fmt.Sprintf("GOMEMLIMIT=%d", 64<<20+2*64<<10)}
	g := startGatewayEnv(t, env, "", []*simulator{sim}, "  - {name: deepseek-chat, targets: [{upstream: slow}]}\n")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	body := `{"model":"deepseek-chat","stream":true,"max_tokens":1000,"messages":[{"role":"user","content":"long"}]}`
	send := func() *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.base+"/v1/chat/completions", strings.NewReader(body))
		resp, err := (&http.Transport{DisableKeepAlives: true}).RoundTrip(req) // a connection of its own
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for i := range 2 {
		resp := send()
		if resp.StatusCode != 200 {
			t.Fatalf("stream %d: status %d", i, resp.StatusCode)
		}
		if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
	}
	resp := send()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third stream under a limit for two: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(g.p.out.Tail(1000), `"max_connections":2`) {
		t.Errorf("the log does not name the derived limit:\n%s", g.p.out.Tail(20))
	}
}
