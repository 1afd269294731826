package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit"
)

// Issue 22: under the memory limit the Helm chart sets (GOMEMLIMIT from
// the pod's limit) the gateway let in as many streams as it had file
// descriptors for, far more than the pod could hold. The derived
// connection limit now also counts memory: 64 MiB for the process and 64
// KiB an open stream, so 100 MiB lets in 576 (past it a request gets 503:
// TestMaxConnectionsRefusesWith503 in internal/server).
func TestMemoryLimitBoundsConnections(t *testing.T) {
	t.Parallel()
	sim := startSim(t, "sim", 0)
	env := []string{fmt.Sprintf("GOMEMLIMIT=%d", 100<<20)}
	g := startGatewayEnv(t, env, "", []*simulator{sim}, "  - {name: deepseek-chat, targets: [{upstream: sim}]}\n")
	// The log line names the limit and what it came from: the memory
	// limit and the 64 MiB reserve (no cache here).
	want := fmt.Sprintf(`"max_connections":%d,"nofile":`, (100-64)<<20/(64<<10))
	memory := fmt.Sprintf(`"memory_limit":%d,"memory_reserved":%d`, 100<<20, 64<<20)
	testkit.Eventually(t, 5*time.Second, "the derived limit in the log", func() bool {
		out := g.p.out.Tail(1000)
		return strings.Contains(out, want) && strings.Contains(out, memory)
	})
	if code, body := post(newClient(), g.base+"/v1/chat/completions", chatBody("deepseek-chat", false)); code != 200 {
		t.Fatalf("a request under the limit: %d %s", code, body)
	}
}
