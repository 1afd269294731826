package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/upstream"
)

// Hostile trial of the HTTP sink's held events, end to end: what the
// client receives must be, byte for byte, what writing each event as it
// came produced (the sink before): the events in order, each once, then
// the error event of a stream that broke, with the audit digest over
// exactly the data written.

// streamStep is one call the backend makes on the sink.
type streamStep struct {
	kind    byte // 'd' Data, 'c' Comment, 'f' Flush
	payload string
}

// stepsHostile2 is a stream of n chunks of about size bytes, with a
// comment every third and a flush every fifth.
func stepsHostile2(n, size int, comments, flushes bool) []streamStep {
	var st []streamStep
	for i := range n {
		text := strings.Repeat(string(rune('a'+i%26)), max(0, size-80))
		st = append(st, streamStep{'d', fmt.Sprintf(`{"id":"c1","model":"deepseek-chat","choices":[{"index":0,"delta":{"content":"%d %s"}}]}`, i, text)})
		if comments && i%3 == 2 {
			st = append(st, streamStep{'c', ": keep-alive " + strconv.Itoa(i)})
		}
		if flushes && i%5 == 4 {
			st = append(st, streamStep{'f', ""})
		}
	}
	return st
}

// expectedHostile2 is what the sink before wrote for steps, and the
// digest of the data payloads (each followed by "\n").
func expectedHostile2(steps []streamStep) (string, string) {
	var b strings.Builder
	h := sha256.New()
	for _, s := range steps {
		switch s.kind {
		case 'd':
			b.WriteString("data: " + s.payload + "\n\n")
			h.Write([]byte(s.payload + "\n"))
		case 'c':
			b.WriteString(s.payload + "\n\n")
		}
	}
	return b.String(), hex.EncodeToString(h.Sum(nil))
}

// playHostile2 makes the backend's stream play steps, then end as end
// says: "done" (the [DONE] chunk and no flush), "error" (an upstream cut
// after the stream started), "panic", "nil" (return without [DONE]).
// paced flushes after every step (each event then leaves by itself, as
// every event did before).
func playHostile2(a *api, steps []streamStep, end string, paced bool) {
	a.backend.stream = func(_ context.Context, _ *gateway.Call, sink gateway.Sink) (*gateway.Result, error) {
		fs, _ := sink.(gateway.FlushSink)
		for _, s := range steps {
			var err error
			switch s.kind {
			case 'd':
				err = sink.Data([]byte(s.payload))
			case 'c':
				err = sink.Comment([]byte(s.payload))
			case 'f':
				if fs != nil {
					err = fs.Flush()
				}
			}
			if err == nil && paced && fs != nil {
				err = fs.Flush()
			}
			if err != nil {
				return &gateway.Result{Upstream: "up", Started: true}, err
			}
		}
		switch end {
		case "done":
			sink.Data([]byte("[DONE]"))
		case "error":
			return &gateway.Result{Upstream: "up", Started: true}, &upstream.Error{Upstream: "up", Retryable: true, Err: gateway.ErrStreamCut}
		case "panic":
			panic("backend broke mid-stream")
		}
		return &gateway.Result{Upstream: "up", Started: true}, nil
	}
}

var errorEventHostile2 = regexp.MustCompile(`^data: \{"error":\{[^\n]*\}\n\n$`)

