package pipeline_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/apierror"
	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/ratelimit"
	"github.com/dsgate/dsgate/internal/reqscope"
)

// backend answers every call, or runs fn when set.
type backend struct {
	mu    sync.Mutex
	calls []*gateway.Call
	fn    func(c *gateway.Call) (*gateway.Result, error)
}

func (b *backend) Complete(_ context.Context, c *gateway.Call) (*gateway.Result, error) {
	b.mu.Lock()
	b.calls = append(b.calls, c)
	b.mu.Unlock()
	if b.fn != nil {
		return b.fn(c)
	}
	return &gateway.Result{Body: []byte(`{}`), Upstream: "up", HasUsage: true,
		Usage: openai.Usage{PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7}}, nil
}

func (b *backend) Stream(ctx context.Context, c *gateway.Call, sink gateway.Sink) (*gateway.Result, error) {
	sink.Data([]byte("[DONE]"))
	return &gateway.Result{Started: true, Upstream: "up"}, nil
}

type auditLog struct {
	mu     sync.Mutex
	events []audit.Event
}

func (a *auditLog) Record(e audit.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
}

type sink struct{ n int }

func (s *sink) Comment([]byte) error { return nil }
func (s *sink) Data([]byte) error    { s.n++; return nil }

var (
	dev     = &auth.Principal{ID: "k1", Kind: auth.KindKey, Role: "developer", Models: []string{"deepseek-chat"}, MaxConcurrent: 1}
	analyst = &auth.Principal{ID: "k2", Kind: auth.KindKey, Role: "analyst"}
)

func newPipeline(t *testing.T, b *backend, a *auditLog) *pipeline.Pipeline {
	t.Helper()
	policy, err := auth.NewPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	lim, err := ratelimit.New(ratelimit.Options{Backend: ratelimit.NewMemoryBackend()})
	if err != nil {
		t.Fatal(err)
	}
	acc := access.New(access.Options{Authn: nil, Policy: policy, Limiter: lim})
	return pipeline.New(pipeline.Options{Backend: func() pipeline.Backend { return b }, Access: acc,
		HighPriorityRoles: []string{"admin"}, Recorder: pipeline.Recorder{Audit: a}})
}

const chat = `{"model":"deepseek-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":4}`

func TestRunFillsTheRecord(t *testing.T) {
	t.Parallel()
	b := &backend{}
	pl := newPipeline(t, b, nil)
	s := &reqscope.Scope{RequestID: "r1"}
	res, err := pl.Run(reqscope.With(context.Background(), s), &pipeline.Call{
		Endpoint: openai.EndpointChat, Body: []byte(chat), Principal: dev, HighPriority: true})
	if err != nil || res.Upstream != "up" {
		t.Fatalf("%v %+v", err, res)
	}
	if s.Principal != "k1" || s.Role != "developer" || s.Model != "deepseek-chat" || s.Upstream != "up" ||
		s.PromptTokens != 5 || s.CompletionTokens != 2 || string(s.Output) != "{}" {
		t.Errorf("scope %+v", s)
	}
	c := b.calls[0]
	if c.HighPriority || c.RequestID != "r1" || c.CacheScope != "key:k1" {
		t.Errorf("call %+v: a developer may not ask for priority", c)
	}
}

func TestRunRefusesInOrder(t *testing.T) {
	t.Parallel()
	pl := newPipeline(t, &backend{}, nil)
	for _, c := range []struct {
		name   string
		call   pipeline.Call
		status int
	}{
		{"invalid body", pipeline.Call{Endpoint: openai.EndpointChat, Body: []byte(`{"model":1}`), Principal: dev}, 400},
		{"model not allowed", pipeline.Call{Endpoint: openai.EndpointChat,
			Body: []byte(`{"model":"deepseek-reasoner","messages":[{"role":"user","content":"x"}]}`), Principal: dev}, 403},
		{"embeddings need their own permission", pipeline.Call{Endpoint: openai.EndpointEmbedding,
			Body: []byte(`{"model":"deepseek-chat","input":"x"}`), Principal: analyst}, 403},
		{"a stream without a sink", pipeline.Call{Endpoint: openai.EndpointChat,
			Body: []byte(`{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}],"stream":true}`), Principal: dev}, 400},
	} {
		s := &reqscope.Scope{}
		_, err := pl.Run(reqscope.With(context.Background(), s), &c.call)
		if got := apierror.From(err).Status; got != c.status {
			t.Errorf("%s: status %d, want %d (%v)", c.name, got, c.status, err)
		}
	}
}

