package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration file.
type Config struct {
	// Version of the file format; must be 1.
	Version int `yaml:"version"`
	// Server is the HTTP listener.
	Server Server `yaml:"server"`
	// Log controls the process log and the access log.
	Log Log `yaml:"log"`
	// Upstreams are the engines and cloud APIs dsgate sends requests to.
	Upstreams []Upstream `yaml:"upstreams"`
	// Models are the public model names clients ask for, each served by one
	// or more upstream targets.
	Models []Model `yaml:"models"`
	// Routing controls retries across targets.
	Routing Routing `yaml:"routing"`
	// Auth controls who may call the gateway. Off when left out (the
	// offline quick start); every production config should turn it on.
	Auth Auth `yaml:"auth"`
	// Store is the control-plane database: keys, clients, roles, usage,
	// signing keys, batches.
	Store Store `yaml:"store"`
	// Redis is shared by replicas for rate limits (and the cache's Redis
	// tier). Needed only when something uses it.
	Redis Redis `yaml:"redis"`
	// RateLimit selects where limits are counted.
	RateLimit RateLimit `yaml:"rate_limit"`
	// Metrics is the Prometheus endpoint; on by default.
	Metrics Metrics `yaml:"metrics"`
	// Audit is the tamper-evident audit trail; off by default.
	Audit Audit `yaml:"audit"`
	// Tracing exports OpenTelemetry traces; off by default.
	Tracing Tracing `yaml:"tracing"`
	// Cache is the multi-level response cache; off by default.
	Cache Cache `yaml:"cache"`
	// GRPC is the gRPC API; off unless grpc.listen is set.
	GRPC GRPC `yaml:"grpc"`
	// Batch configures POST /v1/batch and the OpenAI Files and Batch APIs.
	Batch Batch `yaml:"batch"`
	// Pricing is the price book every request is costed from: DeepSeek's
	// shipped cloud prices plus the operator's (see internal/pricing and
	// docs/cost.md). On by default; pricing.disabled turns cost off.
	Pricing Pricing `yaml:"pricing"`
	// Budgets are spending limits in money per key, client and team; none
	// by default.
	Budgets Budgets `yaml:"budgets"`
	// Console is the web console under /console/; off by default.
	Console Console `yaml:"console"`
}

// Auth configures authentication (API keys, OAuth2 client credentials
// with JWT access tokens) and RBAC.
type Auth struct {
	// Enabled requires a credential on every API route.
	Enabled bool `yaml:"enabled"`
	// AllowAnonymous lets a listener on a non-loopback address (HTTP,
	// gRPC, metrics) serve with auth off. Without it such a config is
	// refused: anyone who can reach the port could spend the upstreams'
	// keys. Loopback listeners never need it.
	AllowAnonymous bool `yaml:"allow_anonymous"`
	// Issuer is the gateway's public base URL: the iss of its tokens and
	// the prefix of its OAuth2 metadata. Default http://<server.listen>.
	Issuer string `yaml:"issuer"`
	// Audience is the aud of issued tokens, required on incoming ones.
	// Default dsgate.
	Audience string `yaml:"audience"`
	// TokenTTL is the access-token lifetime. Default 1h.
	TokenTTL time.Duration `yaml:"token_ttl"`
	// SigningKeyEncryptionKey (32 bytes, hex or base64) encrypts the token
	// signing keys at rest; every replica needs the same one. Required
	// when auth is enabled.
	SigningKeyEncryptionKey Secret `yaml:"signing_key_encryption_key"`
	// KeyCacheTTL bounds how long a verified API key is reused without a
	// store read (and so how late a revocation elsewhere applies), and how
	// long a verified external issuer's token is reused without another
	// signature check. Default 1s.
	KeyCacheTTL time.Duration `yaml:"key_cache_ttl"`
	// Roles add to or replace the built-in analyst, developer and admin.
	Roles []Role `yaml:"roles"`
	// Limits apply to principals that set none of their own; 0 is unlimited.
	Limits Limits `yaml:"limits"`
	// HighPriorityRoles may mark requests high priority with the header
	// X-Dsgate-Priority: high; for others the header is ignored.
	// Default: admin.
	HighPriorityRoles []string `yaml:"high_priority_roles"`
	// MTLS authenticates callers by verified client certificate (needs
	// server.tls.client_auth verify_if_given or require_and_verify).
	MTLS MTLS `yaml:"mtls"`
	// Issuers are trusted external identity providers whose JWTs callers
	// may present (company IdPs, Kubernetes service-account tokens).
	Issuers []Issuer `yaml:"issuers"`
	// BootstrapAdminKey is an API key (dsg_<id>_<secret>, e.g. printed by
	// `dsgate keys generate`) given as a secret reference such as
	// ${DSGATE_ADMIN_KEY}. On start it is stored (hashed) as an admin key
	// named bootstrap-admin unless a key with its id already exists, so
	// restarts and replicas import it once; revoke it with `dsgate keys
	// revoke <id>` once other admins exist. Empty: no bootstrap.
	BootstrapAdminKey Secret `yaml:"bootstrap_admin_key"`
	// FailedAuthPerMinute is how many failed authentications (API keys,
	// access tokens, OAuth2 client secrets) one client address (an IPv4
	// address or an IPv6 /64) may make in a minute; past it its credentials
	// are no longer looked up (429 with Retry-After) until the minute ends,
	// except API keys it already proved. Default 30; -1 turns the limit off,
	// which a gateway behind a reverse proxy needs (every caller then has
	// the proxy's address).
	FailedAuthPerMinute int `yaml:"failed_auth_per_minute"`
}

