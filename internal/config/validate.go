package config

import (
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate reports every problem in c, each prefixed with its path. It does
// no I/O.
func (c *Config) Validate() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if c.Version != 1 {
		add("version", "must be 1, got %d", c.Version)
	}
	if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		add("server.listen", "must be host:port: %v", err)
	}
	if c.Server.MaxConnections < -1 {
		add("server.max_connections", "must be -1 (no limit), 0 (from the file descriptor limit) or positive, got %d", c.Server.MaxConnections)
	}
	if c.Server.GCHeadroomBytes < -1 {
		add("server.gc_headroom_bytes", "must be -1 (none), 0 (the default, 16 MiB) or positive, got %d", c.Server.GCHeadroomBytes)
	}
	if c.Server.MaxBodyBytes < 1024 {
		add("server.max_body_bytes", "must be at least 1024")
	}
	if c.Server.ReadHeaderTimeout <= 0 || c.Server.IdleTimeout <= 0 || c.Server.RequestTimeout <= 0 {
		add("server", "timeouts must be positive")
	}
	if c.Server.ShutdownGrace < 0 {
		add("server.shutdown_grace", "must not be negative")
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		add("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		add("log.format", "must be json or text, got %q", c.Log.Format)
	}

	upstreams := map[string]Upstream{}
	for i, u := range c.Upstreams {
		p := fmt.Sprintf("upstreams[%d]", i)
		if u.Name == "" {
			add(p+".name", "is required")
		} else if _, dup := upstreams[u.Name]; dup {
			add(p+".name", "duplicate upstream %q", u.Name)
		}
		upstreams[u.Name] = u
		for j, tok := range u.RetryOn {
			if !validRetryOn(tok) {
				add(fmt.Sprintf("%s.retry_on[%d]", p, j), "must be connect, timeout, 5xx or a status from 400 to 599, got %q", tok)
			}
		}
		switch u.Kind {
		case "deepseek", "openai", "llamacpp", "vllm", "sglang", "ollama":
			if pu, err := url.Parse(u.URL); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
				add(p+".url", "must be an http(s) URL, got %q", u.URL)
			}
		case "sim":
			if u.URL != "" {
				add(p+".url", "must be empty for kind sim (the simulator runs in-process)")
			}
		default:
			add(p+".kind", "must be deepseek, llamacpp, vllm, sglang, ollama, openai or sim, got %q", u.Kind)
		}
		if u.Kind == "deepseek" && u.APIKey.Ref() == "" {
			add(p+".api_key", "is required for kind deepseek")
		}
		if u.Optional && u.APIKey.Ref() == "" {
			add(p+".optional", "needs an api_key reference to decide on")
		}
		if !u.Optional && u.APIKey.Ref() != "" && u.APIKey.Value() == "" {
			add(p+".api_key", "%s resolved to an empty value (set it, or mark the upstream optional)", u.APIKey.Ref())
		}
		if u.ReasoningField != "reasoning_content" && u.ReasoningField != "reasoning" {
			add(p+".reasoning_field", "must be reasoning_content or reasoning, got %q", u.ReasoningField)
		}
		if !slices.Contains(ThinkingSwitches, u.ThinkingSwitch) {
			add(p+".thinking_switch", "must be one of %v, got %q", ThinkingSwitches, u.ThinkingSwitch)
		}
		if u.MaxConcurrency < 0 {
			add(p+".max_concurrency", "must not be negative")
		}
		if bp := u.BalancePollInterval; bp != nil && (*bp < 0 || (*bp > 0 && *bp < 10*time.Second)) {
			add(p+".balance_poll_interval", "must be 0s (off) or at least 10s, got %s", *bp)
		}
		if u.ConnectTimeout <= 0 || u.FirstTokenTimeout <= 0 || u.IdleTimeout <= 0 {
			add(p, "timeouts must be positive")
		}
		if hp := u.HealthCheck.Path; hp != "" && hp[0] != '/' {
			add(p+".health_check.path", "must start with /")
		}
		if mp := u.MetricsPath; mp != "" && mp[0] != '/' {
			add(p+".metrics_path", "must start with /")
		}
		if b := u.Breaker; b.ErrorRatio < 0 || b.ErrorRatio > 1 || b.FailureThreshold < 0 || b.HalfOpenRequests < 0 {
			add(p+".breaker", "error_ratio must be within 0..1 and counts must not be negative")
		}
		if u.Sim.TokensPerSecond < 0 || u.Sim.TTFT < 0 || u.Sim.AnswerTokens < 0 {
			add(p+".sim", "ttft, tokens_per_second and answer_tokens must not be negative")
		}
	}

	if len(c.Models) == 0 {
		add("models", "at least one model is required")
	}
	models := map[string]bool{}
	for i, m := range c.Models {
		p := fmt.Sprintf("models[%d]", i)
		if m.Name == "" {
			add(p+".name", "is required")
		} else if models[m.Name] {
			add(p+".name", "duplicate model %q", m.Name)
		}
		models[m.Name] = true
		if len(m.Targets) == 0 {
			add(p+".targets", "at least one target is required")
		}
		if e := m.ReasoningEffort; e != "" && !slices.Contains(reasoningEfforts, e) {
			add(p+".reasoning_effort", "must be one of %v, got %q", reasoningEfforts, e)
		}
		if !slices.Contains(policies, cmp.Or(m.Policy, "round_robin")) {
			add(p+".policy", "unknown policy %q (one of %v)", m.Policy, policies)
		}
		if m.Rules != nil {
			for j, r := range *m.Rules {
				if !slices.Contains(policies, r.Policy) {
					add(fmt.Sprintf("%s.rules[%d].policy", p, j), "unknown policy %q", r.Policy)
				}
				if !r.HighPriority && r.MinMaxTokens <= 0 && r.MinPromptChars <= 0 {
					add(fmt.Sprintf("%s.rules[%d]", p, j), "sets no condition")
				}
			}
		}
		for j, t := range m.Targets {
			tp := fmt.Sprintf("%s.targets[%d]", p, j)
			if _, ok := upstreams[t.Upstream]; !ok {
				add(tp+".upstream", "unknown upstream %q", t.Upstream)
			}
			if t.Weight < 0 {
				add(tp+".weight", "must not be negative")
			}
			if t.Priority < 0 {
				add(tp+".priority", "must not be negative")
			}
			if t.FIM != "" && !slices.Contains(FIMFamilies, t.FIM) {
				add(tp+".fim", "must be one of %v, got %q", FIMFamilies, t.FIM)
			}
		}
	}
	for i, m := range c.Models {
		for j, f := range m.Fallbacks {
			if !models[f] || f == m.Name {
				add(fmt.Sprintf("models[%d].fallbacks[%d]", i, j), "must name another model, got %q", f)
			}
		}
	}
	if t := c.Server.TLS; t.Enabled() && (t.CertFile == "" || t.KeyFile == "") {
		add("server.tls", "cert_file and key_file go together")
	}
	if m := c.Auth.MTLS; m.Enabled && c.Server.TLS.ClientCAFile == "" {
		add("auth.mtls", "needs server.tls.client_ca_file and a verifying client_auth")
	}
	if c.Auth.Enabled {
		if _, err := DecodeKey(c.Auth.SigningKeyEncryptionKey.Value()); err != nil {
			add("auth.signing_key_encryption_key", "%v", err)
		}
	}
	if k := c.Auth.BootstrapAdminKey; k.Ref() != "" && !validBootstrapKey(k.Value()) {
		add("auth.bootstrap_admin_key", "%s must hold a dsgate API key, dsg_<id>_<secret> (see `dsgate keys generate`)", k.Ref())
	}
	if c.Auth.FailedAuthPerMinute < -1 {
		add("auth.failed_auth_per_minute", "must be -1 (off), 0 (default 30) or positive")
	}
	for i, r := range c.Auth.Roles {
		if r.Name == "" || len(r.Permissions) == 0 {
			add(fmt.Sprintf("auth.roles[%d]", i), "needs a name and at least one permission")
		}
	}
	switch c.RateLimit.Backend {
	case "memory":
	case "redis":
		if c.Redis.Addr == "" {
			add("rate_limit.backend", "redis needs redis.addr")
		}
	default:
		add("rate_limit.backend", "must be memory or redis, got %q", c.RateLimit.Backend)
	}
	if c.RateLimit.Timeout < 0 {
		add("rate_limit.timeout", "must not be negative")
	}
	c.validateAnonymous(add)
	c.validateIssuers(add)
	c.validateObserve(add)
	c.validateCache(add)
	c.validatePricing(add)
	c.validateBudgets(add)
	c.validateConsole(add)
	c.GRPC.validate(c.Server.Listen, add)
	c.Batch.validate(add)
	if r := c.Routing; r.MaxAttempts < 1 || r.RetryBudget < 0 || r.RetryMinPerSecond < 0 {
		add("routing", "max_attempts must be at least 1; retry_budget and retry_min_per_second must not be negative")
	}
	return errors.Join(errs...)
}

