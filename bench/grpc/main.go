// Command grpcbench compares dsgate's REST and gRPC transports and the
// synchronous batch endpoint, in one process on loopback, against the
// built-in simulator:
//
//   - REST vs gRPC, unary and streaming, at a fixed arrival rate (open
//     loop, latency p50/p99 measured from the scheduled send time so queueing
//     counts) and at saturation (closed loop, C workers);
//   - one POST /v1/batch of N prompts vs N single requests, against a
//     simulator that models continuous batching (MaxRunning slots, each
//     decoding at a fixed tokens/s).
//
// Gateway, simulator and load generator share the machine's cores, so
// absolute numbers are pessimistic; compare rows of one run.
//
//	go run ./bench/grpc -rate 1000 -duration 5s -conc 64 -batch 100
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/batch"
	"github.com/dsgate/dsgate/internal/gateway"
	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
	"github.com/dsgate/dsgate/internal/grpcapi"
	"github.com/dsgate/dsgate/internal/httpapi"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/upstream"
)

func main() {
	rate := flag.Int("rate", 1000, "fixed arrival rate, requests/s")
	dur := flag.Duration("duration", 5*time.Second, "length of each fixed-rate and saturation run")
	conc := flag.Int("conc", 64, "closed-loop workers at saturation")
	tokens := flag.Int("tokens", 16, "max_tokens of transport runs")
	batchN := flag.Int("batch", 100, "prompts in the batch comparison")
	slots := flag.Int("slots", 16, "simulator MaxRunning (continuous batching slots) for the batch comparison")
	tps := flag.Float64("tps", 200, "simulator tokens/s per request for the batch comparison")
	batchTokens := flag.Int("batch-tokens", 32, "max_tokens of batch runs")
	batchConc := flag.Int("batch-conc", 16, "fan-out of /v1/batch and of the concurrent singles")
	only := flag.String("only", "", "run only: transport or batch")
	flag.Parse()

	if *only != "batch" {
		fmt.Println("## REST vs gRPC (simulator: no TTFT, unpaced tokens)")
		fmt.Println()
		fmt.Println("| transport | mode | load | requests | errors | achieved req/s | p50 ms | p99 ms |")
		fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- |")
		st := newStack(sim.Options{MaxTokens: *tokens}, *batchConc)
		for _, stream := range []bool{false, true} {
			for _, tr := range []transport{st.rest(stream, *tokens), st.grpc(stream, *tokens)} {
				row(tr, stream, fmt.Sprintf("%d/s", *rate), openLoop(tr.call, *rate, *dur))
			}
			for _, tr := range []transport{st.rest(stream, *tokens), st.grpc(stream, *tokens)} {
				row(tr, stream, fmt.Sprintf("sat. c=%d", *conc), closedLoop(tr.call, *conc, *dur))
			}
		}
		st.close()
		fmt.Println()
	}
	if *only != "transport" {
		batchCompare(*batchN, *slots, *tps, *batchTokens, *batchConc)
	}
}

func row(tr transport, stream bool, load string, r result) {
	mode := "unary"
	if stream {
		mode = "stream"
	}
	fmt.Printf("| %s | %s | %s | %d | %d | %.0f | %.2f | %.2f |\n", tr.name, mode, load, r.n, r.errs, r.rps, r.p50, r.p99)
}

// stack is a gateway with HTTP and gRPC listeners in front of a simulator.
type stack struct {
	sim       *sim.Server
	simSrv    *http.Server
	httpSrv   *http.Server
	grpcSrv   *grpcapi.Server
	httpURL   string
	conn      *grpc.ClientConn
	client    pb.InferenceServiceClient
	httpc     *http.Client
	closeOnce sync.Once
}

func listen() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	return ln
}

func newStack(so sim.Options, batchConc int) *stack {
	s := &stack{sim: sim.New(so)}
	sln := listen()
	s.simSrv = &http.Server{Handler: s.sim}
	go s.simSrv.Serve(sln)
	u := upstream.New(upstream.Options{Name: "sim", Kind: upstream.KindOpenAI, URL: "http://" + sln.Addr().String(),
		FirstTokenTimeout: 60 * time.Second, IdleTimeout: 60 * time.Second})
	pool := upstream.NewPool([]*upstream.Target{{Upstream: u, Model: "deepseek-chat"}}, &upstream.RoundRobin{}, upstream.DefaultRules())
	gw := gateway.New(gateway.Options{Routes: []gateway.Route{{Name: "deepseek-chat", Pool: pool}}})
	acc := access.New(access.Options{Disabled: true})
	exec := &batch.Executor{Pipeline: pipeline.New(pipeline.Options{Backend: func() pipeline.Backend { return gw }, Access: acc})}
	h := httpapi.New(httpapi.Options{Gateway: func() *gateway.Gateway { return gw }, Access: acc,
		Mounts: map[string]http.Handler{"/v1/batch": batch.NewSync(batch.SyncOptions{Exec: exec, MaxItems: 10000,
			Concurrency: batchConc})}})
	hln := listen()
	s.httpSrv = &http.Server{Handler: h}
	go s.httpSrv.Serve(hln)
	s.httpURL = "http://" + hln.Addr().String()
	s.grpcSrv = grpcapi.New(grpcapi.Options{Backend: func() grpcapi.Backend { return gw }, Access: acc})
	gln := listen()
	go s.grpcSrv.Serve(gln)
	var err error
	s.conn, err = grpc.NewClient(gln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	s.client = pb.NewInferenceServiceClient(s.conn)
	s.httpc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 0}, Timeout: time.Minute}
	return s
}

