// Command engine measures dsgate's relay overhead in front of a real
// llama.cpp server (issue 20): time to first token and total latency of
// the same streamed chat request sent directly to llama-server and through
// dsgate, interleaved one by one so both see the same machine.
//
//	go build -o /tmp/dsgate ./cmd/dsgate
//	go run ./bench/engine -dsgate /tmp/dsgate -n 300
//
// llama-server and the llama.cpp models directory come from
// scripts/llamacpp.sh ($DSGATE_LLAMA_HOME, else the cache); the model is
// tinymodel's tiny-r1, whose answer is always the same 16 tokens.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dsgate/dsgate/bench/benchkit"
	"github.com/dsgate/dsgate/internal/tinymodel"
)

const chatBody = `{"model":"tiny-r1","messages":[{"role":"user","content":"hi"}],"temperature":0,"max_tokens":64,"stream":true}`

func main() {
	dsgate := flag.String("dsgate", "", "the dsgate binary (go build -o /tmp/dsgate ./cmd/dsgate)")
	n := flag.Int("n", 200, "requests per path")
	flag.Parse()
	if err := run(*dsgate, *n); err != nil {
		fmt.Fprintln(os.Stderr, "engine:", err)
		os.Exit(1)
	}
}

// sample is one request's time to first token and total time.
type sample struct{ ttft, total time.Duration }

func run(dsgate string, n int) error {
	if dsgate == "" {
		return fmt.Errorf("-dsgate is required")
	}
	home, err := tinymodel.LlamaHome()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "dsgate-bench-engine-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	models, err := tinymodel.WriteModels(dir, filepath.Join(home, "models"))
	if err != nil {
		return err
	}
	llamaPort, gwPort := freePort(), freePort()
	llama, err := benchkit.StartChild(filepath.Join(home, "bin", "llama-server"), filepath.Join(dir, "llama.log"),
		"-m", models[tinymodel.R1File], "--alias", "tiny-r1", "--host", "127.0.0.1", "--port", fmt.Sprint(llamaPort),
		"--threads", "1", "--no-webui", "--jinja", "-c", "2048", "-np", "1")
	if err != nil {
		return err
	}
	defer llama.Kill()
	llamaURL := fmt.Sprintf("http://127.0.0.1:%d", llamaPort)
	if err := benchkit.WaitReady(context.Background(), llamaURL+"/health", 60*time.Second, llama.Done()); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`version: 1
server: {listen: "127.0.0.1:%d"}
log: {access: false, level: warn}
upstreams:
  - {name: llama, kind: llamacpp, url: %q}
models:
  - {name: tiny-r1, targets: [{upstream: llama}]}
`, gwPort, llamaURL)
	cfgPath := filepath.Join(dir, "dsgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	gw, err := benchkit.StartChild(dsgate, filepath.Join(dir, "dsgate.log"), "serve", "--config", cfgPath)
	if err != nil {
		return err
	}
	defer gw.Kill()
	gwURL := fmt.Sprintf("http://127.0.0.1:%d", gwPort)
	if err := benchkit.WaitReady(context.Background(), gwURL+"/readyz", 20*time.Second, gw.Done()); err != nil {
		return err
	}
	client := benchkit.NewLocalClient(1)
	var direct, relayed []sample
	for i := range n + 20 {
		d, err := measure(client, llamaURL)
		if err != nil {
			return fmt.Errorf("direct: %w", err)
		}
		r, err := measure(client, gwURL)
		if err != nil {
			return fmt.Errorf("through dsgate: %w", err)
		}
		if i >= 20 { // the first 20 of each warm up
			direct, relayed = append(direct, d), append(relayed, r)
		}
	}
	printTable(n, direct, relayed)
	return nil
}

// measure sends one streamed chat and times the first content event and
// the end of the stream.
func measure(c *http.Client, base string) (sample, error) {
	start := time.Now()
	resp, err := c.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(chatBody))
	if err != nil {
		return sample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return sample{}, fmt.Errorf("status %d", resp.StatusCode)
	}
	var s sample
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			break
		}
		if s.ttft == 0 && hasToken(data) {
			s.ttft = time.Since(start)
		}
	}
	s.total = time.Since(start)
	if s.ttft == 0 {
		return s, fmt.Errorf("no token in the stream")
	}
	return s, sc.Err()
}

// hasToken reports whether a chunk carries generated text (content or
// reasoning_content), not just the role.
func hasToken(data string) bool {
	var chunk struct {
		Choices []struct {
			Delta struct {
				Content          string `json:"content"`
				ReasoningContent string `json:"reasoning_content"`
			} `json:"delta"`
		} `json:"choices"`
	}
	if json.Unmarshal([]byte(data), &chunk) != nil {
		return false
	}
	for _, c := range chunk.Choices {
		if c.Delta.Content != "" || c.Delta.ReasoningContent != "" {
			return true
		}
	}
	return false
}

func pct(xs []time.Duration, p float64) time.Duration {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

func printTable(n int, direct, relayed []sample) {
	pick := func(xs []sample, f func(sample) time.Duration) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = f(x)
		}
		return out
	}
	ttft := func(s sample) time.Duration { return s.ttft }
	total := func(s sample) time.Duration { return s.total }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }
	fmt.Printf("%d streamed chats per path (16 tokens of tiny-r1 on llama-server, 1 thread), interleaved\n\n", n)
	fmt.Println("| metric | direct p50 | dsgate p50 | overhead p50 | paired overhead p50 | direct p90 | dsgate p90 | overhead p90 |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, m := range []struct {
		name string
		f    func(sample) time.Duration
	}{{"time to first token (ms)", ttft}, {"total (ms)", total}} {
		d, r := pick(direct, m.f), pick(relayed, m.f)
		diff := make([]time.Duration, len(d)) // each relayed request minus the direct one before it
		for i := range d {
			diff[i] = r[i] - d[i]
		}
		fmt.Printf("| %s | %s | %s | %+.2f | %+.2f | %s | %s | %+.2f |\n", m.name,
			ms(pct(d, 0.5)), ms(pct(r, 0.5)), float64((pct(r, 0.5)-pct(d, 0.5)).Microseconds())/1000,
			float64(pct(diff, 0.5).Microseconds())/1000,
			ms(pct(d, 0.9)), ms(pct(r, 0.9)), float64((pct(r, 0.9)-pct(d, 0.9)).Microseconds())/1000)
	}
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
