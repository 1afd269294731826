package pipeline_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/ratelimit"
	"github.com/dsgate/dsgate/internal/reqscope"
)

// servingBackend serves only the models in serves, like *gateway.Gateway.
type servingBackend struct {
	*backend
	serves map[string]bool
}

func (b servingBackend) Serves(model string) bool { return b.serves[model] }

// A model no route serves is refused (404 model_not_found) before
// admission: nothing is reserved (so nothing is settled and no usage is
// recorded under a name the gateway never served) and no call reaches the
// backend. One request a minute is allowed: the unknown model must not
// take it.
func TestUnknownModelIsRefusedBeforeAdmission(t *testing.T) {
	lim, err := ratelimit.New(ratelimit.Options{Backend: ratelimit.NewMemoryBackend()})
	if err != nil {
		t.Fatal(err)
	}
	b := servingBackend{backend: &backend{}, serves: map[string]bool{"deepseek-chat": true}}
	pl := pipeline.New(pipeline.Options{Backend: func() pipeline.Backend { return b },
		Access: access.New(access.Options{Disabled: true, Limiter: lim, Defaults: ratelimit.Limits{RPM: 1}})})
	run := func(model string) error {
		s := &reqscope.Scope{RequestID: "r"}
		_, err := pl.Run(reqscope.With(context.Background(), s), &pipeline.Call{Endpoint: openai.EndpointChat,
			Body: []byte(`{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`), Principal: access.Anonymous})
		return err
	}
	err = run("no-such-model")
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.Status != 404 || oe.Code != "model_not_found" || !errors.Is(err, gateway.ErrModelNotFound) {
		t.Fatalf("unknown model: err %v, want 404 model_not_found", err)
	}
	if len(b.calls) != 0 {
		t.Fatalf("%d calls reached the backend", len(b.calls))
	}
	if err := run("deepseek-chat"); err != nil {
		t.Fatalf("the served model after an unknown one: %v (the unknown one was admitted)", err)
	}
}
