package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/httpapi"
	"github.com/dsgate/dsgate/internal/metrics"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/ratelimit"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/upstream"
)

// Credentials the test authenticator knows.
const (
	keyAdmin      = "dsg_admin"
	keyDev        = "dsg_dev"     // developer, allowed deepseek-chat only
	keyAnalyst    = "dsg_analyst" // analyst: text generation only
	keyOneAtATime = "dsg_one"     // admin, one call at a time
)

type keys map[string]*auth.Principal

func (k keys) AuthenticateCredential(_ context.Context, cred string) (*auth.Principal, error) {
	if p, ok := k[cred]; ok {
		return p, nil
	}
	return nil, errors.Join(auth.ErrUnauthenticated, errors.New("unknown key"))
}

var principals = keys{
	keyAdmin:      {ID: "k_admin", Kind: auth.KindKey, Role: "admin"},
	keyDev:        {ID: "k_dev", Kind: auth.KindKey, Role: "developer", Models: []string{"deepseek-chat"}},
	keyAnalyst:    {ID: "k_analyst", Kind: auth.KindKey, Role: "analyst"},
	keyOneAtATime: {ID: "k_one", Kind: auth.KindKey, Role: "admin", MaxConcurrent: 1},
}

// backend is a programmable pipeline.Backend.
type backend struct {
	complete func(ctx context.Context, c *gateway.Call) (*gateway.Result, error)
	stream   func(ctx context.Context, c *gateway.Call, sink gateway.Sink) (*gateway.Result, error)
}

func (b *backend) Complete(ctx context.Context, c *gateway.Call) (*gateway.Result, error) {
	if b.complete == nil {
		return answer(c), nil
	}
	return b.complete(ctx, c)
}

func (b *backend) Stream(ctx context.Context, c *gateway.Call, sink gateway.Sink) (*gateway.Result, error) {
	if b.stream == nil {
		sink.Data([]byte(`{"choices":[{"delta":{"content":"hi"}}]}`))
		sink.Data([]byte("[DONE]"))
		return &gateway.Result{Upstream: "up", Started: true}, nil
	}
	return b.stream(ctx, c, sink)
}

// answer is a chat completion for c with usage.
func answer(c *gateway.Call) *gateway.Result {
	body := `{"id":"x","object":"chat.completion","model":"` + c.Req.Model +
		`","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`
	return &gateway.Result{Body: []byte(body), Upstream: "up", HasUsage: true,
		Usage: openai.Usage{PromptTokens: 3, CompletionTokens: 1, TotalTokens: 4}}
}

// auditLog collects audit records.
type auditLog struct {
	mu     sync.Mutex
	events []audit.Event
	// hold, when set, keeps Record from returning until it is closed.
	hold chan struct{}
}

func (a *auditLog) Record(e audit.Event) {
	if a.hold != nil {
		<-a.hold
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
}

func (a *auditLog) all() []audit.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]audit.Event(nil), a.events...)
}

// one returns the single record of route, failing the test otherwise. A
// whole answer reaches its client before frame records it (sendNow), so
// it waits up to 5 s for the record to come.
func (a *auditLog) one(t *testing.T, route string) audit.Event {
	t.Helper()
	var out []audit.Event
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		out = out[:0]
		for _, e := range a.all() {
			if e.Route == route {
				out = append(out, e)
			}
		}
		if len(out) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d audit records of %q, want 1; all: %+v", len(out), route, a.all())
	}
	return out[0]
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// api is the HTTP API under test.
type api struct {
	url     string
	audit   *auditLog
	log     *syncBuffer
	backend *backend
}

type apiOptions struct {
	mounts          map[string]http.Handler
	bodyReadTimeout time.Duration
	metrics         bool
	responses       store.ResponseStore
	capacity        *httpapi.Capacity
	// writes, when set, counts the server's writes to its connections.
	writes *atomic.Int64
}

// newAPI serves the HTTP API with access control on, a programmable
// backend, an audit log and an access log.
func newAPI(t *testing.T, o apiOptions) *api {
	t.Helper()
	policy, err := auth.NewPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	limiter, err := ratelimit.New(ratelimit.Options{Backend: ratelimit.NewMemoryBackend()})
	if err != nil {
		t.Fatal(err)
	}
	acc := access.New(access.Options{Authn: principals, Policy: policy, Limiter: limiter})
	a := &api{audit: &auditLog{}, log: &syncBuffer{}, backend: &backend{}}
	gw := testGateway()
	var m *metrics.Metrics
	if o.metrics {
		m = metrics.New(prometheus.NewRegistry())
	}
	log := slog.New(slog.NewJSONHandler(a.log, nil))
	h := httpapi.New(httpapi.Options{
		Gateway: func() *gateway.Gateway { return gw },
		Access:  acc,
		Pipeline: pipeline.New(pipeline.Options{Backend: func() pipeline.Backend { return a.backend }, Access: acc,
			Recorder: pipeline.Recorder{Audit: a.audit, Metrics: m}, Logger: log}),
		Mounts:          o.mounts,
		Responses:       o.responses,
		Audit:           a.audit,
		Metrics:         m,
		Logger:          log,
		AccessLog:       true,
		MaxBodyBytes:    1 << 20,
		BodyReadTimeout: o.bodyReadTimeout,
		RequestTimeout:  30 * time.Second,
		Capacity:        o.capacity,
	})
	ts := httptest.NewUnstartedServer(h)
	if o.writes != nil {
		ts.Listener = countingListener{ts.Listener, o.writes}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	a.url = ts.URL
	return a
}

// countingListener counts the writes to the connections it accepts.
type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// testGateway serves two models; nothing is ever sent to its upstream.
func testGateway() *gateway.Gateway {
	u := upstream.New(upstream.Options{Name: "up", Kind: upstream.KindOpenAI, URL: "http://127.0.0.1:1"})
	pool := func() *upstream.Pool {
		return upstream.NewPool([]*upstream.Target{{Upstream: u, Model: "m"}}, &upstream.RoundRobin{}, upstream.DefaultRules())
	}
	return gateway.New(gateway.Options{Routes: []gateway.Route{
		{Name: "deepseek-chat", Pool: pool()}, {Name: "deepseek-reasoner", Pool: pool()}}})
}

// do sends a request with key (none when empty) and returns the status,
// headers and body.
func (a *api) do(t *testing.T, method, path, key, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, a.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if strings.HasPrefix(body, "{") {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

const chatBody = `{"model":"deepseek-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":4}`
const streamBody = `{"model":"deepseek-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stream":true}`

// doHeader POSTs body with one header set (a credential in another header).
func (a *api) doHeader(t *testing.T, path, body, header, value string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", a.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(header, value)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}
