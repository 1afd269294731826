package pipeline

import (
	"time"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/metrics"
	"github.com/dsgate/dsgate/internal/reqscope"
)

// Auditor receives one record per request. It must not block.
type Auditor interface {
	Record(audit.Event)
}

// Recorder emits the metrics and the audit record of a finished request.
// HTTP and gRPC both use it, so the two transports are counted alike.
type Recorder struct {
	Metrics     *metrics.Metrics // nil: no metrics
	Audit       Auditor          // nil: no audit trail
	AuditBodies bool             // keep prompt and answer text, not only hashes
	// Series, when set, receives every finished request too (the
	// console's in-process time series).
	Series SeriesObserver
}

// SeriesObserver takes a finished request into an in-process time series.
// It runs on the request path for every request: it must not block for
// long or allocate, and it must not keep s.
type SeriesObserver interface {
	ObserveRequest(s *reqscope.Scope, route string, status int, end time.Time)
}

// Record observes one request that ended at end with an HTTP(-equivalent)
// status. route names it with bounded cardinality ("POST /v1/...",
// "GRPC /dsgate.v1..."). The audit record goes first and the metrics
// cannot take it down: a metric that panics (a label it refuses) is
// skipped, not fatal, so a request is always audited.
func (o Recorder) Record(s *reqscope.Scope, route, method, clientAddr string, status int, end time.Time) {
	if route == "" {
		route = "unmatched"
	}
	o.audit(s, route, clientAddr, status, end)
	if o.Series != nil {
		o.Series.ObserveRequest(s, route, status, end)
	}
	if o.Metrics != nil {
		o.metrics(s, route, method, status, end)
	}
}

// metrics feeds the request's series, recovering from a panic in them.
func (o Recorder) metrics(s *reqscope.Scope, route, method string, status int, end time.Time) {
	defer func() { _ = recover() }()
	o.Metrics.ObserveHTTP(route, method, status, end.Sub(s.Start))
	if s.Stream && s.FirstToken > 0 {
		o.Metrics.ObserveTTFT(s.Model, s.Upstream, s.FirstToken)
		if s.CompletionTokens > 1 {
			gap := (end.Sub(s.Start) - s.FirstToken) / time.Duration(s.CompletionTokens-1)
			o.Metrics.ObserveInterToken(s.Model, gap)
		}
	}
	if s.Model != "" {
		o.Metrics.CountRequest(route, s.Model, status, s.Principal)
	}
	if limit, ok := access.RejectedLimit(s.Err); ok {
		o.Metrics.RateLimited(limit)
	}
	if s.Model != "" && s.CacheResult != "hit" { // tokens spent upstream; a hit spent none
		o.Metrics.AddTokens(s.Model, s.Principal, metrics.Usage{Prompt: s.PromptTokens,
			Completion: s.CompletionTokens, CacheHit: s.CacheHitTokens, Reasoning: s.ReasoningTokens})
	}
	if s.Model != "" && s.Priced {
		o.Metrics.AddCost(s.Model, s.Principal, string(s.Cost.Currency), s.Cost.Amount.Units(), s.Cost.Saved.Units())
		o.Metrics.AddTeamCost(s.Team, string(s.Cost.Currency), s.Cost.Amount.Units(), s.Cost.Saved.Units())
	}
}

// audit writes the request's audit record; health probes have none.
func (o Recorder) audit(s *reqscope.Scope, route, clientAddr string, status int, end time.Time) {
	if o.Audit == nil || route == "GET /healthz" || route == "GET /readyz" {
		return
	}
	ev := audit.Event{
		RequestID:        s.RequestID,
		Principal:        s.Principal,
		Role:             s.Role,
		ClientAddr:       clientAddr,
		Route:            route,
		Model:            s.Model,
		Upstream:         s.Upstream,
		Status:           status,
		CacheResult:      s.CacheResult,
		PromptTokens:     s.PromptTokens,
		CompletionTokens: s.CompletionTokens,
		CacheHitTokens:   s.CacheHitTokens,
		RequestAt:        s.Start,
		ResponseAt:       end,
		ErrorType:        s.ErrorType,
	}
	if s.Priced {
		ev.Cost, ev.CostSaved, ev.Currency = int64(s.Cost.Amount), int64(s.Cost.Saved), string(s.Cost.Currency)
	}
	ev.SetBodies(s.Input, s.Output, s.OutputSHA256, o.AuditBodies)
	o.Audit.Record(ev)
}
