package usage

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storetest"
)

// A record is bucketed by the hour its request started in (Record.At),
// not by when it settled, and a replay after a crash restores it whole:
// its hour, cost, saving and currency as well as its tokens. (Before,
// journal lines held tokens only, so a crash lost the cost of the
// records it replayed.)
func TestJournalReplaysHourAndCost(t *testing.T) {
	ctx := context.Background()
	st := storetest.OpenSQLite(t)
	path := filepath.Join(t.TempDir(), "usage", "journal")
	settled := time.Date(2026, 12, 3, 10, 0, 1, 0, time.UTC)
	r, err := Open(ctx, st, Options{Journal: path, Clock: func() time.Time { return settled }})
	if err != nil {
		t.Fatal(err)
	}
	started := time.Date(2026, 12, 3, 9, 59, 58, 0, time.UTC) // the hour before it settled
	r.Record(Record{Kind: store.KindKey, PrincipalID: "p", Model: "m", At: started, PromptTokens: 3, CompletionTokens: 7,
		Cost: 1_234_567, CostSaved: 89, Currency: "USD"})
	r.Record(Record{Kind: store.KindKey, PrincipalID: "p", Model: "m", PromptTokens: 1}) // no At: settled
	crash(r)

	r, err = Open(ctx, st, Options{Journal: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := st.Usage(ctx, store.UsageFilter{ByHour: true})
	if err != nil {
		t.Fatal(err)
	}
	day := started.Truncate(24 * time.Hour)
	want := []store.UsageDelta{
		{Kind: store.KindKey, PrincipalID: "p", Model: "m", Day: day, Hour: started.Truncate(time.Hour), Requests: 1,
			PromptTokens: 3, CompletionTokens: 7, Cost: 1_234_567, CostSaved: 89, Currency: "USD"},
		{Kind: store.KindKey, PrincipalID: "p", Model: "m", Day: day, Hour: settled.Truncate(time.Hour), Requests: 1,
			PromptTokens: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("replayed buckets (-want +got):\n%s", diff)
	}
}

// A journal written before hourly buckets (8-field record lines without
// cost) is still replayed.
func TestJournalReadsOldRecordLines(t *testing.T) {
	e, err := parseEntry("7\t\"key\"\t\"p\"\t\"m\"\t1796292000\t3\t1\t7")
	if err != nil {
		t.Fatal(err)
	}
	want := store.UsageDelta{Kind: store.KindKey, PrincipalID: "p", Model: "m", Day: time.Unix(1796292000, 0).UTC(),
		Requests: 1, PromptTokens: 3, CacheHitTokens: 1, CompletionTokens: 7}
	if diff := cmp.Diff(want, e.delta); e.seq != 7 || diff != "" {
		t.Fatalf("seq %d (-want +got):\n%s", e.seq, diff)
	}
}
