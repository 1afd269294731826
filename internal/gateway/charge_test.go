package gateway_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/sim"
)

// hangUp is a client that goes away after n data events.
type hangUp struct {
	n, got int
}

var errGone = errors.New("client gone")

func (h *hangUp) Comment([]byte) error { return nil }
func (h *hangUp) Data([]byte) error {
	if h.got >= h.n {
		return errGone
	}
	h.got++
	return nil
}

// TestStreamChargedForWhatWasDelivered is issue 13's "free tokens by
// hanging up": a client that drops a stream before its usage chunk, or a
// stream the upstream cuts, was settled at 0 tokens. The Result now
// carries an estimate of the delivered completion tokens and the prompt,
// marked estimated, which every caller's settlement charges.
func TestStreamChargedForWhatWasDelivered(t *testing.T) {
	t.Parallel()
	body := `{"model":"deepseek-chat","stream":true,"messages":[{"role":"user","content":"` +
		"tell me a long story about gateways and retries" + `"}],"max_tokens":200}`

	t.Run("client hangs up", func(t *testing.T) {
		t.Parallel()
		u, _, _ := simUpstream(t, "sim", sim.Options{MaxTokens: 200})
		g := newGateway(gateway.Options{Routes: []gateway.Route{route("deepseek-chat", nil, u)}})
		res, err := g.Stream(context.Background(), call(t, openai.EndpointChat, "1", body), &hangUp{n: 40})
		if !errors.Is(err, errGone) {
			t.Fatalf("err = %v", err)
		}
		checkEstimate(t, res, 35, 40)
	})
	t.Run("upstream cuts the stream", func(t *testing.T) {
		t.Parallel()
		u, _, _ := simUpstream(t, "sim", sim.Options{MaxTokens: 200, Faults: sim.Faults{CutAfterChunks: 30}})
		g := newGateway(gateway.Options{Routes: []gateway.Route{route("deepseek-chat", nil, u)}})
		res, err := g.Stream(context.Background(), call(t, openai.EndpointChat, "2", body), &sink{})
		if err == nil {
			t.Fatal("cut stream reported no error")
		}
		checkEstimate(t, res, 28, 31)
	})
	t.Run("usage that arrived is kept", func(t *testing.T) {
		t.Parallel()
		u, _, _ := simUpstream(t, "sim", sim.Options{MaxTokens: 20})
		g := newGateway(gateway.Options{Routes: []gateway.Route{route("deepseek-chat", nil, u)}})
		res, err := g.Stream(context.Background(), call(t, openai.EndpointChat, "3", body), &sink{})
		if err != nil || !res.HasUsage || res.UsageEstimated || res.Usage.CompletionTokens != 200 {
			t.Fatalf("res %+v err %v; want the upstream's usage", res, err)
		}
	})
}

func checkEstimate(t *testing.T, res *gateway.Result, lo, hi int) {
	t.Helper()
	u := res.Usage
	if !res.HasUsage || !res.UsageEstimated || u.CompletionTokens < lo || u.CompletionTokens > hi ||
		u.PromptTokens <= 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Errorf("usage %+v (has %v, estimated %v); want about %d-%d completion tokens charged", u, res.HasUsage, res.UsageEstimated, lo, hi)
	}
}
