package apierror

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/ratelimit"
	"github.com/dsgate/dsgate/internal/upstream"
)

func TestFrom(t *testing.T) {
	t.Parallel()
	dial := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 8000},
		Err: errors.New("connection refused")}
	tests := []struct {
		name      string
		err       error
		status    int
		typ, code string
		notInMsg  string // must never reach the client
	}{
		{"openai error kept", openai.InvalidRequest("model", "bad"), 400, "invalid_request_error", "", ""},
		{"client gone", context.Canceled, 499, "client_closed", "", ""},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), 504, "timeout_error", "", ""},
		{"no upstream", upstream.ErrNoTarget, 503, "service_unavailable_error", "no_upstream", ""},
		{"rate limited", &ratelimit.Error{RetryAfter: time.Second}, 429, "rate_limit_error", "rate_limit_exceeded", ""},
		{"limiter down, fail closed", &ratelimit.Error{Err: ratelimit.ErrBackendUnavailable}, 503, "service_unavailable_error", "rate_limiter_unavailable", ""},
		// The limiter's own 100ms budget ran out (Redis hung or down): still
		// the quick 503 of a failed-closed limit, not a 504 (issue 15).
		{"limiter timed out, fail closed", &ratelimit.Error{Err: fmt.Errorf("%w: redis rate limit: %w", ratelimit.ErrBackendUnavailable, context.DeadlineExceeded)},
			503, "service_unavailable_error", "rate_limiter_unavailable", ""},
		{"no credentials", auth.ErrNoCredentials, 401, "authentication_error", "invalid_api_key", ""},
		{"forbidden", fmt.Errorf("%w: role analyst", auth.ErrForbidden), 403, "permission_error", "permission_denied", ""},
		{"IdP unreachable past max_key_age", fmt.Errorf("%w: issuer corp: signing keys last fetched 25h ago", auth.ErrIssuerUnavailable),
			503, "service_unavailable_error", "identity_provider_unavailable", ""},
		{"upstream 400 kept", &upstream.Error{Upstream: "a", StatusCode: 400,
			API: openai.NormalizeUpstreamError(400, []byte(`{"error":{"message":"too long","code":"context_length_exceeded"}}`))},
			400, "invalid_request_error", "context_length_exceeded", ""},
		{"upstream 500", &upstream.Error{Upstream: "a", StatusCode: 500, Retryable: true,
			API: openai.NormalizeUpstreamError(500, []byte(`{"error":"boom"}`))}, 502, "server_error", "upstream_error", ""},
		{"dial error hides the address", &upstream.Error{Upstream: "a", Retryable: true, Err: dial},
			502, "server_error", "upstream_error", "10.1.2.3"},
		{"stalled stream", &upstream.Error{Upstream: "a", Retryable: true, Err: gateway.ErrStalled},
			504, "timeout_error", "upstream_timeout", ""},
		{"all failed", &gateway.ExhaustedError{Steps: []gateway.Step{{Model: "m", Upstream: "a", Reason: "HTTP 500"}}},
			503, "service_unavailable_error", "all_upstreams_failed", ""},
		{"all rate limited", &gateway.ExhaustedError{Steps: []gateway.Step{{Model: "m", Upstream: "a", Reason: "HTTP 429"}}},
			429, "rate_limit_error", "rate_limit_exceeded", ""},
		{"anything else", errors.New("secret internals at 10.9.9.9"), 500, "server_error", "", "10.9.9.9"},
		// dsgate's own key refused by the upstream is not the caller's 401,
		// and the upstream's body (DeepSeek's names the key's last
		// characters) never reaches the caller (issue 13, weak items).
		{"upstream 401 is the gateway's", &upstream.Error{Upstream: "cloud", StatusCode: 401, Retryable: true, Blame: upstream.BlameAccount,
			API: openai.NormalizeUpstreamError(401, []byte(`{"error":{"message":"Authentication Fails, Your api key: ****c0de is invalid"}}`))},
			502, "server_error", "upstream_credentials", "c0de"},
		{"all failed on credentials", &gateway.ExhaustedError{Steps: []gateway.Step{{Model: "m", Upstream: "a", Reason: "HTTP 401", Blame: upstream.BlameAccount}}},
			502, "server_error", "upstream_credentials", ""},
		{"upstream 503 body stays internal", &upstream.Error{Upstream: "a", StatusCode: 503, Retryable: true,
			API: openai.NormalizeUpstreamError(503, []byte(`{"error":{"message":"worker 10.0.3.7 /opt/models down"}}`))},
			502, "server_error", "upstream_error", "10.0.3.7"},
		{"error event body stays internal", &upstream.Error{Upstream: "a",
			API: openai.NormalizeUpstreamError(502, []byte(`{"error":{"message":"Traceback at /srv/vllm/engine.py"}}`))},
			502, "server_error", "upstream_error", "/srv/vllm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := From(tt.err)
			if e.Status != tt.status || e.Type != tt.typ || e.Code != tt.code {
				t.Errorf("got %d %q %q, want %d %q %q (%s)", e.Status, e.Type, e.Code, tt.status, tt.typ, tt.code, e.Message)
			}
			if tt.notInMsg != "" && (strings.Contains(e.Message, tt.notInMsg) || strings.Contains(string(e.JSON()), tt.notInMsg)) {
				t.Errorf("leaked %q: %s", tt.notInMsg, e.JSON())
			}
		})
	}
}
