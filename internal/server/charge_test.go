package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/testkit"
)

// TestStreamHangUpIsCharged is issue 13's "free tokens by hanging up" end
// to end: a client that drops a stream before its usage chunk was
// recorded at 0 tokens in /admin/usage. It is now charged for the chunks
// it received (the gateway's estimate), through the unchanged settlement.
func TestStreamHangUpIsCharged(t *testing.T) {
	t.Parallel()
	e := startAuthWith(t, t.TempDir(), "", "", sim.Options{TokensPerSecond: 200})
	key := e.adminCreateKey(t, `{"name":"u","role":"developer"}`)

	req, _ := http.NewRequest("POST", e.base+"/v1/chat/completions", strings.NewReader(
		`{"model":"deepseek-chat","stream":true,"max_tokens":400,"messages":[{"role":"user","content":"tell me a long story"}]}`))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	got := 0
	for got < 20 && sc.Scan() {
		if bytes.HasPrefix(sc.Bytes(), []byte("data: {")) {
			got++
		}
	}
	resp.Body.Close() // hang up, about 380 tokens before the end
	if got < 20 {
		t.Fatalf("read %d chunks before the stream ended", got)
	}

	id := strings.Split(key, "_")[1]
	var completion int
	testkit.Eventually(t, 10*time.Second, "the cut stream to be charged", func() bool {
		_, body := e.do(t, "GET", "/admin/usage?principal="+id, e.adminKey, "")
		completion = completionTokens(body)
		return completion > 0
	})
	t.Logf("charged %d completion tokens after 20 chunks", completion)
	if completion < 19 || completion > 200 {
		t.Errorf("charged %d completion tokens for a stream cut after 20 chunks (of 400)", completion)
	}
}

// completionTokens sums every completion_tokens field in a usage answer.
func completionTokens(body []byte) int {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return 0
	}
	n := 0
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for k, val := range x {
				if f, ok := val.(float64); ok && k == "completion_tokens" {
					n += int(f)
				}
				walk(val)
			}
		case []any:
			for _, val := range x {
				walk(val)
			}
		}
	}
	walk(v)
	return n
}
