package usage_test

import (
	"context"
	"testing"

	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storetest"
	"github.com/dsgate/dsgate/internal/usage"
)

// Cost is batched like tokens: summed exactly in nano-units, one bucket
// per currency.
func TestRecordsCostPerCurrency(t *testing.T) {
	st := storetest.OpenSQLite(t)
	rec := usage.New(st, usage.Options{})
	for range 1000 {
		rec.Record(usage.Record{Kind: store.KindKey, PrincipalID: "p", Model: "m", PromptTokens: 1,
			Cost: 624_001, CostSaved: 3, Currency: "USD"})
	}
	rec.Record(usage.Record{Kind: store.KindKey, PrincipalID: "p", Model: "m", Cost: 5, Currency: "CNY"})
	rec.Record(usage.Record{Kind: store.KindKey, PrincipalID: "p", Model: "m", PromptTokens: 2}) // unpriced
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := st.Usage(context.Background(), store.UsageFilter{PrincipalID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]store.UsageDelta{}
	for _, u := range got {
		by[u.Currency] = u
	}
	if u := by["USD"]; len(got) != 3 || u.Requests != 1000 || u.Cost != 624_001_000 || u.CostSaved != 3000 {
		t.Errorf("USD bucket %+v (all %+v)", u, got)
	}
	if u := by["CNY"]; u.Cost != 5 || u.Requests != 1 {
		t.Errorf("CNY bucket %+v", u)
	}
	if u := by[""]; u.Cost != 0 || u.PromptTokens != 2 {
		t.Errorf("unpriced bucket %+v", u)
	}
}