func (s *stack) close() {
	s.closeOnce.Do(func() {
		s.conn.Close()
		s.grpcSrv.Stop()
		s.httpSrv.Close()
		s.simSrv.Close()
	})
}

type transport struct {
	name string
	call func(ctx context.Context, i int) error
}

func (s *stack) rest(stream bool, tokens int) transport {
	return transport{name: "REST", call: func(ctx context.Context, i int) error {
		body := fmt.Sprintf(`{"model":"deepseek-chat","max_tokens":%d,"stream":%t,"messages":[{"role":"user","content":"question %d"}]}`, tokens, stream, i%50)
		req, _ := http.NewRequestWithContext(ctx, "POST", s.httpURL+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.httpc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 || (stream && !bytes.HasSuffix(b, []byte("[DONE]\n\n"))) {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}}
}

func (s *stack) grpc(stream bool, tokens int) transport {
	mt := int32(tokens)
	return transport{name: "gRPC", call: func(ctx context.Context, i int) error {
		text := fmt.Sprintf("question %d", i%50)
		req := &pb.ChatCompletionRequest{Model: "deepseek-chat", MaxTokens: &mt,
			Messages: []*pb.Message{{Role: "user", Content: &text}}}
		if !stream {
			_, err := s.client.ChatCompletion(ctx, req)
			return err
		}
		st, err := s.client.StreamChatCompletion(ctx, &pb.StreamChatCompletionRequest{Request: req})
		if err != nil {
			return err
		}
		for {
			if _, err := st.Recv(); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
		}
	}}
}

type result struct {
	n, errs  int
	rps      float64
	p50, p99 float64
}

func summarize(lat []time.Duration, errs int, elapsed time.Duration) result {
	slices.Sort(lat)
	r := result{n: len(lat) + errs, errs: errs, rps: float64(len(lat)) / elapsed.Seconds()}
	if len(lat) > 0 {
		r.p50 = float64(lat[len(lat)*50/100].Microseconds()) / 1000
		r.p99 = float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds()) / 1000
	}
	return r
}

// openLoop sends at a fixed rate regardless of answers; latency counts
// from the scheduled send time, so a backlog shows in the tail.
func openLoop(call func(context.Context, int) error, rate int, d time.Duration) result {
	n := int(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	var mu sync.Mutex
	lat := make([]time.Duration, 0, n)
	errs := 0
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if w := time.Until(at); w > 0 {
			time.Sleep(w)
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := call(ctx, i)
			l := time.Since(at)
			mu.Lock()
			if err != nil {
				errs++
			} else {
				lat = append(lat, l)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return summarize(lat, errs, time.Since(start))
}

// closedLoop runs c workers back to back for d.
func closedLoop(call func(context.Context, int) error, c int, d time.Duration) result {
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(d)
	for w := range c {
		wg.Go(func() {
			for i := w; time.Now().Before(stop); i += c {
				t := time.Now()
				err := call(context.Background(), i)
				l := time.Since(t)
				mu.Lock()
				if err != nil {
					errs++
				} else {
					lat = append(lat, l)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return summarize(lat, errs, time.Since(start))
}

// batchCompare runs N prompts three ways against a continuous-batching
// simulator: one at a time, N singles with the batch's fan-out, and one
// POST /v1/batch.
func batchCompare(n, slots int, tps float64, tokens, conc int) {
	st := newStack(sim.Options{MaxRunning: slots, TokensPerSecond: tps, TTFT: 20 * time.Millisecond, MaxTokens: tokens}, conc)
	defer st.close()
	single := st.rest(false, tokens).call
	fmt.Printf("## Synchronous batch vs single requests (simulator: %d slots, %.0f tok/s per request, TTFT 20ms, %d tokens)\n\n",
		slots, tps, tokens)
	fmt.Println("| how | requests | wall time s | req/s | speed-up vs sequential |")
	fmt.Println("| --- | --- | --- | --- | --- |")
	seq := timeIt(func() {
		for i := range n {
			if err := single(context.Background(), i); err != nil {
				fmt.Fprintln(os.Stderr, "single:", err)
			}
		}
	})
	fmt.Printf("| %d single requests, one at a time | %d | %.2f | %.1f | 1.0x |\n", n, n, seq.Seconds(), float64(n)/seq.Seconds())
	par := timeIt(func() {
		var wg sync.WaitGroup
		sem := make(chan struct{}, conc)
		for i := range n {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := single(context.Background(), i); err != nil {
					fmt.Fprintln(os.Stderr, "single:", err)
				}
			})
		}
		wg.Wait()
	})
	fmt.Printf("| %d single requests, %d in flight | %d | %.2f | %.1f | %.1fx |\n", n, conc, n, par.Seconds(), float64(n)/par.Seconds(), seq.Seconds()/par.Seconds())
	var body strings.Builder
	body.WriteString(`{"model":"deepseek-chat","requests":[`)
	for i := range n {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"id":"req_%d","prompt":"question %d","max_tokens":%d}`, i, i%50, tokens)
	}
	body.WriteString(`]}`)
	var status int
	bt := timeIt(func() {
		resp, err := st.httpc.Post(st.httpURL+"/v1/batch", "application/json", strings.NewReader(body.String()))
		if err != nil {
			fmt.Fprintln(os.Stderr, "batch:", err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status = resp.StatusCode
	})
	fmt.Printf("| one POST /v1/batch of %d (fan-out %d), status %d | %d | %.2f | %.1f | %.1fx |\n", n, conc, status, n, bt.Seconds(), float64(n)/bt.Seconds(), seq.Seconds()/bt.Seconds())
	fmt.Println()
}

func timeIt(f func()) time.Duration {
	t := time.Now()
	f()
	return time.Since(t)
}
