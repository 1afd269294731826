package metrics

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names. The first two are fixed by the deployment guide the project
// follows (its alert is rate(http_errors_total[5m]) over requests); the rest
// carry the dsgate_ prefix.
const (
	NameHTTPRequestDuration  = "http_request_duration_seconds"
	NameHTTPErrors           = "http_errors_total"
	NameRequests             = "dsgate_requests_total"
	NameInFlightRequests     = "dsgate_in_flight_requests"
	NameTimeToFirstToken     = "dsgate_time_to_first_token_seconds"
	NameInterTokenLatency    = "dsgate_inter_token_latency_seconds"
	NameTokens               = "dsgate_tokens_total"
	NameUpstreamRequests     = "dsgate_upstream_requests_total"
	NameUpstreamLatency      = "dsgate_upstream_latency_seconds"
	NameUpstreamHealthy      = "dsgate_upstream_healthy"
	NameUpstreamBreakerState = "dsgate_upstream_breaker_state"
	NameUpstreamInFlight     = "dsgate_upstream_in_flight"
	NameEngineRunning        = "dsgate_upstream_engine_running"
	NameEngineWaiting        = "dsgate_upstream_engine_waiting"
	NameEngineKVCache        = "dsgate_upstream_engine_kv_cache_usage"
	NameStreamStalls         = "dsgate_stream_stalls_total"
	NameRetries              = "dsgate_retries_total"
	NameFallbacks            = "dsgate_fallbacks_total"
	NameFallbackResponses    = "dsgate_fallback_responses_total"
	NameCacheRequests        = "dsgate_cache_requests_total"
	NameRateLimitRejections  = "dsgate_ratelimit_rejections_total"
	NameAuditQueueDepth      = "dsgate_audit_queue_depth"
	NameAuditDropped         = "dsgate_audit_dropped_total"
	NameAuditSinkErrors      = "dsgate_audit_sink_errors_total"
	NameAuditDelivered       = "dsgate_audit_delivered_total"
	NamePrincipalRequests    = "dsgate_principal_requests_total"
	NamePrincipalTokens      = "dsgate_principal_tokens_total"
)

// Token kinds for the kind label of dsgate_tokens_total.
const (
	TokenPrompt     = "prompt"
	TokenCompletion = "completion"
	TokenCacheHit   = "cache_hit"
	TokenReasoning  = "reasoning"
)

// Breaker states as exported by dsgate_upstream_breaker_state.
const (
	BreakerClosed   = 0
	BreakerHalfOpen = 1
	BreakerOpen     = 2
)

// Upstream call outcomes for the outcome label of dsgate_upstream_requests_total.
const (
	OutcomeSuccess  = "success"
	OutcomeError    = "error"    // upstream answered with a failure status
	OutcomeTimeout  = "timeout"  // deadline exceeded
	OutcomeCanceled = "canceled" // the client went away
	OutcomeNetwork  = "network"  // connect/reset before a response
)

// requestBuckets spans cache hits (milliseconds) to long reasoning calls
// (minutes), so it reaches 300 s.
func requestBuckets() []float64 {
	return []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300}
}

func ttftBuckets() []float64 {
	return []float64{0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 30, 60}
}

func interTokenBuckets() []float64 {
	return []float64{0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2}
}

// Names returns every metric name this package can export, histograms by
// their base name. Tests of deploy/ files use it as the source of truth.
func Names() []string {
	return append([]string{
		NameHTTPRequestDuration, NameHTTPErrors, NameRequests, NameInFlightRequests,
		NameTimeToFirstToken, NameInterTokenLatency, NameTokens,
		NameUpstreamRequests, NameUpstreamLatency, NameUpstreamHealthy,
		NameUpstreamBreakerState, NameUpstreamInFlight, NameStreamStalls,
		NameRetries, NameFallbacks, NameFallbackResponses, NameCacheRequests, NameRateLimitRejections,
		NameAuditQueueDepth, NameAuditDropped, NameAuditSinkErrors, NameAuditDelivered,
		NamePrincipalRequests, NamePrincipalTokens,
	}, costNames()...)
}

