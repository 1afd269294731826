package sim

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit"
)

const streamBody = `{"model":"deepseek-chat","stream":true,"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`

func TestInjectedErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status   int
		wantBody string
	}{
		{429, `{"error":{"message":"Rate Limit Reached","type":"unknown_error","param":null,"code":"invalid_request_error"}}`},
		{500, `{"error":{"message":"Server Error","type":"unknown_error","param":null,"code":"invalid_request_error"}}`},
		{503, `{"error":{"message":"Server Overloaded","type":"unknown_error","param":null,"code":"invalid_request_error"}}`},
		{0, `{"error":{"message":"Server Error","type":"unknown_error","param":null,"code":"invalid_request_error"}}`},
		{502, `{"error":{"message":"Bad Gateway","type":"unknown_error","param":null,"code":"invalid_request_error"}}`},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t, Options{Faults: Faults{ErrorRate: 1, ErrorStatus: tt.status}})
			wantStatus := tt.status
			if wantStatus == 0 {
				wantStatus = 500
			}
			for _, path := range []string{"/v1/chat/completions", "/v1/completions", "/v1/embeddings"} {
				body := `{"model":"deepseek-chat","stream":true,"messages":[{"role":"user","content":"x"}],"prompt":"x","input":"x"}`
				rec := do(t, s, http.MethodPost, path, body)
				if rec.Code != wantStatus || strings.TrimSpace(rec.Body.String()) != tt.wantBody {
					t.Errorf("%s: %d %s, want %d %s", path, rec.Code, rec.Body, wantStatus, tt.wantBody)
				}
			}
			if st := s.Stats(); st.Requests != 3 || st.Running != 0 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestErrorRateIsSeededAndSwitchable(t *testing.T) {
	t.Parallel()
	statuses := func(s *Server, n int) string {
		var b strings.Builder
		for range n {
			rec := do(t, s, http.MethodPost, "/v1/chat/completions",
				`{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}]}`)
			b.WriteString(strconv.Itoa(rec.Code) + " ")
		}
		return b.String()
	}
	f := Faults{ErrorRate: 0.5, ErrorStatus: 503, Seed: 42}
	a := statuses(newTestServer(t, Options{Faults: f}), 40)
	b := statuses(newTestServer(t, Options{Faults: f}), 40)
	if a != b {
		t.Errorf("same seed, different outcomes:\n%s\n%s", a, b)
	}
	if fails := strings.Count(a, "503"); fails < 8 || fails > 32 {
		t.Errorf("%d of 40 failed at rate 0.5: %s", fails, a)
	}

	s := newTestServer(t, Options{})
	if got := statuses(s, 3); got != "200 200 200 " {
		t.Errorf("no faults: %s", got)
	}
	s.SetFaults(Faults{ErrorRate: 1, ErrorStatus: 429})
	if got := statuses(s, 3); got != "429 429 429 " {
		t.Errorf("after SetFaults: %s", got)
	}
	s.SetFaults(Faults{})
	if got := statuses(s, 1); got != "200 " {
		t.Errorf("after clearing faults: %s", got)
	}
}

func TestLatencySpikeAndPacing(t *testing.T) {
	t.Parallel()
	const spike = 60 * time.Millisecond
	s := newTestServer(t, Options{Faults: Faults{LatencySpikeRate: 1, LatencySpike: spike}})
	start := time.Now()
	if rec := do(t, s, http.MethodPost, "/v1/chat/completions", streamBody); rec.Code != 200 {
		t.Fatal(rec.Body)
	}
	if d := time.Since(start); d < spike {
		t.Errorf("spiked request took %v, want >= %v", d, spike)
	}

	// 10 tokens at 200/s: at least 9 gaps of 5ms after TTFT, streamed or not.
	s = newTestServer(t, Options{TTFT: 20 * time.Millisecond, TokensPerSecond: 200})
	for _, body := range []string{streamBody, strings.Replace(streamBody, `"stream":true`, `"stream":false`, 1)} {
		start = time.Now()
		if rec := do(t, s, http.MethodPost, "/v1/chat/completions", body); rec.Code != 200 {
			t.Fatal(rec.Body)
		}
		if d, want := time.Since(start), 20*time.Millisecond+9*5*time.Millisecond; d < want {
			t.Errorf("paced request took %v, want >= %v", d, want)
		}
	}
}

// tokenChunks counts chat chunks carrying a token (not the role, finish or
// usage chunks).
func tokenChunks(t *testing.T, events sse) int {
	t.Helper()
	n := 0
	for _, ch := range chatChunks(t, events) {
		if len(ch.Choices) == 1 && ch.Choices[0].Delta.Role == nil && ch.Choices[0].FinishReason == nil {
			n++
		}
	}
	return n
}

