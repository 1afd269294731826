package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/server"
	"github.com/dsgate/dsgate/internal/testkit"
)

// BenchmarkStage is the harness's stages served in one process: the mock
// upstream, dsgate's server built from the stage's config, and one client
// sending the harness's request (a unique prompt each time, so the cache
// misses) on one kept-alive connection. Its figure is for instructions,
// not time: bench/icount counts them deterministically where this
// machine's CPU time is noise, and a stage's cost is its count less
// bare's (the client's and the mock's work is the same in every stage).
// The access log is encoded but not written (discardLog).
//
//	go test -c -o /tmp/cpu.test ./bench/cpu
//	bench/icount/run.sh /tmp/cpu.test bench/cpu 'BenchmarkStage/full/nonstream'
//	bench/icount/run.sh /tmp/cpu.test bench/cpu 'BenchmarkStage/full/^stream$'   # anchored: "stream" matches "nonstream" too
func BenchmarkStage(b *testing.B) {
	for _, s := range stages {
		if s.console {
			continue // a browser's polling, not a request's cost
		}
		b.Run(s.name, func(b *testing.B) {
			for _, stream := range []bool{false, true} {
				b.Run(map[bool]string{false: "nonstream", true: "stream"}[stream], func(b *testing.B) {
					st := startStage(b, s)
					b.ReportAllocs()
					for i := 0; b.Loop(); i++ {
						st.do(b, stream, i)
					}
				})
			}
		})
	}
}

// TestStagesServe keeps BenchmarkStage's set-up honest: every stage answers
// both kinds of request in full.
func TestStagesServe(t *testing.T) {
	for _, s := range stages {
		if s.console {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			st := startStage(t, s)
			for i, stream := range []bool{false, true} {
				st.do(t, stream, i)
			}
			if s.auth { // the key is checked, not merely sent
				st.key = "dsg-not-a-key"
				if status, _, err := st.roundTrip(false, 2); status != http.StatusUnauthorized {
					t.Fatalf("a request with a wrong key: status %d, %v", status, err)
				}
			}
		})
	}
}

// BenchmarkAPIs is bench/apis's conversation in the bare stage's server
// (in process, as BenchmarkStage): the same request through chat
// completions, the Messages API and the Responses API, streamed (the
// mock's 20 chunks in one write: bench/apis's BURST=1), paced (each chunk
// alone: apisPace) or not. A
// translation's cost in the real server, the relay's hand-over of the
// chunks included, is its API's count less chat's.
//
//	bench/icount/run.sh /tmp/cpu.test bench/cpu 'BenchmarkAPIs/messages/^stream$'
func BenchmarkAPIs(b *testing.B) {
	for _, api := range []string{"chat", "messages", "responses"} {
		b.Run(api, func(b *testing.B) {
			for _, mode := range []string{"nonstream", "stream", "paced"} {
				b.Run(mode, func(b *testing.B) {
					m := &mockServer{burst: true}
					if mode == "paced" {
						m = &mockServer{pace: apisPace}
					}
					st := startStageWith(b, stages[0], m)
					st.api = api
					b.ReportAllocs()
					for i := 0; b.Loop(); i++ {
						st.do(b, mode != "nonstream", i)
					}
				})
			}
		})
	}
}

// TestAPIsServe keeps BenchmarkAPIs honest: each API answers in full.
func TestAPIsServe(t *testing.T) {
	st := startStage(t, stages[0])
	for _, api := range []string{"chat", "messages", "responses"} {
		st.api = api
		for i, stream := range []bool{false, true} {
			st.do(t, stream, i)
		}
	}
}

// discardLog is serve's JSON log (cli's jsonLog), writing nowhere: the
// access line is encoded as serve encodes it (httpapi.LineWriter), not
// through slog.
type discardLog struct{ slog.Handler }

func (discardLog) WriteLine([]byte) {}

// stageServer is one stage's dsgate, in process, with its client: one
// kept-alive connection written and read as wrk does, without net/http's
// client, whose reading of each response header (a map entry and a
// canonical key each) would be counted with the server's work.
type stageServer struct {
	addr, key string
	api       string // "" (chat completions), messages or responses: BenchmarkAPIs
	conn      net.Conn
	rd        *bufio.Reader
	req, body []byte
}

// apisPace is the pause between the events of BenchmarkAPIs's paced
// stream: long enough that the gateway, slowed fifty times by valgrind,
// has sent each chunk on before the next comes, as from a model that
// streams (each chunk read, translated and written alone).
const apisPace = 20 * time.Millisecond

func startStage(tb testing.TB, s stage) *stageServer {
	return startStageWith(tb, s, &mockServer{burst: true})
}