// Role is a named set of grants with an optional model allow-list.
type Role struct {
	// Name of the role, as keys and clients name it.
	Name string `yaml:"name"`
	// Permissions the role grants.
	Permissions []Permission `yaml:"permissions"`
	// Models the role may use (patterns with *); empty means all.
	Models []string `yaml:"models"`
}

// Permission grants actions (create, read, update, delete or *) on a
// resource (text_generation, embeddings, models, batches, cache,
// admin.keys, admin.clients, admin.roles, admin.usage, admin.upstreams,
// audit, or a pattern such as admin.*).
type Permission struct {
	// Resource, or a pattern such as admin.* or *.
	Resource string `yaml:"resource"`
	// Actions: create, read, update, delete or *.
	Actions []string `yaml:"actions"`
}

// Limits are per-principal limits.
type Limits struct {
	// RPM is requests per minute.
	RPM int64 `yaml:"rpm"`
	// TPM is tokens per minute, reserved from an estimate before the call
	// and settled with the real usage after it.
	TPM int64 `yaml:"tpm"`
	// MaxConcurrent is requests in flight at once.
	MaxConcurrent int64 `yaml:"max_concurrent"`
}

// Store selects the control-plane database.
type Store struct {
	// DSN is a SQLite file path (one replica) or a postgres:// URL (many).
	// Default dsgate.db.
	DSN string `yaml:"dsn"`
}

// Redis is the shared Redis server.
type Redis struct {
	// Addr is host:port. Empty: no Redis.
	Addr string `yaml:"addr"`
	// Password, as a secret reference.
	Password Secret `yaml:"password"`
	// DB number. Default 0.
	DB int `yaml:"db"`
}

// RateLimit selects the rate-limit backend.
type RateLimit struct {
	// Backend is memory (one replica) or redis (shared by replicas).
	// Default memory.
	Backend string `yaml:"backend"`
	// FailOpen admits requests when Redis is unreachable; otherwise they
	// are refused with 503. Either way it is logged and counted. Default false.
	FailOpen bool `yaml:"fail_open"`
	// Timeout bounds one call of the limiter to its backend (a Redis round
	// trip). An admission that takes longer counts as the backend failing
	// (see fail_open); a settlement that takes longer is logged and counted
	// as a backend error, and a non-streaming answer waits for it, so a
	// longer timeout can delay answers by as much. (Budgets on Redis are
	// not bounded by it: they wait up to the Redis client's read timeout,
	// go-redis's default 5 s.) Default 100ms.
	Timeout time.Duration `yaml:"timeout"`
}

