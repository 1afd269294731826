package upstream

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/dsgate/dsgate/internal/openai"
)

// Blame says whose fault a failed call was. It decides two things that
// must not be confused: whether the failure counts against the upstream's
// health (its circuit breaker), and whether another target may do better.
//
// A request that is itself bad fails the same way everywhere. Counting it
// against upstreams lets one client open every breaker of a model (issue
// 13, "breaker poisoning") and retrying it on every target multiplies the
// damage. So:
//
//   - a 4xx other than 401, 402, 403, 408 and 429 is about the request
//     (BlameRequest): the upstream answered, which shows it works;
//   - 401, 402 and 403 are about dsgate's own key or account with that
//     upstream (BlameAccount): the caller is not at fault, the upstream is
//     unusable until its credentials work again (its breaker is tripped)
//     and another upstream may serve the request;
//   - a 5xx whose body says the request is bad is about the request: 501
//     (llama.cpp's "This server does not support embeddings"), a body of
//     type not_supported_error or invalid_request_error, and the messages
//     llama.cpp raises as 500 while parsing a request ("image input is not
//     supported", "Failed to parse tools: ...", see requestFaultMessages);
//   - any other 500 carrying a message is BlameUnsure: the gateway retries
//     it on another healthy target and compares. The same failure (status
//     and message) from two healthy upstreams is the request's; anything
//     else is the upstream's, but counts against its breaker only when
//     calls of two principals caused it (see the package doc and
//     Upstream.FailUnsure). An answer that is not the JSON asked for is
//     judged the same way;
//   - everything else (connect errors, timeouts, 429, 502, 503, 504, a
//     stream cut short) is the upstream's (BlameUpstream).
type Blame int

// The blames.
const (
	BlameUpstream Blame = iota
	BlameRequest
	BlameAccount
	BlameUnsure
)

func (b Blame) String() string {
	switch b {
	case BlameRequest:
		return "request"
	case BlameAccount:
		return "account"
	case BlameUnsure:
		return "unsure"
	}
	return "upstream"
}

// requestFaultMessages are error messages that engines send with a 5xx
// status although the request is at fault. They are llama.cpp server's
// (tools/server: oaicompat_chat_params_parse and common_chat_*_parse_oaicompat
// throw std::runtime_error, which the server answers with 500). Matching is
// case-insensitive on a prefix of the message.
var requestFaultMessages = []string{
	"image input is not supported",
	"audio input is not supported",
	"failed to parse tools",
	"failed to parse messages",
	"failed to load image or audio file",
	"expected 'tools' to be an array",
	"tools param requires --jinja flag",
	"unsupported tool type",
	"missing tool type",
	"this server does not support",
	"only 'text' content type is supported",
}

// blameStatus judges an upstream's non-2xx answer.
func blameStatus(status int, api *openai.Error, body []byte) Blame {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusPaymentRequired || status == http.StatusForbidden:
		return BlameAccount
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests:
		return BlameUpstream
	case status >= 400 && status < 500:
		return BlameRequest
	case status == http.StatusNotImplemented:
		return BlameRequest
	}
	if requestFaultBody(api, body) {
		return BlameRequest
	}
	if status == http.StatusInternalServerError && api != nil && api.Message != "" && !genericMessage(api.Message) {
		return BlameUnsure
	}
	return BlameUpstream
}

// requestFaultBody reports a 5xx body that says the request is bad.
func requestFaultBody(api *openai.Error, body []byte) bool {
	if t := upstreamType(body); t == "not_supported_error" || t == "invalid_request_error" {
		return true
	}
	if api == nil {
		return false
	}
	return RequestFault(api.Message) != ""
}

// RequestFault returns the known request-fault phrase msg starts with
// (see requestFaultMessages), or "". The phrase is dsgate's own text, safe
// to show where the rest of the engine's message is not.
func RequestFault(msg string) string {
	for _, m := range requestFaultMessages {
		if len(msg) >= len(m) && strings.EqualFold(msg[:len(m)], m) {
			return m
		}
	}
	return ""
}

// genericMessage reports messages that say nothing about the request, such
// as DeepSeek's "Server Error": they are the upstream's.
func genericMessage(msg string) bool {
	switch strings.ToLower(strings.TrimSpace(msg)) {
	case "server error", "internal server error", "internal error", "server overloaded", "service unavailable":
		return true
	}
	return strings.HasPrefix(msg, "upstream returned HTTP ")
}

// upstreamType returns error.type of an OpenAI-shaped body, or "".
func upstreamType(body []byte) string {
	e := openai.Field(body, "error")
	if len(e) == 0 || e[0] != '{' {
		return ""
	}
	t := openai.Field(e, "type")
	if len(t) < 2 || t[0] != '"' {
		return ""
	}
	s, err := strconv.Unquote(string(t))
	if err != nil {
		return ""
	}
	return s
}

// RetryPolicy says which failures of an upstream are worth another
// attempt (on it after a back-off, or on another target). Failures the
// request causes are never retried, whatever the policy.
type RetryPolicy struct {
	Connect bool      // the connection failed or broke before an answer
	Timeout bool      // no answer or first token within the timeout
	codes   [4]uint64 // statuses 400..655, one bit each
}

// DefaultRetryOn is the policy of an upstream with no retry_on: connect
// errors, timeouts, 429 and the 5xx statuses DeepSeek's cloud ("503 Server
// Overloaded", "500 Server Error") and local engines (llama.cpp's 503
// "Loading model", proxies' 502 and 504) answer when a retry may work.
var DefaultRetryOn = []string{"connect", "timeout", "429", "500", "502", "503", "504"}

// ParseRetryOn builds a policy from retry_on tokens: connect, timeout, a
// status code from 400 to 599, or 5xx for every 5xx.
func ParseRetryOn(tokens []string) (RetryPolicy, error) {
	var p RetryPolicy
	for _, tok := range tokens {
		switch t := strings.ToLower(strings.TrimSpace(tok)); t {
		case "connect":
			p.Connect = true
		case "timeout":
			p.Timeout = true
		case "5xx":
			for c := 500; c < 600; c++ {
				p.setCode(c)
			}
		default:
			c, err := strconv.Atoi(t)
			if err != nil || c < 400 || c > 599 {
				return RetryPolicy{}, fmt.Errorf("retry_on: %q is not connect, timeout, 5xx or a status from 400 to 599", tok)
			}
			p.setCode(c)
		}
	}
	return p, nil
}

func (p *RetryPolicy) setCode(c int) { p.codes[(c-400)/64] |= 1 << ((c - 400) % 64) }

// Status reports whether an answer with HTTP status c is retried.
func (p RetryPolicy) Status(c int) bool {
	if c < 400 || c > 599 {
		return false
	}
	return p.codes[(c-400)/64]&(1<<((c-400)%64)) != 0
}

func defaultRetryPolicy() RetryPolicy {
	p, _ := ParseRetryOn(DefaultRetryOn)
	return p
}
