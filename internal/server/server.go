package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
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
	srv  *http.Server
	ln   net.Listener

	metricsSrv *http.Server // nil unless metrics.listen is set
	metricsLn  net.Listener

	grpc   *grpcapi.Server // nil unless grpc.listen is set
	grpcLn net.Listener

	pprofListen string
}

// New builds the components and binds the listener, so Addr is known
// before Run.
func New(cfg *config.Config, log *slog.Logger) (*Server, error) {
	s := &Server{log: log}
	c, err := buildCore(context.Background(), cfg, log, s.gateway)
	if err != nil {
		return nil, err
	}
	gen, err := build(cfg, log, c)
	if err != nil {
		c.close()
		return nil, err
	}
	if err := buildBatch(context.Background(), cfg, cfg.Batch, c, s.gateway, log); err != nil {
		gen.close(0)
		c.close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		gen.close(0)
		c.close()
		return nil, err
	}
	s.core, s.ln, s.pprofListen = c, ln, cfg.Server.PprofListen
	s.gen.Store(gen)
	if cfg.Metrics.Listen != "" && c.metricsHandler != nil {
		mln, err := net.Listen("tcp", cfg.Metrics.Listen)
		if err != nil {
			ln.Close()
			gen.close(0)
			c.close()
			return nil, fmt.Errorf("metrics.listen: %w", err)
		}
		s.metricsLn, s.metricsSrv = mln, metricsServer(c.metricsHandler)
	}
	var inline http.Handler
	if s.metricsSrv == nil {
		inline = c.metricsHandler
	}
	handler := httpapi.New(httpapi.Options{
		Gateway:           s.gateway,
		Access:            c.access,
		Mounts:            c.mounts,
		HighPriorityRoles: cfg.Auth.HighPriorityRoles,
		Metrics:           c.metrics,
		Audit:             c.auditor(),
		AuditBodies:       c.auditBodies,
		MetricsHandler:    inline,
		Tracer:            c.tracer,
		Logger:            log,
		AccessLog:         cfg.Log.AccessLog(),
		MaxBodyBytes:      cfg.Server.MaxBodyBytes,
		BodyLimitExempt:   []string{"/v1/files"}, // uploads have batch.max_file_bytes
		RequestTimeout:    cfg.Server.RequestTimeout,
	})
	var tlsConf *tls.Config
	if t := cfg.Server.TLS; t.Enabled() {
		r, err := tlsconf.NewReloader(tlsconf.Options{CertFile: t.CertFile, KeyFile: t.KeyFile,
			ClientCAFile: t.ClientCAFile, ClientAuth: t.ClientAuth, MinVersion: t.MinVersion,
			CipherSuites: t.CipherSuites, ReloadInterval: t.ReloadInterval, Logger: log})
		if err != nil {
			ln.Close()
			gen.close(0)
			c.close()
			return nil, fmt.Errorf("server.tls: %w", err)
		}
		c.tasks = append(c.tasks, r.Run)
		c.certs.Watch("server", r.Leaf) // the HTTP and gRPC listeners share it
		tlsConf = tlsconf.ServerConfig(r)
		s.ln = tls.NewListener(ln, tlsConf)
	}
	s.grpc, s.grpcLn, err = buildGRPC(cfg, cfg.GRPC, c, s.gateway, tlsConf, c.observeGRPC, log)
	if err != nil {
		s.ln.Close()
		gen.close(0)
		c.close()
		return nil, err
	}
	if s.grpc != nil {
		c.tasks = append(c.tasks, s.grpc.Run)
	}
	s.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

func (s *Server) gateway() *gateway.Gateway { return s.gen.Load().gateway }

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// GRPCAddr is the gRPC listener's address, "" without gRPC.
func (s *Server) GRPCAddr() string {
	if s.grpcLn == nil {
		return ""
	}
	return s.grpcLn.Addr().String()
}

// Run serves until ctx is done, then stops accepting connections and lets
// in-flight requests and streams finish within the shutdown grace period;
// whatever is still running then is cut.
func (s *Server) Run(ctx context.Context) error {
	taskCtx, stopTasks := context.WithCancel(context.Background())
	var tasks sync.WaitGroup
	for _, t := range s.core.tasks {
		tasks.Go(func() {
			if err := t(taskCtx); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Error("background task failed", "error", err.Error())
			}
		})
	}
	defer func() {
		// After the last request: flush usage, stop loops, close the store.
		stopTasks()
		tasks.Wait()
		if err := s.core.close(); err != nil {
			s.log.Warn("closing", "error", err.Error())
		}
	}()
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	if s.metricsSrv != nil {
		go s.metricsSrv.Serve(s.metricsLn)
		defer s.metricsSrv.Close()
	}
	if s.pprofListen != "" {
		ps := pprofServer()
		go func() {
			if err := ps.ListenAndServe(s.pprofListen); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Warn("pprof listener failed", "error", err.Error())
			}
		}()
		defer ps.Close()
	}
	if s.grpc != nil {
		go s.grpc.Serve(s.grpcLn)
		s.log.Info("grpc listening", "addr", s.grpcLn.Addr().String())
	}
	s.log.Info("listening", "addr", s.Addr())
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	gen := s.gen.Load()
	grace := gen.cfg.Server.ShutdownGrace
	s.log.Info("shutting down", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if s.grpc != nil {
		go s.grpc.Shutdown(sctx)
	}
	err := s.srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("grace period over; closing remaining connections")
		err = s.srv.Close()
	}
	gen.close(time.Second)
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return err
}

// Reload builds components from cfg and swaps them in atomically. On error
// the running configuration stays. Listener settings need a restart.
func (s *Server) Reload(cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.gen.Load()
	if cfg.Server.Listen != old.cfg.Server.Listen {
		s.log.Warn("server.listen changed; it takes effect at the next restart")
	}
	gen, err := build(cfg, s.log, s.core)
	if err != nil {
		return err
	}
	s.gen.Store(gen)
	// Requests already routed to the old generation keep their upstreams.
	go old.close(old.cfg.Server.ShutdownGrace)
	return nil
}
