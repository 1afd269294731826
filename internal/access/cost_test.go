package access_test

import (
	"context"
	"testing"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pricing"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storetest"
	"github.com/dsgate/dsgate/internal/usage"
)

// The usage record carries the cost the pipeline priced; a grant settled
// without one records tokens only.
func TestDoneRecordsTheCost(t *testing.T) {
	st := storetest.OpenSQLite(t)
	rec := usage.New(st, usage.Options{})
	a := access.New(access.Options{Disabled: true, Usage: rec})
	p := &auth.Principal{ID: "k1", Kind: auth.KindKey}
	req, err := openai.Parse(openai.EndpointChat, []byte(`{"model":"m","messages":[{"role":"user","content":"x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	u := openai.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15}
	for i := range 3 {
		g, err := a.Admit(context.Background(), p, req)
		if err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			g.SetCost(pricing.Cost{Amount: 1_000_001, Saved: 7, Currency: pricing.USD})
		}
		g.Done(context.Background(), u, false)
	}
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := st.Usage(context.Background(), store.UsageFilter{PrincipalID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Currency != "" || got[0].Requests != 1 ||
		got[1].Currency != "USD" || got[1].Cost != 2_000_002 || got[1].CostSaved != 14 || got[1].PromptTokens != 20 {
		t.Errorf("usage %+v", got)
	}
}
