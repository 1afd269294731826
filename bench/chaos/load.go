package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

const chatBody = `{"model":"deepseek-chat","messages":[{"role":"user","content":"Say hello."}],"max_tokens":16}`

// result is the benchmark's outcome.
type result struct {
	Policy    string          `json:"policy"`
	Seconds   float64         `json:"seconds"`
	Sent      int             `json:"sent"`
	Succeeded int             `json:"succeeded"`
	Failed    int             `json:"failed"`
	Kills     int             `json:"kills"`
	RateSent  float64         `json:"rate_sent"`
	P50ms     float64         `json:"p50_ms"`
	P99ms     float64         `json:"p99_ms"`
	P999ms    float64         `json:"p999_ms"`
	Maxms     float64         `json:"max_ms"`
	Failures  map[string]int  `json:"failures,omitempty"`  // by status or error kind
	Upstreams json.RawMessage `json:"upstreams,omitempty"` // /admin/upstreams after the run

	samples []string // the first failures, with their bodies
}

// recorder collects outcomes from concurrent requests.
type recorder struct {
	mu        sync.Mutex
	latencies []time.Duration // every request, failed ones included
	failures  map[string]int
	samples   []string // first failure bodies
	ok        int
}

func (r *recorder) add(d time.Duration, failure, body string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latencies = append(r.latencies, d)
	if failure == "" {
		r.ok++
		return
	}
	r.failures[failure]++
	if len(r.samples) < 5 {
		r.samples = append(r.samples, failure+": "+body)
	}
}

// load sends requests at c.rate until ctx ends, then waits for those in
// flight.
func load(ctx context.Context, c *config, url string) *result {
	client := &http.Client{
		Timeout:   c.timeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: c.maxInFlight, DisableCompression: true},
	}
	rec := &recorder{failures: map[string]int{}}
	sem := make(chan struct{}, c.maxInFlight)
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / c.rate)
	start := time.Now()
	sent := 0
	// Requests leave on a fixed schedule (start + n*interval); a late
	// scheduler catches up instead of lowering the rate.
	for next := start; ; next = next.Add(interval) {
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil {
			break
		}
		sent++
		select {
		case sem <- struct{}{}:
		default:
			rec.add(0, "client: too many in flight", "")
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			begin := time.Now()
			failure, body := send(client, url)
			rec.add(time.Since(begin), failure, body)
		}()
	}
	elapsed := time.Since(start)
	wg.Wait()
	client.CloseIdleConnections()
	return summarise(rec, sent, elapsed)
}

// send makes one request; failure is "" on success, else the status or
// error kind, with the body for a sample.
func send(client *http.Client, url string) (failure, body string) {
	resp, err := client.Post(url, "application/json", strings.NewReader(chatBody))
	if err != nil {
		return "transport", err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return "reading body", err.Error()
	case resp.StatusCode != http.StatusOK:
		return fmt.Sprintf("HTTP %d", resp.StatusCode), string(b)
	case !strings.Contains(string(b), `"chat.completion"`):
		return "bad body", string(b)
	}
	return "", ""
}

func summarise(rec *recorder, sent int, elapsed time.Duration) *result {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	lat := slices.Clone(rec.latencies)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res := &result{
		Seconds:   elapsed.Seconds(),
		Sent:      sent,
		Succeeded: rec.ok,
		Failed:    sent - rec.ok,
		RateSent:  float64(sent) / elapsed.Seconds(),
		P50ms:     ms(pct(lat, 0.50)),
		P99ms:     ms(pct(lat, 0.99)),
		P999ms:    ms(pct(lat, 0.999)),
		Failures:  rec.failures,
		samples:   rec.samples,
	}
	if len(lat) > 0 {
		res.Maxms = ms(lat[len(lat)-1])
	}
	return res
}

// pct is the nearest-rank percentile of sorted durations.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (r *result) print(w io.Writer) {
	fmt.Fprintf(w, "sent %d (%.1f req/s over %.1fs), succeeded %d, failed %d, kills %d\n",
		r.Sent, r.RateSent, r.Seconds, r.Succeeded, r.Failed, r.Kills)
	fmt.Fprintf(w, "latency (all requests): p50 %.2fms  p99 %.2fms  p99.9 %.2fms  max %.2fms\n",
		r.P50ms, r.P99ms, r.P999ms, r.Maxms)
	for k, n := range r.Failures {
		fmt.Fprintf(w, "  failures %s: %d\n", k, n)
	}
	for _, s := range r.samples {
		fmt.Fprintln(w, "  failure sample:", truncate(s, 300))
	}
}

func getJSON(ctx context.Context, url string) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || !json.Valid(b) {
		return nil, fmt.Errorf("%s: not JSON", url)
	}
	return b, nil
}
