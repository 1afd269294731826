package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit"
)

// nodeDir holds the Node harness: package.json, its lockfile and the
// scripts. npm ci installs the pinned SDKs and agents once per run.
var (
	nodeDir     = filepath.Join("..", "e2e", "node")
	nodeInstall sync.Once
	nodeErr     error
)

// needNode installs the Node harness (npm ci), failing under
// DSGATE_TEST_REQUIRE=1 and skipping otherwise when node or npm is
// missing or the install fails.
func needNode(t *testing.T) {
	t.Helper()
	nodeInstall.Do(func() {
		for _, tool := range []string{"node", "npm"} {
			if _, err := exec.LookPath(tool); err != nil {
				nodeErr = err
				return
			}
		}
		if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", ".package-lock.json")); err == nil {
			return // installed by an earlier run from the same lockfile
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = nodeDir
		if out, err := cmd.CombinedOutput(); err != nil {
			nodeErr = &installError{err: err, out: string(out)}
		}
	})
	testkit.Need(t, "node and npm with the e2e/node packages", "install Node.js 20+ and npm; the test runs npm ci in e2e/node", nodeErr)
}

type installError struct {
	err error
	out string
}

func (e *installError) Error() string { return "npm ci: " + e.err.Error() + "\n" + e.out }

// runNode runs a program of the harness with env added, in dir.
func runNode(t *testing.T, dir string, env []string, d time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestNodeSDKs runs the official @anthropic-ai/sdk and openai packages,
// unchanged, against the quick start on the simulator: messages, stream,
// tools round trip, thinking, count_tokens and errors; responses.create,
// retrieve, previous_response_id, stream, function calling round trip,
// reasoning and errors (e2e/node/sdks.mjs).
func TestNodeSDKs(t *testing.T) {
	needNode(t)
	q := startQuickStart(t)
	script, _ := filepath.Abs(filepath.Join(nodeDir, "sdks.mjs"))
	out, err := runNode(t, nodeDir, nil, 3*time.Minute, script, q.base)
	t.Log(out)
	if err != nil {
		t.Fatalf("sdks.mjs: %v", err)
	}
	want := []string{"POST /v1/messages", "POST /v1/messages/count_tokens", "POST /v1/responses", "GET /v1/responses/{id}"}
	routes := map[string]int{}
	q.settledRecords(t, func(recs []map[string]any) bool {
		clear(routes)
		for _, rec := range recs {
			r, _ := rec["route"].(string)
			routes[r]++
		}
		return !slices.ContainsFunc(want, func(r string) bool { return routes[r] == 0 })
	})
	for _, r := range want {
		if routes[r] == 0 {
			t.Errorf("no audit record of %s: %v", r, routes)
		}
	}
}

// agentQuickStart is the quick start whose simulator ends answers on its
// own (sim.answer_tokens) instead of filling the agents' large max_tokens,
// which they would report as an error.
func agentQuickStart(t *testing.T) *quickStart {
	return startQuickStartEdited(t, func(t *testing.T, conf string) string {
		const line = "      tokens_per_second: 40\n"
		if !strings.Contains(conf, line) {
			t.Fatal("examples/quickstart.yaml's sim upstream no longer has tokens_per_second: 40; update this test")
		}
		return strings.Replace(conf, line, line+"      answer_tokens: 24\n", 1)
	})
}

// agentEnv is what every agent run gets: no telemetry, no update checks,
// a home of its own.
func agentEnv(t *testing.T) []string {
	home := t.TempDir()
	return []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"DISABLE_AUTOUPDATER=1", "DISABLE_TELEMETRY=1", "DISABLE_ERROR_REPORTING=1",
		"CLAUDE_CODE_ENABLE_TELEMETRY=0", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		"NO_PROXY=127.0.0.1,localhost", "HTTPS_PROXY=", "HTTP_PROXY="}
}

