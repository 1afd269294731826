package server

import (
	"context"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"fmt"
	"log/slog"
	"net/http"

	"go.opentelemetry.io/otel/trace"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/auth/federation"
	"github.com/dsgate/dsgate/internal/batch"
	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/console"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/metrics"
	"github.com/dsgate/dsgate/internal/ratelimit"
	rlredis "github.com/dsgate/dsgate/internal/ratelimit/redis"
	"github.com/dsgate/dsgate/internal/sso"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storeopen"
	"github.com/dsgate/dsgate/internal/tracing"
	"github.com/dsgate/dsgate/internal/usage"
	"github.com/dsgate/dsgate/internal/websession"
)

// core is what lives for the whole process, across config reloads: the
// store, Redis, access control, usage recording. Changing these settings
// needs a restart; a reload only replaces the routing generation and the
// config roles.
type core struct {
	store  store.Store
	redis  *goredis.Client
	access *access.Access
	// policy is the current RBAC policy; a reload replaces it.
	policy atomic.Pointer[auth.Policy]
	// rolesMu serialises changes of the policy's store roles (admin API)
	// with its replacement by a reload.
	rolesMu sync.Mutex
	// authOpts are the access options with authentication on, nil when
	// the process started without it; a reload updates them.
	authOpts *access.Options
	// federation holds the trusted external issuers; nil without any.
	federation *federation.Federation
	// sessions are the browser sessions of the console and SSO; sso signs
	// people in through external issuers (nil without any).
	sessions *websession.Manager
	sso      *sso.Handler
	// handlers mounted beside the API: OAuth2 endpoints and /admin/*.
	mounts map[string]http.Handler
	// observability: nil when off.
	metrics        *metrics.Metrics
	metricsHandler http.Handler
	certs          *metrics.CertCollector // TLS certificate expiry
	audit          *audit.Writer
	auditBodies    bool
	cache          *cache.Tiered // nil when off
	tracer         trace.Tracer  // nil when off
	// series is the console's time series, nil with the console off.
	series *console.Series
	// batches runs the Batch API, nil when it is off.
	batches *batch.Manager
	// keyRevoked drops a revoked key from the authenticator's cache.
	keyRevoked func(id string)
	// cost applies the runtime price and budget overrides.
	cost costState
	// current is the gateway in force (a reload replaces it).
	current func() *gateway.Gateway
	// life collects the background tasks and closers of the components
	// as they are built; the caller releases it if building fails.
	life lifecycle
}

// build builds the process-wide components into c. On error the caller
// closes c.life, which holds what was built so far.
func (c *core) build(ctx context.Context, cfg *config.Config, log *slog.Logger, current func() *gateway.Gateway) error {
	c.current = current
	if cfg.Console.Enabled {
		c.series = console.NewSeries()
	}
	c.buildMetrics(cfg, current)
	if err := c.buildAudit(cfg, log); err != nil {
		return err
	}
	if err := c.buildCache(cfg, log); err != nil {
		return err
	}
	if err := c.buildTracing(ctx, cfg); err != nil {
		return err
	}
	if cfg.Redis.Addr != "" {
		c.redis = goredis.NewClient(rlredis.ClientOptions(&goredis.Options{Addr: cfg.Redis.Addr, Password: cfg.Redis.Password.Value(), DB: cfg.Redis.DB}))
		c.life.addCloser("redis", c.redis.Close)
	}
	if !cfg.Auth.Enabled {
		log.Warn("authentication is disabled: every caller is an anonymous admin (set auth.enabled for production)")
		c.access = access.New(access.Options{Disabled: true})
	} else if err := c.buildAuth(ctx, cfg, log); err != nil {
		return err
	}
	c.startBudgetGauge(log)
	return nil
}

