package config

import (
	"strings"
	"testing"
	"time"
)

func TestRateLimitTimeout(t *testing.T) {
	const base = `
upstreams:
  - {name: engine, kind: openai, url: "http://vllm:8000"}
models:
  - {name: m, targets: [{upstream: engine}]}
%s`
	for line, want := range map[string]time.Duration{
		"":                             100 * time.Millisecond,
		"rate_limit: {timeout: 0s}":    100 * time.Millisecond,
		"rate_limit: {timeout: 750ms}": 750 * time.Millisecond,
	} {
		c, err := Parse(strings.NewReader(strings.Replace(base, "%s", line, 1)))
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if c.RateLimit.Timeout != want {
			t.Errorf("%q: timeout %v, want %v", line, c.RateLimit.Timeout, want)
		}
	}
	_, err := Parse(strings.NewReader(strings.Replace(base, "%s", "rate_limit: {timeout: -1s}", 1)))
	if err == nil || !strings.Contains(err.Error(), "rate_limit.timeout: must not be negative") {
		t.Fatalf("a negative timeout: %v", err)
	}
}
