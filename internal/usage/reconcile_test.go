package usage_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/usage"
)

func TestReconcile(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 12, 2, h, m, 0, 0, time.UTC) }
	events := []audit.Event{
		{Metered: "key", Principal: "k", Model: "m", RequestAt: at(9, 10), PromptTokens: 10, CompletionTokens: 5, Cost: 100, Currency: "USD"},
		{Metered: "key", Principal: "k", Model: "m", RequestAt: at(9, 50), PromptTokens: 10, CacheResult: "hit", CostSaved: 70, Currency: "USD"},
		{Metered: "key", Principal: "k", Model: "m", RequestAt: at(18, 40), PromptTokens: 1, Cost: 1, Currency: "USD"},
		{Principal: "k", Model: "m", RequestAt: at(9, 0), Status: 429}, // refused before admission: not metered
	}
	var fromAudit []store.UsageDelta
	for i := range events {
		if d, ok := usage.FromAudit(&events[i]); ok {
			fromAudit = append(fromAudit, d)
		}
	}
	day := at(0, 0)
	stored := []store.UsageDelta{
		{Kind: store.KindKey, PrincipalID: "k", Model: "m", Day: day, Hour: at(9, 0), Requests: 2, PromptTokens: 10,
			CompletionTokens: 5, Cost: 100, CostSaved: 70, Currency: "USD"},
		{Kind: store.KindKey, PrincipalID: "k", Model: "m", Day: day, Hour: at(18, 0), Requests: 1, PromptTokens: 1, Cost: 1, Currency: "USD"},
	}
	for _, per := range []usage.Period{usage.PerDay, usage.PerHour} {
		if d := usage.Reconcile(fromAudit, stored, per, nil); len(d) != 0 {
			t.Errorf("period %d: differences %+v", per, d)
		}
	}
	// Asia/Kolkata (+05:30): the hour 18:00 UTC starts at 23:30 there, so
	// it belongs to the 2nd; both sides cut it alike.
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	if d := usage.Reconcile(fromAudit, stored, usage.PerDay, kolkata); len(d) != 0 {
		t.Errorf("Kolkata: differences %+v", d)
	}

	stored[1].Cost++ // one nano-unit off
	got := usage.Reconcile(fromAudit, stored, usage.PerHour, nil)
	want := []usage.Difference{{
		Audit: store.UsageDelta{Kind: store.KindKey, PrincipalID: "k", Model: "m", Day: day, Hour: at(18, 0), Requests: 1,
			PromptTokens: 1, Cost: 1, Currency: "USD"},
		Store: store.UsageDelta{Kind: store.KindKey, PrincipalID: "k", Model: "m", Day: day, Hour: at(18, 0), Requests: 1,
			PromptTokens: 1, Cost: 2, Currency: "USD"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tampered (-want +got):\n%s", diff)
	}
	// A bucket only the store has is a difference too.
	stored[1].Cost--
	stored = append(stored, store.UsageDelta{Kind: store.KindClient, PrincipalID: "c", Model: "m", Day: day, Hour: at(1, 0), Requests: 1})
	if got := usage.Reconcile(fromAudit, stored, usage.PerDay, nil); len(got) != 1 || got[0].Store.PrincipalID != "c" ||
		got[0].Audit.PrincipalID != "c" || got[0].Audit.Requests != 0 {
		t.Errorf("store-only bucket: %+v", got)
	}
}
