package pipeline_test

import (
	"context"
	"testing"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/reqscope"
)

// TestTeamIsOneWitness: the gateway weighs failures nobody can explain by
// who sent them (gateway.Call.Principal), so one team's keys must count as
// one tenant (the re-trial opened a breaker with two keys of one tenant);
// principals without a team count alone.
func TestTeamIsOneWitness(t *testing.T) {
	b := &backend{}
	acc := access.New(access.Options{Disabled: true})
	acc.SetCosting(&access.Costing{Team: func(p *auth.Principal) string {
		if p.ID == "k1" || p.ID == "k2" {
			return "research"
		}
		return ""
	}})
	pl := pipeline.New(pipeline.Options{Backend: func() pipeline.Backend { return b }, Access: acc})
	for _, id := range []string{"k1", "k2", "k3"} {
		s := &reqscope.Scope{RequestID: id}
		p := &auth.Principal{ID: id, Kind: auth.KindKey, Role: "admin"}
		if _, err := pl.Run(reqscope.With(context.Background(), s), &pipeline.Call{Endpoint: openai.EndpointChat,
			Body: []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`), Principal: p}); err != nil {
			t.Fatal(err)
		}
	}
	if got := []string{b.calls[0].Principal, b.calls[1].Principal, b.calls[2].Principal}; got[0] != got[1] || got[0] == got[2] {
		t.Errorf("witnesses %q: want k1 and k2 as one (their team), k3 apart", got)
	}
}