// Histograms returns the names among Names that are histograms, which
// Prometheus exposes as <name>_bucket, <name>_sum and <name>_count.
func Histograms() []string {
	return []string{NameHTTPRequestDuration, NameTimeToFirstToken, NameInterTokenLatency, NameUpstreamLatency}
}

// Options tunes what New registers.
type Options struct {
	// PrincipalLabel registers dsgate_principal_requests_total{principal} and
	// dsgate_principal_tokens_total{principal,kind}. Off by default: one
	// series per API key or client can be many series.
	PrincipalLabel bool
}

// Metrics holds every dsgate collector. The exported fields may be used
// directly; the methods cover the common cases and treat a nil *Metrics as
// "metrics off", so components can be built without them in tests.
type Metrics struct {
	HTTPRequestDuration *prometheus.HistogramVec // route, method, status
	HTTPErrors          *prometheus.CounterVec   // route, status (5xx only)
	Requests            *prometheus.CounterVec   // route, model, status
	InFlightRequests    prometheus.Gauge         // the HPA custom metric

	TimeToFirstToken  *prometheus.HistogramVec // model, upstream
	InterTokenLatency *prometheus.HistogramVec // model
	Tokens            *prometheus.CounterVec   // model, kind

	UpstreamRequests     *prometheus.CounterVec   // upstream, outcome
	UpstreamLatency      *prometheus.HistogramVec // upstream
	UpstreamHealthy      *prometheus.GaugeVec     // upstream; 1 healthy, 0 not
	UpstreamBreakerState *prometheus.GaugeVec     // upstream; see Breaker*
	UpstreamInFlight     *prometheus.GaugeVec     // upstream
	EngineRunning        *prometheus.GaugeVec     // upstream; the engine's own count
	EngineWaiting        *prometheus.GaugeVec     // upstream
	EngineKVCache        *prometheus.GaugeVec     // upstream; 0..1, only engines that report it
	StreamStalls         *prometheus.CounterVec   // upstream
	Retries              *prometheus.CounterVec   // upstream, reason
	Fallbacks            *prometheus.CounterVec   // model (the model fallen back from)
	FallbackResponses    *prometheus.CounterVec   // model answered with its canned fallback_response

	CacheRequests       *prometheus.CounterVec // tier, result (hit|miss|error|store)
	RateLimitRejections *prometheus.CounterVec // limit (rpm|tpm|concurrency|...)

	AuditQueueDepth prometheus.Gauge       // records accepted and not yet delivered to every sink
	AuditDropped    *prometheus.CounterVec // reason (queue_full|spool_full|drop_oldest|closed)
	AuditSinkErrors *prometheus.CounterVec // sink
	AuditDelivered  *prometheus.CounterVec // sink

	// PrincipalRequests and PrincipalTokens are nil unless Options.PrincipalLabel.
	PrincipalRequests *prometheus.CounterVec // principal
	PrincipalTokens   *prometheus.CounterVec // principal, kind

	costCollectors
	hot hotSeries

	collectors []prometheus.Collector
	names      atomic.Pointer[names] // configured models and upstreams; nil: not set
}

// New builds and registers every collector with default Options.
// It panics if a collector is already registered, which is a programmer error
// (two Metrics on one registry).
func New(reg prometheus.Registerer) *Metrics {
	return NewWithOptions(reg, Options{})
}

