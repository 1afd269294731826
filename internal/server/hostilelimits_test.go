package server_test

// Hostile-tenant trials of rate limits and budgets over the whole server:
// a tenant with a budget or a TPM limit that wants more than it is
// allowed. Each test states the bound docs/cost.md (or the limiter's
// documentation) promises and fails while the gateway lets the tenant
// past it.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/testkit"
)

// hlUpstream is an OpenAI-compatible engine (a local engine or a cloud
// API) answering chat completions non-streaming with a usage object, as a
// real one counts it: completion tokens are max_tokens (16 without; the
// model ends on its own after 64) for each of the n choices, prompt tokens whatever promptTokens says (by
// default the characters of the messages' content, which is at most the
// gateway's own "every prompt character a token" bound). Requests for
// which hold is true wait at the gate (announced on arrived) until the
// test opens it or the gateway hangs up.
type hlUpstream struct {
	url          string
	promptTokens func(body []byte) int64
	hold         func(body []byte) bool
	arrived      chan struct{}
	gate         chan struct{}
	openOnce     sync.Once
}

func newHLUpstream(t *testing.T) *hlUpstream {
	t.Helper()
	u := &hlUpstream{arrived: make(chan struct{}, 1024), gate: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(srv.Close)
	u.url = srv.URL
	return u
}

func (u *hlUpstream) open() { u.openOnce.Do(func() { close(u.gate) }) }

func (u *hlUpstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		http.NotFound(w, r)
		return
	}
	var req struct {
		Model     string `json:"model"`
		MaxTokens *int64 `json:"max_tokens"`
		N         int64  `json:"n"`
		Messages  []struct {
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, `{"error":{"message":"bad json"}}`, http.StatusBadRequest)
		return
	}
	if u.hold != nil && u.hold(body) {
		u.arrived <- struct{}{}
		select {
		case <-u.gate:
		case <-r.Context().Done():
			return
		}
	}
	per := int64(16)
	if req.MaxTokens != nil {
		per = min(*req.MaxTokens, 64) // the model ends on its own after 64
	}
	n := max(req.N, 1)
	var prompt int64
	if u.promptTokens != nil {
		prompt = u.promptTokens(body)
	} else {
		for _, m := range req.Messages {
			prompt += int64(len(m.Content))
		}
	}
	var choices []string
	for i := range n {
		choices = append(choices, fmt.Sprintf(`{"index":%d,"message":{"role":"assistant","content":"ok"},"finish_reason":"length"}`, i))
	}
	completion := n * per
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"chatcmpl-hl","object":"chat.completion","created":1,"model":%q,"choices":[%s],`+
		`"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`,
		req.Model, strings.Join(choices, ","), prompt, completion, prompt+completion)
}

// hlPrice prices every model of upstream at 1 USD a token (cache hit,
// miss and output alike), so that a cost in USD is a count of tokens.
func hlPrice(upstream string) string {
	return `    - {model: "*", upstream: ` + upstream + `, internal: true, currency: USD, cache_hit: "1000000", cache_miss: "1000000", output: "1000000"}` + "\n"
}

// hlStart runs a replica with authentication and its store in dir (a
// second call on the same dir is a second replica) and the config's tail
// (upstreams, models, pricing, budgets, limits) as given. The gates of
// ups open before it stops, so a failed test does not wait out its
// shutdown grace on held requests.
// hlPricedOne runs a replica whose one model, deepseek-chat, is served by
// up, priced by hlPrice.
func hlPricedOne(t *testing.T, up *hlUpstream) *authEnv {
	t.Helper()
	return hlStart(t, t.TempDir(), hlPricedConfig(up), up)
}

// hlPricedConfig is hlPricedOne's configuration past the common part.
func hlPricedConfig(up *hlUpstream) string {
	return `
upstreams:
  - {name: a, kind: openai, url: "` + up.url + `"}
models:
  - {name: deepseek-chat, targets: [{upstream: a}]}
pricing:
  models:
` + hlPrice("a")
}

func hlStart(t *testing.T, dir, tail string, ups ...*hlUpstream) *authEnv {
	t.Helper()
	e := startAuthConfig(t, dir, "", tail, map[string]sim.Options{})
	for _, up := range ups {
		t.Cleanup(up.open) // cleanups run last first: before the replica stops
	}
	return e
}

