package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit"
	"github.com/dsgate/dsgate/internal/testkit/llamatest"
	"github.com/dsgate/dsgate/internal/tinymodel"
)

// llamaFlags are llama-server's settings in the suite: a 2048-token
// context shared by two slots (1024 each), so longPrompt overflows it.
var llamaFlags = []string{"-c", "2048", "-np", "2"}

// llamaModels are the servers of the suite by public model name: the
// tinymodel file and the flags.
var llamaModels = map[string][]string{
	"tiny-r1":    append([]string{tinymodel.R1File, "--alias", "tiny-r1"}, llamaFlags...),
	"tiny-tools": append([]string{tinymodel.ToolsFile, "--alias", "tiny-tools"}, llamaFlags...),
	"tiny-embed": {tinymodel.R1File, "--alias", "tiny-embed", "--embeddings", "--pooling", "mean", "-c", "512"},
}

// startLlamaEngine runs llama-server for the named models (all three when
// none are named: a reasoning chat model, a tool-calling model, an
// embeddings server), loading in parallel, and dsgate in front of them.
func startLlamaEngine(t *testing.T, names ...string) (*engine, map[string]*llamatest.Server) {
	t.Helper()
	if len(names) == 0 {
		names = []string{"tiny-r1", "tiny-tools", "tiny-embed"}
	}
	env := llamatest.Setup(t)
	servers := map[string]*llamatest.Server{}
	for _, name := range names {
		spec := llamaModels[name]
		servers[name] = env.Launch(t, spec[0], spec[1:]...)
	}
	e := &engine{name: "llama.cpp", llama: true, direct: map[string]string{}, models: map[string]string{}}
	roles := map[string]string{"tiny-r1": roleChat, "tiny-tools": roleTools, "tiny-embed": roleEmbed}
	var ups, models strings.Builder
	for _, name := range names {
		s := servers[name]
		s.WaitReady(t)
		e.direct[name], e.models[roles[name]] = s.URL(), name
		ups.WriteString(engineUpstream("llama-"+name, "llamacpp", s.URL(), "    metrics_path: /metrics\n    metrics_interval: 200ms\n"))
		fmt.Fprintf(&models, "  - name: %s\n    targets: [{upstream: llama-%s}]\n", name, name)
	}
	e.gateway = startEngineGateway(t, ups.String(), models.String())
	return e, servers
}

// TestEngineConformanceLlamaCpp runs the table against llama-server.
func TestEngineConformanceLlamaCpp(t *testing.T) {
	e, _ := startLlamaEngine(t)
	runConformance(t, e, engineCases)
}

// slotsBusy counts llama-server's slots that are processing a task.
func slotsBusy(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/slots")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var slots []struct {
		IsProcessing bool `json:"is_processing"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&slots); err != nil {
		t.Fatalf("/slots: %v", err)
	}
	n := 0
	for _, s := range slots {
		if s.IsProcessing {
			n++
		}
	}
	return n
}

// endless is a completion that never stops by itself: ignore_eos makes the
// tiny model loop through its chains until n_predict.
const endless = `{"model":"tiny-r1","prompt":"Once upon a time","max_tokens":1000000,"ignore_eos":true,"stream":true}`

// startEndless posts an endless stream and returns once its first event
// arrived; cancel ends it from the client side.
func startEndless(t *testing.T, url string) (cancel func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/completions", strings.NewReader(endless))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("starting a stream: %v", err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		cancel()
		t.Fatalf("stream: %d %s", resp.StatusCode, b)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data:") {
		cancel()
		t.Fatalf("first event: %q %v", line, err)
	}
	go func() {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}()
	return cancel
}

// TestEngineLlamaAbort: a client that hangs up cancels the engine's task,
// directly and through dsgate.
func TestEngineLlamaAbort(t *testing.T) {
	e, servers := startLlamaEngine(t, "tiny-r1")
	r1 := servers["tiny-r1"]
	for _, via := range []struct{ name, url string }{{"direct", r1.URL()}, {"dsgate", e.gateway.base}} {
		cancel := startEndless(t, via.url)
		if n := slotsBusy(t, r1.URL()); n != 1 {
			t.Fatalf("%s: %d slots busy during the stream, want 1", via.name, n)
		}
		cancel()
		testkit.Eventually(t, 10*time.Second, via.name+": the engine's task cancelled", func() bool {
			return slotsBusy(t, r1.URL()) == 0
		})
	}
}

// TestEngineLlamaRestart: dsgate's health follows llama-server killed and
// started again, and requests succeed once it is back.
func TestEngineLlamaRestart(t *testing.T) {
	e, servers := startLlamaEngine(t, "tiny-r1")
	r1 := servers["tiny-r1"]
	c := newClient()
	body := `{"model":"tiny-r1","messages":[{"role":"user","content":"hi"}],"max_tokens":32}`
	if st, b := post(c, e.gateway.base+"/v1/chat/completions", body); st != 200 {
		t.Fatalf("before the kill: %d %s", st, b)
	}
	r1.Kill()
	testkit.Eventually(t, 10*time.Second, "the killed engine marked unhealthy", func() bool {
		return !e.gateway.upstream(t, "llama-tiny-r1").Healthy
	})
	if st, _ := post(c, e.gateway.base+"/v1/chat/completions", body); st < 500 {
		t.Errorf("with the engine down: status %d, want 5xx", st)
	}
	r1.Restart(t)
	testkit.Eventually(t, 15*time.Second, "the restarted engine healthy again", func() bool {
		return e.gateway.upstream(t, "llama-tiny-r1").Healthy
	})
	if st, b := post(c, e.gateway.base+"/v1/chat/completions", body); st != 200 {
		t.Fatalf("after the restart: %d %s", st, b)
	}
}

// promValue reads one unlabelled sample from a Prometheus text page.
func promValue(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("%s has no %s", url, name)
	return 0
}

// engineRunning is the engine load dsgate read for upstream name, as GET
// /admin/upstreams shows it (load.running; -1 when not read yet).
func engineRunning(t *testing.T, g *gatewayProc, name string) float64 {
	t.Helper()
	resp, err := http.Get(g.base + "/admin/upstreams")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Data []struct {
			Name string                     `json:"name"`
			Load map[string]json.RawMessage `json:"load"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatalf("/admin/upstreams: %v", err)
	}
	for _, u := range list.Data {
		if u.Name != name {
			continue
		}
		for _, key := range []string{"running", "Running"} {
			var v float64
			if raw, ok := u.Load[key]; ok && json.Unmarshal(raw, &v) == nil {
				return v
			}
		}
	}
	return -1
}

