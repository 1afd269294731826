package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// quickStart is examples/quickstart.yaml running as the README says, in its
// own working directory (it writes ./dsgate-data there), on free ports.
type quickStart struct {
	base string
	dir  string
	p    *proc
}

// startQuickStart runs the README's first command with env added to the
// environment. The only change to the shipped file is the two loopback
// ports, so tests can run beside a developer's own quick start.
func startQuickStart(t *testing.T, env ...string) *quickStart {
	t.Helper()
	return startQuickStartEdited(t, nil, env...)
}

// startQuickStartEdited is startQuickStart with the shipped file changed
// by edit first (nil: unchanged).
func startQuickStartEdited(t *testing.T, edit func(t *testing.T, conf string) string, env ...string) *quickStart {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "examples", "quickstart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		src = []byte(edit(t, string(src)))
	}
	port, grpcPort := testkit.FreePort(t), testkit.FreePort(t)
	conf := strings.NewReplacer("127.0.0.1:8080", fmt.Sprintf("127.0.0.1:%d", port),
		"127.0.0.1:8081", fmt.Sprintf("127.0.0.1:%d", grpcPort)).Replace(string(src))
	if conf == string(src) {
		t.Fatal("examples/quickstart.yaml no longer listens on 127.0.0.1:8080 and :8081; update this test")
	}
	q := &quickStart{base: fmt.Sprintf("http://127.0.0.1:%d", port), dir: t.TempDir()}
	path := filepath.Join(q.dir, "quickstart.yaml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	q.p = startProcEnv(t, "quickstart", q.dir, env, "serve", "--config", path)
	testkit.Eventually(t, 20*time.Second, "quick start /readyz", func() bool {
		select {
		case <-q.p.done:
			t.Fatalf("quick start exited:\n%s", q.p.out.Tail(30))
		default:
		}
		resp, err := http.Get(q.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return q
}

// settledRecords returns the audit records once done holds for them, or
// after 10 s, whichever comes first. The trail is written asynchronously
// (a record reaches its file a linger and an fsync after its request
// ended), so a client that has its answer can read the trail before the
// record is in it: read it once, and the last record can be missing.
func (q *quickStart) settledRecords(t *testing.T, done func([]map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs := q.auditRecords(t)
		if done(recs) || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// auditRecords reads the quick start's audit trail as it is now.
func (q *quickStart) auditRecords(t *testing.T) []map[string]any {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(q.dir, "dsgate-data", "audit", "*.jsonl"))
	var out []map[string]any
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err == nil {
				out = append(out, rec)
			}
		}
		fh.Close()
	}
	return out
}

// TestQuickStartOnTheDeepSeekDouble is issue 12's "done when": the quick
// start, with DEEPSEEK_API_KEY set and the cloud URL pointed at a strict
// double of DeepSeek's API as it is today, answers the README's requests
// from the cloud: both public aliases and the V4 names, streaming and not,
// a tool-call round trip with reasoning_content passed back, FIM and JSON
// mode. The double refuses retired model names, so any that reached it
// would fail a request or fall back to the simulator, which the audit
// trail would show.
func TestQuickStartOnTheDeepSeekDouble(t *testing.T) {
	key := "sk-e2e-" + randomHex(t, 8)
	ds := startSim(t, "deepseek-double", 0, "--personality", "deepseek", "--api-key", key)
	q := startQuickStart(t, "DEEPSEEK_API_KEY="+key, "DEEPSEEK_BASE_URL="+ds.url())
	hc := newClient()

	// The README's curl, exactly.
	code, body := post(hc, q.base+"/v1/chat/completions",
		`{"model":"deepseek-reasoner","messages":[{"role":"user","content":"hello"}]}`)
	if code != 200 || !strings.Contains(body, `"reasoning_content"`) {
		t.Fatalf("README request: %d %s", code, body)
	}

	client := openai.NewClient(option.WithBaseURL(q.base+"/v1"), option.WithAPIKey("any"),
		option.WithHTTPClient(hc), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, tc := range []struct {
		model     string
		reasoning bool
	}{
		{"deepseek-chat", false},
		{"deepseek-reasoner", true},
		{"deepseek-v4-flash", true}, // DeepSeek's default is thinking on
		{"deepseek-flash", true},
		{"deepseek-v4-pro", true},
	} {
		params := openai.ChatCompletionNewParams{
			Model:    tc.model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		}
		resp, err := client.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatalf("%s: %v", tc.model, err)
		}
		_, hasReasoning := resp.Choices[0].Message.JSON.ExtraFields["reasoning_content"]
		if resp.Model != tc.model || resp.Choices[0].Message.Content == "" || hasReasoning != tc.reasoning {
			t.Errorf("%s: model %q content %q reasoning %v (want %v)", tc.model, resp.Model,
				resp.Choices[0].Message.Content, hasReasoning, tc.reasoning)
		}

		params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := client.Chat.Completions.NewStreaming(ctx, params)
		acc := openai.ChatCompletionAccumulator{}
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("%s stream: %v", tc.model, err)
		}
		if acc.Choices[0].Message.Content == "" || acc.Usage.TotalTokens == 0 {
			t.Errorf("%s stream: content %q usage %+v", tc.model, acc.Choices[0].Message.Content, acc.Usage)
		}
	}

	toolRoundTrip(t, hc, q.base)

	// FIM: DeepSeek serves it only without thinking; the gateway must send
	// it that way whatever the model's chat default is.
	for _, model := range []string{"deepseek-chat", "deepseek-v4-flash"} {
		code, body = post(hc, q.base+"/beta/completions",
			fmt.Sprintf(`{"model":%q,"prompt":"def add(a, b):\n","suffix":"\n","max_tokens":16}`, model))
		if code != 200 || !strings.Contains(body, `"text"`) {
			t.Errorf("FIM on %s: %d %s", model, code, body)
		}
	}

	// JSON mode.
	code, body = post(hc, q.base+"/v1/chat/completions", `{"model":"deepseek-chat","response_format":{"type":"json_object"},`+
		`"messages":[{"role":"system","content":"Answer in json."},{"role":"user","content":"a fruit"}]}`)
	var jr struct {
		Choices []struct{ Message struct{ Content string } }
	}
	if code != 200 || json.Unmarshal([]byte(body), &jr) != nil || len(jr.Choices) == 0 || !json.Valid([]byte(jr.Choices[0].Message.Content)) {
		t.Errorf("JSON mode: %d %s", code, body)
	}

	// Every generation call above was answered by the cloud, not by the
	// simulator's fallback tier.
	var served int
	testkit.Eventually(t, 10*time.Second, "audit records of the generation calls", func() bool {
		served = 0
		for _, rec := range q.auditRecords(t) {
			if rec["model"] != nil && rec["model"] != "" {
				served++
			}
		}
		return served >= 16 // README 1, models 10, tool round trip 2, FIM 2, JSON 1
	})
	for _, rec := range q.auditRecords(t) {
		if m, _ := rec["model"].(string); m != "" && rec["upstream"] != "deepseek" {
			t.Errorf("%v %v was served by %q, not the cloud (status %v)", rec["route"], m, rec["upstream"], rec["status"])
		}
	}
}

// toolRoundTrip asks deepseek-reasoner for a tool call, then sends the
// assistant turn back verbatim (reasoning_content included, as DeepSeek
// requires in thinking mode) with the tool's result.
func toolRoundTrip(t *testing.T, hc *http.Client, base string) {
	t.Helper()
	tools := `[{"type":"function","function":{"name":"get_weather","description":"weather of a city",` +
		`"parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]`
	user := `{"role":"user","content":"What is the weather in Hangzhou? Use get_weather."}`
	code, body := post(hc, base+"/v1/chat/completions",
		`{"model":"deepseek-reasoner","tools":`+tools+`,"messages":[`+user+`]}`)
	var first struct {
		Choices []struct {
			Message json.RawMessage `json:"message"`
		} `json:"choices"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &first) != nil || len(first.Choices) == 0 {
		t.Fatalf("tool call: %d %s", code, body)
	}
	var msg struct {
		ReasoningContent string `json:"reasoning_content"`
		ToolCalls        []struct {
			ID       string `json:"id"`
			Function struct {
				Name      string `json:"name"`
				Arguments string `json:"arguments"`
			} `json:"function"`
		} `json:"tool_calls"`
	}
	json.Unmarshal(first.Choices[0].Message, &msg)
	if len(msg.ToolCalls) == 0 || msg.ReasoningContent == "" {
		t.Fatalf("no tool call with reasoning: %s", first.Choices[0].Message)
	}
	var args map[string]any
	if err := json.Unmarshal([]byte(msg.ToolCalls[0].Function.Arguments), &args); err != nil || args["city"] == nil {
		t.Errorf("tool arguments do not follow the schema: %s", msg.ToolCalls[0].Function.Arguments)
	}
	result := fmt.Sprintf(`{"role":"tool","tool_call_id":%q,"content":"sunny, 21C"}`, msg.ToolCalls[0].ID)
	code, body = post(hc, base+"/v1/chat/completions",
		`{"model":"deepseek-reasoner","tools":`+tools+`,"messages":[`+user+`,`+string(first.Choices[0].Message)+`,`+result+`]}`)
	if code != 200 || !strings.Contains(body, `"content"`) {
		t.Fatalf("tool result turn: %d %s", code, body)
	}
}

// TestQuickStartWithAWrongDeepSeekKey: a wrong upstream key is the
// gateway's problem, not the caller's. The quick start falls back to the
// simulator and says so in its log; the cloud upstream is marked unusable.
func TestQuickStartWithAWrongDeepSeekKey(t *testing.T) {
	ds := startSim(t, "deepseek-double", 0, "--personality", "deepseek", "--api-key", "sk-right")
	q := startQuickStart(t, "DEEPSEEK_API_KEY=sk-wrong", "DEEPSEEK_BASE_URL="+ds.url())
	hc := newClient()
	resp, err := hc.Post(q.base+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"deepseek-chat","messages":[{"role":"user","content":"hello"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Dsgate-Upstream") != "sim" {
		t.Fatalf("status %d upstream %q: want the simulator's fallback answer", resp.StatusCode, resp.Header.Get("X-Dsgate-Upstream"))
	}
	testkit.Eventually(t, 5*time.Second, "a WARN naming the deepseek upstream", func() bool {
		for _, line := range strings.Split(q.p.out.Tail(200), "\n") {
			if strings.Contains(line, "WARN") && strings.Contains(line, "deepseek") {
				return true
			}
		}
		return false
	})
	st := (&gatewayProc{base: q.base}).upstream(t, "deepseek")
	if st.Healthy {
		t.Errorf("deepseek upstream with a wrong key still healthy: %+v", st)
	}
}
