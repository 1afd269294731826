package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// kind is one sort of request in the mix.
type kind int

const (
	kindStream  kind = iota // streamed chat, sampled, unique prompt
	kindPlain               // non-streamed chat, sampled, unique prompt
	kindCached              // non-streamed chat, temperature 0, thinking off, one of a few prompts: cache hits
	kindBad                 // messages empty: 400 before admission
	kindLimited             // the low-RPM key: 200 or 429
)

var kindNames = [...]string{"stream", "non-stream", "cacheable", "bad request", "rate-limited key"}

func (k kind) String() string { return kindNames[k] }

// cycle is the order of the kinds within every 20 requests: 6 streams, 6
// non-streams, 4 cacheable, 1 bad request and 3 from the limited key,
// spread out so that any stretch of the run sees the same mix.
var cycle = [20]kind{
	kindStream, kindPlain, kindCached, kindStream, kindPlain, kindLimited, kindStream, kindPlain, kindCached, kindBad,
	kindStream, kindPlain, kindCached, kindLimited, kindStream, kindPlain, kindCached, kindStream, kindPlain, kindLimited,
}

// slot is what the n-th request of the run is: its kind and key. Streams,
// non-streams and cacheable requests alternate between the keys main and
// second; bad requests use main.
func slot(n int) (kind, string) {
	i := n % len(cycle)
	k := cycle[i]
	switch k {
	case kindLimited:
		return k, "limited"
	case kindBad:
		return k, "main"
	}
	j := 0 // how many of this kind came before in the cycle
	for _, x := range cycle[:i] {
		if x == k {
			j++
		}
	}
	if j%2 == 1 {
		return k, "second"
	}
	return k, "main"
}

// cachePrompts are the repeated prompts of cacheable requests.
var cachePrompts = []string{"What is a load balancer?", "Name three sorting algorithms.",
	"Explain a circuit breaker.", "What does idempotent mean?"}

// body returns the request body for the n-th request.
func body(k kind, n int) string {
	unique := fmt.Sprintf("Soak request %d: write a sentence about rivers.", n)
	switch k {
	case kindStream:
		return fmt.Sprintf(`{"model":"deepseek-chat","stream":true,"stream_options":{"include_usage":true},"temperature":0.7,`+
			`"messages":[{"role":"user","content":%q}]}`, unique)
	case kindCached:
		return fmt.Sprintf(`{"model":"deepseek-chat","temperature":0,"thinking":{"type":"disabled"},`+
			`"messages":[{"role":"user","content":%q}]}`, cachePrompts[(n/20)%len(cachePrompts)])
	case kindBad:
		return `{"model":"deepseek-chat","messages":[]}`
	}
	return fmt.Sprintf(`{"model":"deepseek-chat","temperature":0.7,"messages":[{"role":"user","content":%q}]}`, unique)
}

// outcome is what the client saw of one request.
type outcome struct {
	status    int    // 0: no answer (transport error)
	class     string // ok, 400, 429, 5xx, 4xx, stream error, bad body, transport, other
	hit       bool   // x-dsgate-cache: hit
	usage     *tokenUsage
	errDetail string
}

type tokenUsage struct {
	Prompt     int64 `json:"prompt_tokens"`
	Completion int64 `json:"completion_tokens"`
}

// expected reports whether o is a normal answer for a request of kind k.
func expected(k kind, o outcome) bool {
	switch k {
	case kindBad:
		return o.class == "400"
	case kindLimited:
		return o.class == "ok" || o.class == "429"
	}
	return o.class == "ok"
}

