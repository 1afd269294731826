package gateway

import (
	"context"

	"encoding/json"
	"errors"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/tracing"
	"github.com/dsgate/dsgate/internal/upstream"
)

// ErrModelNotFound is returned for a model name no route serves.
var ErrModelNotFound = errors.New("model not found")

// Route is a public model and the pool serving it.
type Route struct {
	Name     string
	OwnedBy  string
	Thinking *bool // default thinking mode, applied when the client chose none
	// ReasoningEffort is the default reasoning_effort of thinking
	// requests that set none (low, high or max; OpenAI's words are mapped).
	ReasoningEffort string
	Pool            *upstream.Pool
	// Fallbacks are public models tried in order when every target of
	// this one failed.
	Fallbacks []string
	// FallbackResponse, when set, answers chat requests that every target
	// and fallback failed, instead of an error.
	FallbackResponse string
	// Cache is the model's cache policy.
	Cache RouteCache

	upstreamModels string // the targets' upstream model names, for cache keys
}

// RouteCache is a model's cache policy.
type RouteCache struct {
	Disabled bool
	// Shared lets every caller hit every other caller's entries; by
	// default each principal has its own.
	Shared bool
	// Version goes into keys; change it when the model behind the name
	// changes, to stop serving the old model's answers.
	Version string
	Policy  cache.Policy
}

