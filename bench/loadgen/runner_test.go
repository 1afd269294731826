package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// sseServer answers every request with an SSE body written a few bytes at
// a time, so "[DONE]" is split across reads.
func sseServer(t *testing.T, body string) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := 0; i < len(body); i += 3 {
			w.Write([]byte(body[i:min(i+3, len(body))]))
			rc.Flush()
		}
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

func runCount(t *testing.T, url string, stream bool, n int) *result {
	t.Helper()
	args := []string{"-url", url, "-c", "2", "-n", itoa(n), "-warmup", "0s", "-max-time", "20s"}
	if stream {
		args = append(args, "-stream")
	}
	cfg, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	res, err := newRunner(cfg).run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestStreamNeedsDoneAcrossReads(t *testing.T) {
	t.Parallel()
	ok := sseServer(t, "data: {\"x\":1}\n\ndata: [DONE]\n\n")
	res := runCount(t, ok, true, 20)
	if res.Count != 20 || res.Errors != 0 {
		t.Fatalf("with [DONE]: count %d errors %d %v, want 20 and 0", res.Count, res.Errors, res.ErrorKinds)
	}
	if res.Conns > 2 {
		t.Errorf("dialled %d connections for 2 workers, want keep-alive", res.Conns)
	}
	cut := sseServer(t, "data: {\"x\":1}\n\ndata: [DON")
	res = runCount(t, cut, true, 10)
	if res.Count != 0 || res.ErrorKinds["missing_done"] != 10 {
		t.Fatalf("without [DONE]: count %d errors %v, want 0 and 10 missing_done", res.Count, res.ErrorKinds)
	}
}

func TestNon200CountsAsError(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":{}}`, http.StatusTooManyRequests)
	}))
	t.Cleanup(ts.Close)
	res := runCount(t, ts.URL, false, 5)
	if res.Count != 0 || res.ErrorKinds["status_429"] != 5 {
		t.Fatalf("count %d errors %v, want 0 and 5 status_429", res.Count, res.ErrorKinds)
	}
}

func TestOnlyLoopback(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://10.0.0.1/x", "http://localhost:80/x", "https://127.0.0.1/x", "http://example.com/"} {
		if _, err := parseFlags([]string{"-url", u}, io.Discard); err == nil {
			t.Errorf("parseFlags accepted %s", u)
		}
	}
}
