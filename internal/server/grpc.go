package server

import (
	"context"
	"crypto/tls"
	"log/slog"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/grpcapi"
	"github.com/dsgate/dsgate/internal/httpapi"
	"github.com/dsgate/dsgate/internal/metrics"
)

// buildGRPC builds the gRPC API. gw returns the current gateway (it
// changes on reload); tlsConf is the HTTP listener's TLS config, or nil for
// plaintext. The caller serves it with srv.Serve(ln), runs srv.Run(ctx) as
// a task (health status), and calls srv.Shutdown(ctx) on shutdown.
//
// observe is the hook for metrics and audit (nil: none). Calls still
// running when base is cancelled are cut with its cause.
func buildGRPC(base context.Context, cfg *config.Config, gc config.GRPC, c *core, gw func() *gateway.Gateway, tlsConf *tls.Config,
	observe func(grpcapi.Call), capacity grpcapi.Capacity, log *slog.Logger) *grpcapi.Server {
	o := grpcapi.Options{
		Backend:           func() grpcapi.Backend { return gw() },
		Access:            c.access,
		Tracer:            c.tracer,
		HighPriorityRoles: cfg.Auth.HighPriorityRoles,
		TLS:               tlsConf,
		MaxRecvBytes:      gc.MaxRecvBytes,
		RequestTimeout:    cfg.Server.RequestTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout, // one idle bound for both listeners
		MaxBatchItems:     gc.MaxBatchItems,
		BatchConcurrency:  gc.BatchConcurrency,
		Ready:             func() bool { return gw().Ready() },
		Base:              base,
		AccessLog:         cfg.Log.AccessLog(),
		Capacity:          capacity,
		Logger:            log,
	}
	if observe != nil {
		o.Observe = func(_ context.Context, call grpcapi.Call) { observe(call) }
		o.AuditOutput = c.audit != nil // streams are hashed for the records observe writes
	}
	return grpcapi.New(o)
}

// grpcCapacity shares the HTTP listener's places with the gRPC listener's
// calls and counts its refusals with the HTTP ones.
type grpcCapacity struct {
	*httpapi.Capacity
	metrics *metrics.Metrics // nil: metrics off
}

func (g grpcCapacity) Admit() bool {
	if g.Capacity.Admit() {
		return true
	}
	if g.metrics != nil {
		g.metrics.RateLimitRejections.WithLabelValues("capacity").Inc()
	}
	return false
}