func TestCutAfterChunks(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{Faults: Faults{CutAfterChunks: 3}})

	// Through a recorder the body simply stops.
	events := parseSSE(t, do(t, s, http.MethodPost, "/v1/chat/completions", streamBody).Body.String())
	if events.done || tokenChunks(t, events) != 3 {
		t.Errorf("recorder: done=%v, %d token chunks", events.done, tokenChunks(t, events))
	}

	// Over a real connection the client sees the connection drop.
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, path := range []string{"/v1/chat/completions", "/v1/completions"} {
		resp, err := startRequest(t, t.Context(), srv.URL+path,
			strings.Replace(streamBody, `"messages"`, `"prompt":"p","messages"`, 1))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: read error = %v, want unexpected EOF", path, err)
		}
		got := parseSSE(t, string(body))
		if got.done || len(got.data) < 3 {
			t.Errorf("%s: done=%v, %d events: %s", path, got.done, len(got.data), body)
		}
	}

	// HTTP/2 cannot hijack; the stream is reset instead.
	h2 := httptest.NewUnstartedServer(s)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	defer h2.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, h2.URL+"/v1/chat/completions", strings.NewReader(streamBody))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h2.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || err == nil || strings.Contains(string(body), "[DONE]") {
		t.Errorf("HTTP/2 cut: proto %d, read error %v, body %s", resp.ProtoMajor, err, body)
	}
	testkit.Eventually(t, 5*time.Second, "cut handlers to finish", func() bool { return s.Stats().Running == 0 })
}

func TestStallAfterChunks(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{Faults: Faults{StallAfterChunks: 2}})
	srv := httptest.NewServer(s)
	defer srv.Close()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	resp, err := startRequest(t, ctx, srv.URL+"/v1/chat/completions", streamBody)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Read the role chunk and two token chunks; then nothing more comes.
	sc := bufio.NewScanner(resp.Body)
	events := 0
	for events < 3 && sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") {
			events++
		}
	}
	if events != 3 {
		t.Fatalf("read %d events before the stall: %v", events, sc.Err())
	}
	if st := s.Stats(); st.Running != 1 {
		t.Fatalf("stalled stream not running: %+v", st)
	}
	cancel()
	testkit.Eventually(t, 5*time.Second, "the stalled handler to end after the client left", func() bool { return s.Stats().Running == 0 })
}

// metricValue reads one sample from Prometheus text, checking that every
// sample's family was declared with HELP and TYPE first.
func metricValue(t *testing.T, h http.Handler, sample string) float64 {
	t.Helper()
	rec := do(t, h, http.MethodGet, "/metrics", "")
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("Content-Type = %q", ct)
	}
	declared := map[string]bool{}
	found, value := false, 0.0
	for line := range strings.Lines(rec.Body.String()) {
		line = strings.TrimSuffix(line, "\n")
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, kind, _ := strings.Cut(rest, " ")
			if kind != "gauge" && kind != "counter" {
				t.Fatalf("bad TYPE line %q", line)
			}
			declared[name] = true
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		key, val, ok := strings.Cut(line, " ")
		name, labels, hasLabels := strings.Cut(key, "{")
		if !ok || !hasLabels || !strings.HasPrefix(labels, `model_name="`) || !strings.HasSuffix(labels, `"}`) {
			t.Fatalf("bad sample line %q", line)
		}
		if !declared[name] {
			t.Fatalf("sample %q before its TYPE line", line)
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			t.Fatalf("bad value in %q: %v", line, err)
		}
		if key == sample {
			found, value = true, v
		}
	}
	if !found {
		t.Fatalf("no sample %s in:\n%s", sample, rec.Body)
	}
	return value
}