func TestRunStreamsIntoTheSink(t *testing.T) {
	t.Parallel()
	pl := newPipeline(t, &backend{}, nil)
	var sk sink
	res, err := pl.Run(context.Background(), &pipeline.Call{Endpoint: openai.EndpointChat, Principal: dev, Sink: &sk,
		Body: []byte(`{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}],"stream":true}`)})
	if err != nil || !res.Started || sk.n != 1 {
		t.Fatalf("%v %+v %d", err, res, sk.n)
	}
}

// Settlement is deferred: a call that panics gives its concurrency slot
// back (dev may run one call at a time).
func TestRunSettlesWhenTheGatewayPanics(t *testing.T) {
	t.Parallel()
	b := &backend{fn: func(*gateway.Call) (*gateway.Result, error) { panic("boom") }}
	pl := newPipeline(t, b, nil)
	func() {
		defer func() { recover() }()
		pl.Run(context.Background(), &pipeline.Call{Endpoint: openai.EndpointChat, Body: []byte(chat), Principal: dev})
	}()
	b.fn = nil
	if _, err := pl.Run(context.Background(), &pipeline.Call{Endpoint: openai.EndpointChat, Body: []byte(chat), Principal: dev}); err != nil {
		t.Fatalf("slot not released after a panic: %v", err)
	}
}

func TestRunCallsOnAdmitBeforeTheGateway(t *testing.T) {
	t.Parallel()
	b := &backend{}
	pl := newPipeline(t, b, nil)
	admitted := 0
	pl.Run(context.Background(), &pipeline.Call{Endpoint: openai.EndpointChat, Body: []byte(chat), Principal: dev,
		OnAdmit: func(g *access.Grant) {
			admitted++
			if len(b.calls) != 0 {
				t.Error("OnAdmit after the gateway")
			}
		}})
	if admitted != 1 {
		t.Errorf("OnAdmit called %d times", admitted)
	}
}

// An item is a call of its own: its own record, with its principal; a
// panic is its own 500, recorded too.
func TestItemRecordsAndRecovers(t *testing.T) {
	t.Parallel()
	a := &auditLog{}
	b := &backend{}
	pl := newPipeline(t, b, a)
	res, err := pl.Item(context.Background(), &pipeline.Item{Call: pipeline.Call{Endpoint: openai.EndpointChat,
		Body: []byte(chat), Principal: dev}, RequestID: "b-0", Route: "POST /v1/batch#item", Method: "POST"})
	if err != nil || res.Upstream != "up" {
		t.Fatalf("%v %+v", err, res)
	}
	b.fn = func(*gateway.Call) (*gateway.Result, error) { panic("boom") }
	_, err = pl.Item(context.Background(), &pipeline.Item{Call: pipeline.Call{Endpoint: openai.EndpointChat,
		Body: []byte(chat), Principal: dev}, RequestID: "b-1", Route: "POST /v1/batch#item", Method: "POST"})
	var pe *pipeline.PanicError
	if !errors.As(err, &pe) || apierror.From(err).Status != http.StatusInternalServerError {
		t.Fatalf("panic became %v", err)
	}
	if len(a.events) != 2 {
		t.Fatalf("%d records", len(a.events))
	}
	ok, failed := a.events[0], a.events[1]
	if ok.RequestID != "b-0" || ok.Principal != "k1" || ok.Role != "developer" || ok.Status != 200 || ok.CompletionTokens != 2 {
		t.Errorf("record %+v", ok)
	}
	if failed.RequestID != "b-1" || failed.Principal != "k1" || failed.Status != 500 || failed.ErrorType != "server_error" {
		t.Errorf("record %+v", failed)
	}
}

func TestResource(t *testing.T) {
	if pipeline.Resource(openai.EndpointEmbedding) != auth.ResourceEmbeddings ||
		pipeline.Resource(openai.EndpointChat) != auth.ResourceTextGeneration {
		t.Error("resource")
	}
}