// hlBudget puts a daily USD budget of amount on subject through the
// admin API (it applies at once on e).
func hlBudget(t *testing.T, e *authEnv, subject, amount string) {
	t.Helper()
	resp, body := e.do(t, "PUT", "/admin/budgets/"+subject+"/day/USD", e.adminKey, `{"amount":"`+amount+`","soft":1}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT budget: %d %s", resp.StatusCode, body)
	}
}

// hlSpent is what GET /admin/budgets says subject's daily USD budget has
// spent (settled plus in-flight reservations), in USD.
func hlSpent(t *testing.T, e *authEnv, subject string) float64 {
	t.Helper()
	resp, body := e.do(t, "GET", "/admin/budgets?subject="+subject, e.adminKey, "")
	var v struct {
		Data []struct {
			Subject, Period, Currency, Spent string
		}
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &v) != nil {
		t.Fatalf("GET /admin/budgets: %d %s", resp.StatusCode, body)
	}
	for _, b := range v.Data {
		if b.Subject == subject && b.Period == "day" && b.Currency == "USD" {
			f, err := strconv.ParseFloat(b.Spent, 64)
			if err != nil {
				t.Fatalf("spent %q: %v", b.Spent, err)
			}
			return f
		}
	}
	t.Fatalf("no daily USD budget of %s in %s", subject, body)
	return 0
}

// hlCostUSD reads X-Dsgate-Cost ("12.000000000 USD") in USD; 0 for none
// or another currency.
func hlCostUSD(h http.Header) float64 {
	v, ok := strings.CutSuffix(h.Get("X-Dsgate-Cost"), " USD")
	if !ok {
		return 0
	}
	f, _ := strconv.ParseFloat(v, 64)
	return f
}

// hlBurst sends body k times at once as key and waits until each request
// was either refused at once or is held by up (so every admission
// happened before any settlement); then it opens the gate and returns
// the answers' statuses and headers.
func hlBurst(t *testing.T, e *authEnv, up *hlUpstream, key, body string, k int) (codes []int, headers []http.Header) {
	t.Helper()
	codes, headers = make([]int, k), make([]http.Header, k)
	refused := make(chan struct{}, k)
	var wg sync.WaitGroup
	for i := range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", e.base+"/v1/chat/completions", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				refused <- struct{}{}
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i], headers[i] = resp.StatusCode, resp.Header
			if resp.StatusCode != http.StatusOK {
				refused <- struct{}{}
			}
		}()
	}
	deadline := time.After(20 * time.Second) // only against a hang
	for range k {
		select {
		case <-up.arrived:
		case <-refused:
		case <-deadline:
			t.Fatal("the burst neither reached the upstream nor was refused")
		}
	}
	up.open()
	wg.Wait()
	return codes, headers
}

// A budget reservation is documented as "the most the request can cost
// (every prompt character a cache-miss token, max_tokens or 4096
// completion tokens)", so that a concurrent burst ends below the amount
// plus one reservation. With n choices the upstream generates (and
// bills) max_tokens n times, but the reservation counts max_tokens once
// (pipeline.reserveBudget: price.MaxCost(PromptChars, maxTokens)), while
// the TPM estimate of the same request multiplies by n. A tenant that
// asks for n=16 reserves a sixteenth of what it spends, and a burst
// overshoots its budget many times over.
func TestHostileLimitsBudgetIgnoresChoices(t *testing.T) {
	t.Parallel()
	up := newHLUpstream(t)
	up.hold = func([]byte) bool { return true }
	e := hlPricedOne(t, up)
	id, key := keyVia(t, e, `{"name":"tenant","role":"developer"}`)
	const amount = 100.0
	hlBudget(t, e, "key:"+id, "100")

	const n, maxTokens, content = 16, 5, `"hi"` // PromptChars 4
	body := fmt.Sprintf(`{"model":"deepseek-chat","n":%d,"max_tokens":%d,"messages":[{"role":"user","content":%s}]}`, n, maxTokens, content)
	// The most one request can cost at 1 USD a token: every prompt
	// character a token, max_tokens for each choice.
	maxCost := float64(len(content) + n*maxTokens)
	codes, headers := hlBurst(t, e, up, key, body, 8)
	var admitted int
	var spent float64
	for i, c := range codes {
		if c == http.StatusOK {
			admitted++
			spent += hlCostUSD(headers[i])
		}
	}
	settled := hlSpent(t, e, "key:"+id)
	t.Logf("%d of 8 admitted; they cost %.0f USD (budget spent %.0f) against a budget of %.0f", admitted, spent, settled, amount)
	if spent > amount+maxCost {
		t.Errorf("a burst of n=%d requests spent %.0f USD of a %.0f USD budget: over the documented bound (amount + one "+
			"reservation, %.0f USD); each reserved max_tokens once but generated it %d times", n, spent, amount, amount+maxCost, n)
	}
}

// A model served by two targets, a local engine without a price and a
// cloud upstream priced in USD (docs/cost.md's own example prices local
// engines only when the operator wants to), in one tier: the policy
// spreads requests over both. The budget reservation is made at the
// primary target's price only; the primary has none, so nothing is
// reserved (pipeline.reserveBudget: "an unpriced model costs nothing
// against budgets"), and with no reservation nothing is settled either:
// the requests the cloud upstream serves, priced in USD (X-Dsgate-Cost
// says so), are never charged to the tenant's USD budget. The tenant
// spends without limit.
func TestHostileLimitsBudgetBypassedByUnpricedPrimaryTarget(t *testing.T) {
	t.Parallel()
	local, cloud := newHLUpstream(t), newHLUpstream(t)
	e := hlStart(t, t.TempDir(), `
upstreams:
  - {name: local, kind: openai, url: "`+local.url+`"}
  - {name: cloud, kind: openai, url: "`+cloud.url+`"}
models:
  - {name: deepseek-chat, targets: [{upstream: local}, {upstream: cloud}]}
pricing:
  models:
`+hlPrice("cloud"))
	id, key := keyVia(t, e, `{"name":"tenant","role":"developer"}`)
	const amount = 50.0
	hlBudget(t, e, "key:"+id, "50")

	const content = `"hi"`
	body := `{"model":"deepseek-chat","max_tokens":20,"messages":[{"role":"user","content":` + content + `}]}`
	maxCost := float64(len(content) + 20) // the most one request can cost at the cloud's price
	var spent float64
	var admitted, priced int
	for range 12 {
		resp, b := e.do(t, "POST", "/v1/chat/completions", key, body)
		if resp.StatusCode == http.StatusTooManyRequests {
			continue
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("chat: %d %s", resp.StatusCode, b)
		}
		admitted++
		if c := hlCostUSD(resp.Header); c > 0 {
			priced++
			spent += c
		}
	}
	t.Logf("%d of 12 admitted, %d priced in USD: %.0f USD spent; the budget says %.0f", admitted, priced, spent, hlSpent(t, e, "key:"+id))
	if priced == 0 {
		t.Fatal("no request reached the priced upstream")
	}
	if spent > amount+maxCost {
		t.Errorf("requests priced in USD spent %.0f USD of a %.0f USD budget (bound: amount + one request, %.0f); "+
			"the budget counted %.0f", spent, amount, amount+maxCost, hlSpent(t, e, "key:"+id))
	}
}

// hlRedis is the address of the Redis the tests share; the test skips
// (or fails under the test script) when it is not reachable.
func hlRedis(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("DSGATE_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	if !redisUp(addr) {
		testkit.Need(t, "redis at "+addr, "start it or set DSGATE_TEST_REDIS_ADDR", fmt.Errorf("not reachable"))
	}
	return addr
}

// max_tokens is any positive integer the upstream accepts (llama.cpp and
// Ollama accept any n_predict and stop at the end of the answer). Its
// budget reservation, max_tokens output tokens at the price, saturates
// at pricing.MaxAmount (math.MaxInt64 nano-units), and the backends add
// it to the spend counter unchecked:
//
//   - in memory (budget.Memory.Reserve: e.v += amount) the counter wraps
//     to a large negative number once anything was spent, so while that
//     request is in flight every other request of the tenant (and of its
//     team) is admitted, however far over the budget;
//   - in Redis INCRBY refuses the overflow with an error, which the
//     pipeline takes for a Redis outage: with rate_limit.fail_open the
//     request is admitted without a reservation and, having none, its
//     cost is never charged. Every such request is free.
//
// Either way the tenant spends far past amount + one request.
func TestHostileLimitsHugeMaxTokensOverflowsBudget(t *testing.T) {
	t.Parallel()
	const huge = "9223372036854775807"
	const content = `"hi"`
	normal := `{"model":"deepseek-chat","max_tokens":50,"messages":[{"role":"user","content":` + content + `}]}`
	greedy := `{"model":"deepseek-chat","max_tokens":` + huge + `,"messages":[{"role":"user","content":` + content + `}]}`
	const amount = 100.0
	// The most any one request here really costs: the prompt and the 64
	// tokens after which the engine ends its answer.
	const oneRequest = float64(len(content) + 64)
	tail := func(up *hlUpstream, extra string) string { return extra + hlPricedConfig(up) }
	send := func(t *testing.T, e *authEnv, key, body string) (int, float64) {
		t.Helper()
		resp, b := e.do(t, "POST", "/v1/chat/completions", key, body)
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("chat: %d %s", resp.StatusCode, b)
		}
		return resp.StatusCode, hlCostUSD(resp.Header)
	}

	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		up := newHLUpstream(t)
		up.hold = func(b []byte) bool { return strings.Contains(string(b), huge) }
		e := hlStart(t, t.TempDir(), tail(up, ""), up)
		id, key := keyVia(t, e, `{"name":"tenant","role":"developer"}`)
		hlBudget(t, e, "key:"+id, "100")
		send(t, e, key, normal) // something is spent
		greedyDone := make(chan int, 1)
		go func() {
			req, _ := http.NewRequest("POST", e.base+"/v1/chat/completions", strings.NewReader(greedy))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				greedyDone <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			greedyDone <- resp.StatusCode
		}()
		select {
		case <-up.arrived: // admitted and in flight
		case code := <-greedyDone:
			t.Logf("the max_tokens=%s request was refused (%d)", huge, code)
			greedyDone <- code
		}
		during := hlSpent(t, e, "key:"+id)
		admitted := 0
		for range 5 {
			if code, _ := send(t, e, key, normal); code == http.StatusOK {
				admitted++
			}
		}
		up.open()
		<-greedyDone
		spent := hlSpent(t, e, "key:"+id)
		t.Logf("budget spent while the greedy request was in flight: %.0f USD; %d of 5 requests admitted meanwhile; spent in the end: %.0f USD", during, admitted, spent)
		if spent > amount+oneRequest {
			t.Errorf("spent %.0f USD of a %.0f USD budget (bound: amount + one request, %.0f): while one request with max_tokens %s "+
				"was in flight the spend counter read %.0f and %d more requests were admitted", spent, amount, amount+oneRequest, huge, during, admitted)
		}
	})

	t.Run("redis fail_open", func(t *testing.T) {
		t.Parallel()
		addr := hlRedis(t)
		up := newHLUpstream(t)
		e := hlStart(t, t.TempDir(), tail(up, `redis: {addr: "`+addr+`"}
rate_limit: {backend: redis, fail_open: true}`))
		id, key := keyVia(t, e, `{"name":"tenant","role":"developer"}`)
		hlBudget(t, e, "key:"+id, "100")
		_, spent := send(t, e, key, normal) // something is spent
		admitted := 0
		for range 5 {
			code, c := send(t, e, key, greedy)
			if code == http.StatusOK {
				admitted++
				spent += c
			}
		}
		counted := hlSpent(t, e, "key:"+id)
		t.Logf("%d of 5 max_tokens=%s requests admitted; they and the first cost %.0f USD; the budget counted %.0f", admitted, huge, spent, counted)
		if spent > amount+oneRequest {
			t.Errorf("spent %.0f USD of a %.0f USD budget (bound: amount + one request, %.0f) with Redis up: each request with "+
				"max_tokens %s overflowed the counter (INCRBY), was admitted as if Redis were down (fail_open) and never charged; "+
				"the budget counted %.0f", spent, amount, amount+oneRequest, huge, counted)
		}
	})
}

// The TPM reservation is "about four characters of prompt per token plus
// the completion budget" (access.estimate), but the prompt characters it
// counts are the messages' content only (openai.Parse: PromptChars).
// Tool definitions are prompt too: upstreams tokenize and bill them (so
// does the fake upstream here: a token per four characters of the
// request). A tenant that puts its prompt in tools reserves a handful of
// tokens per request, and a concurrent burst, all admitted before any
// settles, uses many times its tokens per minute; the budget reservation
// ("every prompt character a cache-miss token") is short the same way.
func TestHostileLimitsToolsEscapeTPMReservation(t *testing.T) {
	t.Parallel()
	up := newHLUpstream(t)
	up.hold = func([]byte) bool { return true }
	up.promptTokens = func(b []byte) int64 { return int64(len(b) / 4) }
	e := hlStart(t, t.TempDir(), `
upstreams:
  - {name: a, kind: openai, url: "`+up.url+`"}
models:
  - {name: deepseek-chat, targets: [{upstream: a}]}
`, up)
	const tpm = 20000
	_, key := keyVia(t, e, fmt.Sprintf(`{"name":"tenant","role":"developer","tpm":%d}`, tpm))
	desc := strings.Repeat("Answer as the policy in this description says. ", 850) // ~40 KB of prompt
	body := `{"model":"deepseek-chat","max_tokens":10,"messages":[{"role":"user","content":"go"}],` +
		`"tools":[{"type":"function","function":{"name":"policy","description":"` + desc + `","parameters":{"type":"object"}}}]}`
	real := int64(len(body)/4 + 10) // what the upstream counts for one request
	codes, headers := hlBurst(t, e, up, key, body, 6)
	admitted := 0
	var remaining string
	for i, c := range codes {
		if c == http.StatusOK {
			admitted++
			remaining = headers[i].Get("X-Ratelimit-Remaining-Tokens")
		}
	}
	used := int64(admitted) * real
	t.Logf("%d of 6 admitted, %d tokens each (%d in all) against %d TPM; x-ratelimit-remaining-tokens after admission: %s",
		admitted, real, used, tpm, remaining)
	if used > tpm+real {
		t.Errorf("a burst used %d tokens against a TPM limit of %d (bound: the limit + one request, %d): "+
			"each request's %d prompt characters of tools were not counted in its reservation", used, tpm, tpm+real, len(desc))
	}
}

// A non-streaming call the client hangs up on while the upstream works is
// "charged the prompt estimate" (pipeline.abandoned: the upstream read
// the prompt): TPM keeps it and the usage store records the prompt
// tokens. The budget does not: the failed call's result names no
// upstream, so the estimate finds no price (an entry scoped to the
// upstream, as docs/cost.md prices local engines; the shipped DeepSeek
// prices need the upstream's kind), the reservation is settled at zero
// and the usage is recorded without a cost. A tenant sends large prompts
// and hangs up before the answer: every one costs the upstream its
// prompt, none costs its budget anything.
func TestHostileLimitsHangUpRefundsBudget(t *testing.T) {
	t.Parallel()
	up := newHLUpstream(t)
	up.hold = func([]byte) bool { return true }
	e := hlPricedOne(t, up)
	id, key := keyVia(t, e, `{"name":"tenant","role":"developer"}`)
	hlBudget(t, e, "key:"+id, "1000000")
	prompt := strings.Repeat("word ", 800) // 4000 characters, about 1000 tokens
	body := `{"model":"deepseek-chat","max_tokens":10,"messages":[{"role":"user","content":"` + prompt + `"}]}`

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", e.base+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-up.arrived: // admitted: the upstream is reading the prompt
	case <-done:
		t.Fatal("the request ended before it reached the upstream")
	}
	reserved := hlSpent(t, e, "key:"+id) // the reservation, in flight
	if reserved <= 0 {
		t.Fatalf("nothing reserved in flight: %.0f", reserved)
	}
	cancel() // hang up
	<-done
	var spent float64
	testkit.Eventually(t, 10*time.Second, "the abandoned call to be settled", func() bool {
		spent = hlSpent(t, e, "key:"+id)
		return spent != reserved
	})
	// The usage store has its prompt tokens (the prompt estimate).
	var prompted int
	testkit.Eventually(t, 10*time.Second, "the abandoned call's usage to be recorded", func() bool {
		_, b := e.do(t, "GET", "/admin/usage?principal="+id, e.adminKey, "")
		var v struct {
			Total struct {
				PromptTokens int `json:"prompt_tokens"`
			} `json:"total"`
		}
		json.Unmarshal(b, &v)
		prompted = v.Total.PromptTokens
		return prompted > 0
	})
	estimate := float64((len(prompt) + 2 + 3) / 4) // pipeline.abandoned's prompt estimate, at 1 USD a token
	t.Logf("abandoned call: usage records %d prompt tokens; the budget settled at %.0f USD (the prompt estimate is %.0f USD)", prompted, spent, estimate)
	if spent < estimate {
		t.Errorf("a call abandoned after the upstream read its prompt settled the budget at %.0f USD; its usage records %d prompt tokens "+
			"(%.0f USD at the upstream's price)", spent, prompted, estimate)
	}
}
