package httpapi_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/anthropic"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/httpapi"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/responses"
)

// The completion and chunks the bench backend answers: reasoning, text and
// a tool call, as DeepSeek sends them.
const (
	benchCompletion = `{"id":"c1","object":"chat.completion","created":1700000000,"model":"deepseek-chat","choices":[{"index":0,"message":{"role":"assistant","content":"The weather in Paris is sunny.","reasoning_content":"The user asks about the weather; call the tool.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":20,"completion_tokens":12,"total_tokens":32,"prompt_cache_hit_tokens":0,"prompt_cache_miss_tokens":20}}`
)

var benchChunks = []string{
	`{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"deepseek-chat","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Think "}}]}`,
	`{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"deepseek-chat","choices":[{"index":0,"delta":{"reasoning_content":"more."}}]}`,
	`{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"deepseek-chat","choices":[{"index":0,"delta":{"content":"The weather "}}]}`,
	`{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"deepseek-chat","choices":[{"index":0,"delta":{"content":"is sunny."}}]}`,
	`{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"deepseek-chat","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
	`{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"deepseek-chat","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":12,"total_tokens":32}}`,
	`[DONE]`,
}

// benchLongChunks are the 20 chunks bench/apis's mock upstream streams
// (bench/cpu's: role, 17 tokens, finish, usage), so that the per-chunk
// cost weighs here as it does in the real server.
var benchLongChunks = longChunks(17)

// benchLongerChunks are those with 60 more tokens: paced80 less paced20,
// over 60, is what one more token chunk costs, and paced20 less 20 of
// those what a stream costs whatever its length.
var benchLongerChunks = longChunks(77)

// longChunks is a stream of n token chunks between the role chunk and the
// finish and usage chunks.
func longChunks(n int) []string {
	const head = `{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","choices":[`
	c := []string{head + `{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`}
	for i := range n {
		c = append(c, head+`{"index":0,"delta":{"content":"tok`+strconv.Itoa(i)+` "},"finish_reason":null}]}`)
	}
	return append(c, head+`{"index":0,"delta":{},"finish_reason":"stop"}]}`,
		`{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":17,"total_tokens":29}}`,
		`[DONE]`)
}

// benchHandler is the HTTP API with access control off over a backend
// that answers at once with chunks when streaming: what is measured is
// dsgate's own work. paced flushes the sink after each chunk, as the
// gateway does when an engine streams a chunk at a time: every chunk is
// then an event and a write of its own.
func benchHandler(chunks []string, paced bool) http.Handler {
	return benchHandlerCold(chunks, paced, nil)
}

// benchHandlerCold is benchHandler with cold caches before every chunk
// when cold is not nil.
func benchHandlerCold(chunks []string, paced bool, cold *coldCaches) http.Handler {
	b := &backend{
		complete: func(_ context.Context, c *gateway.Call) (*gateway.Result, error) {
			return &gateway.Result{Body: []byte(benchCompletion), Upstream: "up", HasUsage: true,
				Usage: openai.Usage{PromptTokens: 20, CompletionTokens: 12, TotalTokens: 32}}, nil
		},
		stream: func(_ context.Context, c *gateway.Call, sink gateway.Sink) (*gateway.Result, error) {
			for _, ch := range chunks {
				cold.evict()
				if err := sink.Data([]byte(ch)); err != nil {
					return nil, err
				}
				if f, ok := sink.(gateway.FlushSink); ok && paced {
					if err := f.Flush(); err != nil {
						return nil, err
					}
				}
			}
			return &gateway.Result{Upstream: "up", Started: true}, nil
		},
	}
	gw := testGateway()
	return httpapi.New(httpapi.Options{
		Gateway:  func() *gateway.Gateway { return gw },
		Pipeline: pipeline.New(pipeline.Options{Backend: func() pipeline.Backend { return b }}),
	})
}

const (
	benchChat      = `{"model":"deepseek-chat","max_tokens":64,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is the weather in Paris?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]}`
	benchMessages  = `{"model":"deepseek-chat","max_tokens":64,"system":"Be brief.","messages":[{"role":"user","content":"What is the weather in Paris?"}],"tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]}`
	benchResponses = `{"model":"deepseek-chat","max_output_tokens":64,"store":false,"instructions":"Be brief.","input":"What is the weather in Paris?","tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]}`
)

func benchRoute(b *testing.B, path, body string, stream bool, chunks []string, paced bool) {
	benchRouteCold(b, path, body, stream, chunks, paced, nil)
}

// benchRouteCold is benchRoute with cold caches before the request and
// before every chunk when cold is not nil; the time the eviction took is
// taken off cpu-ns/op.
func benchRouteCold(b *testing.B, path, body string, stream bool, chunks []string, paced bool, cold *coldCaches) {
	h := benchHandlerCold(chunks, paced, cold)
	if stream {
		body = strings.Replace(body, `"max_`, `"stream":true,"max_`, 1)
	}
	b.ReportAllocs()
	w := newServerWriter()
	cpu := processCPU()
	for b.Loop() {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		w.reset()
		cold.evict()
		h.ServeHTTP(w, req)
		if w.code != 200 {
			b.Fatalf("%d", w.code)
		}
	}
	// CPU time per request, garbage collection included: steadier than
	// ns/op when other processes share the cores.
	b.ReportMetric(float64(processCPU()-cpu-cold.spent())/float64(b.N), "cpu-ns/op")
}

