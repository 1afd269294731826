package server_test

import (
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/sim"
)

type parityCase struct{ name, path, body string }

func parityCases(model, extraChat, extraMsg, extraResp string, stream bool) []parityCase {
	s := ""
	if stream {
		s = `"stream":true,`
	}
	return []parityCase{
		{"chat", "/v1/chat/completions", `{"model":"` + model + `",` + s + extraChat + `"messages":[{"role":"user","content":"hello"}],"max_tokens":4}`},
		{"messages", "/v1/messages", `{"model":"` + model + `",` + s + extraMsg + `"max_tokens":4,"messages":[{"role":"user","content":"hello"}]}`},
		{"responses", "/v1/responses", `{"model":"` + model + `",` + s + extraResp + `"max_output_tokens":4,"store":false,"input":"hello"}`},
	}
}

func dump(t *testing.T, base string, c parityCase) {
	resp, err := http.Post(base+c.path, "application/json", strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var ks []string
	for k := range resp.Header {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var sb strings.Builder
	for _, k := range ks {
		if k == "Date" || k == "X-Request-Id" {
			continue
		}
		sb.WriteString(k + "=" + strings.Join(resp.Header[k], ",") + "; ")
	}
	if len(b) > 300 {
		b = b[:300]
	}
	t.Logf("%s %d %s\n   %s", c.name, resp.StatusCode, sb.String(), b)
}

func TestExploreParity(t *testing.T) {
	e := start(t, `
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
cache: {enabled: true}
upstreams:
  - {name: engine-a, kind: openai, url: "$a"}
  - {name: bad, kind: openai, url: "$b"}
  - {name: busy, kind: openai, url: "$c"}
models:
  - {name: m, targets: [{upstream: engine-a}]}
  - {name: broken, targets: [{upstream: bad}]}
  - {name: limited, targets: [{upstream: busy}]}
`, map[string]sim.Options{"a": {Models: []string{"m"}}, "b": {Models: []string{"broken"}, Faults: sim.Faults{ErrorRate: 1}},
		"c": {Models: []string{"limited"}, Faults: sim.Faults{ErrorRate: 1, ErrorStatus: 429}}})
	for _, stream := range []bool{false, true} {
		t.Logf("===== stream=%v", stream)
		for _, c := range parityCases("m", `"temperature":0,"thinking":{"type":"disabled"},`, `"temperature":0,"thinking":{"type":"disabled"},`, `"temperature":0,"reasoning":{"effort":"none"},`, stream) {
			dump(t, e.base, c)
			dump(t, e.base, c)
		}
		for _, c := range parityCases("broken", "", "", "", stream) {
			dump(t, e.base, c)
		}
		for _, c := range parityCases("limited", "", "", "", stream) {
			dump(t, e.base, c)
		}
		for _, c := range parityCases("nope", "", "", "", stream) {
			dump(t, e.base, c)
		}
	}
}
