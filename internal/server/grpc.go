package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/grpcapi"
)

// buildGRPC builds the gRPC API and binds its listener when gc.Listen is
// set; it returns nils otherwise. gw returns the current gateway (it
// changes on reload); tlsConf is the HTTP listener's TLS config, or nil for
// plaintext. The caller serves it with srv.Serve(ln), runs srv.Run(ctx) as
// a task (health status), and calls srv.Shutdown(ctx) on shutdown.
//
// observe is the hook for metrics and audit (nil: none).
func buildGRPC(cfg *config.Config, gc config.GRPC, c *core, gw func() *gateway.Gateway, tlsConf *tls.Config,
	observe func(grpcapi.Call), log *slog.Logger) (*grpcapi.Server, net.Listener, error) {
	if gc.Listen == "" {
		return nil, nil, nil
	}
	ln, err := net.Listen("tcp", gc.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("grpc.listen: %w", err)
	}
	o := grpcapi.Options{
		Backend:           func() grpcapi.Backend { return gw() },
		Access:            c.access,
		Tracer:            c.tracer,
		HighPriorityRoles: cfg.Auth.HighPriorityRoles,
		TLS:               tlsConf,
		MaxRecvBytes:      gc.MaxRecvBytes,
		RequestTimeout:    cfg.Server.RequestTimeout,
		MaxBatchItems:     gc.MaxBatchItems,
		BatchConcurrency:  gc.BatchConcurrency,
		Ready:             func() bool { return gw().Ready() },
		AccessLog:         cfg.Log.AccessLog(),
		Logger:            log,
	}
	if observe != nil {
		o.Observe = func(_ context.Context, call grpcapi.Call) { observe(call) }
	}
	return grpcapi.New(o), ln, nil
}
