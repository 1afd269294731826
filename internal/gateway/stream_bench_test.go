package gateway_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/dsgate/dsgate/internal/chatwire"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/upstream"
)

// sseAnswer is an upstream stream of n chunks (role, content chunks, the
// finish reason, the usage chunk) and [DONE], as the bench mock sends it.
func sseAnswer(n int) []byte { return sseAnswerWith(n, "") }

// sseAnswerWith is sseAnswer with extra (such as `,"usage":null`) at the
// end of every chunk but the usage chunk.
func sseAnswerWith(n int, extra string) []byte {
	const head = `data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","choices":[`
	var b bytes.Buffer
	b.WriteString(head + `{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]` + extra + "}\n\n")
	for i := range n - 3 {
		b.WriteString(head + `{"index":0,"delta":{"content":"tok` + strconv.Itoa(i) + ` "},"logprobs":null,"finish_reason":null}]` + extra + "}\n\n")
	}
	b.WriteString(head + `{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]` + extra + "}\n\n")
	b.WriteString(`data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","choices":[],` +
		`"usage":{"prompt_tokens":12,"completion_tokens":17,"total_tokens":29}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}

// memUpstream answers every request with one SSE body from memory, each
// read giving one event, as a stream arrives from a paced engine.
type memUpstream struct{ body []byte }

func (m memUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
		Body: io.NopCloser(&eventReader{rest: m.body}), Request: r}, nil
}

// eventReader returns one event per Read.
type eventReader struct{ rest []byte }

func (e *eventReader) Read(p []byte) (int, error) {
	if len(e.rest) == 0 {
		return 0, io.EOF
	}
	end := bytes.Index(e.rest, []byte("\n\n")) + 2
	if end < 2 {
		end = len(e.rest)
	}
	n := copy(p, e.rest[:end])
	e.rest = e.rest[n:]
	return n, nil
}

// memGateway is a gateway whose model deepseek-chat is served, as model,
// by an upstream that answers body from memory.
func memGateway(body []byte, model string) *gateway.Gateway {
	return memGatewayWith(body, model, "")
}

// memGatewayWith is memGateway for an engine that names its reasoning
// field reasoning ("reasoning", as vLLM does; "" for reasoning_content).
func memGatewayWith(body []byte, model, reasoning string) *gateway.Gateway {
	u := upstream.New(upstream.Options{Name: "mock", Kind: upstream.KindOpenAI, URL: "http://127.0.0.1:1",
		Transport: memUpstream{body: body}, ReasoningField: reasoning})
	return gateway.New(gateway.Options{Routes: []gateway.Route{{Name: "deepseek-chat",
		Pool: upstream.NewPool([]*upstream.Target{{Upstream: u, Model: model, Weight: 1}}, nil, nil)}}})
}

// streamCall returns a maker of calls for a streamed chat request to
// deepseek-chat, one that asks for usage (as the translators do) when
// usage is set.
func streamCall(tb testing.TB, usage bool) func() *gateway.Call {
	tb.Helper()
	body := []byte(`{"model":"deepseek-chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if usage {
		body = []byte(`{"model":"deepseek-chat","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	}
	req, err := openai.Parse(openai.EndpointChat, body)
	if err != nil {
		tb.Fatal(err)
	}
	return func() *gateway.Call { return &gateway.Call{Req: req, Body: body, RequestID: "r"} }
}

// discardSink is a client that takes every event and flush.
type discardSink struct{ events, flushes int }

func (s *discardSink) Comment([]byte) error { return nil }
func (s *discardSink) Data([]byte) error    { s.events++; return nil }
func (s *discardSink) Flush() error         { s.flushes++; return nil }

// BenchmarkStreamRelay is the gateway's part of a stream (request
// adaptation, the upstream call through an in-memory transport, SSE
// parsing, adapting each chunk, the sink calls) for answers of 2 and 20
// chunks; the difference between the two is the cost per event, reported
// as ns/event by the 20-chunk case. "20chunks-usage-null" is the 20 with
// "usage":null in every chunk but the usage chunk, as SGLang's pydantic
// chunks had it. "20chunks-renamed" is the 20 from a target whose model
// is not the route's name (deepseek-chat served as deepseek-v4-flash, as
// examples/production.yaml has DeepSeek's cloud): the relay rewrites
// every chunk's model, the matched ones from its template as sent.
func BenchmarkStreamRelay(b *testing.B) {
	var perStream [4]float64
	for i, n := range []int{2, 20, 20, 20} {
		body := sseAnswer(n)
		name := strconv.Itoa(n) + "chunks"
		if i == 2 {
			body, name = sseAnswerWith(n, `,"usage":null`), "20chunks-usage-null"
		}
		if n == 2 {
			body = []byte(`data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}` + "\n\n" +
				`data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}` + "\n\n" +
				"data: [DONE]\n\n")
		}
		model := "deepseek-chat"
		if i == 3 {
			model, name = "deepseek-v4-flash", "20chunks-renamed"
		}
		g, call := memGateway(body, model), streamCall(b, false)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var sink discardSink
			for b.Loop() {
				if _, err := g.Stream(context.Background(), call(), &sink); err != nil {
					b.Fatal(err)
				}
			}
			if sink.events == 0 {
				b.Fatal("no events")
			}
			perStream[i] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if i > 0 {
				b.ReportMetric((perStream[i]-perStream[0])/18, "ns/event")
			}
		})
	}
}

// decodingSink reads every chunk as a stream translator does
// (chatwire.DecodeChunk); markingSink also takes the relay's word for the
// chunks its template matched (gateway.TemplateSink), as the translators
// do.
type decodingSink struct {
	discardSink
	c chatwire.Chunk
}

func (s *decodingSink) Data(p []byte) error {
	s.events++
	if string(p) == "[DONE]" {
		return nil
	}
	return chatwire.DecodeChunk(p, &s.c)
}

type markingSink struct{ decodingSink }

func (s *markingSink) Templated(p []byte, at int) { s.c.Mark(p, at) }

func (s *markingSink) Same(p, text []byte) error {
	s.events++
	if s.c.FromMark(text) {
		return nil
	}
	return chatwire.DecodeChunk(p, &s.c)
}

// BenchmarkStreamRelayToTranslator is BenchmarkStreamRelay's 20 chunks
// relayed to a sink that reads them as the translators do: "decode" reads
// each chunk itself, "mark" takes the relay's word for the chunks its
// template matched (the translators' way since 2026-12-06).
func BenchmarkStreamRelayToTranslator(b *testing.B) {
	g, call := memGateway(sseAnswer(20), "deepseek-chat"), streamCall(b, true)
	for _, tc := range []struct {
		name string
		sink func() gateway.Sink
	}{
		{"decode", func() gateway.Sink { return &decodingSink{} }},
		{"mark", func() gateway.Sink { return &markingSink{} }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := g.Stream(context.Background(), call(), tc.sink()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
