package server

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/grpcapi"
	"github.com/dsgate/dsgate/internal/httpapi"
	"github.com/dsgate/dsgate/internal/metrics"
	"github.com/dsgate/dsgate/internal/store/sqlstore"
	"github.com/dsgate/dsgate/internal/upstream"
)

// buildMetrics registers dsgate's collectors and the Go runtime's on a
// fresh registry and returns the handler for /metrics. Upstream gauges are
// refreshed from the live gateway at each scrape, so they are never stale.
func (c *core) buildMetrics(cfg *config.Config, current func() *gateway.Gateway) {
	if cfg.Metrics.Disabled {
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.NewWithOptions(reg, metrics.Options{PrincipalLabel: cfg.Metrics.PrincipalLabel})
	c.metrics = m
	reg.MustRegister(metrics.NewBalanceCollector(func() []metrics.BalanceSample {
		return balanceSamples(current().Upstreams())
	}))
	reg.MustRegister(metrics.NewCacheTierCollector(c.cacheTierLookups))
	reg.MustRegister(metrics.NewStoreCollector(c.storeHealth))
	c.certs = metrics.NewCertCollector()
	reg.MustRegister(c.certs)
	gather := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		for _, s := range current().Upstreams() {
			m.SetUpstreamHealth(s.Name, s.Healthy, breakerGauge(s.Breaker))
			m.SetUpstreamInFlight(s.Name, s.InFlight)
			m.SetEngineLoad(s.Name, engineLoad(s))
		}
		return reg.Gather()
	})
	c.metricsHandler = promhttp.HandlerFor(gather, promhttp.HandlerOpts{})
}

// storeHealth is the store collector's source: the PostgreSQL store
// reports its connection state; SQLite has none to report.
func (c *core) storeHealth() (metrics.StoreHealth, bool) {
	hs, ok := c.store.(interface{ Health() sqlstore.Health })
	if !ok {
		return metrics.StoreHealth{}, false
	}
	h := hs.Health()
	if h.Backend == "" {
		return metrics.StoreHealth{}, false
	}
	return metrics.StoreHealth{Backend: h.Backend, Up: h.Up, ConnectFailures: h.ConnectFailures}, true
}

// balanceSamples turns the upstreams' balance state into the balance
// collector's samples; upstreams that do not poll a balance are left out.
func balanceSamples(sts []upstream.Status) []metrics.BalanceSample {
	var out []metrics.BalanceSample
	for _, s := range sts {
		if s.Kind != upstream.KindDeepSeek || (s.Balance == nil && s.BalancePollFailures == 0) {
			continue
		}
		bs := metrics.BalanceSample{Upstream: s.Name, Failures: s.BalancePollFailures}
		if b := s.Balance; b != nil {
			bs.Known, bs.Available, bs.UpdatedAt = true, b.Available, b.CheckedAt
			for _, bi := range b.Infos {
				bs.Currencies = append(bs.Currencies, metrics.CurrencyBalance{Currency: bi.Currency, Total: float64(bi.Total)})
			}
		}
		out = append(out, bs)
	}
	return out
}

// engineLoad is an upstream's fresh engine load for the gauges; nil when
// it has none or its last sample is stale.
func engineLoad(s upstream.Status) *metrics.EngineLoad {
	if s.Load == nil || s.LoadStale {
		return nil
	}
	return &metrics.EngineLoad{Running: s.Load.Running, Waiting: s.Load.Waiting,
		KVCache: s.Load.KVCache, KnownKVCache: s.Load.KnownKVCache()}
}

func breakerGauge(state string) int {
	switch state {
	case upstream.BreakerHalfOpen.String():
		return 1
	case upstream.BreakerOpen.String():
		return 2
	}
	return 0
}

