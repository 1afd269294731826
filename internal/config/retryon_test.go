package config

import (
	"strings"
	"testing"
)

// TestRetryOn: upstreams[].retry_on accepts connect, timeout, 5xx and
// statuses from 400 to 599, and names any other entry.
func TestRetryOn(t *testing.T) {
	const base = `version: 1
upstreams:
  - name: cloud
    kind: sim
    retry_on: [%s]
models:
  - name: deepseek-chat
    targets: [{upstream: cloud}]
`
	good, err := Parse(strings.NewReader(strings.Replace(base, "%s", "connect, timeout, 429, 5xx, 503", 1)))
	if err != nil {
		t.Fatalf("good retry_on refused: %v", err)
	}
	if got := strings.Join(good.Upstreams[0].RetryOn, ","); got != "connect,timeout,429,5xx,503" {
		t.Errorf("retry_on = %s", got)
	}
	_, err = Parse(strings.NewReader(strings.Replace(base, "%s", "connect, sometimes, 302", 1)))
	if err == nil || !strings.Contains(err.Error(), "upstreams[0].retry_on[1]") || !strings.Contains(err.Error(), "upstreams[0].retry_on[2]") {
		t.Errorf("bad retry_on: err = %v", err)
	}
}