// coldCaches stands for the pause before each chunk of a model's stream,
// in which the kernel and other work run: it writes over a buffer the size
// of this machine's L2 (2 MiB; AMD's L2 holds what L1 does), so that the
// request's and each chunk's path run with their code and data fetched
// again, as in the real server, where a translated chunk costs some 3 µs
// more than chat's against 0.4 µs in the warm loop (bench/RESULTS.md,
// "Paced streams at 8 connections"). The time the writing takes is not
// the route's: benchRouteCold takes it off. A nil *coldCaches does
// nothing.
type coldCaches struct {
	buf []byte
	ns  int64
}

func newColdCaches() *coldCaches { return &coldCaches{buf: make([]byte, 2<<20)} }

func (c *coldCaches) evict() {
	if c == nil {
		return
	}
	start := time.Now()
	for i := 0; i < len(c.buf); i += 64 {
		c.buf[i]++
	}
	c.ns += int64(time.Since(start))
}

func (c *coldCaches) spent() int64 {
	if c == nil {
		return 0
	}
	return c.ns
}

// serverWriter is a ResponseWriter that costs what net/http's server
// costs per byte: writes are copied into a 4 KiB buffer, written out
// (here: discarded) when it fills or on Flush. httptest.ResponseRecorder
// instead keeps the whole body in a buffer that grows by doubling, an
// allocation and copy per request that the server never makes and that
// charged the bigger answers of /v1/messages and /v1/responses (twice the
// bytes of a chat stream) for work that is not the translation's.
type serverWriter struct {
	header http.Header
	code   int
	buf    *bufio.Writer
}

func newServerWriter() *serverWriter {
	return &serverWriter{header: http.Header{}, buf: bufio.NewWriterSize(io.Discard, 4<<10)}
}

func (w *serverWriter) reset() {
	clear(w.header)
	w.code = 0
}

func (w *serverWriter) Header() http.Header { return w.header }

func (w *serverWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *serverWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.buf.Write(p)
}

func (w *serverWriter) FlushError() error { return w.buf.Flush() }

func (w *serverWriter) Flush() { w.buf.Flush() }

// The translation's CPU per request is the difference between a route and
// BenchmarkRoute/chat (same conversation, same backend answer). Each case
// is a sub-benchmark of its API, so a pattern such as
// 'BenchmarkRoute/responses/paced20' runs that case alone (until 2026-12-06
// the non-streaming case was the API's benchmark itself, and ran with any
// pattern naming one of its siblings).
func BenchmarkRoute(b *testing.B) {
	for _, r := range []struct{ name, path, body string }{
		{"chat", "/v1/chat/completions", benchChat},
		{"messages", "/v1/messages", benchMessages},
		{"responses", "/v1/responses", benchResponses},
	} {
		b.Run(r.name, func(b *testing.B) {
			b.Run("nonstream", func(b *testing.B) { benchRoute(b, r.path, r.body, false, benchChunks, false) })
			b.Run("stream", func(b *testing.B) { benchRoute(b, r.path, r.body, true, benchChunks, false) })
			b.Run("stream20", func(b *testing.B) { benchRoute(b, r.path, r.body, true, benchLongChunks, false) })
			b.Run("paced20", func(b *testing.B) { benchRoute(b, r.path, r.body, true, benchLongChunks, true) })
			b.Run("paced80", func(b *testing.B) { benchRoute(b, r.path, r.body, true, benchLongerChunks, true) })
			b.Run("paced20cold", func(b *testing.B) {
				benchRouteCold(b, r.path, r.body, true, benchLongChunks, true, newColdCaches())
			})
		})
	}
}

// BenchmarkRequestTranslation is the request side of BenchmarkRoute's
// conversation alone: chat completions' parse of its body against each
// translator's ToChat (which reads the chat body as it writes it: the
// pipeline does not parse it again).
func BenchmarkRequestTranslation(b *testing.B) {
	chat, messages, resp := []byte(benchChat), []byte(benchMessages), []byte(benchResponses)
	b.Run("chat", func(b *testing.B) {
		for b.Loop() {
			if _, err := openai.Parse(openai.EndpointChat, chat); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("messages", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := anthropic.ToChat(messages); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("responses", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := responses.ToChat(resp); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAnswerTranslation is the answer side of BenchmarkRoute's
// conversation alone: what the gateway reads of a chat completion for a
// chat completions client (its usage: openai.UsageOf), against what a
// translated call does besides (the gateway's reading, then the
// translator's: AppendFromChat reads the completion whole and writes the
// API's answer). With BenchmarkRequestTranslation, the CPU the
// translation adds to a request that does not stream, on the machine it
// runs on.
func BenchmarkAnswerTranslation(b *testing.B) {
	completion := []byte(benchCompletion)
	_, minfo, err := anthropic.ToChat([]byte(benchMessages))
	if err != nil {
		b.Fatal(err)
	}
	_, rinfo, err := responses.ToChat([]byte(benchResponses))
	if err != nil {
		b.Fatal(err)
	}
	rinfo.ID = "resp_bench"
	out := make([]byte, 0, 4<<10)
	// Each case: the gateway's usage walk, then the translator's, if any.
	answer := func(name string, translate func() error) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, ok := openai.UsageOf(completion); !ok {
					b.Fatal("no usage")
				}
				if err := translate(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	answer("chat", func() error { return nil })
	answer("messages", func() (err error) {
		out, err = anthropic.AppendFromChat(out[:0], completion, minfo)
		return err
	})
	answer("responses", func() (err error) {
		out, err = responses.AppendFromChat(out[:0], completion, rinfo)
		return err
	})
}