// The chat route: every shape of stream, paced and held, gives the client
// the same bytes, which are the events in order, then the error event.
func TestChatStreamBytesHostile2(t *testing.T) {
	t.Parallel()
	shapes := map[string][]streamStep{
		"small":                 stepsHostile2(7, 100, false, false),
		"comments and flushes":  stepsHostile2(20, 150, true, true),
		"over 16 KiB unflushed": stepsHostile2(60, 1000, false, false),
		"huge events":           stepsHostile2(4, 40000, true, false),
		"one event 70 KB":       stepsHostile2(1, 70000, false, false),
		"only comments":         {{'c', ": a"}, {'c', ": b"}},
	}
	a := newAPI(t, apiOptions{})
	for name, steps := range shapes {
		for _, end := range []string{"done", "error", "panic", "nil"} {
			want, digest := expectedHostile2(steps)
			if end == "done" {
				want += "data: [DONE]\n\n"
				digest = expectedDigestHostile2(steps, "[DONE]")
			}
			for _, paced := range []bool{false, true} {
				playHostile2(a, steps, end, paced)
				before := len(a.audit.all())
				code, hd, body := a.do(t, "POST", "/v1/chat/completions", keyAdmin, streamBody)
				what := fmt.Sprintf("%s/%s/paced=%v", name, end, paced)
				if code != 200 || hd.Get("Content-Type") != "text/event-stream" {
					t.Errorf("%s: %d %s", what, code, hd.Get("Content-Type"))
					continue
				}
				rest, ok := strings.CutPrefix(string(body), want)
				if !ok {
					i := commonPrefixHostile2(string(body), want)
					t.Errorf("%s: the client's bytes differ from the events' at %d of %d (got %d bytes):\n got %q\nwant %q",
						what, i, len(want), len(body), clipHostile2(string(body), i), clipHostile2(want, i))
					continue
				}
				switch {
				case (end == "error" || end == "panic") && !errorEventHostile2.MatchString(rest):
					t.Errorf("%s: after the events %q, want one error event", what, rest)
				case (end == "done" || end == "nil") && rest != "":
					t.Errorf("%s: after the events %q, want nothing", what, rest)
				}
				recs := a.audit.all()
				if len(recs) != before+1 {
					t.Errorf("%s: %d records, want 1", what, len(recs)-before)
					continue
				}
				if end == "panic" {
					// The handler computes the digest after the pipeline
					// returns; a panic skips that (so did the sink before).
					digest = ""
				}
				if got := recs[len(recs)-1].OutputSHA256; got != digest {
					t.Errorf("%s: output_sha256 %s, digest of the data written %s", what, got, digest)
				}
			}
		}
	}
}