// Options configure a Gateway.
type Options struct {
	Routes []Route
	// MaxAttempts bounds the targets tried for one request, fallbacks
	// included. Default 3.
	MaxAttempts int
	// RetryBudget caps retries across requests; nil allows every retry.
	RetryBudget *RetryBudget
	// RetryBackoff is the first retry's back-off ceiling; it doubles per
	// retry up to MaxRetryWait, which also caps honouring Retry-After.
	// Defaults 25ms and 2s.
	RetryBackoff time.Duration
	MaxRetryWait time.Duration
	// MaxResponseBytes bounds a non-streaming upstream body. Default 64 MiB.
	MaxResponseBytes int64
	// MaxEventBytes bounds one SSE line. Default 4 MiB.
	MaxEventBytes int
	Logger        *slog.Logger
	// Observer is told about upstream attempts for metrics; nil is fine.
	Observer Observer
	// Tracer records a span per upstream attempt; nil turns tracing off.
	Tracer trace.Tracer
	// Cache answers repeated requests; nil turns caching off.
	Cache         Cache
	CacheObserver CacheObserver
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Observer receives the pipeline's upstream-level events. Calls happen on
// the request path and must be cheap.
type Observer interface {
	// Attempt reports one upstream call: its outcome for the upstream's
	// health and its latency (first token for streams).
	Attempt(model, upstream string, o upstream.Outcome, latency time.Duration)
	// Retry reports that a failed attempt on upstream is being retried.
	Retry(upstream, reason string)
	// Fallback reports that model's targets all failed and a fallback
	// model (or the fallback response) is being used.
	Fallback(model string)
	// Stall reports a stream cut for going silent.
	Stall(upstream string)
}

type nopObserver struct{}

func (nopObserver) Attempt(string, string, upstream.Outcome, time.Duration) {}
func (nopObserver) Retry(string, string)                                    {}
func (nopObserver) Fallback(string)                                         {}
func (nopObserver) Stall(string)                                            {}

// Gateway serves inference calls. It is immutable after New and safe for
// concurrent use; a config reload builds a new one.
type Gateway struct {
	routes  map[string]*Route
	models  []Model
	opts    Options
	created int64
	group   cache.Group // coalesces identical cache misses
}

// Model is one entry of the model list.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// New builds a Gateway. Fallback names must name routes; config
// validation guarantees it.
func New(o Options) *Gateway {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = 25 * time.Millisecond
	}
	if o.MaxRetryWait <= 0 {
		o.MaxRetryWait = 2 * time.Second
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 64 << 20
	}
	if o.MaxEventBytes <= 0 {
		o.MaxEventBytes = 4 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	g := &Gateway{routes: map[string]*Route{}, opts: o, created: o.Now().Unix()}
	for i := range o.Routes {
		r := &o.Routes[i]
		var names []string
		for _, t := range r.Pool.Targets() {
			names = append(names, t.Model)
		}
		slices.Sort(names)
		r.upstreamModels = strings.Join(slices.Compact(names), ",") + r.thinkingDefaults()
		g.routes[r.Name] = r
		g.models = append(g.models, Model{ID: r.Name, Object: "model", Created: g.created, OwnedBy: r.OwnedBy})
	}
	return g
}

// Models lists the public models in configuration order.
func (g *Gateway) Models() []Model { return slices.Clone(g.models) }

// Model returns one public model.
func (g *Gateway) Model(id string) (Model, bool) {
	for _, m := range g.models {
		if m.ID == id {
			return m, true
		}
	}
	return Model{}, false
}

// Ready reports whether at least one model has a usable target.
func (g *Gateway) Ready() bool {
	for _, r := range g.routes {
		if r.Pool.Usable() {
			return true
		}
	}
	return false
}

// Upstreams reports the state of every upstream, each once.
func (g *Gateway) Upstreams() []upstream.Status {
	seen := map[*upstream.Upstream]bool{}
	var out []upstream.Status
	for _, m := range g.models {
		for _, t := range g.routes[m.ID].Pool.Targets() {
			if !seen[t.Upstream] {
				seen[t.Upstream] = true
				out = append(out, t.Upstream.Status())
			}
		}
	}
	return out
}

// Call is one inference request as the transports hand it over.
type Call struct {
	Req          *openai.Request
	Body         []byte // the client's JSON body, validated
	RequestID    string
	HighPriority bool
	// CacheControl is the client's Cache-Control header: no-store skips
	// the cache, no-cache refreshes the entry.
	CacheControl string
	// CacheScope keeps callers' cache entries apart (the principal id).
	CacheScope string
	// OnCache, when set, is told the cache result (and the tier that hit)
	// as soon as it is known, before anything is written, so a transport
	// can put it in its response headers.
	OnCache func(result, tier string)
}

func (c *Call) onCache(result, tier string) {
	if c.OnCache != nil {
		c.OnCache(result, tier)
	}
}

func (c *Call) class() upstream.Class {
	return upstream.Class{HighPriority: c.HighPriority, MaxTokens: c.Req.MaxTokens, PromptChars: c.Req.PromptChars}
}

// Result describes a finished call. For Complete, Body is the response to
// send; for Stream it is nil.
type Result struct {
	Body     []byte
	Usage    openai.Usage
	HasUsage bool
	Upstream string
	Model    string // the public model that answered (differs after a fallback)
	Attempts int
	Started  bool // Stream only: data reached the client
	Fallback bool // answered with the configured fallback response
	// Cache is hit, miss or bypass ("" with no cache); CacheTier names the
	// tier that hit, or "coalesced" for an identical call in flight.
	Cache, CacheTier string
	// FirstToken is a stream's time to its first data event.
	FirstToken time.Duration
}

func (g *Gateway) route(c *Call) (*Route, error) {
	r, ok := g.routes[c.Req.Model]
	if !ok {
		return nil, &openai.Error{
			Status:  http.StatusNotFound,
			Message: "The model `" + c.Req.Model + "` does not exist or you do not have access to it.",
			Type:    "invalid_request_error",
			Param:   "model",
			Code:    "model_not_found",
			Err:     ErrModelNotFound,
		}
	}
	return r, nil
}

// tryFunc makes one attempt on target t of route r. It reports the
// latency that feeds the EWMA and whether data already reached the client
// (which rules out any retry).
type tryFunc func(ctx context.Context, r *Route, t *upstream.Target) (latency time.Duration, started bool, err error)

// run tries targets of r, then of its fallback models, until one
// succeeds, an error rules out retrying, or attempts, targets or the retry
// budget run out. It returns the number of attempts made.
func (g *Gateway) run(ctx context.Context, c *Call, r *Route, try tryFunc) (int, error) {
	if g.opts.RetryBudget != nil {
		g.opts.RetryBudget.Deposit()
	}
	chain := []*Route{r}
	for _, name := range r.Fallbacks {
		if fr, ok := g.routes[name]; ok {
			chain = append(chain, fr)
		}
	}
	var (
		steps    []Step
		lastErr  error
		lastUp   *upstream.Upstream
		attempts int
	)
	obs := g.opts.Observer
	for ri, rt := range chain {
		if ri > 0 && attempts < g.opts.MaxAttempts {
			obs.Fallback(r.Name)
		}
		var tried []*upstream.Target
		again := false
		for attempts < g.opts.MaxAttempts {
			t := rt.Pool.Next(c.class(), tried)
			if t == nil && !again && ri == len(chain)-1 && len(tried) > 0 && retryable(lastErr) {
				again = true // last resort: the same targets once more, after back-off
				tried = tried[:0]
				t = rt.Pool.Next(c.class(), nil)
			}
			if t == nil {
				if len(tried) == 0 {
					steps = append(steps, Step{Model: rt.Name, Reason: "no upstream available"})
				}
				break
			}
			tried = append(tried, t)
			if !t.Upstream.Supports(c.Req.Endpoint) {
				lastErr = &openai.Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "model",
					Message: "model " + rt.Name + " does not support the " + c.Req.Endpoint.String() + " endpoint"}
				continue
			}
			if attempts > 0 {
				if g.opts.RetryBudget != nil && !g.opts.RetryBudget.Withdraw() {
					steps = append(steps, Step{Model: rt.Name, Reason: "retry budget exhausted"})
					return attempts, &ExhaustedError{Steps: steps, Last: lastErr}
				}
				if !sleep(ctx, g.backoff(attempts, t.Upstream == lastUp, lastErr)) {
					return attempts, cmpErr(ctx.Err(), lastErr)
				}
				obs.Retry(lastUp.Name(), retryReason(lastErr))
			}
			if !t.Upstream.Begin() {
				continue // full, or its breaker just opened: not an attempt
			}
			attempts++
			actx, span := tracing.Start(ctx, g.opts.Tracer, "upstream "+t.Upstream.Name(),
				trace.WithSpanKind(trace.SpanKindClient))
			latency, started, err := try(actx, rt, t)
			oc := outcome(ctx, err)
			t.Upstream.End(oc, latency, err)
			obs.Attempt(rt.Name, t.Upstream.Name(), oc, latency)
			endAttemptSpan(span, rt.Name, t, oc, err)
			if err == nil {
				return attempts, nil
			}
			lastErr, lastUp = err, t.Upstream
			if started || !retryable(err) || ctx.Err() != nil {
				return attempts, err
			}
			steps = append(steps, Step{Model: rt.Name, Upstream: t.Upstream.Name(), Reason: upstream.Summary(err)})
			g.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "upstream attempt failed",
				slog.String("request_id", c.RequestID), slog.String("model", rt.Name),
				slog.String("upstream", t.Upstream.Name()), slog.String("error", err.Error()))
		}
	}
	if lastErr != nil && !retryable(lastErr) {
		return attempts, lastErr
	}
	if len(steps) == 0 {
		return attempts, upstream.ErrNoTarget
	}
	return attempts, &ExhaustedError{Steps: steps, Last: cmpErr(lastErr, upstream.ErrNoTarget)}
}

