package pipeline_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/apierror"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/budget"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/pricing"
	"github.com/dsgate/dsgate/internal/reqscope"
	"github.com/dsgate/dsgate/internal/upstream"
)

// budgetPipeline serves deepseek-flash from DeepSeek at off-peak prices
// (each answer usage1000: USD 0.0003912) with budgets for key:k2 (the
// analyst) and its team.
func budgetPipeline(t *testing.T, rules ...budget.Rule) *pipeline.Pipeline {
	t.Helper()
	b := &backend{fn: func(*gateway.Call) (*gateway.Result, error) {
		return &gateway.Result{Body: []byte(`{}`), Upstream: "deepseek", UpstreamModel: "deepseek-flash",
			UpstreamKind: upstream.KindDeepSeek, Model: "deepseek-flash", HasUsage: true, Usage: usage1000}, nil
	}}
	tb := targetBackend{backend: b, target: gateway.Target{Upstream: "deepseek", UpstreamModel: "deepseek-flash",
		UpstreamKind: upstream.KindDeepSeek}}
	book, err := pricing.New(pricing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bs, err := budget.New(budget.Options{Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := auth.NewPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	acc := access.New(access.Options{Policy: policy})
	acc.SetCosting(&access.Costing{Budgets: bs, Team: func(p *auth.Principal) string {
		if p.ID == "k2" || p.ID == "k3" {
			return "research"
		}
		return ""
	}})
	return pipeline.New(pipeline.Options{Backend: func() pipeline.Backend { return tb },
		Access: acc, Prices: func() *pricing.Book { return book }})
}

func runAs(pl *pipeline.Pipeline, p *auth.Principal) (*reqscope.Scope, http.Header, error) {
	s := &reqscope.Scope{RequestID: "r", Start: saturday}
	h := http.Header{}
	_, err := pl.Run(reqscope.With(context.Background(), s), &pipeline.Call{Endpoint: openai.EndpointChat,
		Body:      []byte(`{"model":"deepseek-flash","max_tokens":500,"messages":[{"role":"user","content":"hi"}]}`),
		Principal: p, Header: h})
	return s, h, err
}

// A key over its daily budget is refused with 429 budget_exhausted and
// when it resets; its spend is settled from the real cost, not the
// estimate; another key carries on.
func TestBudgetRefusesWhenExhausted(t *testing.T) {
	t.Parallel()
	pl := budgetPipeline(t, budget.Rule{Subject: "key:k2", Period: pricing.Day, Amount: pricing.MustAmount("0.001"),
		Currency: pricing.USD, Soft: 0.5})
	// 0.0003912 each: the third brings spend to 0.0011736, over 0.001.
	var warned int
	for i := range 3 {
		_, h, err := runAs(pl, analyst)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if h.Get(budget.HeaderWarning) != "" {
			warned++
		}
	}
	if warned == 0 {
		t.Error("no soft-threshold warning before the budget ran out")
	}
	_, _, err := runAs(pl, analyst)
	ae := apierror.From(err)
	if ae.Status != http.StatusTooManyRequests || ae.Code != "budget_exhausted" || !strings.Contains(ae.Message, "resets at 2026-12-06T00:00:00Z") {
		t.Fatalf("over budget: %+v", ae)
	}
	var own interface{ ErrorHeaders() http.Header }
	if !errors.As(err, &own) || own.ErrorHeaders().Get("Retry-After") == "" {
		t.Error("no Retry-After on the refusal")
	}
	other := &auth.Principal{ID: "k9", Kind: auth.KindKey, Role: "analyst"}
	if _, _, err := runAs(pl, other); err != nil {
		t.Errorf("another key refused: %v", err)
	}
}

// A team's budget applies to all its members in addition to their own.
func TestTeamBudgetAppliesToMembers(t *testing.T) {
	t.Parallel()
	pl := budgetPipeline(t, budget.Rule{Subject: "team:research", Period: pricing.Month, Amount: pricing.MustAmount("0.0005"),
		Currency: pricing.USD})
	k3 := &auth.Principal{ID: "k3", Kind: auth.KindKey, Role: "analyst"}
	if _, _, err := runAs(pl, analyst); err != nil { // k2 spends 0.0003912
		t.Fatal(err)
	}
	if _, _, err := runAs(pl, k3); err != nil { // 0.0007824 after this
		t.Fatal(err)
	}
	if _, _, err := runAs(pl, k3); apierror.From(err).Code != "budget_exhausted" {
		t.Errorf("team member over the team budget: %v", err)
	}
	outsider := &auth.Principal{ID: "k9", Kind: auth.KindKey, Role: "analyst"}
	if _, _, err := runAs(pl, outsider); err != nil {
		t.Errorf("a key outside the team refused: %v", err)
	}
}

// failingBackend is a budget store that is down.
type failingBackend struct{}

func (failingBackend) Reserve(context.Context, []budget.Counter, int64) ([]int64, int, error) {
	return nil, 0, errors.New("redis: connection refused")
}
func (failingBackend) Add(context.Context, []budget.Counter, int64) error { return nil }
func (failingBackend) Spent(context.Context, string) (int64, error)       { return 0, nil }

// A budget store outage refuses budgeted requests with 503 (fail closed)
// unless rate_limit.fail_open admits them.
func TestBudgetBackendOutage(t *testing.T) {
	t.Parallel()
	for _, failOpen := range []bool{false, true} {
		pl := budgetPipeline(t, budget.Rule{Subject: "key:k2", Period: pricing.Day, Amount: pricing.MustAmount("1"), Currency: pricing.USD})
		bs, err := budget.New(budget.Options{Backend: failingBackend{}, Rules: []budget.Rule{
			{Subject: "key:k2", Period: pricing.Day, Amount: pricing.MustAmount("1"), Currency: pricing.USD}}})
		if err != nil {
			t.Fatal(err)
		}
		pl.Access().SetCosting(&access.Costing{Budgets: bs, FailOpen: failOpen})
		_, _, err = runAs(pl, analyst)
		if failOpen && err != nil {
			t.Errorf("fail open: %v", err)
		}
		if ae := apierror.From(err); !failOpen && (ae.Status != http.StatusServiceUnavailable || ae.Code != "budget_unavailable") {
			t.Errorf("fail closed: %+v", ae)
		}
	}
}