// countRoute counts the successful audit records of route, waiting (up
// to 10 s) for at least want of them to be written.
func countRoute(t *testing.T, q *quickStart, route string, want int) int {
	n := 0
	q.settledRecords(t, func(recs []map[string]any) bool {
		n = 0
		for _, rec := range recs {
			if rec["route"] == route && rec["status"] == float64(200) {
				n++
			}
		}
		return n >= want
	})
	return n
}

// TestClaudeCode runs Claude Code in print mode against the quick start:
// the simulator answers "Write hello.txt" by calling the Write tool Claude
// Code offers, Claude Code writes the file and sends the result back, and
// the simulator's answer ends the run.
func TestClaudeCode(t *testing.T) {
	needNode(t)
	q := agentQuickStart(t)
	work := t.TempDir()
	cli, _ := filepath.Abs(filepath.Join(nodeDir, "node_modules", "@anthropic-ai", "claude-code", "cli-wrapper.cjs"))
	env := append(agentEnv(t), "ANTHROPIC_BASE_URL="+q.base, "ANTHROPIC_API_KEY=sk-any",
		"ANTHROPIC_MODEL=deepseek-chat", "ANTHROPIC_SMALL_FAST_MODEL=deepseek-chat")
	out, err := runNode(t, work, env, 3*time.Minute, cli, "-p", "Write hello.txt", "--output-format", "json",
		"--allowedTools", "Write")
	t.Log(out)
	if err != nil {
		t.Fatalf("claude -p: %v", err)
	}
	files, _ := os.ReadDir(work)
	if len(files) == 0 {
		t.Fatal("Claude Code wrote no file: the simulator's Write call did not run")
	}
	if !strings.Contains(out, `"is_error":false`) {
		t.Errorf("Claude Code's run ended in an error")
	}
	if n := countRoute(t, q, "POST /v1/messages", 2); n < 2 {
		t.Errorf("%d successful /v1/messages calls, want a tool call and the turn after it", n)
	}
}

