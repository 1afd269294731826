package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
)

// answerReader is a gateway.AnswerReader that says what it was given and
// answers what the test sets.
type answerReader struct {
	bodies []string
	usage  openai.Usage
	has    bool
	finish func(body string) string
	ok     bool
}

func (a *answerReader) ReadAnswer(body []byte) (openai.Usage, bool, string, bool) {
	a.bodies = append(a.bodies, string(body))
	return a.usage, a.has, a.finish(string(body)), a.ok
}

// TestAnswerReader: a call with an AnswerReader has each attempt's answer
// read by it, and the gateway takes the answer's usage and DeepSeek's
// partial answer (finish_reason insufficient_system_resource, retried)
// from that reading, not from walks of its own; a reader that cannot read
// the answer leaves it to the gateway's own reading.
func TestAnswerReader(t *testing.T) {
	t.Parallel()
	partial := `{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hal"},"finish_reason":"insufficient_system_resource"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`
	a := newFake(t, "a", func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, partial)
	})
	b := newFake(t, "b", ok)
	g := newGateway(gateway.Options{Routes: []gateway.Route{tiered("m", up("a", a.srv.URL), up("b", b.srv.URL))}})
	finishOf := func(body string) string {
		if body == partial {
			return "insufficient_system_resource"
		}
		return "stop"
	}

	// The reader's reading counts: its usage (not the body's) and its
	// finish reason, which sends the call on to b.
	r := &answerReader{usage: openai.Usage{PromptTokens: 777, TotalTokens: 777}, has: true, finish: finishOf, ok: true}
	c := chat(t, "r1", "m")
	c.Answer = r
	res, err := g.Complete(context.Background(), c)
	if err != nil || res.Upstream != "b" || res.Attempts != 2 {
		t.Fatalf("res %+v err %v; want b's answer after 2 attempts", res, err)
	}
	if len(r.bodies) != 2 || r.bodies[0] != partial || r.bodies[1] != string(res.Body) {
		t.Errorf("the reader read %q; want a's answer, then b's (the result's body)", r.bodies)
	}
	if !res.HasUsage || res.Usage.PromptTokens != 777 {
		t.Errorf("usage %+v (has %v); want the reader's", res.Usage, res.HasUsage)
	}

	// A finish reason the reader does not call partial is not retried,
	// whatever the body's bytes say; no usage read means none.
	r = &answerReader{finish: func(string) string { return "stop" }, ok: true}
	c = chat(t, "r2", "m")
	c.Answer = r
	res, err = g.Complete(context.Background(), c)
	if err != nil || res.Upstream != "a" || res.HasUsage {
		t.Fatalf("res %+v err %v; want a's answer, as read, with no usage", res, err)
	}

	// A reader that cannot read the answer: the gateway reads it itself
	// (a's partial answer is retried; b's usage is the body's).
	r = &answerReader{finish: finishOf}
	c = chat(t, "r3", "m")
	c.Answer = r
	res, err = g.Complete(context.Background(), c)
	if err != nil || res.Upstream != "b" || len(r.bodies) != 2 {
		t.Fatalf("res %+v err %v, read %d; want b's answer after 2 readings", res, err, len(r.bodies))
	}
	want, _ := openai.UsageOf(res.Body)
	if !res.HasUsage || res.Usage != want {
		t.Errorf("usage %+v (has %v); want the body's %+v", res.Usage, res.HasUsage, want)
	}
}
