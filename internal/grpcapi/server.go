package grpcapi

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/gateway"
	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/reqscope"
)

// Backend runs inference calls. *gateway.Gateway implements it; the
// composition root may wrap it (a response cache, for instance) as long as
// the wrapper keeps the same contract.
type Backend interface {
	Complete(ctx context.Context, c *gateway.Call) (*gateway.Result, error)
	Stream(ctx context.Context, c *gateway.Call, sink gateway.Sink) (*gateway.Result, error)
	Models() []gateway.Model
}

// Call is one finished RPC (or one item of a Batch RPC) as the observer
// sees it.
type Call struct {
	// Method is the full gRPC method, e.g. /dsgate.v1.InferenceService/ChatCompletion;
	// a batch item's is the Batch method with "#item" appended.
	Method string
	Code   codes.Code
	// Status is the HTTP status the call is recorded with, the one HTTP
	// records for the same outcome: 200, or the status its error maps to
	// (apierror.From; the status's ErrorInfo says it as http_status). Code
	// cannot say it: 502 and 503 are both UNAVAILABLE, 413 and 422
	// INVALID_ARGUMENT.
	Status int
	// ClientAddr is the caller's address (host:port), as the HTTP
	// record's client_addr.
	ClientAddr string
	// Scope holds what the pipeline filled in: request id, principal,
	// model, upstream, tokens, cache result, input and output bodies, error.
	Scope   *reqscope.Scope
	Latency time.Duration
}

// Options configure the gRPC API.
type Options struct {
	// Backend returns the current gateway; it changes on config reload.
	Backend func() Backend
	// Tracer records a server span per call; nil turns tracing off.
	Tracer trace.Tracer
	// Access authenticates, authorizes and rate-limits callers, the same
	// instance the HTTP API uses.
	Access *access.Access
	// Pipeline runs inference calls, the same sequence as HTTP's; nil
	// builds one from Backend, Access and HighPriorityRoles.
	Pipeline *pipeline.Pipeline
	// HighPriorityRoles may send metadata x-dsgate-priority: high.
	HighPriorityRoles []string
	// TLS, when set, serves TLS (the HTTP listener's config); nil serves
	// plaintext (h2c).
	TLS *tls.Config
	// MaxRecvBytes bounds one request message. Default 8 MiB.
	MaxRecvBytes int
	// RequestTimeout bounds every call, streams included. Default 10m.
	RequestTimeout time.Duration
	// IdleTimeout closes a client connection that has had no call for this
	// long (a GOAWAY; clients reconnect when they next call), like the HTTP
	// listener's idle timeout. Default 120s.
	IdleTimeout time.Duration
	// MaxBatchItems bounds the items of one Batch RPC. Default 100.
	MaxBatchItems int
	// BatchConcurrency bounds the items of one Batch RPC run at once. Default 8.
	BatchConcurrency int
	// Ready reports whether a model can be served; it drives the health
	// status of dsgate.v1.InferenceService. Nil means always ready.
	Ready func() bool
	// Observe, if set, is called once per finished call, after the status
	// is known: the hook for metrics and audit records.
	Observe func(ctx context.Context, c Call)
	// AuditOutput says an audit trail records the calls Observe sees: a
	// streamed answer is then hashed as it passes, for the record's
	// output_sha256 (Scope.OutputSHA256), as HTTP's streams are. Off, a
	// stream hashes nothing.
	AuditOutput bool
	// Base, when set, cuts every running call when it is cancelled, with
	// its cause (the server's shutdown at the end of the grace period):
	// streams send that error as their last event.
	Base context.Context
	// Capacity, when set, bounds the calls in flight together with the
	// HTTP listener's requests (server.max_connections): a call past it
	// ends at once with UNAVAILABLE. Health checks are never refused.
	Capacity Capacity
	// AccessLog writes one log line per call.
	AccessLog bool
	Logger    *slog.Logger
}

// Capacity is the gateway's bound on requests in flight
// (*httpapi.Capacity).
type Capacity interface {
	// Admit takes a place; false means none is left.
	Admit() bool
	// Release gives an admitted call's place back.
	Release()
	// Limit is the number of places, 0 for no limit.
	Limit() int
}

// Server is the gRPC server with the inference, health and reflection
// services registered.
type Server struct {
	gs     *grpc.Server
	health *health.Server
	ready  func() bool
}

// New builds the server; Serve starts it.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Access == nil {
		o.Access = access.New(access.Options{Disabled: true})
	}
	if o.MaxRecvBytes <= 0 {
		o.MaxRecvBytes = 8 << 20
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 10 * time.Minute
	}
	if o.MaxBatchItems <= 0 {
		o.MaxBatchItems = 100
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 120 * time.Second
	}
	if o.BatchConcurrency <= 0 {
		o.BatchConcurrency = 8
	}
	if o.Pipeline == nil {
		o.Pipeline = pipeline.New(pipeline.Options{Backend: func() pipeline.Backend { return o.Backend() },
			Access: o.Access, HighPriorityRoles: o.HighPriorityRoles, Logger: o.Logger})
	}
	ic := &interceptors{o: o}
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(o.MaxRecvBytes),
		grpc.ChainUnaryInterceptor(ic.unary),
		grpc.ChainStreamInterceptor(ic.stream),
		grpc.StatsHandler(sentHandler{}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: o.IdleTimeout}),
	}
	if o.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(o.TLS)))
	}
	s := &Server{gs: grpc.NewServer(opts...), health: health.NewServer(), ready: o.Ready}
	pb.RegisterInferenceServiceServer(s.gs, &service{o: o})
	healthpb.RegisterHealthServer(s.gs, s.health)
	reflection.Register(s.gs)
	s.setHealth()
	return s
}

// Serve serves on ln until Shutdown or Stop.
func (s *Server) Serve(ln net.Listener) error { return s.gs.Serve(ln) }

// Run keeps the health status in step with Ready until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.setHealth()
		}
	}
}

func (s *Server) setHealth() {
	st := healthpb.HealthCheckResponse_SERVING
	if s.ready != nil && !s.ready() {
		st = healthpb.HealthCheckResponse_NOT_SERVING
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(pb.InferenceService_ServiceDesc.ServiceName, st)
}

// Shutdown reports NOT_SERVING, stops accepting calls and waits for the
// running ones until ctx is done; then it cuts them.
func (s *Server) Shutdown(ctx context.Context) {
	s.health.Shutdown()
	done := make(chan struct{})
	go func() {
		s.gs.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.gs.Stop()
		<-done
	}
}

// Stop cuts every connection at once.
func (s *Server) Stop() { s.gs.Stop() }