// TestCodex runs the Codex CLI (codex exec) with a custom provider pointed
// at the quick start's Responses API: the simulator answers "Use
// exec_command" by calling the exec_command tool Codex offers, Codex sends
// the tool's output back, and the
// simulator's answer completes the turn.
func TestCodex(t *testing.T) {
	needNode(t)
	q := agentQuickStart(t)
	env := agentEnv(t)
	home := strings.TrimPrefix(env[0], "HOME=")
	codexHome := filepath.Join(home, ".codex")
	if err := os.MkdirAll(codexHome, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := `model = "deepseek-chat"
model_provider = "dsgate"
[model_providers.dsgate]
name = "dsgate"
base_url = "` + q.base + `/v1"
env_key = "DSGATE_API_KEY"
wire_api = "responses"
`
	if err := os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cli, _ := filepath.Abs(filepath.Join(nodeDir, "node_modules", "@openai", "codex", "bin", "codex.js"))
	env = append(env, "CODEX_HOME="+codexHome, "DSGATE_API_KEY=sk-any")
	out, err := runNode(t, t.TempDir(), env, 3*time.Minute, cli, "exec", "--skip-git-repo-check",
		"--dangerously-bypass-approvals-and-sandbox", "--ephemeral", "--json", "Use exec_command to run it")
	t.Log(out)
	if err != nil {
		t.Fatalf("codex exec: %v", err)
	}
	if !strings.Contains(out, `"type":"turn.completed"`) || !strings.Contains(out, `"type":"agent_message"`) {
		t.Fatal("codex exec did not complete its turn")
	}
	// The simulator's tool call was one Codex accepted and ran: a command
	// execution that finished with an exit code (the command itself is
	// the simulator's filler, so it is not found: 127).
	if !regexp.MustCompile(`"type":"command_execution"[^}]*"exit_code":\d+`).MatchString(out) {
		t.Fatal("codex never ran the simulator's exec_command call")
	}
	if n := countRoute(t, q, "POST /v1/responses", 2); n < 2 {
		t.Errorf("%d successful /v1/responses calls, want the tool call and the turn after it", n)
	}
}

// TestNodeAnthropicRelay runs the official Anthropic SDK against the quick
// start with DEEPSEEK_API_KEY set and the cloud URL pointed at the strict
// DeepSeek double: Messages calls are relayed untouched to the double's
// /anthropic/v1/messages (the thinking signatures are the double's own),
// streamed and not, with a tool round trip, cache reads in the usage and
// the double's 400 passed back in Anthropic's shape (e2e/node/relay.mjs).
// The records name the cloud upstream and carry the usage.
func TestNodeAnthropicRelay(t *testing.T) {
	needNode(t)
	key := "sk-e2e-" + randomHex(t, 8)
	ds := startSim(t, "deepseek-double", 0, "--personality", "deepseek", "--api-key", key)
	q := startQuickStart(t, "DEEPSEEK_API_KEY="+key, "DEEPSEEK_BASE_URL="+ds.url())
	script, _ := filepath.Abs(filepath.Join(nodeDir, "relay.mjs"))
	out, err := runNode(t, nodeDir, nil, 3*time.Minute, script, q.base)
	t.Log(out)
	if err != nil {
		t.Fatalf("relay.mjs: %v", err)
	}
	var ok, refused, cached int
	testkit.Eventually(t, 10*time.Second, "6 audit records of /v1/messages", func() bool {
		ok, refused, cached = 0, 0, 0
		for _, rec := range q.auditRecords(t) {
			if rec["route"] != "POST /v1/messages" {
				continue
			}
			switch {
			case rec["status"] == float64(200) && rec["upstream"] == "deepseek":
				ok++
			case rec["status"] == float64(400):
				refused++
			default:
				t.Errorf("record %v", rec)
			}
			if n, _ := rec["cache_hit_tokens"].(float64); n > 0 {
				cached++
			}
		}
		return ok+refused >= 6
	})
	if ok != 5 || refused != 1 || cached == 0 {
		t.Errorf("records: %d served by deepseek, %d refused, %d with cache hits", ok, refused, cached)
	}
}

// TestClaudeCodeRelayed is TestClaudeCode with DeepSeek's cloud (its
// strict double, answers ended after 24 tokens) behind the quick start:
// Claude Code's Messages calls are relayed untouched to the double's
// Anthropic endpoint, which calls the Write tool; the records name the
// cloud upstream.
func TestClaudeCodeRelayed(t *testing.T) {
	needNode(t)
	key := "sk-e2e-" + randomHex(t, 8)
	ds := startSim(t, "deepseek-double", 0, "--personality", "deepseek", "--api-key", key, "--answer-tokens", "24")
	q := startQuickStart(t, "DEEPSEEK_API_KEY="+key, "DEEPSEEK_BASE_URL="+ds.url())
	work := t.TempDir()
	cli, _ := filepath.Abs(filepath.Join(nodeDir, "node_modules", "@anthropic-ai", "claude-code", "cli-wrapper.cjs"))
	env := append(agentEnv(t), "ANTHROPIC_BASE_URL="+q.base, "ANTHROPIC_API_KEY=sk-any",
		"ANTHROPIC_MODEL=deepseek-chat", "ANTHROPIC_SMALL_FAST_MODEL=deepseek-chat")
	out, err := runNode(t, work, env, 3*time.Minute, cli, "-p", "Write hello.txt", "--output-format", "json",
		"--allowedTools", "Write")
	t.Log(out)
	if err != nil {
		t.Fatalf("claude -p: %v", err)
	}
	if files, _ := os.ReadDir(work); len(files) == 0 {
		t.Fatal("Claude Code wrote no file: the double's Write call did not run")
	}
	if !strings.Contains(out, `"is_error":false`) {
		t.Errorf("Claude Code's run ended in an error")
	}
	relayed := 0
	q.settledRecords(t, func(recs []map[string]any) bool {
		relayed = 0
		for _, rec := range recs {
			if rec["route"] == "POST /v1/messages" && rec["status"] == float64(200) && rec["upstream"] == "deepseek" {
				relayed++
			}
		}
		return relayed >= 2
	})
	if relayed < 2 {
		t.Errorf("%d /v1/messages calls served by the deepseek upstream, want a tool call and the turn after it", relayed)
	}
}
