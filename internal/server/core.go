package server

import (
	"context"
	"runtime/debug"
	"time"

	"errors"
	"fmt"
	"go.opentelemetry.io/otel/trace"
	"log/slog"
	"net/http"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/metrics"
	"github.com/dsgate/dsgate/internal/ratelimit"
	rlredis "github.com/dsgate/dsgate/internal/ratelimit/redis"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storeopen"
	"github.com/dsgate/dsgate/internal/tracing"
	"github.com/dsgate/dsgate/internal/usage"
)

// core is what lives for the whole process, across config reloads: the
// store, Redis, access control, usage recording. Changing these settings
// needs a restart; a reload only replaces the routing generation and the
// config roles.
type core struct {
	store  store.Store
	redis  *goredis.Client
	access *access.Access
	policy *auth.Policy
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
	// tasks run until the server stops; closers run after them.
	tasks   []func(context.Context) error
	closers []func() error
}

func (c *core) close() error {
	var errs []error
	for i := len(c.closers) - 1; i >= 0; i-- {
		errs = append(errs, c.closers[i]())
	}
	return errors.Join(errs...)
}

func buildCore(ctx context.Context, cfg *config.Config, log *slog.Logger, current func() *gateway.Gateway) (*core, error) {
	c := &core{mounts: map[string]http.Handler{}}
	c.buildMetrics(cfg, current)
	if err := c.buildAudit(cfg, log); err != nil {
		return nil, err
	}
	if err := c.buildCache(cfg, log); err != nil {
		c.close()
		return nil, err
	}
	if err := c.buildTracing(ctx, cfg); err != nil {
		c.close()
		return nil, err
	}
	if cfg.Redis.Addr != "" {
		c.redis = goredis.NewClient(&goredis.Options{Addr: cfg.Redis.Addr, Password: cfg.Redis.Password.Value(), DB: cfg.Redis.DB})
		c.closers = append(c.closers, c.redis.Close)
	}
	if !cfg.Auth.Enabled {
		log.Warn("authentication is disabled: every caller is an anonymous admin (set auth.enabled for production)")
		c.access = access.New(access.Options{Disabled: true})
		return c, nil
	}
	if err := c.buildAuth(ctx, cfg, log); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *core) buildAuth(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	ac := cfg.Auth
	st, err := storeopen.Open(ctx, cfg.Store.DSN)
	if err != nil {
		return fmt.Errorf("opening store: %w", err)
	}
	c.store = st
	c.closers = append(c.closers, st.Close)

	policy, err := auth.NewPolicy(configRoles(ac.Roles))
	if err != nil {
		return fmt.Errorf("auth.roles: %w", err)
	}
	roles, err := st.ListRoles(ctx)
	if err != nil {
		return fmt.Errorf("loading roles: %w", err)
	}
	if err := policy.SetStoreRoles(roles); err != nil {
		return fmt.Errorf("store roles: %w", err)
	}
	c.policy = policy

	kek, _ := config.DecodeKey(ac.SigningKeyEncryptionKey.Value()) // validated
	keys := auth.NewKeyAuthenticator(st, auth.KeyAuthenticatorOptions{CacheTTL: ac.KeyCacheTTL, Logger: log})
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
	oauth, err := auth.NewOAuthServer(auth.OAuthServerOptions{
		Issuer: ac.Issuer, Audience: ac.Audience, TokenTTL: ac.TokenTTL, Clients: st,
		Keys: signing, Verifier: verifier, Revoker: revocations, Logger: log,
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
	recorder := usage.New(st, usage.Options{Logger: log})
	c.access = access.New(access.Options{
		Authn:    auth.Chain{Keys: keys, Tokens: verifier},
		Policy:   policy,
		Limiter:  limiter,
		Defaults: ratelimit.Limits{RPM: ac.Limits.RPM, TPM: ac.Limits.TPM, MaxConcurrent: ac.Limits.MaxConcurrent},
		Usage:    recorder,
		MTLS:     access.MTLS{Enabled: ac.MTLS.Enabled, Roles: ac.MTLS.Roles, DefaultRole: ac.MTLS.DefaultRole},
	})
	adm, err := admin.New(admin.Options{
		Store: st,
		Authorize: func(r *http.Request, resource, action string) error {
			p, err := c.access.AuthenticateHTTP(r)
			if err != nil {
				return err
			}
			return c.access.Authorize(p, resource, action, "")
		},
		HasRole:    policy.HasRole,
		KeyRevoked: keys.Forget,
		RolesChanged: func(ctx context.Context) error {
			roles, err := st.ListRoles(ctx)
			if err != nil {
				return err
			}
			return policy.SetStoreRoles(roles)
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
	c.tasks = append(c.tasks, signing.Run, revocations.Run, recorder.Run)
	return nil
}

func (c *core) limiter(cfg *config.Config, log *slog.Logger) (*ratelimit.Limiter, error) {
	var backend ratelimit.Backend = ratelimit.NewMemoryBackend()
	if cfg.RateLimit.Backend == "redis" {
		backend = rlredis.New(c.redis, rlredis.Options{})
	}
	return ratelimit.New(ratelimit.Options{Backend: backend, FailOpen: cfg.RateLimit.FailOpen, Logger: log})
}

func configRoles(rs []config.Role) []store.Role {
	out := make([]store.Role, 0, len(rs))
	for _, r := range rs {
		sr := store.Role{Name: r.Name, Models: r.Models}
		for _, p := range r.Permissions {
			sr.Grants = append(sr.Grants, store.Grant{Resource: p.Resource, Actions: p.Actions})
		}
		out = append(out, sr)
	}
	return out
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
	c.closers = append(c.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return p.Shutdown(ctx)
	})
	return nil
}
