package pipeline

import (
	"context"
	"errors"
	"math"
	"net/http"
	"time"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/budget"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pricing"
	"github.com/dsgate/dsgate/internal/reqscope"
	"github.com/dsgate/dsgate/internal/upstream"
)

// DefaultBudgetMaxTokens is the completion a request without max_tokens
// is assumed to use when its cost is reserved against budgets.
const DefaultBudgetMaxTokens = 4096

// budgetHold is a request's reservation against its budgets (nil: none
// applies).
type budgetHold struct {
	r     *budget.Reservation
	price pricing.Price // the reservation's: what an unpriced settlement is charged at
}

// subjects are who pays for p's requests: p itself and its team.
func (pl *Pipeline) subjects(p *auth.Principal) []string {
	subj := []string{p.LimitKey()}
	if team := pl.o.Access.TeamOf(p); team != "" {
		subj = append(subj, "team:"+team)
	}
	return subj
}

// reserveBudget reserves the most req can cost against p's budgets, at
// the price of its model's primary target. An exhausted budget refuses
// the request (429 budget_exhausted, Retry-After until it resets).
func (pl *Pipeline) reserveBudget(ctx context.Context, p *auth.Principal, req *openai.Request, book *pricing.Book, start time.Time) (*budgetHold, error) {
	if book == nil {
		return nil, nil
	}
	costing := pl.o.Access.Costing()
	bs := costing.Budgets
	if bs.Empty() {
		return nil, nil
	}
	subj := pl.subjects(p)
	if !bs.Applies(subj) {
		return nil, nil
	}
	maxTokens := req.MaxTokens
	if maxTokens <= 0 {
		maxTokens = DefaultBudgetMaxTokens
	}
	if req.Endpoint == openai.EndpointEmbedding {
		maxTokens = 0 // embeddings produce no completion tokens
	}
	// Every prompt character a token: an upper bound for the tokenizers
	// in use, so the reservation covers the real cost. Each of the n
	// choices may use all of max_tokens (saturating: max_tokens is any int).
	completion, n := int64(maxTokens), int64(max(req.N, 1))
	if completion > math.MaxInt64/n {
		completion = math.MaxInt64
	} else {
		completion *= n
	}
	// Reserved at the dearest target that may answer (its tiers, its
	// fallback models), in the currency of the first priced one: a model
	// whose first target is free may be answered by a priced one.
	price, estimate, ok := pl.dearest(req.Model, book, start, int64(req.PromptChars), completion)
	if !ok {
		return nil, nil // an unpriced model costs nothing against budgets
	}
	r, err := bs.Reserve(ctx, subj, price.Currency, estimate, start)
	var ex *budget.ExhaustedError
	if errors.As(err, &ex) {
		return nil, &openai.Error{Status: http.StatusTooManyRequests, Type: "insufficient_quota", Code: "budget_exhausted",
			Message: ex.Error(), Err: ex}
	}
	if err != nil && costing.FailOpen {
		pl.o.Logger.Warn("budget backend failed; admitting without a reservation (fail open)", "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, &openai.Error{Status: http.StatusServiceUnavailable, Type: "service_unavailable_error",
			Code: "budget_unavailable", Message: "budget accounting is unavailable; try again shortly", Err: err}
	}
	if r == nil {
		return nil, nil
	}
	return &budgetHold{r: r, price: price}, nil
}

// dearest is the price, and the most the request can cost at it, of the
// dearest target that may answer model, among those priced in the first
// priced target's currency; ok is false when none is priced.
func (pl *Pipeline) dearest(model string, book *pricing.Book, start time.Time, promptChars, completion int64) (price pricing.Price, most pricing.Amount, ok bool) {
	var targets []gateway.Target
	if t, is := pl.o.Backend().(AllTargeter); is {
		targets = t.Targets(model)
	} else if t, is := pl.primaryTarget(model); is {
		targets = []gateway.Target{t}
	}
	for _, t := range targets {
		if t.Model == "" {
			t.Model = model // a primary target names no model
		}
		p, priced := book.Price(pricing.Query{Upstream: t.Upstream, UpstreamModel: t.UpstreamModel, PublicModel: t.Model,
			Start: start, Local: t.UpstreamKind != upstream.KindDeepSeek})
		if !priced || ok && p.Currency != price.Currency {
			continue
		}
		if c := p.MaxCost(promptChars, completion); !ok || c > most {
			price, most, ok = p, c, true
		}
	}
	return price, most, ok
}

// writeHeaders sends a warning per budget past its soft threshold.
func (h *budgetHold) writeHeaders(hd http.Header) {
	if h == nil || hd == nil {
		return
	}
	for _, w := range h.r.Warnings {
		hd.Add(budget.HeaderWarning, w.String())
	}
}

// settle replaces the reservation with the request's real cost: the cost
// in s when it was priced in the reservation's currency, else nothing.
func (h *budgetHold) settle(ctx context.Context, s *reqscope.Scope) {
	if h == nil {
		return
	}
	var actual pricing.Amount
	switch {
	case s == nil:
	case s.Priced:
		if s.Cost.Currency == h.r.Currency() { // another currency's cost is another budget's
			actual = s.Cost.Amount
		}
	default:
		// Nothing priced what was used: a call that failed or was hung up
		// on has no upstream to price it by, yet it is charged tokens (the
		// prompt estimate of an abandoned call). It costs them at the
		// reservation's price, never nothing.
		actual = h.price.Cost(pricing.Usage{PromptTokens: int64(s.PromptTokens), CompletionTokens: int64(s.CompletionTokens)}).Amount
	}
	_ = h.r.Settle(ctx, actual) // a backend error leaves the reservation counted: the safe side
}
