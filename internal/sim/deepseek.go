package sim

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Personality selects whose API rules a Server follows.
type Personality string

const (
	// PersonalityPlain is the permissive simulator: any configured model
	// name, every endpoint, unknown fields and values accepted.
	PersonalityPlain Personality = ""
	// PersonalityDeepSeek is a strict double of DeepSeek's cloud API as it
	// is documented today (api-docs.deepseek.com): current model names
	// only, thinking on by default, DeepSeek's error bodies, /beta FIM,
	// /user/balance. See doc.go for the rules and their sources.
	PersonalityDeepSeek Personality = "deepseek"
)

// ErrUnknownPersonality is returned by ParsePersonality.
var ErrUnknownPersonality = errors.New(`unknown simulator personality (want "plain" or "deepseek")`)

// ParsePersonality parses a CLI or config value: "" or "plain", or
// "deepseek".
func ParsePersonality(s string) (Personality, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "plain":
		return PersonalityPlain, nil
	case "deepseek":
		return PersonalityDeepSeek, nil
	}
	return "", ErrUnknownPersonality
}

// DeepSeekKeepAlive is the DeepSeek personality's default keep-alive
// interval while a request waits (DeepSeek documents the keep-alives, not
// their rate).
const DeepSeekKeepAlive = time.Second

// DeepSeekModels returns the model names DeepSeek's API accepts today:
// deepseek-v4-flash and deepseek-v4-pro (since 2026-04-24; the aliases
// deepseek-chat and deepseek-reasoner were retired on 2026-07-24) and
// deepseek-flash (V4.1 Flash, since 2026-09-10, which also serves requests
// for deepseek-v4-flash).
func DeepSeekModels() []string {
	return []string{"deepseek-v4-flash", "deepseek-v4-pro", "deepseek-flash"}
}

// Balance is one currency's entry of GET /user/balance. The total is
// Granted plus ToppedUp.
type Balance struct {
	Currency string  // "CNY" or "USD"
	Granted  float64 // granted_balance
	ToppedUp float64 // topped_up_balance
}

// DefaultBalance is the DeepSeek personality's balance when Options
// leaves it unset.
func DefaultBalance() []Balance {
	return []Balance{{Currency: "CNY", ToppedUp: 100}}
}

// deepSeekDefaults fills the DeepSeek personality's defaults.
func deepSeekDefaults(o Options) Options {
	if len(o.Models) == 0 {
		o.Models = DeepSeekModels()
	}
	if o.KeepAliveEvery == 0 {
		o.KeepAliveEvery = DeepSeekKeepAlive
	}
	if o.Balance == nil {
		o.Balance = DefaultBalance()
	}
	return o
}

func (s *Server) deepseek() bool { return s.opts.Personality == PersonalityDeepSeek }

// SetBalance replaces what GET /user/balance reports; with no entry
// that has a positive total, generation requests get 402. The plain
// simulator stores it but serves no balance.
func (s *Server) SetBalance(b ...Balance) {
	b = append([]Balance(nil), b...)
	s.balance.Store(&b)
}

// available reports DeepSeek's is_available: some balance is positive.
func available(bs []Balance) bool {
	for _, b := range bs {
		if b.Granted+b.ToppedUp > 0 {
			return true
		}
	}
	return false
}

// fundsAvailable answers DeepSeek's 402 when the balance is spent. It is a
// no-op for the plain simulator.
func (s *Server) fundsAvailable(w http.ResponseWriter) bool {
	if !s.deepseek() || available(*s.balance.Load()) {
		return true
	}
	writeError(w, http.StatusPaymentRequired, injectedError(http.StatusPaymentRequired))
	return false
}

// handleBalance answers GET /user/balance in DeepSeek's shape; amounts are
// strings with two decimals.
func (s *Server) handleBalance(w http.ResponseWriter) {
	bs := *s.balance.Load()
	b := make([]byte, 0, 64+128*len(bs))
	b = append(b, `{"is_available":`...)
	b = strconv.AppendBool(b, available(bs))
	b = append(b, `,"balance_infos":[`...)
	for i, e := range bs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"currency":"`...)
		b = append(b, e.Currency...)
		b = appendAmount(append(b, `","total_balance":`...), e.Granted+e.ToppedUp)
		b = appendAmount(append(b, `,"granted_balance":`...), e.Granted)
		b = appendAmount(append(b, `,"topped_up_balance":`...), e.ToppedUp)
		b = append(b, '}')
	}
	writeBody(w, "application/json", append(b, ']', '}', '\n'))
}

func appendAmount(b []byte, v float64) []byte {
	b = append(b, '"')
	b = strconv.AppendFloat(b, v, 'f', 2, 64)
	return append(b, '"')
}

// routeDeepSeek serves the paths DeepSeek's cloud serves.
func (s *Server) routeDeepSeek(w http.ResponseWriter, r *http.Request, path string) {
	if strings.HasPrefix(path, anthropicPrefix+"/") {
		s.routeAnthropic(w, r, path)
		return
	}
	switch path {
	case "/chat/completions", "/v1/chat/completions", "/beta/chat/completions":
		if allow(w, r, http.MethodPost) {
			s.handleChat(w, r)
		}
	case "/beta/completions":
		if allow(w, r, http.MethodPost) {
			s.handleCompletion(w, r)
		}
	case "/models", "/v1/models":
		if allow(w, r, http.MethodGet) {
			s.handleModels(w)
		}
	case "/user/balance":
		if allow(w, r, http.MethodGet) {
			s.handleBalance(w)
		}
	default:
		notFound(w, path)
	}
}

