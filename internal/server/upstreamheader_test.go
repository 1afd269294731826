package server_test

import (
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/sim"
)

// TestUpstreamHeader: X-Dsgate-Upstream names the upstream that answered,
// through every API, streamed or not (a stream knows it before its first
// event; translated streams carried none), and a cache hit, which no
// upstream answered, carries none rather than an empty one (the Messages
// and Responses answers carried an empty one).
func TestUpstreamHeader(t *testing.T) {
	t.Parallel()
	e := start(t, `
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
cache: {enabled: true}
upstreams:
  - {name: engine-a, kind: openai, url: "$a"}
models:
  - {name: m, targets: [{upstream: engine-a}]}
`, map[string]sim.Options{"a": {Models: []string{"m"}}})
	for _, stream := range []bool{false, true} {
		for _, r := range sameConversation("m", "hello", stream) {
			if resp, _ := e.send(t, r, ""); resp.Header.Get("X-Dsgate-Upstream") != "engine-a" {
				t.Errorf("%s %s: X-Dsgate-Upstream = %q, want engine-a", r.api, streamed(stream), resp.Header.Get("X-Dsgate-Upstream"))
			}
		}
		for _, r := range sameConversation("m", "hit me "+streamed(stream), stream, deterministic...) {
			r.body = strings.Replace(r.body, "hit me", "hit me through "+r.api, 1) // an entry of its own
			if resp, _ := e.send(t, r, ""); resp.Header.Get("X-Dsgate-Cache") != "miss" || resp.Header.Get("X-Dsgate-Upstream") != "engine-a" {
				t.Fatalf("%s %s, first: cache %q upstream %q", r.api, streamed(stream),
					resp.Header.Get("X-Dsgate-Cache"), resp.Header.Get("X-Dsgate-Upstream"))
			}
			resp, _ := e.send(t, r, "")
			if resp.Header.Get("X-Dsgate-Cache") != "hit" {
				t.Fatalf("%s %s, second: X-Dsgate-Cache %q, want hit", r.api, streamed(stream), resp.Header.Get("X-Dsgate-Cache"))
			}
			if v, ok := resp.Header["X-Dsgate-Upstream"]; ok {
				t.Errorf("%s %s cache hit carries X-Dsgate-Upstream %q; want none", r.api, streamed(stream), v)
			}
		}
	}
}