func (c *core) buildAuth(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	ac := cfg.Auth
	st, err := storeopen.Open(ctx, cfg.Store.DSN)
	if err != nil {
		return fmt.Errorf("opening store: %w", err)
	}
	c.store = st
	c.life.addCloser("store", st.Close)

	policy, err := LoadPolicy(ctx, ac.Roles, st)
	if err != nil {
		return err
	}
	c.policy.Store(policy)
	if err := bootstrapAdmin(ctx, ac.BootstrapAdminKey.Value(), st, log); err != nil {
		return err
	}

	kek, _ := config.DecodeKey(ac.SigningKeyEncryptionKey.Value()) // validated
	keys := auth.NewKeyAuthenticator(st, auth.KeyAuthenticatorOptions{CacheTTL: ac.KeyCacheTTL, Logger: log})
	c.keyRevoked = keys.Forget
	failures := auth.NewFailureLimiter(auth.FailureLimiterOptions{PerMinute: ac.FailedAuthPerMinute})
	signing, err := auth.NewSigningKeys(ctx, auth.SigningKeysOptions{Store: st, EncryptionKey: kek, TokenTTL: ac.TokenTTL, Logger: log})
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	revocations := auth.NewRevocationList(st, auth.RevocationOptions{Logger: log})
	verifier, err := auth.NewTokenVerifier(auth.TokenVerifierOptions{
		Issuer: ac.Issuer, Audience: ac.Audience, Keys: signing, Clients: st, Revocations: revocations,
	})
	if err != nil {
		return fmt.Errorf("token verifier: %w", err)
	}
	external, err := c.buildFederation(ac, log)
	if err != nil {
		return err
	}
	oauth, err := auth.NewOAuthServer(auth.OAuthServerOptions{
		Issuer: ac.Issuer, Audience: ac.Audience, TokenTTL: ac.TokenTTL, Clients: st,
		Keys: signing, Verifier: verifier, Revoker: revocations, Failures: failures, Logger: log,
		Policy: c.policy.Load, // follows reloads
	})
	if err != nil {
		return fmt.Errorf("oauth server: %w", err)
	}
	for _, p := range auth.OAuthPaths {
		c.mounts[p] = oauth
	}

	limiter, err := c.limiter(cfg, log)
	if err != nil {
		return err
	}
	recorder, err := openRecorder(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	c.life.addCloser("usage recorder", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return recorder.Close(ctx) // after Run's last flush: releases the journal
	})
	if err := c.buildSSO(cfg, kek, log); err != nil {
		return err
	}
	c.authOpts = &access.Options{
		Authn:    auth.Chain{Keys: keys, Tokens: verifier, External: external, Failures: failures},
		Policy:   policy,
		Limiter:  limiter,
		Defaults: limits(ac.Limits),
		Usage:    recorder,
		MTLS:     mtls(ac.MTLS),
	}
	if c.sso != nil {
		c.authOpts.Sessions = c.sso.SessionPrincipal
	}
	c.access = access.New(*c.authOpts)
	adm, err := admin.New(admin.Options{
		Store: st,
		Authorize: func(r *http.Request, resource, action string) (*auth.Principal, error) {
			p, err := c.access.AuthenticateHTTP(r)
			if err != nil {
				return nil, err
			}
			return p, c.access.Authorize(p, resource, action, "")
		},
		Policy:     c.policy.Load,                           // follows reloads
		Grants:     func() admin.Grants { return c.access }, // the policy, bounded by the caller's team
		KeyRevoked: keys.Forget,
		RolesChanged: func(ctx context.Context) error {
			c.rolesMu.Lock()
			defer c.rolesMu.Unlock()
			roles, err := st.ListRoles(ctx)
			if err != nil {
				return err
			}
			return c.policy.Load().SetStoreRoles(roles)
		},
		Logger: log,
	})
	if err != nil {
		return err
	}
	for _, p := range []string{"/admin/keys", "/admin/clients", "/admin/roles", "/admin/usage"} {
		c.mounts[p] = adm
		c.mounts[p+"/"] = adm
	}
	c.life.addTask("signing keys", signing.Run)
	c.life.addTask("revocations", revocations.Run)
	c.life.addTask("usage recorder", recorder.Run)
	return nil
}

// UsageJournalPath is the usage journal of cfg: beside the audit spool, so
// usage is as durable as the audit trail; "" (no journal) with audit off.
func UsageJournalPath(cfg *config.Config) string {
	if !cfg.Audit.Enabled {
		return ""
	}
	return filepath.Join(cfg.Audit.Dir, "usage", "journal")
}

// openRecorder returns the usage recorder, journaled when the config has a
// journal: usage recorded before a crash and not yet stored is replayed.
func openRecorder(ctx context.Context, cfg *config.Config, st store.Store, log *slog.Logger) (*usage.Recorder, error) {
	path := UsageJournalPath(cfg)
	if path == "" {
		return usage.New(st, usage.Options{Logger: log}), nil
	}
	r, err := usage.Open(ctx, st, usage.Options{Journal: path, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	return r, nil
}

func (c *core) limiter(cfg *config.Config, log *slog.Logger) (*ratelimit.Limiter, error) {
	var backend ratelimit.Backend = ratelimit.NewMemoryBackend()
	if cfg.RateLimit.Backend == "redis" {
		backend = rlredis.New(c.redis, rlredis.Options{})
	}
	return ratelimit.New(ratelimit.Options{Backend: backend, FailOpen: cfg.RateLimit.FailOpen, Timeout: cfg.RateLimit.Timeout, Logger: log})
}

// limits are the default rate limits of auth.limits.
func limits(l config.Limits) ratelimit.Limits {
	return ratelimit.Limits{RPM: l.RPM, TPM: l.TPM, MaxConcurrent: l.MaxConcurrent}
}

// mtls is the client-certificate mapping of auth.mtls.
func mtls(m config.MTLS) access.MTLS {
	return access.MTLS{Enabled: m.Enabled, Roles: m.Roles, DefaultRole: m.DefaultRole}
}

// gatewayCache returns the cache for the gateway, nil when off (a nil
// *cache.Tiered inside a non-nil interface would not read as off).
func (c *core) gatewayCache() gateway.Cache {
	if c.cache == nil {
		return nil
	}
	return c.cache
}

// cacheObserver counts cache results in Prometheus, nil with metrics off.
func (c *core) cacheObserver() gateway.CacheObserver {
	if c.metrics == nil {
		return nil
	}
	return c.metrics
}

// observer returns the gateway's metrics hook, or nil with metrics off.
func (c *core) observer() gateway.Observer {
	if c.metrics == nil {
		return nil
	}
	return metricsObserver{c.metrics}
}

// buildTracing starts the OTLP exporter when tracing is on. Spans still
// buffered at shutdown are flushed by the closer.
func (c *core) buildTracing(ctx context.Context, cfg *config.Config) error {
	tc := cfg.Tracing
	if !tc.Enabled {
		return nil
	}
	version := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	p, err := tracing.New(ctx, tracing.Options{Endpoint: tc.Endpoint, Insecure: tc.Insecure,
		SampleRatio: *tc.SampleRatio, ServiceName: tc.ServiceName, Version: version})
	if err != nil {
		return err
	}
	c.tracer = p.Tracer()
	c.life.addCloser("tracing", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return p.Shutdown(ctx)
	})
	return nil
}
