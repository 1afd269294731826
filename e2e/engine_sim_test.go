package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestEngineConformanceSim runs the conformance table against `dsgate
// sim` in each personality, with dsgate in front as for a real engine.
func TestEngineConformanceSim(t *testing.T) {
	t.Run("plain", func(t *testing.T) {
		s := startSim(t, "sim-plain", 0, "--models", "tiny-r1,tiny-tools,tiny-embed", "--context-length", "1024")
		e := &engine{name: "sim-plain", sim: "plain", direct: map[string]string{},
			models: map[string]string{roleChat: "tiny-r1", roleTools: "tiny-tools", roleEmbed: "tiny-embed"}}
		var models string
		for _, m := range []string{"tiny-r1", "tiny-tools", "tiny-embed"} {
			e.direct[m] = s.url()
			models += fmt.Sprintf("  - name: %s\n    targets: [{upstream: sim}]\n", m)
		}
		e.gateway = startEngineGateway(t, engineUpstream("sim", "openai", s.url(), "    thinking_switch: deepseek\n"), models)
		runConformance(t, e, engineCases)
	})
	t.Run("deepseek", func(t *testing.T) {
		const model, key = "deepseek-v4-flash", "sk-e2e-engine"
		s := startSim(t, "sim-deepseek", 0, "--personality", "deepseek", "--keep-alive", "-1s", "--api-key", key)
		keyFile := filepath.Join(t.TempDir(), "key")
		if err := os.WriteFile(keyFile, []byte(key), 0o600); err != nil {
			t.Fatal(err)
		}
		e := &engine{name: "sim-deepseek", sim: "deepseek", direct: map[string]string{model: s.url()}, directKey: key,
			models: map[string]string{roleChat: model, roleTools: model}}
		e.gateway = startEngineGateway(t, engineUpstream("sim", "deepseek", s.url(), "    api_key: file:"+keyFile+"\n"),
			"  - name: "+model+"\n    targets: [{upstream: sim}]\n")
		runConformance(t, e, engineCases)
	})
}
