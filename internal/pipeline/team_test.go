package pipeline_test

import (
	"context"
	"testing"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/apierror"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/ratelimit"
	"github.com/dsgate/dsgate/internal/reqscope"
	"github.com/dsgate/dsgate/internal/store"
)

// A team's allow-list and limits apply to its members on top of their own:
// a member may not use a model the team does not allow, and the team's
// RPM is shared by all members; a key outside the team is unaffected.
func TestTeamAllowListAndLimits(t *testing.T) {
	t.Parallel()
	policy, err := auth.NewPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	lim, err := ratelimit.New(ratelimit.Options{Backend: ratelimit.NewMemoryBackend()})
	if err != nil {
		t.Fatal(err)
	}
	acc := access.New(access.Options{Policy: policy, Limiter: lim})
	acc.SetTeams(access.NewTeams(
		[]store.Team{{Name: "research", Models: []string{"deepseek-chat"}, RPM: 2}},
		[]store.TeamMember{{Kind: store.KindKey, PrincipalID: "a1", Team: "research"}, {Kind: store.KindKey, PrincipalID: "a2", Team: "research"}}))
	pl := pipeline.New(pipeline.Options{Backend: func() pipeline.Backend { return &backend{} }, Access: acc})
	a1 := &auth.Principal{ID: "a1", Kind: auth.KindKey, Role: "analyst"}
	a2 := &auth.Principal{ID: "a2", Kind: auth.KindKey, Role: "analyst"}
	out := &auth.Principal{ID: "x", Kind: auth.KindKey, Role: "analyst"}
	run := func(p *auth.Principal, model string) error {
		_, err := pl.Run(reqscope.With(context.Background(), &reqscope.Scope{}), &pipeline.Call{Endpoint: openai.EndpointChat,
			Body: []byte(`{"model":"` + model + `","max_tokens":4,"messages":[{"role":"user","content":"x"}]}`), Principal: p})
		return err
	}
	if err := run(a1, "deepseek-reasoner"); apierror.From(err).Status != 403 {
		t.Errorf("a model outside the team's allow-list: %v", err)
	}
	if err := run(out, "deepseek-reasoner"); err != nil {
		t.Errorf("a key outside the team: %v", err)
	}
	if err := run(a1, "deepseek-chat"); err != nil {
		t.Fatal(err)
	}
	if err := run(a2, "deepseek-chat"); err != nil {
		t.Fatal(err)
	}
	if err := run(a2, "deepseek-chat"); apierror.From(err).Status != 429 { // the team's third request this minute
		t.Errorf("team RPM shared by members: %v", err)
	}
	if err := run(out, "deepseek-chat"); err != nil {
		t.Errorf("a key outside the team limited: %v", err)
	}
}
