package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/grpcapi"
	"github.com/dsgate/dsgate/internal/httpapi"
	"github.com/dsgate/dsgate/internal/tlsconf"
)

// Server is a running dsgate.
type Server struct {
	log  *slog.Logger
	core *core
	gen  atomic.Pointer[generation]
	mu   sync.Mutex // serialises reloads

	// listeners are served by Run and drained together at shutdown.
	listeners []listener
	// life holds the background tasks and closers, frozen by New.
	life lifecycle
	addr string // the API listener's address
	// grpcAddr is the gRPC listener's address, "" without gRPC.
	grpcAddr string
	// consoleAddr is the console's own listener's address, "" without one.
	consoleAddr string
	// certLeaf is the API listener's current certificate, nil without TLS.
	certLeaf func() *x509.Certificate
	// reloads is the reload history the console shows.
	reloads reloadLog

	// reqCtx is the base of every HTTP request's context; cancelReqs
	// cuts the requests still running at the end of the grace period.
	reqCtx     context.Context
	cancelReqs context.CancelCauseFunc
}

// New builds the components and binds the listeners, so Addr is known
// before Run. On error everything built so far is released.
func New(cfg *config.Config, log *slog.Logger) (s *Server, err error) {
	s = &Server{log: log}
	s.reqCtx, s.cancelReqs = context.WithCancelCause(context.Background())
	c := &core{mounts: map[string]http.Handler{}}
	var gen *generation
	var sockets []net.Listener
	defer func() {
		if err == nil {
			return
		}
		for _, ln := range sockets {
			ln.Close()
		}
		if gen != nil {
			gen.close(0)
		}
		c.life.close()
	}()
	if err = c.build(context.Background(), cfg, log, s.gateway); err != nil {
		return nil, err
	}
	if gen, err = build(cfg, log, c, nil); err != nil {
		return nil, err
	}
	if err = buildBatch(context.Background(), cfg, cfg.Batch, c, s.gateway, log); err != nil {
		return nil, err
	}
	bind := func(what, addr string) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		sockets = append(sockets, ln)
		return ln, nil
	}
	ln, err := bind("server.listen", cfg.Server.Listen)
	if err != nil {
		return nil, err
	}
	s.core, s.addr = c, ln.Addr().String()
	s.gen.Store(gen)
	var metricsSrv *http.Server
	if cfg.Metrics.Listen != "" && c.metricsHandler != nil {
		mln, err := bind("metrics.listen", cfg.Metrics.Listen)
		if err != nil {
			return nil, err
		}
		metricsSrv = metricsServer(c.metricsHandler)
		s.listeners = append(s.listeners, httpListener("metrics", metricsSrv, mln))
	}
	if cfg.Server.PprofListen != "" {
		pln, err := bind("server.pprof_listen", cfg.Server.PprofListen)
		if err != nil {
			return nil, err
		}
		s.listeners = append(s.listeners, httpListener("pprof", pprofServer().srv, pln))
	}
	var inline http.Handler
	if metricsSrv == nil {
		inline = c.metricsHandler
	}
	derived := capacityLimits{
		nofile:   nofileLimit(),
		memory:   debug.SetMemoryLimit(-1), // reads the limit
		reserved: cacheMemory(cfg.Cache),
	}
	capacity := httpapi.NewCapacity(maxConnections(cfg.Server.MaxConnections, derived))
	if capacity.Limit() > 0 {
		attrs := []any{"max_connections", capacity.Limit()}
		if cfg.Server.MaxConnections == 0 {
			attrs = append(attrs, "nofile", derived.nofile)
			if derived.memory != math.MaxInt64 {
				attrs = append(attrs, "memory_limit", derived.memory, "memory_reserved", memReserve+derived.reserved)
			}
		}
		log.Info("connection limit", attrs...)
	}
	handler := httpapi.New(httpapi.Options{
		Gateway:           s.gateway,
		Access:            c.access,
		Mounts:            c.mounts,
		Responses:         c.store, // nil (responses not stored) unless auth or the Batch API opened it
		HighPriorityRoles: cfg.Auth.HighPriorityRoles,
		Metrics:           c.metrics,
		Audit:             c.auditor(),
		AuditBodies:       c.auditBodies,
		Series:            c.seriesObserver(),
		MetricsHandler:    inline,
		Tracer:            c.tracer,
		Logger:            log,
		AccessLog:         cfg.Log.AccessLog(),
		MaxBodyBytes:      cfg.Server.MaxBodyBytes,
		BodyLimitExempt:   []string{"/v1/files"}, // uploads have batch.max_file_bytes
		RequestTimeout:    cfg.Server.RequestTimeout,
		Capacity:          capacity,
	})
	if c.sso != nil {
		handler = withSSO(handler, c.sso)
	}
	var tlsConf *tls.Config
	if t := cfg.Server.TLS; t.Enabled() {
		r, err := tlsconf.NewReloader(tlsconf.Options{CertFile: t.CertFile, KeyFile: t.KeyFile,
			ClientCAFile: t.ClientCAFile, ClientAuth: t.ClientAuth, MinVersion: t.MinVersion,
			CipherSuites: t.CipherSuites, ReloadInterval: t.ReloadInterval, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("server.tls: %w", err)
		}
		c.life.addTask("tls reloader", r.Run)
		c.certs.Watch("server", r.Leaf) // the HTTP and gRPC listeners share it
		s.certLeaf = r.Leaf
		tlsConf = tlsconf.ServerConfig(r)
		ln = tls.NewListener(ln, tlsConf)
	} else {
		ln = httpapi.ErrorShapeListener(ln) // net/http's canned plain-text errors in OpenAI's shape
	}
	if cfg.GRPC.Listen != "" {
		gln, err := bind("grpc.listen", cfg.GRPC.Listen)
		if err != nil {
			return nil, err
		}
		g := buildGRPC(s.reqCtx, cfg, cfg.GRPC, c, s.gateway, tlsConf, c.observeGRPC, grpcCapacity{capacity, c.metrics}, log)
		c.life.addTask("grpc health", g.Run)
		s.grpcAddr = gln.Addr().String()
		s.listeners = append(s.listeners, grpcListener(g, gln))
	}
	if cfg.Console.Enabled {
		con, err := s.buildConsole(cfg)
		if err != nil {
			return nil, err
		}
		if cfg.Console.Listen == "" {
			handler = withConsole(handler, con)
		} else {
			cln, err := bind("console.listen", cfg.Console.Listen)
			if err != nil {
				return nil, err
			}
			s.consoleAddr = cln.Addr().String()
			s.listeners = append(s.listeners, consoleListener(con, cln, tlsConf))
		}
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return s.reqCtx },
		ConnState:         capacity.ConnState,
	}
	s.listeners = append([]listener{httpListener("api", srv, ln)}, s.listeners...)
	s.life = c.life
	return s, nil
}

