package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/testkit"
)

func cacheConfig(extra string) string {
	return `
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
cache:
  enabled: true
` + extra + `
upstreams:
  - {name: a, kind: openai, url: "$a"}
models:
  - {name: deepseek-chat, targets: [{upstream: a}]}
`
}

func cacheHeader(t *testing.T, e *env, body string, header ...string) (string, string, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.base+"/v1/chat/completions", strings.NewReader(body))
	if len(header) == 2 {
		req.Header.Set(header[0], header[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b.String())
	}
	return resp.Header.Get("X-Dsgate-Cache"), resp.Header.Get("X-Dsgate-Cache-Tier"), []byte(b.String())
}

const det = `{"model":"deepseek-chat","temperature":0,"messages":[{"role":"user","content":"cache me"}],"max_tokens":6}`

func TestCacheHitMissBypass(t *testing.T) {
	t.Parallel()
	e := start(t, cacheConfig(""), map[string]sim.Options{"a": {}})
	if r, _, _ := cacheHeader(t, e, det); r != "miss" {
		t.Fatalf("first: %q", r)
	}
	r, tier, body := cacheHeader(t, e, strings.Replace(det, `"temperature":0`, `"temperature":0.0`, 1))
	if r != "hit" || tier != "memory" {
		t.Fatalf("second: %q %q", r, tier)
	}
	if !strings.Contains(string(body), `"chat.completion"`) {
		t.Errorf("hit body: %s", body)
	}
	if n := e.sims["a"].Stats().Requests; n != 1 {
		t.Errorf("upstream saw %d requests, want 1", n)
	}
	if r, _, _ := cacheHeader(t, e, det, "Cache-Control", "no-store"); r != "bypass" {
		t.Errorf("no-store: %q", r)
	}
	if r, _, _ := cacheHeader(t, e, det, "Cache-Control", "no-cache"); r != "miss" {
		t.Errorf("no-cache must refresh: %q", r)
	}
	sampled := strings.Replace(det, `"temperature":0`, `"temperature":0.7`, 1)
	if r, _, _ := cacheHeader(t, e, sampled); r != "bypass" {
		t.Errorf("sampled request: %q", r)
	}
}

func TestCacheStreamReplayMatchesOriginal(t *testing.T) {
	t.Parallel()
	e := start(t, cacheConfig(""), map[string]sim.Options{"a": {}})
	params := openai.ChatCompletionNewParams{
		Model:         "deepseek-chat",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("stream me")},
		Temperature:   openai.Float(0),
		MaxTokens:     openai.Int(8),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	collect := func() openai.ChatCompletionAccumulator {
		var acc openai.ChatCompletionAccumulator
		st := e.cl().Chat.Completions.NewStreaming(context.Background(), params)
		for st.Next() {
			acc.AddChunk(st.Current())
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		return acc
	}
	first, second := collect(), collect()
	if e.sims["a"].Stats().Requests != 1 {
		t.Fatalf("second stream was not served from the cache")
	}
	if first.Choices[0].Message.Content != second.Choices[0].Message.Content ||
		first.Usage.TotalTokens != second.Usage.TotalTokens || second.Usage.TotalTokens == 0 {
		t.Errorf("replay differs:\n%+v\n%+v", first.Choices[0].Message, second.Choices[0].Message)
	}
	// A non-streaming request for the same thing hits the same entry.
	resp, err := e.cl().Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: params.Model, Messages: params.Messages, Temperature: params.Temperature, MaxTokens: params.MaxTokens})
	if err != nil || resp.Choices[0].Message.Content != first.Choices[0].Message.Content {
		t.Fatalf("non-stream from stream entry: %v", err)
	}
}

func TestCacheCoalescesIdenticalMisses(t *testing.T) {
	t.Parallel()
	e := start(t, cacheConfig(""), map[string]sim.Options{"a": {TTFT: 300 * time.Millisecond}})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(e.base+"/v1/chat/completions", "application/json", strings.NewReader(det))
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- fmt.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := e.sims["a"].Stats().Requests; n != 1 {
		t.Errorf("100 identical requests reached the upstream %d times, want 1", n)
	}
}

func TestCacheRedisTierSharedAndOutage(t *testing.T) {
	t.Parallel()
	addr := os.Getenv("DSGATE_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	if !redisUp(addr) {
		testkit.Need(t, "redis at "+addr, "start it or set DSGATE_TEST_REDIS_ADDR", errors.New("not reachable"))
	}
	// Two replicas share Redis: the second answers from the Redis tier.
	body := strings.Replace(det, "cache me", fmt.Sprintf("shared %d", time.Now().UnixNano()), 1)
	cfg := "redis: {addr: \"" + addr + "\"}\n" + cacheConfig("  shared: true\n  redis: {enabled: true}")
	one := start(t, cfg, map[string]sim.Options{"a": {}})
	two := start(t, cfg, map[string]sim.Options{"a": {}})
	if r, _, _ := cacheHeader(t, one, body); r != "miss" {
		t.Fatalf("replica one: %q", r)
	}
	testkit.Eventually(t, 3*time.Second, "the entry to reach Redis", func() bool {
		resp, err := http.Get(one.base + "/admin/cache")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var st struct {
			Data []struct {
				Tier string
				Sets int
			}
		}
		json.NewDecoder(resp.Body).Decode(&st)
		for _, ts := range st.Data {
			if ts.Tier == "redis" && ts.Sets > 0 {
				return true
			}
		}
		return false
	})
	if r, tier, _ := cacheHeader(t, two, body); r != "hit" || tier != "redis" {
		t.Errorf("replica two: %q from tier %q, want a hit from redis", r, tier)
	}

	// Redis down (a closed port): requests still succeed, quickly.
	down := start(t, "redis: {addr: \"127.0.0.1:1\"}\n"+cacheConfig("  redis: {enabled: true}"), map[string]sim.Options{"a": {}})
	begin := time.Now()
	for i := 0; i < 5; i++ {
		cacheHeader(t, down, strings.Replace(det, "cache me", fmt.Sprint("outage ", i), 1))
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("5 requests with Redis down took %v", d)
	}
}

func redisUp(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func TestCacheAdminPurge(t *testing.T) {
	t.Parallel()
	e := start(t, cacheConfig(""), map[string]sim.Options{"a": {}})
	cacheHeader(t, e, det)
	if r, _, _ := cacheHeader(t, e, det); r != "hit" {
		t.Fatal("no hit before purge")
	}
	req, _ := http.NewRequest("DELETE", e.base+"/admin/cache?model=deepseek-chat", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("purge: %v %v", err, resp.StatusCode)
	}
	resp.Body.Close()
	if r, _, _ := cacheHeader(t, e, det); r != "miss" {
		t.Errorf("after purge: %q", r)
	}
	resp, _ = http.Get(e.base + "/admin/cache")
	if resp.StatusCode != 200 {
		t.Errorf("stats: %d", resp.StatusCode)
	}
	resp.Body.Close()
}