func endAttemptSpan(span trace.Span, model string, t *upstream.Target, oc upstream.Outcome, err error) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("dsgate.model", model), attribute.String("dsgate.upstream", t.Upstream.Name()),
		attribute.String("dsgate.upstream_model", t.Model), attribute.Int("dsgate.outcome", int(oc)))
	if err != nil {
		span.SetStatus(codes.Error, upstream.Summary(err))
	}
	span.End()
}

// outcome judges an attempt for the upstream's health: an answer about the
// request itself (a 4xx) shows a working upstream.
func outcome(ctx context.Context, err error) upstream.Outcome {
	var ue *upstream.Error
	switch {
	case err == nil:
		return upstream.Success
	case ctx.Err() != nil:
		return upstream.Abandoned
	case errors.As(err, &ue) && ue.Retryable:
		return upstream.Failure
	case errors.As(err, &ue):
		return upstream.Success
	}
	return upstream.Abandoned
}

// retryReason is a bounded label for the retry metric.
func retryReason(err error) string {
	var ue *upstream.Error
	switch {
	case errors.As(err, &ue) && ue.StatusCode == http.StatusTooManyRequests:
		return "rate_limited"
	case errors.As(err, &ue) && ue.StatusCode >= 500:
		return "server_error"
	case errors.Is(err, ErrFirstToken), errors.Is(err, ErrStalled):
		return "timeout"
	case errors.Is(err, errIncomplete):
		return "incomplete"
	case errors.As(err, &ue) && ue.API != nil:
		return "error_event"
	}
	return "connection"
}

func cmpErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// quote renders s as a JSON string.
func quote(s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}
