package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"slices"
	"time"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/tlsconf"
	"github.com/dsgate/dsgate/internal/upstream"
)

// runningUpstream is one upstream with its health and load loops and, for
// kind sim, its in-process simulator. A reload whose config leaves the
// upstream's definition unchanged carries it to the next generation, so
// its breaker, health, latency and load survive.
type runningUpstream struct {
	cfg  config.Upstream
	u    *upstream.Upstream
	sim  *http.Server       // nil unless kind sim
	stop context.CancelFunc // nil until started
}

// upstream returns the running upstream for uc: prev's when its definition
// is the same, else a new one (started by gen.start).
func (gen *generation) upstream(uc config.Upstream, prev *generation, log *slog.Logger) (*runningUpstream, error) {
	if r := prev.find(uc); r != nil {
		gen.upstreams = append(gen.upstreams, r)
		return r, nil
	}
	r, err := newUpstream(uc, log)
	if err != nil {
		return nil, err
	}
	gen.upstreams = append(gen.upstreams, r)
	gen.fresh = append(gen.fresh, r)
	return r, nil
}

// find returns the upstream of g defined exactly as uc, or nil.
func (g *generation) find(uc config.Upstream) *runningUpstream {
	if g == nil {
		return nil
	}
	for _, r := range g.upstreams {
		if reflect.DeepEqual(r.cfg, uc) {
			return r
		}
	}
	return nil
}

// newUpstream builds an upstream (and starts its simulator for kind sim).
func newUpstream(uc config.Upstream, log *slog.Logger) (*runningUpstream, error) {
	r := &runningUpstream{cfg: uc}
	url, kind := uc.URL, uc.Kind
	if uc.Kind == "sim" {
		addr, srv, err := startSim(uc, log)
		if err != nil {
			return nil, fmt.Errorf("upstream %s: %w", uc.Name, err)
		}
		r.sim, url, kind = srv, "http://"+addr, upstream.KindOpenAI
	}
	opts := upstreamOptions(uc, kind, url, log)
	if t := uc.TLS; t != (config.UpstreamTLS{}) {
		tc, err := tlsconf.ClientConfig(tlsconf.UpstreamOptions{CAFile: t.CAFile, CertFile: t.CertFile,
			KeyFile: t.KeyFile, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify})
		if err != nil {
			r.close(0)
			return nil, fmt.Errorf("upstream %s tls: %w", uc.Name, err)
		}
		opts.TLS = tc
	}
	r.u = upstream.New(opts)
	return r, nil
}

// start runs the upstream's background loops.
func (r *runningUpstream) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	go r.u.Run(ctx)
	go r.u.PollBalance(ctx) // returns at once unless a deepseek upstream polls its balance
}

// close stops the loops and the simulator, giving requests still using it
// grace to finish.
func (r *runningUpstream) close(grace time.Duration) {
	if r.stop != nil {
		r.stop()
	}
	if r.sim == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if r.sim.Shutdown(ctx) != nil {
		r.sim.Close()
	}
}

// start runs the loops of the upstreams this generation started.
func (g *generation) start() {
	for _, r := range g.fresh {
		r.start()
	}
}

// abort releases what a generation whose build failed started itself.
func (g *generation) abort() {
	for _, r := range g.fresh {
		r.close(0)
	}
}

// close stops every upstream of the generation (at shutdown).
func (g *generation) close(grace time.Duration) {
	g.release(nil, grace)
}

// release stops the upstreams of g that next does not carry on, once
// requests still using them have had grace to finish.
func (g *generation) release(next *generation, grace time.Duration) {
	for _, r := range g.upstreams {
		if next == nil || !slices.Contains(next.upstreams, r) {
			r.close(grace)
		}
	}
}

// startSim runs an in-process simulator on a loopback port. It goes
// through a real socket so the gateway's path is the same as for any
// engine.
func startSim(uc config.Upstream, log *slog.Logger) (string, *http.Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	h := sim.New(sim.Options{
		Models:          uc.Sim.Models,
		ReasoningField:  uc.Sim.ReasoningField,
		TTFT:            uc.Sim.TTFT,
		TokensPerSecond: uc.Sim.TokensPerSecond,
		AnswerTokens:    uc.Sim.AnswerTokens,
		Logger:          log.With("upstream", uc.Name),
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return ln.Addr().String(), srv, nil
}