// DecodeKey decodes a 32-byte key written as 64 hex digits or base64.
func DecodeKey(s string) ([]byte, error) {
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	return nil, errors.New("must be a 32-byte key as 64 hex digits or base64 (e.g. openssl rand -hex 32)")
}

// ThinkingSwitches are the ways an engine is told to think: the
// upstream package's list (config may not import it; a server test keeps
// the two equal).
var ThinkingSwitches = []string{"deepseek", "template_thinking", "template_enable_thinking", "ollama", "none"}

// FIMFamilies are the FIM token families a target may name: the
// upstream package's FIMFamilies (a server test keeps the two equal).
var FIMFamilies = []string{"deepseek-coder", "qwen-coder", "starcoder", "codellama", "none"}

// reasoningEfforts are the reasoning_effort defaults a model may set:
// DeepSeek's words and the OpenAI words DeepSeek maps to them ("none"
// would be thinking: false).
var reasoningEfforts = []string{"low", "high", "max", "minimal", "medium", "xhigh"}

// policies are the selection policies a model may name.
var policies = []string{"round_robin", "weighted_round_robin", "least_conn", "least_load", "ewma_latency", "random"}

// validBootstrapKey reports whether key has the shape of a dsgate API key:
// dsg_, an id of lowercase letters and digits, _, and a secret of at least
// 32 characters. The auth package parses it for real; this only catches a
// wrong or empty secret reference early.
func validBootstrapKey(key string) bool {
	rest, ok := strings.CutPrefix(key, "dsg_")
	if !ok {
		return false
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || id == "" || len(id) > 64 || len(secret) < 32 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// validRetryOn reports whether tok is a retry_on entry (the upstream
// package's ParseRetryOn reads them).
func validRetryOn(tok string) bool {
	switch tok {
	case "connect", "timeout", "5xx":
		return true
	}
	n, err := strconv.Atoi(tok)
	return err == nil && n >= 400 && n <= 599
}