// grpcListener serves the gRPC API on ln. Its shutdown waits for the
// running calls (GracefulStop) until ctx ends, then cuts them.
func grpcListener(g *grpcapi.Server, ln net.Listener) listener {
	return listener{
		name:  "grpc",
		serve: func() error { return g.Serve(ln) },
		shutdown: func(ctx context.Context) error {
			g.Shutdown(ctx)
			return ctx.Err()
		},
		close: func() error { g.Stop(); return nil },
	}
}

func (s *Server) gateway() *gateway.Gateway { return s.gen.Load().gateway }

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.addr }

// ConsoleAddr is the console's own listener's address, "" when the
// console is off or served on the API listener.
func (s *Server) ConsoleAddr() string { return s.consoleAddr }

// GRPCAddr is the gRPC listener's address, "" without gRPC.
func (s *Server) GRPCAddr() string { return s.grpcAddr }

// Run serves until ctx is done or a listener or background task fails.
// Then it drains every listener at once within the shutdown grace period
// (in-flight requests, streams and gRPC calls run on; those still running
// near its end are cancelled with an error they send to the client), stops
// the background tasks (the usage recorder and audit writer flush as they
// stop) and closes the components in reverse order of their dependencies.
// It returns the error that stopped the server, if any, joined with those
// of the shutdown.
func (s *Server) Run(ctx context.Context) error {
	failed := make(chan error, 1)
	taskCtx, stopTasks := context.WithCancel(context.Background())
	defer stopTasks()
	waitTasks := s.life.runTasks(taskCtx, failed, s.log)
	s.applyGCFloor(s.gen.Load().cfg.Server.GCHeadroomBytes)
	waitServe := serveAll(s.listeners, failed)
	s.log.Info("listening", "addr", s.Addr())
	if s.grpcAddr != "" {
		s.log.Info("grpc listening", "addr", s.grpcAddr)
	}
	var cause error
	select {
	case cause = <-failed:
		s.log.Error("stopping", "error", cause.Error())
	case <-ctx.Done():
	}

	gen := s.gen.Load()
	grace := gen.cfg.Server.ShutdownGrace
	s.log.Info("shutting down", "grace", grace.String())
	drainAll(s.listeners, grace, func() { s.cancelReqs(errShuttingDown) }, s.log)
	waitServe()
	s.cancelReqs(errShuttingDown)
	gen.close(time.Second)

	// After the last request: stop the loops (usage and audit flush), then
	// close the stores and writers.
	stopTasks()
	taskErr := waitTasks()
	closeErr := s.life.close()
	if err := errors.Join(taskErr, closeErr); err != nil {
		s.log.Warn("shutdown", "error", err.Error())
	}
	return errors.Join(cause, taskErr, closeErr)
}