// Routing controls retries. A request is retried only before its first
// byte reached the client, and only after a failure its upstream's
// retry_on lists (by default a connect error, a timeout, 429, 500, 502,
// 503, 504) or DeepSeek's insufficient_system_resource. Failures the
// request itself causes (a 4xx, or a 5xx that says the request is bad, or
// the same failure from two healthy upstreams) are never retried and never
// count against an upstream's health.
type Routing struct {
	// MaxAttempts is the number of attempts for one request, fallback
	// models included: every target is tried once, tier by tier, then the
	// targets of the last model in the chain (the model itself when it has
	// no fallbacks) are tried again after a jittered
	// back-off (honouring Retry-After) until the attempts or the retry
	// budget run out. Default 3.
	MaxAttempts int `yaml:"max_attempts"`
	// RetryBudget is the fraction of requests that may be retried, so
	// retries cannot multiply an outage. Default 0.2.
	RetryBudget float64 `yaml:"retry_budget"`
	// RetryMinPerSecond retries are always allowed. Default 5.
	RetryMinPerSecond float64 `yaml:"retry_min_per_second"`
	// RetryBackoff is the first retry's jittered back-off ceiling; it
	// doubles per retry. Default 25ms.
	RetryBackoff time.Duration `yaml:"retry_backoff"`
	// MaxRetryWait caps back-off and the honoured Retry-After. Default 2s.
	MaxRetryWait time.Duration `yaml:"max_retry_wait"`
}

