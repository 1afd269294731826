package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/upstream"
)

// generation is everything built from one config: replaced whole on reload.
type generation struct {
	cfg     *config.Config
	gateway *gateway.Gateway
	sims    []*http.Server
}

// close stops the generation's simulators once requests still using them
// have had grace to finish.
func (g *generation) close(grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	for _, s := range g.sims {
		if s.Shutdown(ctx) != nil {
			s.Close()
		}
	}
}

// build maps a config to components.
func build(cfg *config.Config, log *slog.Logger) (*generation, error) {
	gen := &generation{cfg: cfg}
	ups := map[string]*upstream.Upstream{}
	for _, uc := range cfg.Upstreams {
		if !uc.Enabled() {
			log.Info("upstream disabled: its api_key reference is empty", "upstream", uc.Name)
			continue
		}
		url := uc.URL
		if uc.Kind == "sim" {
			addr, srv, err := startSim(uc, log)
			if err != nil {
				gen.close(0)
				return nil, fmt.Errorf("upstream %s: %w", uc.Name, err)
			}
			gen.sims = append(gen.sims, srv)
			url = "http://" + addr
		}
		kind := uc.Kind
		if kind == "sim" {
			kind = upstream.KindOpenAI
		}
		ups[uc.Name] = upstream.New(upstream.Options{
			Name:              uc.Name,
			Kind:              kind,
			URL:               url,
			APIKey:            uc.APIKey.Value(),
			ReasoningField:    uc.ReasoningField,
			MaxConcurrency:    uc.MaxConcurrency,
			ConnectTimeout:    uc.ConnectTimeout,
			FirstTokenTimeout: uc.FirstTokenTimeout,
			IdleTimeout:       uc.IdleTimeout,
		})
	}
	var routes []gateway.Route
	for _, mc := range cfg.Models {
		var targets []*upstream.Target
		for _, tc := range mc.Targets {
			if u, ok := ups[tc.Upstream]; ok {
				targets = append(targets, &upstream.Target{Upstream: u, Model: tc.Model, Weight: tc.Weight, Priority: tc.Priority})
			}
		}
		if len(targets) == 0 {
			log.Warn("model has no enabled target; it is not served", "model", mc.Name)
			continue
		}
		routes = append(routes, gateway.Route{
			Name: mc.Name, OwnedBy: mc.OwnedBy, Thinking: mc.Thinking,
			Pool: upstream.NewPool(targets, nil),
		})
	}
	if len(routes) == 0 {
		gen.close(0)
		return nil, errors.New("no model has an enabled upstream")
	}
	gen.gateway = gateway.New(gateway.Options{Routes: routes, Logger: log})
	return gen, nil
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
		Logger:          log.With("upstream", uc.Name),
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return ln.Addr().String(), srv, nil
}
