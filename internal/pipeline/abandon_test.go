package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/ratelimit"
	"github.com/dsgate/dsgate/internal/reqscope"
)

// A non-streaming call the client abandons while the upstream works is
// charged at least its prompt estimate (the upstream read the prompt):
// recorded in the scope and kept against TPM, not refunded to zero.
func TestAbandonedCallIsChargedThePrompt(t *testing.T) {
	// The gateway answers a failed call with its result (attempts) or none.
	for _, withResult := range []bool{false, true} {
		testAbandoned(t, withResult)
	}
}

func testAbandoned(t *testing.T, withResult bool) {
	lim, err := ratelimit.New(ratelimit.Options{Backend: ratelimit.NewMemoryBackend()})
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{}
	pl := pipeline.New(pipeline.Options{Backend: func() pipeline.Backend { return b },
		Access: access.New(access.Options{Disabled: true, Limiter: lim, Defaults: ratelimit.Limits{TPM: 1500}})})
	body := []byte(`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"` + strings.Repeat("word ", 800) + `"}]}`)
	run := func(ctx context.Context) (*reqscope.Scope, error) {
		s := &reqscope.Scope{RequestID: "r"}
		_, err := pl.Run(reqscope.With(ctx, s), &pipeline.Call{Endpoint: openai.EndpointChat, Body: body, Principal: access.Anonymous})
		return s, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.fn = func(*gateway.Call) (*gateway.Result, error) {
		cancel() // the client hangs up while the upstream generates
		if withResult {
			return &gateway.Result{Attempts: 1}, context.Canceled
		}
		return nil, context.Canceled
	}
	s, err := run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if s.PromptTokens < 1000 {
		t.Fatalf("scope prompt tokens %d, want the prompt estimate (about 1000)", s.PromptTokens)
	}
	// About 1000 of the 1500 tokens stay spent: the same call again
	// (about 1010 reserved) does not fit.
	b.fn = nil
	var rl *ratelimit.Error
	if _, err := run(context.Background()); !errors.As(err, &rl) {
		t.Fatalf("second call: err %v, want a TPM refusal (the abandoned one was refunded)", err)
	}
}
