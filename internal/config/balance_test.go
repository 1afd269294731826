package config

import (
	"strings"
	"testing"
	"time"
)

func TestBalancePollInterval(t *testing.T) {
	t.Setenv("DSGATE_TEST_KEY", "sk-test")
	const base = `
upstreams:
  - name: ds
    kind: deepseek
    url: https://api.deepseek.com
    api_key: ${DSGATE_TEST_KEY}
%s
  - name: engine
    kind: openai
    url: http://vllm:8000
models:
  - name: m
    targets: [{upstream: ds}, {upstream: engine}]
`
	for line, want := range map[string]time.Duration{
		"":                               DefaultBalancePollInterval,
		"    balance_poll_interval: 0s":  0,
		"    balance_poll_interval: 90s": 90 * time.Second,
	} {
		c, err := Parse(strings.NewReader(strings.Replace(base, "%s", line, 1)))
		if err != nil {
			t.Errorf("%q: %v", line, err)
			continue
		}
		if got := c.Upstreams[0].BalanceInterval(); got != want {
			t.Errorf("%q: interval %v, want %v", line, got, want)
		}
		if got := c.Upstreams[1].BalanceInterval(); got != 0 {
			t.Errorf("openai upstream polls its balance every %v", got)
		}
	}
	for _, bad := range []string{"    balance_poll_interval: -1m", "    balance_poll_interval: 1s"} {
		_, err := Parse(strings.NewReader(strings.Replace(base, "%s", bad, 1)))
		if err == nil || !strings.Contains(err.Error(), "balance_poll_interval") {
			t.Errorf("%q: err = %v, want a balance_poll_interval error", bad, err)
		}
	}
}
