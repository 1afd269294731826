package pipeline_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/reqscope"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storetest"
	"github.com/dsgate/dsgate/internal/usage"
)

// A non-streaming call the client abandons while the upstream works is
// charged at least its prompt estimate (the upstream read the prompt), not
// recorded as free.
func TestAbandonedCallIsChargedThePrompt(t *testing.T) {
	st := storetest.OpenSQLite(t)
	rec := usage.New(st, usage.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	b := &backend{fn: func(*gateway.Call) (*gateway.Result, error) {
		cancel() // the client hangs up while the upstream generates
		return nil, context.Canceled
	}}
	pl := pipeline.New(pipeline.Options{Backend: func() pipeline.Backend { return b },
		Access: access.New(access.Options{Disabled: true, Usage: rec})})
	s := &reqscope.Scope{RequestID: "r"}
	prompt := strings.Repeat("word ", 800) // 4,000 characters
	_, err := pl.Run(reqscope.With(ctx, s), &pipeline.Call{Endpoint: openai.EndpointChat,
		Body: []byte(`{"model":"m","messages":[{"role":"user","content":"` + prompt + `"}]}`), Principal: access.Anonymous})
	if err == nil {
		t.Fatal("no error")
	}
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := st.Usage(context.Background(), store.UsageFilter{PrincipalID: access.Anonymous.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].PromptTokens < 1000 || s.PromptTokens < 1000 {
		t.Fatalf("usage %+v, scope prompt %d: want the prompt estimate (about 1000 tokens) charged", got, s.PromptTokens)
	}
}