// authenticate enforces Options.APIKey with DeepSeek's 401 bodies: one for
// a missing or malformed header, one naming the last four characters of a
// wrong key.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.APIKey == "" {
		return true
	}
	if s.deepseek() && strings.HasPrefix(r.URL.Path, anthropicPrefix+"/") {
		return s.authenticateAnthropic(w, r)
	}
	h := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || key == "" {
		authFailed(w, "Authentication Fails (auth header format should be Bearer sk-...)")
		return false
	}
	if subtle.ConstantTimeCompare([]byte(key), []byte(s.opts.APIKey)) != 1 {
		authFailed(w, "Authentication Fails, Your api key: ****"+key[max(len(key)-4, 0):]+" is invalid")
		return false
	}
	return true
}

func authFailed(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusUnauthorized, apiError{Message: msg, Type: "authentication_error", Code: "invalid_request_error"})
}

// deepSeekInvalid answers 400 in DeepSeek's shape: type and code
// "invalid_request_error", param null.
func deepSeekInvalid(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusBadRequest, apiError{Message: msg, Type: "invalid_request_error", Code: "invalid_request_error"})
}

// unsupportedModel is DeepSeek's answer to any other model name, retired
// aliases included (observed since 2026-07-24).
func unsupportedModel(w http.ResponseWriter, model string) {
	deepSeekInvalid(w, "The supported API model names are deepseek-v4-pro or deepseek-v4-flash, but you passed "+model+".")
}

// Messages DeepSeek's API is documented or observed to return.
const (
	msgReasoningNotPassedBack = "The `reasoning_content` in the thinking mode must be passed back to the API."
	msgResponseFormat         = "This response_format type is unavailable now"
	msgJSONWord               = "Prompt must contain the word 'json' in some form to use 'response_format' of type 'json_object'"
)

// Messages written for rules whose exact DeepSeek wording is not
// published; the statuses and rules are.
const (
	msgThinkingType = "thinking.type must be \"enabled\" or \"disabled\""
	msgEffort       = "reasoning_effort must be one of low, medium, high, xhigh or max"
	msgN            = "n must be 1: the API returns a single choice"
	msgFIMThinking  = "FIM completion is not supported in thinking mode; set thinking to {\"type\": \"disabled\"}"
)

// deepSeekChatMode applies DeepSeek's chat rules: thinking on unless
// thinking.type is "disabled"; reasoning_effort low and medium map to high
// and xhigh to max; n must be 1; response_format is text or json_object,
// and json_object needs the word "json" in a system or user message; in
// thinking mode every assistant turn with tool calls must carry its
// reasoning_content back.
func deepSeekChatMode(w http.ResponseWriter, req *chatRequest) (chatMode, bool) {
	mode := chatMode{thinking: true, effort: "high", choices: 1}
	if t := req.Thinking; t != nil {
		switch t.Type {
		case "enabled":
		case "disabled":
			mode.thinking = false
		default:
			deepSeekInvalid(w, msgThinkingType)
			return mode, false
		}
	}
	switch req.ReasoningEffort {
	case "", "low", "medium", "high":
	case "xhigh", "max":
		mode.effort = "max"
	default:
		deepSeekInvalid(w, msgEffort)
		return mode, false
	}
	if req.N != nil && *req.N != 1 {
		deepSeekInvalid(w, msgN)
		return mode, false
	}
	if !deepSeekResponseFormat(w, req) {
		return mode, false
	}
	if mode.thinking {
		for _, m := range req.Messages {
			if m.Role == "assistant" && len(m.ToolCalls) > 0 && m.ReasoningContent == nil {
				deepSeekInvalid(w, msgReasoningNotPassedBack)
				return mode, false
			}
		}
	}
	return mode, true
}

func deepSeekResponseFormat(w http.ResponseWriter, req *chatRequest) bool {
	rf := req.ResponseFormat
	if rf == nil || rf.Type == "text" {
		return true
	}
	if rf.Type != "json_object" {
		deepSeekInvalid(w, msgResponseFormat)
		return false
	}
	for _, m := range req.Messages {
		if (m.Role == "system" || m.Role == "user") && containsFold(string(m.Content), "json") {
			return true
		}
	}
	deepSeekInvalid(w, msgJSONWord)
	return false
}

// deepSeekCompletionAllowed refuses FIM in thinking mode: DeepSeek lists
// FIM among the features thinking mode does not support, and serves
// /beta/completions without thinking unless a request asks for it.
func deepSeekCompletionAllowed(w http.ResponseWriter, req *completionRequest) bool {
	if t := req.Thinking; t != nil {
		switch t.Type {
		case "disabled":
		case "enabled":
			deepSeekInvalid(w, msgFIMThinking)
			return false
		default:
			deepSeekInvalid(w, msgThinkingType)
			return false
		}
	}
	return true
}

// maxPrefixes bounds the prefix cache; when full it starts over, like a
// cache evicting everything at once.
const maxPrefixes = 1 << 14

// prefixCache models DeepSeek's context cache deterministically: a request
// hits on the longest run of leading messages that an earlier request
// also began with.
type prefixCache struct {
	mu   sync.Mutex
	seen map[uint64]struct{}
}

// hit returns the tokens of the longest seen prefix. prefixes[i] is the
// hash of messages 0..i and tokens[i] message i's tokens. It records every
// prefix.
func (c *prefixCache) hit(prefixes []uint64, tokens []int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil || len(c.seen)+len(prefixes) > maxPrefixes {
		c.seen = make(map[uint64]struct{}, 64)
	}
	longest := -1
	for i, p := range prefixes {
		if _, ok := c.seen[p]; ok {
			longest = i
		}
		c.seen[p] = struct{}{}
	}
	cached := 0
	for i := 0; i <= longest; i++ {
		cached += tokens[i]
	}
	return cached
}