// Server configures the HTTP listener and request limits.
type Server struct {
	// Listen is the host:port to serve on. Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// ReadHeaderTimeout bounds reading request headers. Default 10s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// IdleTimeout closes idle keep-alive connections, on the HTTP and the
	// gRPC listener alike. Default 120s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds request headers. Default 64 KiB.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxBodyBytes bounds a request body; larger bodies get 413. Default 8 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxConnections bounds the open client connections and the requests
	// in flight alike, the gRPC listener's calls included; past it a
	// request gets 503 with Retry-After (a gRPC call UNAVAILABLE; counted
	// in dsgate_ratelimit_rejections_total{limit="capacity"}) and its
	// connection is closed, instead of the process running out of file
	// descriptors (an open stream holds a client and an upstream socket).
	// Default 0: derived from the file descriptor limit (RLIMIT_NOFILE,
	// which Go raises to its hard limit at start) as (limit - 256) / 2,
	// keeping 256 for listeners, files, databases and idle connections;
	// under a memory limit (GOMEMLIMIT, which the Helm chart sets from the
	// pod's) at most (limit - 64 MiB - 1.5 x cache.memory.max_bytes when
	// the cache is on) / 64 KiB, what an open stream holds, and never
	// below a quarter of the limit / 64 KiB. The log line "connection
	// limit" names the inputs. -1: no limit. /healthz, /readyz and /metrics are always served.
	MaxConnections int `yaml:"max_connections"`
	// GCHeadroomBytes is the room the garbage collector leaves the heap to
	// grow into after a collection before the next: the GC percent (GOGC)
	// is raised while the live heap, stacks and globals are small, so a
	// small heap is not collected every few hundred requests (each
	// collection scans every goroutine's stack and the globals, whatever
	// the heap). The heap goal is then at least this much, and this much
	// over the live heap once 4 MiB or more is scanned. A large heap is
	// collected as GOGC says, and a memory limit (GOMEMLIMIT) still applies
	// first. Default 0: 16 MiB. -1: none (GOGC alone). GOGC=off turns it
	// off too. A reload applies a change.
	GCHeadroomBytes int64 `yaml:"gc_headroom_bytes"`
	// RequestTimeout bounds a whole request, streams included. Default 10m.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// ShutdownGrace is how long in-flight requests and streams may run after
	// SIGTERM before they are cut. Default 30s.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// TLS for the listener; off unless cert_file and key_file are set.
	TLS TLS `yaml:"tls,omitempty"`
	// PprofListen serves Go's /debug/pprof on its own host:port (keep it
	// on loopback). Empty: off.
	PprofListen string `yaml:"pprof_listen"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is json or text. Default json.
	Format string `yaml:"format"`
	// Access enables one structured log line per request. Default true.
	Access *bool `yaml:"access"`
}

// Upstream is one engine or cloud API.
type Upstream struct {
	// Name identifies the upstream in models, logs and metrics.
	Name string `yaml:"name"`
	// Kind is deepseek (DeepSeek's cloud API), llamacpp (llama.cpp's
	// llama-server), vllm, sglang, ollama (Ollama's /v1), openai (any other
	// OpenAI-compatible engine) or sim (the built-in simulator, started
	// in-process). The engine kinds differ in their thinking switch (see
	// thinking_switch) and in how fill-in-the-middle is sent (see
	// models[].targets[].fim).
	Kind string `yaml:"kind"`
	// URL is the server root, e.g. https://api.deepseek.com or
	// http://vllm:8000 (without /v1). Not used for kind sim.
	URL string `yaml:"url"`
	// APIKey is sent as a bearer token. Only ${ENV} or file:/path references
	// are accepted, never a literal key.
	APIKey Secret `yaml:"api_key"`
	// Optional disables the upstream, instead of failing, when its api_key
	// reference resolves to nothing.
	Optional bool `yaml:"optional"`
	// ReasoningField is the name the upstream uses for chain-of-thought text:
	// reasoning_content (DeepSeek, SGLang, llama.cpp; default) or reasoning
	// (vLLM since late 2025, Ollama /v1). Clients always see
	// reasoning_content.
	ReasoningField string `yaml:"reasoning_field"`
	// ThinkingSwitch is how the engine is told to think or not, for a
	// model's thinking default and for clients that send DeepSeek's
	// thinking object: deepseek ({"thinking":{"type":...}}, DeepSeek's API
	// and the simulator; the default for kinds deepseek and sim),
	// template_enable_thinking (chat_template_kwargs.enable_thinking: read
	// by llama-server itself for every template, the R1 distills' and
	// DeepSeek V3.1's included, and by Qwen3-style templates on vLLM and
	// SGLang; the default for kind llamacpp), template_thinking
	// (chat_template_kwargs.thinking: the DeepSeek V3.1/V3.2/V4 templates on
	// vLLM and SGLang, which pass kwargs to the template unread; the default
	// for kinds vllm, sglang and openai), ollama (reasoning_effort
	// none/medium, all Ollama's /v1 reads; the default for kind ollama) or
	// none.
	ThinkingSwitch string `yaml:"thinking_switch"`
	// MaxConcurrency caps in-flight requests to this upstream; 0 is no cap.
	MaxConcurrency int `yaml:"max_concurrency"`
	// ConnectTimeout bounds dialing. Default 5s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// NetHTTPClient sends a plain-http upstream's requests through Go's
	// net/http client instead of dsgate's own HTTP/1.1 client, for an
	// engine the latter does not suit (https and proxied upstreams always
	// use net/http). It costs about a quarter more CPU a request (the bare
	// gateway at 64 connections, bench/RESULTS.md) and two goroutines more
	// per open stream.
	NetHTTPClient bool `yaml:"net_http_client"`
	// FirstTokenTimeout bounds the wait for response headers and, for
	// streams, the first event. Keep-alive comments do not count. Default 120s.
	FirstTokenTimeout time.Duration `yaml:"first_token_timeout"`
	// IdleTimeout bounds the gap between two stream events; a stalled
	// stream is cut with an error event. Default 60s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// HealthCheck configures active probes. Off unless a path is set,
	// except for kind sim (GET /health). Use /health for vLLM, SGLang and
	// llama.cpp, / for Ollama.
	HealthCheck HealthCheck `yaml:"health_check,omitempty"`
	// Breaker is the per-upstream circuit breaker, which is also the
	// passive health check.
	Breaker Breaker `yaml:"breaker"`
	// RetryOn lists the failures of this upstream that are retried (on it
	// after a back-off, or on another target): connect (the connection
	// failed or broke before an answer), timeout (no answer or first token
	// in time), 5xx, or single statuses such as 429 or 503. Failures the
	// request itself causes are never retried. Default: connect, timeout,
	// 429, 500, 502, 503, 504, which covers DeepSeek's "503 Server
	// Overloaded" and local engines restarting or loading a model.
	RetryOn []string `yaml:"retry_on"`
	// MetricsPath is scraped for engine load (vLLM, SGLang, llama.cpp
	// /metrics) when set; the least_load policy uses it and /metrics exports
	// it as dsgate_upstream_engine_running, _waiting and _kv_cache_usage.
	// llama.cpp needs --metrics and reports running and deferred requests
	// but no KV-cache usage.
	MetricsPath string `yaml:"metrics_path"`
	// MetricsInterval is the scrape period. Default 2s.
	MetricsInterval time.Duration `yaml:"metrics_interval"`
	// BalancePollInterval, for kind deepseek, is how often the gateway reads
	// the account balance (GET /user/balance, with this upstream's key) for
	// dsgate_upstream_balance and `dsgate doctor`. Default 5m; 0s turns it
	// off. Reads run in the background and never delay requests.
	BalancePollInterval *time.Duration `yaml:"balance_poll_interval"`
	// TLS to the upstream (https URLs): custom CA, client certificate.
	TLS UpstreamTLS `yaml:"tls,omitempty"`
	// Sim configures the in-process simulator for kind sim.
	Sim Sim `yaml:"sim,omitempty"`
}

// HealthCheck configures active health probes.
type HealthCheck struct {
	// Path to GET; a 2xx answer is healthy.
	Path string `yaml:"path"`
	// Interval between probes. Default 10s.
	Interval time.Duration `yaml:"interval"`
	// Timeout of one probe. Default 2s.
	Timeout time.Duration `yaml:"timeout"`
	// HealthyThreshold consecutive successes bring a target back. Default 2.
	HealthyThreshold int `yaml:"healthy_threshold"`
	// UnhealthyThreshold consecutive failures take it out. Default 3.
	UnhealthyThreshold int `yaml:"unhealthy_threshold"`
}

// Breaker configures a circuit breaker: closed, open after failures,
// half-open trials after the recovery timeout. Each re-open doubles the
// recovery timeout (exponential back-off) up to max_recovery.
type Breaker struct {
	// FailureThreshold consecutive failures open it. Default 5.
	FailureThreshold int `yaml:"failure_threshold"`
	// RecoveryTimeout before half-open trials. Default 30s.
	RecoveryTimeout time.Duration `yaml:"recovery_timeout"`
	// MaxRecovery caps the doubled recovery timeout. Default 5m.
	MaxRecovery time.Duration `yaml:"max_recovery"`
	// HalfOpenRequests trial requests at once. Default 1.
	HalfOpenRequests int `yaml:"half_open_requests"`
	// ErrorRatio opens it when failures exceed this share of requests
	// within Window (after MinRequests). 0, the default, disables it.
	ErrorRatio float64 `yaml:"error_ratio"`
	// Window of the error-ratio rule. Default 10s.
	Window time.Duration `yaml:"window"`
	// MinRequests in the window before the ratio counts. Default 20.
	MinRequests int `yaml:"min_requests"`
}

// Sim configures an in-process simulator upstream.
type Sim struct {
	// TTFT is the simulated time to first token. Default 0.
	TTFT time.Duration `yaml:"ttft"`
	// TokensPerSecond paces generated tokens; 0 is unpaced.
	TokensPerSecond float64 `yaml:"tokens_per_second"`
	// Models the simulator serves. Default deepseek-chat, deepseek-reasoner.
	Models []string `yaml:"models"`
	// ReasoningField the simulator emits (reasoning_content or reasoning).
	ReasoningField string `yaml:"reasoning_field"`
	// AnswerTokens, when > 0, ends chat answers after this many tokens with
	// finish_reason stop when the request's limit is larger (agents set
	// large limits); 0 fills the limit.
	AnswerTokens int `yaml:"answer_tokens"`
}

// Model is a public model name and where it is served.
type Model struct {
	// Name is what clients put in "model".
	Name string `yaml:"name"`
	// OwnedBy is shown in /v1/models. Default dsgate.
	OwnedBy string `yaml:"owned_by"`
	// Thinking, when set, turns the upstream's thinking mode on or off for
	// requests that do not choose themselves.
	// DeepSeek's API thinks unless told otherwise, so leave it out only
	// when that is meant. FIM requests to DeepSeek are always sent
	// non-thinking (DeepSeek serves FIM only so).
	Thinking *bool `yaml:"thinking"`
	// ReasoningEffort is the reasoning_effort of thinking requests that
	// set none: low, high or max (DeepSeek's words; OpenAI's minimal,
	// medium and xhigh are mapped to them). Empty: the upstream's default
	// (high on DeepSeek).
	ReasoningEffort string `yaml:"reasoning_effort"`
	// Targets serve the model; lower priority tiers are tried first.
	Targets []Target `yaml:"targets"`
	// Policy picks a target within a tier: round_robin (default),
	// weighted_round_robin, least_conn, least_load, ewma_latency, random.
	Policy string `yaml:"policy"`
	// Rules pick another policy for some requests; the first match wins.
	// Left out, the seed's defaults apply: high-priority requests use
	// weighted_round_robin, long ones (max_tokens >= 1024 or a prompt of
	// 16000+ characters) least_conn. An empty list turns rules off.
	Rules *[]Rule `yaml:"rules"`
	// Fallbacks are public models tried in order when every target of
	// this one failed (for example the cloud, then a local distill).
	Fallbacks []string `yaml:"fallbacks"`
	// FallbackResponse answers chat requests that everything failed,
	// instead of a 503. Empty: no canned answer. Taken as written: ${...}
	// in it is not expanded.
	FallbackResponse string `yaml:"fallback_response" ref:"literal"`
	// Cache is the model's cache policy.
	Cache ModelCache `yaml:"cache"`
}

// Rule routes a class of requests to a policy. It matches when any of its
// set conditions holds.
type Rule struct {
	// HighPriority matches requests with the header X-Dsgate-Priority: high.
	HighPriority bool `yaml:"high_priority"`
	// MinMaxTokens matches requests asking for at least this many tokens.
	MinMaxTokens int `yaml:"min_max_tokens"`
	// MinPromptChars matches prompts of at least this many characters.
	MinPromptChars int `yaml:"min_prompt_chars"`
	// Policy to use; see Model.Policy.
	Policy string `yaml:"policy"`
}

// Target is one upstream serving a model.
type Target struct {
	// Upstream names an entry of upstreams.
	Upstream string `yaml:"upstream"`
	// Model is the upstream's name for the model. Default: the public name.
	Model string `yaml:"model"`
	// Weight for weighted policies. Default 1.
	Weight int `yaml:"weight"`
	// Priority tier: 0 is primary; higher tiers are used only when no
	// target of a lower tier is available.
	Priority int `yaml:"priority"`
	// FIM names the model's fill-in-the-middle tokens, for
	// /beta/completions and completions with a suffix: deepseek-coder
	// (<｜fim▁begin｜>, <｜fim▁hole｜>, <｜fim▁end｜>), qwen-coder
	// (<|fim_prefix|>, <|fim_suffix|>, <|fim_middle|>; Qwen2.5/Qwen3-Coder,
	// CodeGemma), starcoder (<fim_prefix>...), codellama (<PRE> <SUF> <MID>),
	// or none to refuse FIM. Empty guesses from a coder model's name on
	// kinds vllm and sglang. How FIM is sent depends on the upstream's kind:
	// deepseek and ollama read suffix themselves; llamacpp goes to /infill,
	// which uses the model's own tokens; vllm and sglang get a prompt built
	// with these tokens and refuse FIM (400) when they are unknown; openai
	// uses them when named, else sends suffix as the OpenAI API does.
	FIM string `yaml:"fim"`
}

// Default returns the configuration used for every field a file leaves out.
func Default() *Config {
	return &Config{
		Version: 1,
		Server: Server{
			Listen:            "127.0.0.1:8080",
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			MaxBodyBytes:      8 << 20,
			RequestTimeout:    10 * time.Minute,
			ShutdownGrace:     30 * time.Second,
		},
		Log: Log{Level: "info", Format: "json"},
	}
}

// Load reads, decodes, resolves and validates the file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a configuration strictly over the defaults, expands every
// ${NAME} / ${NAME:-default} reference and resolves every secret (see
// expandAll), fills derived values and validates the result.
func Parse(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	if err := c.expandAll(); err != nil {
		return nil, err
	}
	c.normalize()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// normalize fills values derived from others.
func (c *Config) normalize() {
	c.normalizeObserve()
	c.normalizeCache()
	c.normalizeConsole()
	c.GRPC.normalize()
	c.Batch.normalize()
	a := &c.Auth
	if a.Issuer == "" {
		a.Issuer = "http://" + c.Server.Listen
	}
	a.Audience = cmp.Or(a.Audience, "dsgate")
	a.TokenTTL = cmp.Or(a.TokenTTL, time.Hour)
	a.KeyCacheTTL = cmp.Or(a.KeyCacheTTL, time.Second)
	if a.HighPriorityRoles == nil {
		a.HighPriorityRoles = []string{"admin"}
	}
	c.Store.DSN = cmp.Or(c.Store.DSN, "dsgate.db")
	c.RateLimit.Backend = cmp.Or(c.RateLimit.Backend, "memory")
	c.RateLimit.Timeout = cmp.Or(c.RateLimit.Timeout, 100*time.Millisecond)
	r := &c.Routing
	r.MaxAttempts = cmp.Or(r.MaxAttempts, 3)
	if r.RetryBudget == 0 {
		r.RetryBudget = 0.2
	}
	if r.RetryMinPerSecond == 0 {
		r.RetryMinPerSecond = 5
	}
	r.RetryBackoff = cmp.Or(r.RetryBackoff, 25*time.Millisecond)
	r.MaxRetryWait = cmp.Or(r.MaxRetryWait, 2*time.Second)
	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		if u.Kind == "sim" && u.HealthCheck.Path == "" {
			u.HealthCheck.Path = "/health"
		}
		if u.ReasoningField == "" {
			u.ReasoningField = "reasoning_content"
		}
		if u.ThinkingSwitch == "" {
			u.ThinkingSwitch = defaultThinkingSwitch(u.Kind)
		}
		if u.ConnectTimeout == 0 {
			u.ConnectTimeout = 5 * time.Second
		}
		if u.FirstTokenTimeout == 0 {
			u.FirstTokenTimeout = 120 * time.Second
		}
		if u.IdleTimeout == 0 {
			u.IdleTimeout = 60 * time.Second
		}
	}
	for i := range c.Models {
		m := &c.Models[i]
		if m.OwnedBy == "" {
			m.OwnedBy = "dsgate"
		}
		for j := range m.Targets {
			t := &m.Targets[j]
			if t.Model == "" {
				t.Model = m.Name
			}
			if t.Weight == 0 {
				t.Weight = 1
			}
		}
	}
}

// defaultThinkingSwitch is the switch each engine kind reads (the
// gateway's upstream.DefaultThinkingSwitch; sim speaks DeepSeek's API).
func defaultThinkingSwitch(kind string) string {
	switch kind {
	case "deepseek", "sim":
		return "deepseek"
	case "llamacpp":
		return "template_enable_thinking"
	case "ollama":
		return "ollama"
	}
	return "template_thinking"
}

// AccessLog reports whether access logging is on.
func (l Log) AccessLog() bool { return l.Access == nil || *l.Access }

// Enabled reports whether an upstream takes part in routing: an optional
// upstream whose key resolved to nothing is left out.
func (u Upstream) Enabled() bool { return !u.Optional || u.APIKey.Value() != "" }

// DefaultBalancePollInterval is balance_poll_interval when a deepseek
// upstream leaves it out.
const DefaultBalancePollInterval = 5 * time.Minute

// BalanceInterval is how often the upstream's balance is polled: 0 for
// kinds other than deepseek or when balance_poll_interval is 0s.
func (u Upstream) BalanceInterval() time.Duration {
	if u.Kind != "deepseek" {
		return 0
	}
	if u.BalancePollInterval == nil {
		return DefaultBalancePollInterval
	}
	return max(*u.BalancePollInterval, 0)
}