// buildAudit opens the audit writer and its sinks.
func (c *core) buildAudit(cfg *config.Config, log *slog.Logger) error {
	ac := cfg.Audit
	if !ac.Enabled {
		return nil
	}
	var sinks []audit.NamedSink
	if !ac.File.Disabled {
		if err := os.MkdirAll(filepath.Dir(ac.File.Path), 0o750); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		fs, err := audit.NewFileSink(audit.FileOptions{Path: ac.File.Path, MaxBytes: ac.File.MaxBytes, MaxFiles: ac.File.MaxFiles,
			DeferSync: true, Logger: log})
		if err != nil {
			return fmt.Errorf("audit file sink: %w", err)
		}
		sink, err := withCheckpoints(fs, ac, log)
		if err != nil {
			fs.Close()
			return err
		}
		sinks = append(sinks, audit.NamedSink{Name: "file", Sink: sink})
	}
	if ac.Stdout {
		sinks = append(sinks, audit.NamedSink{Name: "stdout", Sink: audit.NewWriterSink(os.Stdout)})
	}
	if es := ac.Elasticsearch; es.URL != "" {
		s, err := audit.NewElasticSink(audit.ElasticOptions{URL: es.URL, IndexPrefix: es.IndexPrefix,
			Username: es.Username, Password: es.Password.Value(), APIKey: es.APIKey.Value()})
		if err != nil {
			return fmt.Errorf("audit elasticsearch sink: %w", err)
		}
		sinks = append(sinks, audit.NamedSink{Name: "elasticsearch", Sink: s})
	}
	chain := ac.ChainID
	if chain == "" {
		chain, _ = os.Hostname()
	}
	var am audit.Metrics
	if m := c.metrics; m != nil {
		am = audit.Metrics{QueueDepth: m.AuditQueueDepth, Dropped: m.AuditDropped, SinkErrors: m.AuditSinkErrors, Delivered: m.AuditDelivered}
	}
	w, err := audit.New(audit.Options{
		SpoolDir: filepath.Join(ac.Dir, "spool"), Sinks: sinks, QueueSize: ac.QueueSize,
		MaxSpoolBytes: ac.MaxSpoolBytes, FullPolicy: audit.FullPolicy(ac.FullPolicy), ChainID: chain,
		IncludeBodies: ac.IncludeBodies, Logger: log, Metrics: am,
	})
	var locked *audit.SpoolLockedError
	if errors.As(err, &locked) {
		return locked // it names the running instance; a prefix would only repeat "audit"
	}
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	c.audit, c.auditBodies = w, ac.IncludeBodies
	c.life.addTask("audit", w.Run)
	c.life.addCloser("audit", w.Close)
	return nil
}

// withCheckpoints wraps the audit file sink with signed checkpoints when
// audit.checkpoints.signing_key is set.
func withCheckpoints(fs *audit.FileSink, ac config.Audit, log *slog.Logger) (audit.Sink, error) {
	cp := ac.Checkpoints
	if cp.SigningKey.Ref() == "" {
		return fs, nil
	}
	key, err := audit.ParseCheckpointSeed(cp.SigningKey.Value()) // validated
	if err != nil {
		return nil, fmt.Errorf("audit.checkpoints.signing_key: %w", err)
	}
	chain := cmp.Or(ac.ChainID, hostname())
	s, err := audit.WithCheckpoints(fs, fs.Files, audit.CheckpointOptions{Path: cp.Path,
		Key: audit.CheckpointKey{ID: cp.KeyID, Key: key}, Every: cp.Every, Interval: cp.Interval, Chain: chain, Logger: log})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// metricsObserver feeds the gateway's upstream events into Prometheus.
type metricsObserver struct{ m *metrics.Metrics }

func (o metricsObserver) Attempt(model, up string, oc upstream.Outcome, d time.Duration) {
	o.m.ObserveUpstream(up, oc.String(), d)
}

func (o metricsObserver) Retry(up, reason string)       { o.m.Retry(up, reason) }
func (o metricsObserver) Fallback(model string)         { o.m.Fallback(model) }
func (o metricsObserver) FallbackResponse(model string) { o.m.FallbackResponse(model) }
func (o metricsObserver) Stall(up string)               { o.m.Stall(up) }

var (
	_ gateway.Observer          = metricsObserver{}
	_ gateway.FallbackResponder = metricsObserver{}
)

// metricsServer serves /metrics alone on its own listener.
func metricsServer(h http.Handler) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

// observeGRPC feeds a finished gRPC call (or batch item) into the same
// metrics and audit trail as HTTP requests, under the route
// "GRPC <method>", with the HTTP status HTTP records for the same outcome
// (call.Status, not one mapped back from the gRPC code, which merges
// several) and the caller's address.
func (c *core) observeGRPC(call grpcapi.Call) {
	s := call.Scope
	httpapi.Recorder{Metrics: c.metrics, Audit: c.auditor(), AuditBodies: c.auditBodies, Series: c.seriesObserver()}.
		Record(s, "GRPC "+call.Method, "POST", call.ClientAddr, call.Status, s.Start.Add(call.Latency))
}

// auditor is the audit writer as an interface that is nil when auditing is
// off (a nil *audit.Writer inside an interface would not be).
func (c *core) auditor() httpapi.Auditor {
	if c.audit == nil {
		return nil
	}
	return c.audit
}
