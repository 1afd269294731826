package httpapi

import (
	"log/slog"

	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/metrics"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/store"
)

// Options configure the HTTP API.
type Options struct {
	// Gateway returns the current gateway; it changes on config reload.
	Gateway func() *gateway.Gateway
	// Access authenticates, authorizes and rate-limits callers.
	Access *access.Access
	// Pipeline runs inference calls; nil builds one from Gateway, Access,
	// HighPriorityRoles and the recorder.
	Pipeline *pipeline.Pipeline
	// Mounts are handlers served beside the API, by path pattern (OAuth2
	// endpoints, /admin/keys, ...). Each goes through the route adapter:
	// it is authenticated and authorized from the route table before it
	// runs, except the OAuth2 endpoints, which authenticate clients
	// themselves.
	Mounts map[string]http.Handler
	// Responses keeps stored Responses API responses (GET /v1/responses/{id},
	// previous_response_id); nil: responses are not stored.
	Responses store.ResponseStore
	// HighPriorityRoles may use the X-Dsgate-Priority: high header.
	HighPriorityRoles []string
	// Metrics and Audit observe every request; either may be nil.
	Metrics *metrics.Metrics
	Audit   Auditor
	// AuditBodies keeps prompt and answer text in audit records; without
	// it records carry only their hashes.
	AuditBodies bool
	// Series, when set, takes every finished request too (the console's
	// time series).
	Series pipeline.SeriesObserver
	// MetricsHandler serves GET /metrics on this listener when set.
	MetricsHandler http.Handler
	// Tracer records spans; nil turns tracing off.
	Tracer       trace.Tracer
	Logger       *slog.Logger
	AccessLog    bool
	MaxBodyBytes int64
	// BodyLimitExempt path prefixes apply their own body limit (uploads).
	BodyLimitExempt []string
	RequestTimeout  time.Duration
	// BodyReadTimeout bounds reading a request body (uploads under
	// BodyLimitExempt get RequestTimeout). Default 30s.
	BodyReadTimeout time.Duration
}

// New returns the HTTP handler. Every request passes the frame (scope,
// limits, recovery, metrics, audit, access log), then the mux, then the
// route adapter (authenticate, authorize, render errors), then its
// handler.
func New(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Access == nil {
		o.Access = access.New(access.Options{Disabled: true})
	}
	if o.BodyReadTimeout <= 0 {
		o.BodyReadTimeout = 30 * time.Second
	}
	if o.Pipeline == nil {
		o.Pipeline = pipeline.New(pipeline.Options{
			Backend:           func() pipeline.Backend { return o.Gateway() },
			Access:            o.Access,
			HighPriorityRoles: o.HighPriorityRoles,
			Recorder:          o.recorder(),
			Logger:            o.Logger,
		})
	}
	h := &handlers{opts: o, pl: o.Pipeline, perms: newPermissions()}
	mux := http.NewServeMux()
	for _, rt := range []struct {
		path string
		e    openai.Endpoint
	}{
		{"/v1/chat/completions", openai.EndpointChat},
		{"/chat/completions", openai.EndpointChat},
		{"/v1/completions", openai.EndpointCompletion},
		{"/completions", openai.EndpointCompletion},
		{"/beta/completions", openai.EndpointFIM},
		{"/v1/embeddings", openai.EndpointEmbedding},
		{"/embeddings", openai.EndpointEmbedding},
	} {
		mux.Handle(rt.path, h.route(http.MethodPost, rt.path, perm{resource: pipeline.Resource(rt.e), action: auth.ActionRead},
			h.inference(rt.e)))
	}
	h.apiRoutes(mux)
	models := perm{resource: auth.ResourceModels, action: auth.ActionRead}
	for _, p := range []string{"/v1/models", "/models"} {
		mux.Handle(p, h.route(http.MethodGet, p, models, jsonResult(h.models)))
		mux.Handle(p+"/{id...}", h.route(http.MethodGet, p+"/{id...}", models, jsonResult(h.model)))
	}
	mux.Handle("/admin/upstreams", h.route(http.MethodGet, "/admin/upstreams",
		perm{resource: auth.ResourceAdminUpstreams, action: auth.ActionRead}, jsonResult(h.upstreams)))
	for _, off := range offRoutes {
		for _, p := range off.paths {
			if _, on := o.Mounts[p]; !on {
				mux.Handle(p, offRoute(off.msg))
			}
		}
	}
	for pattern, handler := range o.Mounts {
		mux.Handle(pattern, h.mount(pattern, handler))
	}
	if o.MetricsHandler != nil {
		mh := o.MetricsHandler
		mux.Handle("/metrics", h.route(http.MethodGet, "/metrics", public, func(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
			mh.ServeHTTP(w, r)
			return nil
		}))
	}
	mux.Handle("/healthz", h.route(http.MethodGet, "/healthz", public, jsonResult(h.healthz)))
	mux.Handle("/readyz", h.route(http.MethodGet, "/readyz", public, h.readyz))
	mux.HandleFunc("/", notFound)
	return frame(mux, &h.opts)
}

func (o *Options) recorder() Recorder {
	return Recorder{Metrics: o.Metrics, Audit: o.Audit, AuditBodies: o.AuditBodies, Series: o.Series}
}

func notFound(w http.ResponseWriter, r *http.Request) {
	fail(w, r, openai.NewError(http.StatusNotFound, "unknown request URL: "+r.Method+" "+clipPath(r.URL.Path), "unknown_url"))
}
