package pipeline_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/metrics"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/pricing"
	"github.com/dsgate/dsgate/internal/reqscope"
	"github.com/dsgate/dsgate/internal/upstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// targetBackend is backend plus PrimaryTarget, like *gateway.Gateway.
type targetBackend struct {
	*backend
	target gateway.Target
}

func (b targetBackend) PrimaryTarget(string) (gateway.Target, bool) {
	return b.target, b.target.Upstream != ""
}

// saturday noon UTC is off-peak at DeepSeek.
var saturday = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

// usage1000 is 1000 prompt tokens (400 cache hits) and 500 completion.
var usage1000 = openai.Usage{PromptTokens: 1000, CompletionTokens: 500, TotalTokens: 1500, PromptCacheHitTokens: 400}

func costPipeline(t *testing.T, b pipeline.Backend, a *auditLog, m *metrics.Metrics) *pipeline.Pipeline {
	t.Helper()
	book, err := pricing.New(pricing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := auth.NewPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pipeline.New(pipeline.Options{Backend: func() pipeline.Backend { return b },
		Access: access.New(access.Options{Policy: policy}), Prices: func() *pricing.Book { return book },
		Recorder: pipeline.Recorder{Audit: a, Metrics: m}})
}

func runAt(t *testing.T, pl *pipeline.Pipeline, body string, sk gateway.Sink) (*reqscope.Scope, http.Header) {
	t.Helper()
	s := &reqscope.Scope{RequestID: "r", Start: saturday}
	h := http.Header{}
	if _, err := pl.Run(reqscope.With(context.Background(), s), &pipeline.Call{Endpoint: openai.EndpointChat,
		Body: []byte(body), Principal: analyst, Header: h, Sink: sk}); err != nil {
		t.Fatal(err)
	}
	return s, h
}

const flashChat = `{"model":"deepseek-flash","messages":[{"role":"user","content":"hi"}]}`

// A DeepSeek answer is priced at the real usage: off-peak deepseek-flash,
// 400 hit x 0.003 + 600 miss x 0.15 + 500 out x 0.60 per million = USD
// 0.0003912; the prefix cache saved 400 x (0.15-0.003) = 0.0000588. The
// figure reaches the scope, the header, the audit record and /metrics.
func TestCostOfAnUpstreamAnswer(t *testing.T) {
	t.Parallel()
	b := &backend{fn: func(*gateway.Call) (*gateway.Result, error) {
		return &gateway.Result{Body: []byte(`{}`), Upstream: "deepseek", UpstreamModel: "deepseek-flash",
			UpstreamKind: upstream.KindDeepSeek, Model: "deepseek-flash", HasUsage: true, Usage: usage1000}, nil
	}}
	a := &auditLog{}
	m := metrics.New(prometheus.NewRegistry())
	pl := costPipeline(t, b, a, m)
	s, h := runAt(t, pl, flashChat, nil)
	if !s.Priced || s.Cost.Amount != pricing.MustAmount("0.0003912") || s.Cost.Saved != pricing.MustAmount("0.0000588") ||
		s.Cost.Currency != pricing.USD || s.Cost.Window != "off-peak" {
		t.Fatalf("cost %+v priced %v", s.Cost, s.Priced)
	}
	if got := h.Get(pricing.HeaderName); got != "0.000391200 USD" && got != "0.0003912 USD" {
		t.Errorf("%s: %q", pricing.HeaderName, got)
	}
	pl.Recorder().Record(s, "POST /v1/chat/completions", "POST", "", 200, saturday.Add(time.Second))
	if ev := a.events[0]; ev.Cost != 391_200 || ev.CostSaved != 58_800 || ev.Currency != "USD" {
		t.Errorf("audit %+v", ev)
	}
	if got := testutil.ToFloat64(m.Cost.WithLabelValues("deepseek-flash", "USD")); got < 0.00039119 || got > 0.00039121 {
		t.Errorf("dsgate_cost_total %v", got)
	}
}

// A simulator serving deepseek-flash is not billed at DeepSeek's price.
func TestLocalEngineIsNotBilledAtCloudPrices(t *testing.T) {
	t.Parallel()
	b := &backend{fn: func(*gateway.Call) (*gateway.Result, error) {
		return &gateway.Result{Body: []byte(`{}`), Upstream: "sim", UpstreamModel: "deepseek-flash",
			UpstreamKind: upstream.KindOpenAI, Model: "deepseek-flash", HasUsage: true, Usage: usage1000}, nil
	}}
	s, h := runAt(t, costPipeline(t, b, nil, nil), flashChat, nil)
	if s.Priced || h.Get(pricing.HeaderName) != "" {
		t.Errorf("local engine priced: %+v, header %q", s.Cost, h.Get(pricing.HeaderName))
	}
}

// A response-cache hit costs nothing and saves what its model's primary
// target would have charged.
func TestCacheHitCostsNothingAndCountsSavings(t *testing.T) {
	t.Parallel()
	b := &backend{fn: func(*gateway.Call) (*gateway.Result, error) {
		return &gateway.Result{Body: []byte(`{}`), Cache: gateway.CacheHit, HasUsage: true, Usage: usage1000}, nil
	}}
	tb := targetBackend{backend: b, target: gateway.Target{Upstream: "deepseek", UpstreamModel: "deepseek-flash", UpstreamKind: upstream.KindDeepSeek}}
	s, h := runAt(t, costPipeline(t, tb, nil, nil), flashChat, nil)
	if !s.Priced || s.Cost.Amount != 0 || s.Cost.Saved != pricing.MustAmount("0.0003912") {
		t.Fatalf("hit cost %+v", s.Cost)
	}
	if got := h.Get(pricing.HeaderName); got == "" {
		t.Error("no cost header on a hit")
	}
	// Served from the simulator: nothing to save at cloud prices.
	tb.target.UpstreamKind = upstream.KindOpenAI
	if s, _ := runAt(t, costPipeline(t, tb, nil, nil), flashChat, nil); s.Priced {
		t.Errorf("hit of a local model priced %+v", s.Cost)
	}
}

// A stream's wire format is unchanged: its headers are already sent, so its
// cost is in the scope (audit, usage, log) and no header is set.
func TestStreamCostHasNoHeader(t *testing.T) {
	t.Parallel()
	b := &streamBackend{res: &gateway.Result{Started: true, Upstream: "deepseek", UpstreamModel: "deepseek-flash",
		UpstreamKind: upstream.KindDeepSeek, Model: "deepseek-flash", HasUsage: true, Usage: usage1000}}
	var sk sink
	s, h := runAt(t, costPipeline(t, b, nil, nil),
		`{"model":"deepseek-flash","stream":true,"messages":[{"role":"user","content":"hi"}]}`, &sk)
	if !s.Priced || s.Cost.Amount != pricing.MustAmount("0.0003912") {
		t.Errorf("stream cost %+v", s.Cost)
	}
	if h.Get(pricing.HeaderName) != "" {
		t.Error("cost header set on a stream")
	}
}

type streamBackend struct{ res *gateway.Result }

func (b *streamBackend) Complete(context.Context, *gateway.Call) (*gateway.Result, error) {
	return b.res, nil
}
func (b *streamBackend) Stream(_ context.Context, _ *gateway.Call, sk gateway.Sink) (*gateway.Result, error) {
	sk.Data([]byte("[DONE]"))
	return b.res, nil
}
