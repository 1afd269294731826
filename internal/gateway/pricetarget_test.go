package gateway_test

import (
	"context"
	"testing"

	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/upstream"
)

// Pricing needs the upstream's own model name and kind: a public model
// "flash" served by a local engine as "deepseek-flash" must be priced as
// that engine's, not as DeepSeek's cloud.
func TestResultNamesTheUpstreamModelAndKind(t *testing.T) {
	t.Parallel()
	f := newFake(t, "local", ok)
	u := up("local", f.srv.URL)
	r := gateway.Route{Name: "flash", Pool: upstream.NewPool([]*upstream.Target{
		{Upstream: u, Model: "deepseek-flash", Weight: 1}}, nil, nil)}
	g := newGateway(gateway.Options{Routes: []gateway.Route{r}})
	want := gateway.Target{Upstream: "local", UpstreamModel: "deepseek-flash", UpstreamKind: upstream.KindOpenAI}
	if got, ok := g.PrimaryTarget("flash"); !ok || got != want {
		t.Errorf("PrimaryTarget %+v %v, want %+v", got, ok, want)
	}
	if _, ok := g.PrimaryTarget("nope"); ok {
		t.Error("PrimaryTarget of an unknown model")
	}
	res, err := g.Complete(context.Background(), chat(t, "r1", "flash"))
	if err != nil {
		t.Fatal(err)
	}
	if res.UpstreamModel != "deepseek-flash" || res.UpstreamKind != upstream.KindOpenAI {
		t.Errorf("complete: %q %q", res.UpstreamModel, res.UpstreamKind)
	}
	var s sink
	res, err = g.Stream(context.Background(), chatStream(t, "r2", "flash"), &s)
	if err != nil {
		t.Fatal(err)
	}
	if res.UpstreamModel != "deepseek-flash" || res.UpstreamKind != upstream.KindOpenAI {
		t.Errorf("stream: %q %q", res.UpstreamModel, res.UpstreamKind)
	}
}