func expectedDigestHostile2(steps []streamStep, extra ...string) string {
	h := sha256.New()
	for _, s := range steps {
		if s.kind == 'd' {
			h.Write([]byte(s.payload + "\n"))
		}
	}
	for _, e := range extra {
		h.Write([]byte(e + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func commonPrefixHostile2(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

func clipHostile2(s string, at int) string { return s[max(0, at-40):min(len(s), at+60)] }

// volatileHostile2 matches what differs from one translated answer to the
// next: random ids and times.
var volatileHostile2 = regexp.MustCompile(`"(resp|msg|rs|fc|item|call|toolu)_[A-Za-z0-9_-]+"|"created_at":[0-9]+|"(id|response_id|item_id|request_id)":"[^"]*"`)

func normalizeHostile2(b []byte) string { return volatileHostile2.ReplaceAllString(string(b), `"X"`) }

// The translated streams (Messages, Responses): the translator merges
// the text of the chunks between two flushes into one delta, so a paced
// stream is not the held one; what must hold is that the client gets the
// events whole, in order, each once (the Responses API numbers them:
// sequence_number runs 0, 1, 2, ... without a gap or a repeat), and a
// stream that breaks ends with one error event, after all of them. With
// HOSTILE2_DUMP set to a directory, the bodies are written there, to be
// compared with the sink before the change (run the same test there).
func TestTranslatedStreamBytesHostile2(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{})
	chunks := []streamStep{
		{'d', `{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"deepseek-chat","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Think "}}]}`},
		{'d', `{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"deepseek-chat","choices":[{"index":0,"delta":{"reasoning_content":"more."}}]}`},
		{'c', ": keep-alive"},
		{'d', `{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"deepseek-chat","choices":[{"index":0,"delta":{"content":"The weather "}}]}`},
		{'d', `{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"deepseek-chat","choices":[{"index":0,"delta":{"content":"` + strings.Repeat("is sunny. ", 2000) + `"}}]}`},
		{'f', ""},
		{'d', `{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"deepseek-chat","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}`},
		{'d', `{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"deepseek-chat","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":\"Paris\"}"}}]}}]}`},
		{'d', `{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"deepseek-chat","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`},
		{'d', `{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"deepseek-chat","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":12,"total_tokens":32}}`},
	}
	routes := []struct{ path, body, errEvent string }{
		{"/v1/messages", `{"model":"deepseek-chat","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, "event: error\n"},
		{"/v1/responses", `{"model":"deepseek-chat","stream":true,"store":false,"input":"hi"}`, "event: response.failed\n"},
	}
	seqRE := regexp.MustCompile(`"sequence_number":([0-9]+)`)
	dump := os.Getenv("HOSTILE2_DUMP")
	for _, rt := range routes {
		for _, end := range []string{"done", "error", "panic", "nil"} {
			for _, cut := range []int{2, 5, len(chunks)} {
				for _, paced := range []bool{false, true} {
					playHostile2(a, chunks[:cut], end, paced)
					code, hd, body := a.do(t, "POST", rt.path, keyAdmin, rt.body)
					what := fmt.Sprintf("%s %s after %d steps paced=%v", rt.path, end, cut, paced)
					if code != 200 || hd.Get("Content-Type") != "text/event-stream" {
						t.Errorf("%s: %d %s", what, code, body)
						continue
					}
					held := normalizeHostile2(body)
					if dump != "" {
						name := fmt.Sprintf("%s_%s_%d_%v", strings.ReplaceAll(rt.path, "/", "_"), end, cut, paced)
						if err := os.WriteFile(filepath.Join(dump, name), []byte(held), 0o644); err != nil {
							t.Fatal(err)
						}
					}
					events := strings.Split(strings.TrimSuffix(held, "\n\n"), "\n\n")
					if !strings.HasSuffix(held, "\n\n") {
						t.Errorf("%s: the stream does not end with a whole event: %q", what, held[max(0, len(held)-80):])
					}
					// The error event: the API's own after an error, the
					// frame's (OpenAI's shape) after a panic.
					last := events[len(events)-1]
					nErr := strings.Count(held, rt.errEvent) + strings.Count(held, "data: {\"error\":")
					switch end {
					case "error":
						if nErr != 1 || !strings.HasPrefix(last, rt.errEvent) {
							t.Errorf("%s: %d error events, the last event %q", what, nErr, last[:min(len(last), 120)])
						}
					case "panic":
						if nErr != 1 || !strings.HasPrefix(last, "data: {\"error\":") && !strings.HasPrefix(last, rt.errEvent) {
							t.Errorf("%s: %d error events, the last event %q", what, nErr, last[:min(len(last), 120)])
						}
					default:
						if nErr != 0 {
							t.Errorf("%s: %d error events", what, nErr)
						}
					}
					next := 0
					for _, ev := range events {
						if !strings.HasPrefix(ev, "event: ") && !strings.HasPrefix(ev, ":") && !strings.HasPrefix(ev, "data: {\"error\":") {
							t.Errorf("%s: not an event: %q", what, ev[:min(len(ev), 80)])
						}
						if strings.Count(ev, "\ndata: ") > 1 {
							t.Errorf("%s: two events run together: %q", what, ev[:min(len(ev), 120)])
						}
						if m := seqRE.FindStringSubmatch(ev); m != nil {
							if n, _ := strconv.Atoi(m[1]); n != next {
								t.Errorf("%s: sequence_number %d where %d was due (an event lost or repeated)", what, n, next)
							}
							next++
						}
					}
					if rt.path == "/v1/responses" && next == 0 {
						t.Errorf("%s: no numbered event", what)
					}
				}
			}
		}
	}
}

// A non-streaming translated answer is built in the event buffer and held
// there; it must reach the client whole, once, with nothing of a stream
// before or after it, even with streams and answers on other requests
// taking and giving back the pooled buffers at the same time.
func TestAnswersAmidStreamsHostile2(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{})
	long := strings.Repeat("word ", 4000) // an answer past the buffer's 2 KiB and past heldEvents
	a.backend.complete = func(_ context.Context, c *gateway.Call) (*gateway.Result, error) {
		body := `{"id":"x","object":"chat.completion","model":"deepseek-chat","choices":[{"index":0,"message":{"role":"assistant","content":"` + long + `"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`
		return &gateway.Result{Body: []byte(body), Upstream: "up", HasUsage: true}, nil
	}
	steps := stepsHostile2(30, 900, true, true)
	playHostile2(a, steps, "done", false)
	wantStream, _ := expectedHostile2(steps)
	wantStream += "data: [DONE]\n\n"
	reqs := []struct{ path, body string }{
		{"/v1/messages", `{"model":"deepseek-chat","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`},
		{"/v1/responses", `{"model":"deepseek-chat","store":false,"input":"hi"}`},
	}
	first := map[string]string{}
	for _, rq := range reqs {
		_, _, b := a.do(t, "POST", rq.path, keyAdmin, rq.body)
		first[rq.path] = normalizeHostile2(b)
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 12 {
				if (g+i)%3 == 0 {
					_, _, b := doQuietHostile2(a, "/v1/chat/completions", streamBody)
					if string(b) != wantStream {
						i := commonPrefixHostile2(string(b), wantStream)
						t.Errorf("stream amid answers differs at %d: got %q want %q", i, clipHostile2(string(b), i), clipHostile2(wantStream, i))
					}
					continue
				}
				rq := reqs[(g+i)%2]
				hd, status, b := doQuietHostile2(a, rq.path, rq.body)
				if status != 200 {
					t.Errorf("%s: %d %s", rq.path, status, b)
					continue
				}
				if cl := hd.Get("Content-Length"); cl != strconv.Itoa(len(b)) {
					t.Errorf("%s: Content-Length %s, body %d bytes", rq.path, cl, len(b))
				}
				if hd.Get("Content-Type") != "application/json" || !json.Valid(b) || bytes.Contains(b, []byte("data: ")) || bytes.Contains(b, []byte("\n\n")) {
					t.Errorf("%s: not one JSON answer: %q", rq.path, b[:min(len(b), 200)])
				}
				if got := normalizeHostile2(b); got != first[rq.path] {
					i := commonPrefixHostile2(got, first[rq.path])
					t.Errorf("%s amid streams differs at %d: got %q want %q", rq.path, i, clipHostile2(got, i), clipHostile2(first[rq.path], i))
				}
			}
		}()
	}
	wg.Wait()
	for path, b := range first {
		if !strings.Contains(b, strings.TrimSpace(long[:100])) {
			t.Errorf("%s: the answer lost its text: %q", path, b[:min(len(b), 200)])
		}
	}
}

// doQuietHostile2 is api.do for use off the test's goroutine (no Fatal).
func doQuietHostile2(a *api, path, body string) (http.Header, int, []byte) {
	req, err := http.NewRequest("POST", a.url+path, strings.NewReader(body))
	if err != nil {
		return nil, 0, []byte(err.Error())
	}
	req.Header.Set("Authorization", "Bearer "+keyAdmin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Header, resp.StatusCode, b
}

// A client that goes away mid-stream: the backend, which stops at the
// first error the sink gives (the gateway does), must get one, from Data
// or from Flush, well before it runs out of events.
func TestStreamClientGoneHostile2(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{})
	got := make(chan error, 1)
	a.backend.stream = func(ctx context.Context, _ *gateway.Call, sink gateway.Sink) (*gateway.Result, error) {
		fs := sink.(gateway.FlushSink)
		chunk := []byte(`{"choices":[{"delta":{"content":"` + strings.Repeat("x", 200) + `"}}]}`)
		for i := range 200000 {
			err := sink.Data(chunk)
			if err == nil && i%4 == 3 {
				err = fs.Flush()
			}
			if err != nil {
				got <- err
				return &gateway.Result{Upstream: "up", Started: true}, err
			}
		}
		got <- errors.New("no error after 200000 events to a client that left")
		return &gateway.Result{Upstream: "up", Started: true}, nil
	}
	req, err := http.NewRequest("POST", a.url+"/v1/chat/completions", strings.NewReader(streamBody))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+keyAdmin)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || !bytes.HasPrefix(buf, []byte("data: ")) {
		t.Fatalf("first bytes %q: %v", buf, err)
	}
	resp.Body.Close() // the client goes away
	tr.CloseIdleConnections()
	if err := <-got; err == nil || strings.Contains(err.Error(), "no error") {
		t.Errorf("the sink reported %v to a backend whose client left", err)
	}
}