func TestMetricsTrackInFlightRequests(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{TTFT: time.Hour})
	srv := httptest.NewServer(s)
	defer srv.Close()
	const running = `vllm:num_requests_running{model_name="deepseek-chat"}`

	if v := metricValue(t, s, running); v != 0 {
		t.Fatalf("running = %v before any request", v)
	}
	for _, stream := range []bool{false, true} {
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() {
			body := strings.Replace(streamBody, `"stream":true`, `"stream":`+strconv.FormatBool(stream), 1)
			resp, err := startRequest(t, ctx, srv.URL+"/v1/chat/completions", body)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			errc <- err
		}()
		testkit.Eventually(t, 5*time.Second, "running to reach 1", func() bool { return metricValue(t, s, running) == 1 })
		if v := metricValue(t, s, `vllm:kv_cache_usage_perc{model_name="deepseek-chat"}`); v != 1.0/64 {
			t.Errorf("kv_cache_usage_perc = %v, want 1/64", v)
		}
		if v := metricValue(t, s, `vllm:num_requests_running{model_name="deepseek-reasoner"}`); v != 0 {
			t.Errorf("other model running = %v", v)
		}
		cancel()
		if err := <-errc; err == nil {
			t.Error("cancelled request did not fail")
		}
		testkit.Eventually(t, 5*time.Second, "running to return to 0", func() bool { return metricValue(t, s, running) == 0 })
	}

	// Completed requests feed the token counters.
	fast := newTestServer(t, Options{})
	do(t, fast, http.MethodPost, "/v1/chat/completions", streamBody)
	do(t, fast, http.MethodPost, "/v1/chat/completions", strings.Replace(streamBody, `"stream":true`, `"stream":false`, 1))
	if v := metricValue(t, fast, `vllm:generation_tokens_total{model_name="deepseek-chat"}`); v != 20 {
		t.Errorf("generation_tokens_total = %v, want 20", v)
	}
	if v := metricValue(t, fast, `vllm:prompt_tokens_total{model_name="deepseek-chat"}`); v != 10 {
		t.Errorf("prompt_tokens_total = %v, want 10", v)
	}
	if st := fast.Stats(); st.GenerationTokens != 20 || st.PromptTokens != 10 || st.Requests != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestMaxRunningQueues(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{TTFT: time.Hour, MaxRunning: 1})
	srv := httptest.NewServer(s)
	defer srv.Close()

	start := func() (context.CancelFunc, chan struct{}) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			resp, err := startRequest(t, ctx, srv.URL+"/v1/chat/completions", streamBody)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
		return cancel, done
	}
	cancelA, doneA := start()
	testkit.Eventually(t, 5*time.Second, "A running", func() bool { return s.Stats().Running == 1 })
	cancelB, doneB := start()
	testkit.Eventually(t, 5*time.Second, "B waiting", func() bool { return s.Stats().Waiting == 1 })
	if v := metricValue(t, s, `vllm:num_requests_waiting{model_name="deepseek-chat"}`); v != 1 {
		t.Errorf("num_requests_waiting = %v", v)
	}
	if v := metricValue(t, s, `vllm:kv_cache_usage_perc{model_name="deepseek-chat"}`); v != 1 {
		t.Errorf("kv_cache_usage_perc = %v with the only slot taken", v)
	}
	cancelA()
	<-doneA
	testkit.Eventually(t, 5*time.Second, "B to take the slot", func() bool { st := s.Stats(); return st.Running == 1 && st.Waiting == 0 })
	cancelB()
	<-doneB
	testkit.Eventually(t, 5*time.Second, "all idle", func() bool { st := s.Stats(); return st.Running == 0 && st.Waiting == 0 })
}

func TestKeepAlive(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{TTFT: 120 * time.Millisecond, KeepAliveEvery: 10 * time.Millisecond})

	rec := do(t, s, http.MethodPost, "/v1/chat/completions", streamBody)
	events := parseSSE(t, rec.Body.String())
	if events.keepAlives == 0 || !events.done || !strings.HasPrefix(rec.Body.String(), ": keep-alive\n\n") {
		t.Errorf("stream keep-alives = %d, body:\n%s", events.keepAlives, rec.Body)
	}

	rec = do(t, s, http.MethodPost, "/v1/chat/completions",
		strings.Replace(streamBody, `"stream":true`, `"stream":false`, 1))
	body := rec.Body.String()
	if !strings.HasPrefix(body, "\n") || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("non-stream body does not start with keep-alive newlines: %q", body)
	}
	var got chatCompletionJSON
	decodeStrict(t, []byte(strings.TrimLeft(body, "\n")), &got)
	if got.Choices[0].FinishReason != "length" {
		t.Errorf("body after keep-alives = %s", body)
	}

	// Short waits send none.
	quick := newTestServer(t, Options{KeepAliveEvery: time.Hour})
	if body := do(t, quick, http.MethodPost, "/v1/chat/completions", streamBody).Body.String(); strings.Contains(body, "keep-alive") {
		t.Errorf("keep-alive without a wait: %s", body)
	}
}

func TestKeepAliveWhileQueued(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{TTFT: time.Hour, MaxRunning: 1, KeepAliveEvery: 5 * time.Millisecond})
	srv := httptest.NewServer(s)
	defer srv.Close()

	ctxA, cancelA := context.WithCancel(t.Context())
	defer cancelA()
	doneA := make(chan struct{})
	go func() {
		defer close(doneA)
		if resp, err := startRequest(t, ctxA, srv.URL+"/v1/chat/completions", streamBody); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	testkit.Eventually(t, 5*time.Second, "A running", func() bool { return s.Stats().Running == 1 })

	tests := []struct {
		name, body, want string
	}{
		{"stream", streamBody, ": keep-alive\n\n"},
		{"non-stream", strings.Replace(streamBody, `"stream":true`, `"stream":false`, 1), "\n\n"},
	}
	for _, tt := range tests {
		ctx, cancel := context.WithCancel(t.Context())
		resp, err := startRequest(t, ctx, srv.URL+"/v1/chat/completions", tt.body)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		buf := make([]byte, len(tt.want))
		if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != tt.want {
			t.Errorf("%s: read %q, %v; want %q", tt.name, buf, err, tt.want)
		}
		if st := s.Stats(); st.Waiting != 1 || st.Running != 1 {
			t.Errorf("%s: keep-alive did not come from the queue: %+v", tt.name, st)
		}
		cancel()
		resp.Body.Close()
		testkit.Eventually(t, 5*time.Second, "the queued request to leave", func() bool { return s.Stats().Waiting == 0 })
	}
	cancelA()
	<-doneA
	testkit.Eventually(t, 5*time.Second, "all idle", func() bool { return s.Stats().Running == 0 })
}
