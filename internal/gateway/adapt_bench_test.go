package gateway

import (
	"testing"

	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/upstream"
)

// BenchmarkRequestFor measures adapting a chat body to a DeepSeek target:
// plain (no thinking field: the common case), with the client's thinking
// and an OpenAI effort word to map, and the cache's thinking decision.
func BenchmarkRequestFor(b *testing.B) {
	u := upstream.New(upstream.Options{Name: "d", Kind: upstream.KindDeepSeek, URL: "http://127.0.0.1:1"})
	off := false
	r := &Route{Name: "deepseek-chat", Thinking: &off, ReasoningEffort: "high",
		Pool: upstream.NewPool([]*upstream.Target{{Upstream: u, Model: "deepseek-v4-flash", Weight: 1}}, nil, nil)}
	t := r.Pool.Targets()[0]
	msgs := `"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Summarise the plan in three bullet points, please."}]`
	for _, bc := range []struct{ name, body string }{
		{"plain", `{"model":"deepseek-chat","temperature":0,` + msgs + `}`},
		{"thinking+effort", `{"model":"deepseek-chat","thinking":{"type":"enabled"},"reasoning_effort":"medium",` + msgs + `}`},
	} {
		req, err := openai.Parse(openai.EndpointChat, []byte(bc.body))
		if err != nil {
			b.Fatal(err)
		}
		c := &Call{Req: req, Body: []byte(bc.body)}
		b.Run(bc.name+"/requestFor", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := requestFor(c, r, t); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/thinkingEffective", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.thinkingEffective(c)
			}
		})
	}
}