// NewWithOptions builds and registers every collector on reg.
func NewWithOptions(reg prometheus.Registerer, opts Options) *Metrics {
	m := &Metrics{}
	m.HTTPRequestDuration = histogramVec(m, NameHTTPRequestDuration,
		"Time from request received to response fully written, by route pattern, method and status code.",
		requestBuckets(), "route", "method", "status")
	m.HTTPErrors = counterVec(m, NameHTTPErrors,
		"Responses with a 5xx status, by route pattern and status code.", "route", "status")
	m.Requests = counterVec(m, NameRequests,
		"Completed API requests by route pattern, model and status code.", "route", "model", "status")
	m.InFlightRequests = gauge(m, NameInFlightRequests,
		"Requests being served right now (the HPA scales on this).")
	m.TimeToFirstToken = histogramVec(m, NameTimeToFirstToken,
		"Time from upstream request sent to the first streamed token.", ttftBuckets(), "model", "upstream")
	m.InterTokenLatency = histogramVec(m, NameInterTokenLatency,
		"Time between consecutive streamed chunks.", interTokenBuckets(), "model")
	m.Tokens = counterVec(m, NameTokens,
		"Tokens reported by upstream usage, by model and kind (prompt, completion, cache_hit, reasoning).",
		"model", "kind")
	m.UpstreamRequests = counterVec(m, NameUpstreamRequests,
		"Calls to upstreams by outcome.", "upstream", "outcome")
	m.UpstreamLatency = histogramVec(m, NameUpstreamLatency,
		"Upstream call duration until the response headers arrive.", requestBuckets(), "upstream")
	m.UpstreamHealthy = gaugeVec(m, NameUpstreamHealthy,
		"1 when the upstream is healthy (active and passive checks and breaker), else 0.", "upstream")
	m.UpstreamBreakerState = gaugeVec(m, NameUpstreamBreakerState,
		"Circuit breaker state: 0 closed, 1 half-open, 2 open.", "upstream")
	m.UpstreamInFlight = gaugeVec(m, NameUpstreamInFlight,
		"Calls in flight to the upstream.", "upstream")
	m.EngineRunning = gaugeVec(m, NameEngineRunning,
		"Requests the engine reports running (vLLM num_requests_running, SGLang num_running_reqs, llama.cpp requests_processing), from its last fresh /metrics scrape.", "upstream")
	m.EngineWaiting = gaugeVec(m, NameEngineWaiting,
		"Requests the engine reports queued (vLLM num_requests_waiting, SGLang num_queue_reqs, llama.cpp requests_deferred), from its last fresh /metrics scrape.", "upstream")
	m.EngineKVCache = gaugeVec(m, NameEngineKVCache,
		"KV-cache usage the engine reports, 0 to 1 (vLLM and SGLang; current llama.cpp reports none).", "upstream")
	m.StreamStalls = counterVec(m, NameStreamStalls,
		"Streams aborted because the upstream sent nothing within the stall timeout.", "upstream")
	m.Retries = counterVec(m, NameRetries,
		"Requests retried on another upstream, by the upstream that failed and why.", "upstream", "reason")
	m.Fallbacks = counterVec(m, NameFallbacks,
		"Requests served by a fallback model, by the model requested.", "model")
	m.FallbackResponses = counterVec(m, NameFallbackResponses,
		"Chat requests answered with the model's canned fallback_response after every target failed.", "model")
	m.CacheRequests = counterVec(m, NameCacheRequests,
		"Response cache operations by tier and result.", "tier", "result")
	m.RateLimitRejections = counterVec(m, NameRateLimitRejections,
		"Requests rejected with 429 by the rate limit that tripped.", "limit")
	m.AuditQueueDepth = gauge(m, NameAuditQueueDepth,
		"Audit records accepted and not yet delivered to every sink (memory queue plus disk spool).")
	m.AuditDropped = counterVec(m, NameAuditDropped,
		"Audit records dropped, by reason.", "reason")
	m.AuditSinkErrors = counterVec(m, NameAuditSinkErrors,
		"Failed audit batch deliveries by sink (each is retried).", "sink")
	m.AuditDelivered = counterVec(m, NameAuditDelivered,
		"Audit records delivered by sink.", "sink")
	if opts.PrincipalLabel {
		m.PrincipalRequests = counterVec(m, NamePrincipalRequests,
			"Completed API requests by principal (opt-in).", "principal")
		m.PrincipalTokens = counterVec(m, NamePrincipalTokens,
			"Tokens by principal and kind (opt-in).", "principal", "kind")
	}
	m.registerCost(opts)
	for _, c := range m.collectors {
		reg.MustRegister(c)
	}
	return m
}

// Unregister removes every collector from reg, for tests and for a reload
// that builds a new Metrics on the same registry.
func (m *Metrics) Unregister(reg prometheus.Registerer) {
	for _, c := range m.collectors {
		reg.Unregister(c)
	}
}

