package cli

import (
	"slices"
	"time"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/tlsconf"
	"github.com/dsgate/dsgate/internal/upstream"
)

// The defaults the packages apply to zero config values at run time.
// config.Load leaves these fields zero (zero means "the default"), so
// `dsgate config print` fills them here to show what really runs.
// Where a package exports its default it is used; the others mirror the
// package's code and are checked by TestConfigPrintShowsEffectiveDefaults.
const (
	defHealthInterval     = 10 * time.Second // upstream.New
	defHealthTimeout      = 2 * time.Second
	defHealthyThreshold   = 2
	defUnhealthyThreshold = 3
	defMetricsInterval    = 2 * time.Second  // upstream.New
	defFailureThreshold   = 5                // upstream.NewBreaker
	defRecoveryTimeout    = 30 * time.Second // upstream.NewBreaker
	defMaxRecovery        = 5 * time.Minute
	defHalfOpenRequests   = 1
	defBreakerWindow      = 10 * time.Second
	defBreakerMinRequests = 20
	defAuditQueueSize     = 8192    // audit.Options
	defAuditMaxSpoolBytes = 1 << 30 // audit.Options
	defPolicy             = "round_robin"
)

// effectiveConfig returns a copy of c with every default that applies at
// run time filled in. Blocks that are off (TLS without a certificate,
// active health checks without a path) keep their zeros.
func effectiveConfig(c *config.Config) *config.Config {
	e := *c
	if e.Log.Access == nil {
		on := true
		e.Log.Access = &on
	}
	if t := &e.Server.TLS; t.CertFile != "" {
		if t.MinVersion == "" {
			t.MinVersion = "1.3"
		}
		if t.ReloadInterval == 0 {
			t.ReloadInterval = tlsconf.DefaultReloadInterval
		}
	}
	e.Upstreams = slices.Clone(c.Upstreams)
	for i := range e.Upstreams {
		effectiveUpstream(&e.Upstreams[i])
	}
	e.Models = slices.Clone(c.Models)
	for i := range e.Models {
		m := &e.Models[i]
		if m.Policy == "" {
			m.Policy = defPolicy
		}
		if m.Rules == nil {
			// upstream.DefaultRules, as config rules.
			rules := []config.Rule{
				{HighPriority: true, Policy: "weighted_round_robin"},
				{MinMaxTokens: 1024, MinPromptChars: 16000, Policy: "least_conn"},
			}
			m.Rules = &rules
		}
	}
	if e.Batch.API == nil {
		on := e.Batch.APIEnabled()
		e.Batch.API = &on
	}
	if e.Audit.Enabled {
		if e.Audit.QueueSize <= 0 {
			e.Audit.QueueSize = defAuditQueueSize
		}
		if e.Audit.MaxSpoolBytes <= 0 {
			e.Audit.MaxSpoolBytes = defAuditMaxSpoolBytes
		}
	}
	return &e
}

// effectiveUpstream fills one upstream's run-time defaults.
func effectiveUpstream(u *config.Upstream) {
	if h := &u.HealthCheck; h.Path != "" {
		h.Interval = cmpDur(h.Interval, defHealthInterval)
		h.Timeout = cmpDur(h.Timeout, defHealthTimeout)
		h.HealthyThreshold = cmpInt(h.HealthyThreshold, defHealthyThreshold)
		h.UnhealthyThreshold = cmpInt(h.UnhealthyThreshold, defUnhealthyThreshold)
	}
	if u.MetricsPath != "" {
		u.MetricsInterval = cmpDur(u.MetricsInterval, defMetricsInterval)
	}
	b := &u.Breaker
	b.FailureThreshold = cmpInt(b.FailureThreshold, defFailureThreshold)
	b.RecoveryTimeout = cmpDur(b.RecoveryTimeout, defRecoveryTimeout)
	if b.MaxRecovery < b.RecoveryTimeout {
		b.MaxRecovery = max(defMaxRecovery, b.RecoveryTimeout)
	}
	b.HalfOpenRequests = cmpInt(b.HalfOpenRequests, defHalfOpenRequests)
	b.Window = cmpDur(b.Window, defBreakerWindow)
	b.MinRequests = cmpInt(b.MinRequests, defBreakerMinRequests)
	if len(u.RetryOn) == 0 {
		u.RetryOn = slices.Clone(upstream.DefaultRetryOn)
	}
	if u.BalancePollInterval == nil { // 0s: not polled (kinds other than deepseek)
		d := u.BalanceInterval()
		u.BalancePollInterval = &d
	}
	if u.Kind == "sim" {
		if len(u.Sim.Models) == 0 {
			u.Sim.Models = sim.DefaultModels()
		}
		if u.Sim.ReasoningField == "" {
			u.Sim.ReasoningField = "reasoning_content"
		}
	} else {
		u.Sim = config.Sim{}
	}
}

func cmpDur(v, d time.Duration) time.Duration {
	if v <= 0 {
		return d
	}
	return v
}

func cmpInt(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}
