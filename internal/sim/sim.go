package sim

import (
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// Options configures a Server. The zero value is usable: it serves
// DefaultModels() with no latency and no faults.
type Options struct {
	// Personality selects whose API rules the server follows: the permissive
	// plain simulator (default, and any value other than
	// PersonalityDeepSeek) or PersonalityDeepSeek, a strict double of
	// DeepSeek's cloud API.
	Personality Personality
	// Models lists the model ids served; default DefaultModels(), or
	// DeepSeekModels() for the DeepSeek personality. The plain simulator
	// answers an unknown model with 404; the DeepSeek personality with
	// DeepSeek's 400 naming the supported models.
	Models []string
	// APIKey, when set, must arrive as "Authorization: Bearer <APIKey>" on
	// every API request (not /health or /metrics); otherwise the answer is
	// DeepSeek's 401.
	APIKey string
	// Balance is what GET /user/balance reports (DeepSeek personality
	// only); nil means DefaultBalance. While no entry has a positive total,
	// generation requests get DeepSeek's 402 "Insufficient Balance". See
	// SetBalance.
	Balance []Balance
	// ReasoningModels lists the models that emit reasoning. Nil means every
	// model whose name contains "reasoner" or "r1"; an empty non-nil slice
	// means none.
	ReasoningModels []string
	// ReasoningField is the JSON field carrying reasoning text:
	// "reasoning_content" (default, DeepSeek) or "reasoning" (newer vLLM).
	ReasoningField string
	// TTFT is the time to first token: the wait before the first streamed
	// token, or before a non-streaming response.
	TTFT time.Duration
	// TokensPerSecond paces tokens; 0 means unlimited (no pacing).
	TokensPerSecond float64
	// MaxTokens is the completion length when a request has no max_tokens; default 16.
	MaxTokens int
	// ContextLength, when > 0, is the context window: a chat or text
	// completion whose prompt reaches it is refused with 400 before any
	// token is generated, in the personality's words (llama.cpp's
	// exceed_context_size_error for the plain simulator, which stands for
	// local engines; DeepSeek's message for the DeepSeek personality).
	// 0 accepts any prompt.
	ContextLength int
	// AnswerTokens, when > 0, is the length of an answer the model ends on
	// its own: a chat request whose limit is larger gets this many tokens
	// and finish_reason "stop", as a real model that is done before its
	// max_tokens (agents set large limits and treat "length" as an error).
	// 0 keeps the length rule: a limit is filled exactly.
	AnswerTokens int
	// MaxRunning caps the requests generating at once; further requests wait
	// (counted as waiting), which models an engine's continuous batching.
	// 0 means no cap.
	MaxRunning int
	// KeepAliveEvery, when > 0, makes a request that waits longer than this
	// (for a slot or for its first token) send keep-alives the way DeepSeek
	// does: ": keep-alive" SSE comments on streams and blank lines before
	// the JSON body otherwise. The DeepSeek personality defaults it to
	// DeepSeekKeepAlive; a negative value turns keep-alives off.
	KeepAliveEvery time.Duration
	// EmbeddingDimensions is the default embedding length; default 16.
	EmbeddingDimensions int
	// Faults are the initial injected faults; see SetFaults.
	Faults Faults
	// Clock supplies created timestamps; default time.Now. Waits always use
	// real timers.
	Clock func() time.Time
	// Logger receives debug records about injected faults; default discards.
	Logger *slog.Logger
}

// Faults describes injected failures. Random choices come from a PRNG seeded
// with Seed and the request's sequence number since the last SetFaults, so a
// run with the same request order is reproducible.
type Faults struct {
	// ErrorRate is the fraction of generation requests answered with ErrorStatus.
	ErrorRate float64
	// ErrorStatus is the injected status; default (and for anything outside
	// 400-599) 500. 429, 500 and 503 get DeepSeek's real bodies.
	ErrorStatus int
	// LatencySpikeRate is the fraction of requests whose first token is
	// delayed by an extra LatencySpike.
	LatencySpikeRate float64
	LatencySpike     time.Duration
	// CutAfterChunks > 0 closes a stream's connection abruptly after that
	// many token chunks (reasoning, content or tool-call deltas): no finish
	// chunk, no [DONE], no terminating HTTP chunk.
	CutAfterChunks int
	// StallAfterChunks > 0 stops a stream after that many token chunks and
	// keeps the connection open until the client goes away.
	StallAfterChunks int
	// Seed seeds the fault PRNG.
	Seed int64
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	// Requests counts accepted generation requests (chat, completions,
	// embeddings), including those answered with an injected error.
	Requests uint64
	// Running counts requests holding a generation slot.
	Running int64
	// Waiting counts requests queued for a slot (only with MaxRunning).
	Waiting int64
	// PromptTokens and GenerationTokens are totals over all models.
	PromptTokens     uint64
	GenerationTokens uint64
}

// Server is the simulator. It implements http.Handler and is safe for
// concurrent use.
type Server struct {
	opts     Options
	log      *slog.Logger
	models   []*modelState // in Options.Models order, for /v1/models and /metrics
	byName   map[string]*modelState
	created  int64 // unix time reported for every model
	interval time.Duration
	slots    chan struct{} // nil without MaxRunning
	kvSlots  int           // denominator of vllm:kv_cache_usage_perc

	// Pre-rendered JSON fragments that depend on Options.ReasoningField.
	reasoningKey []byte     // the field name as a JSON string
	frags0       deltaFrags // choice 0's streamed delta fragments

	prefixes prefixCache               // DeepSeek personality: prompt prefixes seen
	balance  atomic.Pointer[[]Balance] // DeepSeek personality: /user/balance

	faults   atomic.Pointer[Faults]
	faultSeq atomic.Uint64
	idSeq    atomic.Uint64
	idBase   uint64

	requests  atomic.Uint64
	running   atomic.Int64
	waiting   atomic.Int64
	promptTok atomic.Uint64
	genTok    atomic.Uint64
}

// modelState holds one served model's settings and counters.
type modelState struct {
	name      string
	quoted    []byte // name as a JSON string
	reasoning bool
	running   atomic.Int64
	waiting   atomic.Int64
	promptTok atomic.Uint64
	genTok    atomic.Uint64
}

const defaultKVSlots = 64

// New builds a Server from opts, filling defaults.
func New(opts Options) *Server {
	if opts.Personality == PersonalityDeepSeek {
		opts = deepSeekDefaults(opts)
	}
	if len(opts.Models) == 0 {
		opts.Models = DefaultModels()
	}
	if opts.KeepAliveEvery < 0 {
		opts.KeepAliveEvery = 0
	}
	if opts.ReasoningField == "" {
		opts.ReasoningField = "reasoning_content"
	}
	if opts.MaxTokens <= 0 {
		opts.MaxTokens = 16
	}
	if opts.EmbeddingDimensions <= 0 {
		opts.EmbeddingDimensions = 16
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	s := &Server{opts: opts, log: opts.Logger, byName: make(map[string]*modelState, len(opts.Models))}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.reasoningKey = jsonenc.AppendString(nil, opts.ReasoningField)
	s.frags0 = s.deltaFrags(0)
	now := opts.Clock()
	s.created = now.Unix()
	s.idBase = mix64(uint64(now.UnixNano()))
	if opts.TokensPerSecond > 0 {
		s.interval = time.Duration(float64(time.Second) / opts.TokensPerSecond)
	}
	s.kvSlots = defaultKVSlots
	if opts.MaxRunning > 0 {
		s.slots = make(chan struct{}, opts.MaxRunning)
		s.kvSlots = opts.MaxRunning
	}
	for _, name := range opts.Models {
		if _, dup := s.byName[name]; dup {
			continue
		}
		m := &modelState{
			name:      name,
			quoted:    jsonenc.AppendString(nil, name),
			reasoning: isReasoning(name, opts.ReasoningModels),
		}
		s.models = append(s.models, m)
		s.byName[name] = m
	}
	s.SetFaults(opts.Faults)
	s.SetBalance(opts.Balance...)
	return s
}

// DefaultModels returns the plain simulator's models: DeepSeek's current
// API names and the two public aliases clients still send.
func DefaultModels() []string {
	return []string{"deepseek-v4-flash", "deepseek-v4-pro", "deepseek-chat", "deepseek-reasoner"}
}

func isReasoning(name string, list []string) bool {
	if list == nil {
		lower := strings.ToLower(name)
		return strings.Contains(lower, "reasoner") || strings.Contains(lower, "r1")
	}
	for _, m := range list {
		if m == name {
			return true
		}
	}
	return false
}

// SetFaults replaces the injected faults; requests already past admission
// keep the faults they started with. It restarts the fault PRNG sequence.
func (s *Server) SetFaults(f Faults) {
	if f.ErrorStatus < 400 || f.ErrorStatus > 599 {
		f.ErrorStatus = http.StatusInternalServerError
	}
	s.faults.Store(&f)
	s.faultSeq.Store(0)
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Requests:         s.requests.Load(),
		Running:          s.running.Load(),
		Waiting:          s.waiting.Load(),
		PromptTokens:     s.promptTok.Load(),
		GenerationTokens: s.genTok.Load(),
	}
}

// ServeHTTP routes OpenAI paths with and without the /v1 prefix, and
// DeepSeek's /beta paths. The DeepSeek personality serves what DeepSeek's
// cloud serves: chat (also /beta for prefix completion), FIM and text
// completions only under /beta, the model list and /user/balance, no
// embeddings.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch path {
	case "/health":
		if allow(w, r, http.MethodGet) {
			w.WriteHeader(http.StatusOK)
		}
		return
	case "/metrics":
		if allow(w, r, http.MethodGet) {
			s.handleMetrics(w)
		}
		return
	}
	if !s.authenticate(w, r) {
		return
	}
	if s.deepseek() {
		s.routeDeepSeek(w, r, path)
		return
	}
	switch path {
	case "/v1/chat/completions", "/chat/completions", "/beta/chat/completions":
		if allow(w, r, http.MethodPost) {
			s.handleChat(w, r)
		}
	case "/v1/completions", "/completions", "/beta/completions", "/v1/beta/completions":
		if allow(w, r, http.MethodPost) {
			s.handleCompletion(w, r)
		}
	case "/v1/embeddings", "/embeddings":
		if allow(w, r, http.MethodPost) {
			s.handleEmbeddings(w, r)
		}
	case "/v1/models", "/models":
		if allow(w, r, http.MethodGet) {
			s.handleModels(w)
		}
	default:
		if id, ok := modelPath(path); ok {
			if allow(w, r, http.MethodGet) {
				s.handleModel(w, id)
			}
			return
		}
		notFound(w, path)
	}
}

func notFound(w http.ResponseWriter, path string) {
	writeError(w, http.StatusNotFound, apiError{
		Message: "no route for " + path, Type: "invalid_request_error", Code: "not_found",
	})
}

// allow answers 405 unless r uses method (GET also admits HEAD).
func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method || (method == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	w.Header().Set("Allow", method)
	writeError(w, http.StatusMethodNotAllowed, apiError{
		Message: "method " + r.Method + " not allowed", Type: "invalid_request_error",
	})
	return false
}

func modelPath(path string) (string, bool) {
	for _, prefix := range []string{"/v1/models/", "/models/"} {
		if id, ok := strings.CutPrefix(path, prefix); ok && id != "" {
			return id, true
		}
	}
	return "", false
}
