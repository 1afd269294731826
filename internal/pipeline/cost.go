package pipeline

import (
	"log/slog"

	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/pricing"
	"github.com/dsgate/dsgate/internal/reqscope"
	"github.com/dsgate/dsgate/internal/upstream"
)

// Targeter is implemented by a Backend that can say where a public model
// is normally served (*gateway.Gateway does): a response-cache hit has no
// upstream of its own and is priced, for its savings, as its model's
// primary target would have charged.
type Targeter interface {
	PrimaryTarget(model string) (gateway.Target, bool)
}

// AllTargeter is implemented by a Backend that lists every target that
// may answer a model, its fallback models' included (*gateway.Gateway
// does): budgets reserve at the dearest. Without it, the primary target.
type AllTargeter interface {
	Targets(model string) []gateway.Target
}

// Pricer is implemented by a Backend that carries the price book of its
// configuration (*gateway.Gateway does), so a reload swaps both at once.
type Pricer interface {
	Prices() *pricing.Book
}

// book is the current price book, nil without cost accounting:
// Options.Prices when set, else the backend's.
func (pl *Pipeline) book() *pricing.Book {
	if pl.o.Prices != nil {
		return pl.o.Prices()
	}
	if p, ok := pl.o.Backend().(Pricer); ok {
		return p.Prices()
	}
	return nil
}

// priceRequest fills s.Cost from the real usage at the price in force when
// the request started (s.Start, on the book of that moment) and reports
// whether a price applied. An upstream answer is priced for the upstream
// and upstream model that served it; a response-cache hit costs nothing
// and saves what its primary target would have charged; a canned fallback
// answer and an answer without usage are not priced.
func (pl *Pipeline) priceRequest(s *reqscope.Scope, book *pricing.Book, res *gateway.Result) bool {
	if book == nil || !res.HasUsage || res.Fallback {
		return false
	}
	u := pricing.Usage{PromptTokens: int64(res.Usage.PromptTokens),
		CacheHitTokens: int64(res.Usage.CacheHitTokens()), CompletionTokens: int64(res.Usage.CompletionTokens)}
	model := res.Model
	if model == "" {
		model = s.Model
	}
	q := pricing.Query{Upstream: res.Upstream, UpstreamModel: res.UpstreamModel, PublicModel: model, Start: s.Start,
		Local: res.UpstreamKind != upstream.KindDeepSeek}
	hit := res.Cache == gateway.CacheHit
	if hit {
		t, ok := pl.primaryTarget(model)
		if !ok {
			return false
		}
		q.Upstream, q.UpstreamModel, q.Local = t.Upstream, t.UpstreamModel, t.UpstreamKind != upstream.KindDeepSeek
	}
	p, ok := book.Price(q)
	if !ok {
		return false
	}
	c := p.Cost(u)
	if hit {
		c = c.Replayed()
	}
	s.Cost, s.Priced = c, true
	return true
}

// primaryTarget asks the backend where model is normally served.
func (pl *Pipeline) primaryTarget(model string) (gateway.Target, bool) {
	t, ok := pl.o.Backend().(Targeter)
	if !ok {
		return gateway.Target{}, false
	}
	return t.PrimaryTarget(model)
}

// AppendCostAttrs appends the request's cost to an access-log line: cost
// and cost_saved in units of currency as exact decimals, and currency.
// Nothing is appended when no price applied.
func AppendCostAttrs(attrs []slog.Attr, s *reqscope.Scope) []slog.Attr {
	if !s.Priced {
		return attrs
	}
	return append(attrs, slog.String("cost", s.Cost.Amount.String()),
		slog.String("cost_saved", s.Cost.Saved.String()), slog.String("currency", string(s.Cost.Currency)))
}