// send makes one request and classifies the answer.
func send(ctx context.Context, client *http.Client, url, key string, k kind, payload string) outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(payload))
	if err != nil {
		return outcome{class: "transport", errDetail: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(req)
	if err != nil {
		return outcome{class: "transport", errDetail: err.Error()}
	}
	defer resp.Body.Close()
	o := outcome{status: resp.StatusCode, hit: resp.Header.Get("X-Dsgate-Cache") == "hit"}
	switch {
	case resp.StatusCode == http.StatusOK && k == kindStream:
		readStream(resp.Body, &o)
		return o
	case resp.StatusCode == http.StatusOK:
		b, err := io.ReadAll(resp.Body)
		var v struct {
			Object string      `json:"object"`
			Usage  *tokenUsage `json:"usage"`
		}
		if err != nil || json.Unmarshal(b, &v) != nil || v.Object != "chat.completion" {
			o.class, o.errDetail = "bad body", fmt.Sprintf("%v %.200s", err, b)
			return o
		}
		o.class, o.usage = "ok", v.Usage
		return o
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	o.errDetail = string(b)
	switch {
	case resp.StatusCode == 400 || resp.StatusCode == 429:
		o.class = fmt.Sprint(resp.StatusCode)
	case resp.StatusCode >= 500:
		o.class = "5xx"
	case resp.StatusCode >= 400:
		o.class = "4xx"
	default:
		o.class = "other"
	}
	return o
}

// readStream reads an SSE answer: ok only when it ends with [DONE] and
// carries no error event; the usage chunk's tokens are kept.
func readStream(r io.Reader, o *outcome) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	done := false
	for sc.Scan() {
		line, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: "))
		if !ok {
			continue
		}
		switch {
		case bytes.Equal(line, []byte("[DONE]")):
			done = true
		case bytes.HasPrefix(line, []byte(`{"error"`)):
			o.class, o.errDetail = "stream error", string(line)
			return
		case bytes.Contains(line, []byte(`"usage":{`)):
			var v struct {
				Usage *tokenUsage `json:"usage"`
			}
			if json.Unmarshal(line, &v) == nil && v.Usage != nil {
				o.usage = v.Usage
			}
		}
	}
	if err := sc.Err(); err != nil || !done {
		o.class, o.errDetail = "stream error", fmt.Sprintf("no [DONE]: %v", err)
		return
	}
	o.class = "ok"
}

// tally is what the client saw for one key.
type tally struct {
	sent       int
	statuses   map[int]int // answers by HTTP status
	classes    map[string]int
	hits       int
	unexpected int
	tokens     tokenUsage // from answers that were not cache hits
	noUsage    int        // 200 answers (not hits) without a usage object
}

// recorder collects outcomes from concurrent requests: per key for the
// final checks, and cumulative counters the sampler diffs per window.
type recorder struct {
	mu      sync.Mutex
	keys    map[string]*tally
	classes map[string]int // all keys, cumulative
	unexp   int
	done    int
	sent    int
	samples []string // the first unexpected answers
	lat     map[kind][]time.Duration
}

func newRecorder() *recorder {
	return &recorder{keys: map[string]*tally{}, classes: map[string]int{}, lat: map[kind][]time.Duration{}}
}

func (r *recorder) tally(key string) *tally {
	t := r.keys[key]
	if t == nil {
		t = &tally{statuses: map[int]int{}, classes: map[string]int{}}
		r.keys[key] = t
	}
	return t
}

func (r *recorder) sentOne(key string) {
	r.mu.Lock()
	r.sent++
	r.tally(key).sent++
	r.mu.Unlock()
}

// add records one answer; took is its latency (whole body read), at its
// time since the start.
func (r *recorder) add(key string, k kind, o outcome, took, at time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lat[k] = append(r.lat[k], took)
	t := r.tally(key)
	r.done++
	r.classes[o.class]++
	t.classes[o.class]++
	if o.status != 0 {
		t.statuses[o.status]++
	}
	if o.hit {
		t.hits++
	}
	if o.class == "ok" && !o.hit {
		if o.usage == nil {
			t.noUsage++
		} else {
			t.tokens.Prompt += o.usage.Prompt
			t.tokens.Completion += o.usage.Completion
		}
	}
	if !expected(k, o) {
		r.unexp++
		t.unexpected++
		if len(r.samples) < 8 {
			r.samples = append(r.samples, fmt.Sprintf("%.1fs %s (%s key): %s %.200s", at.Seconds(), k, key, o.class, o.errDetail))
		}
	}
}

// counters is a snapshot of the cumulative counters.
type counters struct {
	sent, done, unexp int
	classes           map[string]int
}

func (r *recorder) snapshot() counters {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := counters{sent: r.sent, done: r.done, unexp: r.unexp, classes: map[string]int{}}
	for k, v := range r.classes {
		c.classes[k] = v
	}
	return c
}

// load sends the mix at c.rate (open loop: request n leaves at
// start + n/rate whether or not earlier ones finished) until ctx ends,
// then waits for the requests in flight.
func load(ctx context.Context, c *config, e *env, rec *recorder, start time.Time) {
	client := newLocalClient(c.maxInFlight, c.timeout)
	defer client.CloseIdleConnections()
	url := e.url + "/v1/chat/completions"
	sem := make(chan struct{}, c.maxInFlight)
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / c.rate)
	for n, next := 0, start; ; n, next = n+1, next.Add(interval) {
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil {
			break
		}
		k, name := slot(n)
		rec.sentOne(name)
		select {
		case sem <- struct{}{}:
		default:
			rec.add(name, k, outcome{class: "transport", errDetail: "client: too many in flight"}, 0, time.Since(start))
			continue
		}
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			defer func() { <-sem }()
			// Requests in flight when the run ends finish normally.
			begin := time.Now()
			o := send(context.WithoutCancel(ctx), client, url, e.keys[name].secret, k, body(k, n))
			rec.add(name, k, o, time.Since(begin), time.Since(start))
		}(n)
	}
	wg.Wait()
}