// ObserveHTTP records one finished HTTP (or gRPC, with its HTTP-equivalent
// status) request: its duration and, for a 5xx status, an error.
func (m *Metrics) ObserveHTTP(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	code := StatusLabel(status)
	route = Label(route)
	method = MethodLabel(method)
	m.hot.httpDuration.get([3]string{route, method, code}, func() prometheus.Observer {
		return m.HTTPRequestDuration.WithLabelValues(route, method, code)
	}).Observe(d.Seconds())
	if status >= 500 {
		m.HTTPErrors.WithLabelValues(route, code).Inc()
	}
}

// CountRequest counts one API request with its model, and the principal when
// the principal collectors are enabled.
func (m *Metrics) CountRequest(route, model string, status int, principal string) {
	if m == nil {
		return
	}
	route, model, code := Label(route), m.Model(model), StatusLabel(status)
	m.hot.requests.get([3]string{route, model, code}, func() prometheus.Counter {
		return m.Requests.WithLabelValues(route, model, code)
	}).Inc()
	if m.PrincipalRequests != nil && principal != "" {
		principal = Label(principal)
		m.hot.principalReqs.get(principal, func() prometheus.Counter {
			return m.PrincipalRequests.WithLabelValues(principal)
		}).Inc()
	}
}

// Usage is one response's token counts.
type Usage struct {
	Prompt, Completion, CacheHit, Reasoning int
}

// AddTokens adds a response's usage to dsgate_tokens_total (and the principal
// counter when enabled). Zero counts add nothing.
func (m *Metrics) AddTokens(model, principal string, u Usage) {
	if m == nil {
		return
	}
	model, principal = m.Model(model), Label(principal)
	kinds := [...]struct {
		kind string
		n    int
	}{{TokenPrompt, u.Prompt}, {TokenCompletion, u.Completion}, {TokenCacheHit, u.CacheHit}, {TokenReasoning, u.Reasoning}}
	for _, k := range kinds {
		if k.n <= 0 {
			continue
		}
		counter2(&m.hot.tokens, m.Tokens, model, k.kind).Add(float64(k.n))
		if m.PrincipalTokens != nil && principal != "" {
			counter2(&m.hot.principalTokens, m.PrincipalTokens, principal, k.kind).Add(float64(k.n))
		}
	}
}

// ObserveUpstream records one upstream call's outcome and latency.
func (m *Metrics) ObserveUpstream(upstream, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	upstream = m.Upstream(upstream)
	counter2(&m.hot.upstreamRequests, m.UpstreamRequests, upstream, Label(outcome)).Inc()
	m.hot.upstreamLatency.get(upstream, func() prometheus.Observer {
		return m.UpstreamLatency.WithLabelValues(upstream)
	}).Observe(d.Seconds())
}

// SetUpstreamHealth publishes an upstream's health and breaker state.
func (m *Metrics) SetUpstreamHealth(upstream string, healthy bool, breakerState int) {
	if m == nil {
		return
	}
	v := 0.0
	if healthy {
		v = 1
	}
	upstream = m.Upstream(upstream)
	m.UpstreamHealthy.WithLabelValues(upstream).Set(v)
	m.UpstreamBreakerState.WithLabelValues(upstream).Set(float64(breakerState))
}

// ObserveTTFT records the time to the first token of a stream.
func (m *Metrics) ObserveTTFT(model, upstream string, d time.Duration) {
	if m == nil {
		return
	}
	model, upstream = m.Model(model), m.Upstream(upstream)
	m.hot.ttft.get([2]string{model, upstream}, func() prometheus.Observer {
		return m.TimeToFirstToken.WithLabelValues(model, upstream)
	}).Observe(d.Seconds())
}

// ObserveInterToken records the mean gap between a stream's chunks.
func (m *Metrics) ObserveInterToken(model string, d time.Duration) {
	if m == nil {
		return
	}
	model = m.Model(model)
	m.hot.interToken.get(model, func() prometheus.Observer {
		return m.InterTokenLatency.WithLabelValues(model)
	}).Observe(d.Seconds())
}

