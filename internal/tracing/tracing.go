// Package tracing builds dsgate's OpenTelemetry tracer and holds the two
// helpers the pipeline uses: start a span when tracing is on (a nil Tracer
// means off and costs nothing), and carry W3C trace context across HTTP.
// Traces go to a collector over OTLP/HTTP.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Options configure the exporter.
type Options struct {
	Endpoint    string // host:port of the collector's OTLP/HTTP receiver
	Insecure    bool   // plain HTTP
	SampleRatio float64
	ServiceName string
	Version     string
}

// Provider owns the tracer and its exporter.
type Provider struct {
	tp *sdktrace.TracerProvider
}

// New builds a provider exporting in batches. Parents' sampling decisions
// are honoured; new traces are kept at SampleRatio.
func New(ctx context.Context, o Options) (*Provider, error) {
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(o.Endpoint)}
	if o.Insecure {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	res := resource.NewSchemaless(semconv.ServiceName(o.ServiceName), semconv.ServiceVersion(o.Version))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.SampleRatio))),
	)
	return &Provider{tp: tp}, nil
}

// Tracer returns dsgate's tracer.
func (p *Provider) Tracer() trace.Tracer { return p.tp.Tracer("github.com/dsgate/dsgate") }

// Shutdown flushes pending spans.
func (p *Provider) Shutdown(ctx context.Context) error { return p.tp.Shutdown(ctx) }

var propagator = propagation.TraceContext{}

// Extract returns ctx carrying the remote span context of an incoming
// request's traceparent header, if any.
func Extract(ctx context.Context, h http.Header) context.Context {
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// ExtractMap is Extract for gRPC metadata (lower-case keys).
func ExtractMap(ctx context.Context, md map[string][]string) context.Context {
	return propagator.Extract(ctx, mapCarrier(md))
}

// mapCarrier reads lower-case metadata keys.
type mapCarrier map[string][]string

func (m mapCarrier) Get(key string) string {
	if v := m[strings.ToLower(key)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (m mapCarrier) Set(key, value string) { m[strings.ToLower(key)] = []string{value} }

func (m mapCarrier) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// Inject writes ctx's span context as traceparent into outgoing headers.
// It writes nothing when ctx has no valid span.
func Inject(ctx context.Context, h http.Header) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		propagator.Inject(ctx, propagation.HeaderCarrier(h))
	}
}

// Start starts a span when t is not nil; otherwise it returns ctx and a
// span that does nothing, without allocating.
func Start(ctx context.Context, t trace.Tracer, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if t == nil {
		return ctx, noSpan
	}
	return t.Start(ctx, name, opts...)
}

var noSpan = trace.SpanFromContext(context.Background()) // the no-op span