// TestEngineLlamaLeastLoad: with two llama-servers behind least_load and
// one of them busy with streams sent to it directly, dsgate sends new
// requests to the idle one (it reads llama.cpp's requests_processing).
func TestEngineLlamaLeastLoad(t *testing.T) {
	env := llamatest.Setup(t)
	busy := env.Launch(t, tinymodel.R1File, "--alias", "tiny-r1", "-c", "16384", "-np", "2")
	idle := env.Launch(t, tinymodel.R1File, "--alias", "tiny-r1", "-c", "16384", "-np", "2")
	busy.WaitReady(t)
	idle.WaitReady(t)
	extra := "    metrics_path: /metrics\n    metrics_interval: 100ms\n"
	g := startEngineGateway(t,
		engineUpstream("busy", "llamacpp", busy.URL(), extra)+engineUpstream("idle", "llamacpp", idle.URL(), extra),
		"  - name: tiny-r1\n    policy: least_load\n    rules: []\n    targets: [{upstream: busy}, {upstream: idle}]\n")
	for range 2 {
		cancel := startEndless(t, busy.URL())
		defer cancel()
	}
	testkit.Eventually(t, 10*time.Second, "the busy engine's load scraped", func() bool {
		return engineRunning(t, g, "busy") >= 2
	})
	before := promValue(t, busy.URL()+"/metrics", "llamacpp:prompt_tokens_total")
	c := newClient()
	for i := range 6 {
		body := fmt.Sprintf(`{"model":"tiny-r1","prompt":"request %d","max_tokens":4}`, i)
		if st, b := post(c, g.base+"/v1/completions", body); st != 200 {
			t.Fatalf("request %d: %d %s", i, st, b)
		}
	}
	if after := promValue(t, busy.URL()+"/metrics", "llamacpp:prompt_tokens_total"); after != before {
		t.Errorf("the busy engine got %v prompt tokens while the idle one was free", after-before)
	}
}

// TestEngineLlamaClientMistakes: requests llama-server refuses because of
// the client (an image to a text-only model, a tools value that is not an
// array, embeddings from a chat server) keep failing for that client
// only: the breaker stays closed and the next good request is served.
func TestEngineLlamaClientMistakes(t *testing.T) {
	e, _ := startLlamaEngine(t, "tiny-r1")
	c := newClient()
	bad := []struct{ path, body string }{
		{"/v1/chat/completions", `{"model":"tiny-r1","messages":[{"role":"user","content":[{"type":"image_url",` +
			`"image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]}`},
		{"/v1/chat/completions", `{"model":"tiny-r1","messages":[{"role":"user","content":"hi"}],"tools":{"type":"function"}}`},
		{"/v1/embeddings", `{"model":"tiny-r1","input":"hi"}`},
	}
	for round := range 3 { // more failures than the breaker's threshold of 5
		for _, b := range bad {
			direct, _ := post(c, e.direct["tiny-r1"]+b.path, b.body)
			st, body := post(c, e.gateway.base+b.path, b.body)
			if round == 0 {
				t.Logf("%s: llama-server %d, dsgate %d %s", b.path, direct, st, clip(body))
			}
			if st < 400 || st >= 500 {
				t.Errorf("%s %s: dsgate answered %d, want a 4xx naming the client's mistake: %s", b.path, b.body, st, clip(body))
			}
		}
	}
	if u := e.gateway.upstream(t, "llama-tiny-r1"); !u.Healthy || u.Breaker != "closed" {
		t.Errorf("after client mistakes the engine is %+v", u)
	}
	good := `{"model":"tiny-r1","messages":[{"role":"user","content":"hi"}],"max_tokens":32}`
	if st, b := post(c, e.gateway.base+"/v1/chat/completions", good); st != 200 {
		t.Fatalf("a good request after the mistakes: %d %s", st, b)
	}
}