// SetUpstreamInFlight publishes an upstream's in-flight calls.
func (m *Metrics) SetUpstreamInFlight(upstream string, n int64) {
	if m == nil {
		return
	}
	m.UpstreamInFlight.WithLabelValues(m.Upstream(upstream)).Set(float64(n))
}

// EngineLoad is an engine's self-reported load for SetEngineLoad.
type EngineLoad struct {
	Running, Waiting float64
	KVCache          float64 // 0..1
	KnownKVCache     bool    // the engine reports its KV-cache usage
}

// SetEngineLoad publishes an upstream engine's load from a fresh scrape;
// a nil load (none yet, or stale) removes the upstream's series, so a
// dead engine's last figures do not linger.
func (m *Metrics) SetEngineLoad(upstream string, l *EngineLoad) {
	if m == nil {
		return
	}
	upstream = m.Upstream(upstream)
	if l == nil {
		m.EngineRunning.DeleteLabelValues(upstream)
		m.EngineWaiting.DeleteLabelValues(upstream)
		m.EngineKVCache.DeleteLabelValues(upstream)
		return
	}
	m.EngineRunning.WithLabelValues(upstream).Set(l.Running)
	m.EngineWaiting.WithLabelValues(upstream).Set(l.Waiting)
	if l.KnownKVCache {
		m.EngineKVCache.WithLabelValues(upstream).Set(l.KVCache)
	} else {
		m.EngineKVCache.DeleteLabelValues(upstream)
	}
}

// Retry counts a retried upstream failure by its reason.
func (m *Metrics) Retry(upstream, reason string) {
	if m == nil {
		return
	}
	m.Retries.WithLabelValues(m.Upstream(upstream), Label(reason)).Inc()
}

// Fallback counts a call that went on to a fallback model.
func (m *Metrics) Fallback(model string) {
	if m == nil {
		return
	}
	m.Fallbacks.WithLabelValues(m.Model(model)).Inc()
}

// FallbackResponse counts a call answered with the canned fallback_response.
func (m *Metrics) FallbackResponse(model string) {
	if m == nil {
		return
	}
	m.FallbackResponses.WithLabelValues(m.Model(model)).Inc()
}

// Stall counts a stream cut for going silent.
func (m *Metrics) Stall(upstream string) {
	if m == nil {
		return
	}
	m.StreamStalls.WithLabelValues(m.Upstream(upstream)).Inc()
}

// CacheResult counts one cache operation on a tier.
func (m *Metrics) CacheResult(tier, result string) {
	if m == nil {
		return
	}
	counter2(&m.hot.cacheRequests, m.CacheRequests, Label(tier), Label(result)).Inc()
}

// RateLimited counts one 429 by the limit that tripped.
func (m *Metrics) RateLimited(limit string) {
	if m == nil {
		return
	}
	m.RateLimitRejections.WithLabelValues(Label(limit)).Inc()
}

// StatusLabel turns a status code into its label value without allocating
// for the codes dsgate sends.
func StatusLabel(code int) string {
	switch code {
	case 200:
		return "200"
	case 400:
		return "400"
	case 401:
		return "401"
	case 403:
		return "403"
	case 404:
		return "404"
	case 413:
		return "413"
	case 429:
		return "429"
	case 499:
		return "499"
	case 500:
		return "500"
	case 502:
		return "502"
	case 503:
		return "503"
	case 504:
		return "504"
	}
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code)
}

// MethodLabel bounds the method label to the standard methods.
func MethodLabel(method string) string {
	switch method {
	case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS":
		return method
	}
	return "other"
}

func counterVec(m *Metrics, name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	m.collectors = append(m.collectors, c)
	return c
}

func gaugeVec(m *Metrics, name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	m.collectors = append(m.collectors, g)
	return g
}

func gauge(m *Metrics, name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	m.collectors = append(m.collectors, g)
	return g
}

func histogramVec(m *Metrics, name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	m.collectors = append(m.collectors, h)
	return h
}