// startStageWith is startStage with the mock upstream m.
func startStageWith(tb testing.TB, s stage, m *mockServer) *stageServer {
	tb.Helper()
	mock := httptest.NewServer(m.handler())
	tb.Cleanup(mock.Close)
	kek := make([]byte, 32)
	rand.Read(kek)
	key, _, _, err := auth.NewAPIKey()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Setenv("BENCH_KEK", hex.EncodeToString(kek))
	tb.Setenv("BENCH_ADMIN_KEY", key)
	env := &stageEnv{dir: tb.TempDir(), listen: "127.0.0.1:0", upstream: strings.TrimPrefix(mock.URL, "http://")}
	cfg, err := config.Parse(strings.NewReader(s.config(env)))
	if err != nil {
		tb.Fatalf("config of %s: %v", s.name, err)
	}
	srv, err := server.New(cfg, slog.New(discardLog{slog.NewJSONHandler(io.Discard, nil)}))
	if err != nil {
		tb.Fatalf("server of %s: %v", s.name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Run(ctx)
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	st := &stageServer{addr: srv.Addr()}
	if s.auth {
		st.key = key
	}
	testkit.Eventually(tb, 10*time.Second, "the gateway to be ready", func() bool {
		resp, err := http.Get("http://" + st.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	st.conn, err = net.Dial("tcp", st.addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.conn.Close() })
	st.rd = bufio.NewReaderSize(st.conn, 64<<10)
	return st
}

// do sends the harness's request number i and reads the whole answer.
func (st *stageServer) do(tb testing.TB, stream bool, i int) {
	if status, n, err := st.roundTrip(stream, i); err != nil || status != http.StatusOK || n == 0 {
		tb.Fatalf("request %d: status %d, %d bytes, %v", i, status, n, err)
	}
}

// roundTrip sends the harness's request number i (wrk.lua's body) and
// reads the answer: its status and how many body bytes it had.
func (st *stageServer) roundTrip(stream bool, i int) (status, n int, err error) {
	path := "/v1/chat/completions"
	switch st.api {
	case "messages": // bench/apis/wrk.lua's bodies
		path = "/v1/messages"
		st.body = fmt.Appendf(st.body[:0], `{"model":"deepseek-chat","max_tokens":16,"stream":%t,"system":"Be brief.","messages":[{"role":"user","content":"Say hello."}]}`, stream)
	case "responses":
		path = "/v1/responses"
		st.body = fmt.Appendf(st.body[:0], `{"model":"deepseek-chat","max_output_tokens":16,"stream":%t,"store":false,"instructions":"Be brief.","input":"Say hello."}`, stream)
	case "chat":
		st.body = fmt.Appendf(st.body[:0], `{"model":"deepseek-chat","max_tokens":16,"stream":%t,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hello."}]}`, stream)
	default:
		st.body = fmt.Appendf(st.body[:0], `{"model":"deepseek-chat","messages":[{"role":"user","content":"Say hello. Request 0-%d"}],"max_tokens":16,"temperature":0,"stream":%t}`, i, stream)
	}
	r := append(append(append(st.req[:0], "POST "...), path...), " HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"...)
	if st.key != "" {
		r = append(append(append(r, "Authorization: Bearer "...), st.key...), "\r\n"...)
	}
	r = strconv.AppendInt(append(r, "Content-Length: "...), int64(len(st.body)), 10)
	st.req = append(append(r, "\r\n\r\n"...), st.body...)
	if _, err := st.conn.Write(st.req); err != nil {
		return 0, 0, err
	}
	line, err := st.rd.ReadSlice('\n')
	if err != nil || len(line) < 12 {
		return 0, 0, fmt.Errorf("status line %q: %v", line, err)
	}
	status, _ = strconv.Atoi(string(line[9:12]))
	length, chunked := 0, false
	for {
		if line, err = st.rd.ReadSlice('\n'); err != nil {
			return status, 0, err
		}
		k, v, _ := bytes.Cut(bytes.TrimSpace(line), []byte(":"))
		v = bytes.TrimSpace(v)
		switch {
		case len(k) == 0:
			if !chunked {
				_, err = st.rd.Discard(length)
				return status, length, err
			}
			n, err = st.chunks()
			return status, n, err
		case bytes.EqualFold(k, []byte("Content-Length")):
			length, _ = strconv.Atoi(string(v))
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.Equal(v, []byte("chunked"))
		}
	}
}

// chunks reads a chunked body to its end and returns its length.
func (st *stageServer) chunks() (n int, err error) {
	for {
		line, err := st.rd.ReadSlice('\n')
		if err != nil {
			return n, err
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil {
			return n, err
		}
		if _, err := st.rd.Discard(int(size) + 2); err != nil || size == 0 {
			return n, err
		}
		n += int(size)
	}
}
