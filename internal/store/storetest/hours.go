package storetest

import (
	"context"
	"database/sql"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/sqlstore"
)

// testUsageHours checks hourly buckets: one per UTC hour a request
// started in, daily rows that are their exact sums, and time bounds that
// select whole hours (a bound inside an hour, as a day in Asia/Kolkata
// has, selects the hours that start after it).
func testUsageHours(t *testing.T, st store.Store) {
	ctx := context.Background()
	h := func(n int, min int) time.Time {
		return t0.Truncate(24 * time.Hour).Add(time.Duration(n)*time.Hour + time.Duration(min)*time.Minute)
	}
	deltas := []store.UsageDelta{
		{Kind: store.KindKey, PrincipalID: "k", Model: "m", Day: h(0, 5), Requests: 1, PromptTokens: 1, Cost: 10, Currency: "USD"},
		{Kind: store.KindKey, PrincipalID: "k", Model: "m", Day: h(0, 59), Requests: 1, PromptTokens: 2, Cost: 20, Currency: "USD"},
		{Kind: store.KindKey, PrincipalID: "k", Model: "m", Day: h(1, 0), Requests: 1, PromptTokens: 4, Cost: 40, Currency: "USD"},
		{Kind: store.KindKey, PrincipalID: "k", Model: "m", Day: h(23, 30), Requests: 1, PromptTokens: 8, Cost: 80, Currency: "USD"},
		{Kind: store.KindKey, PrincipalID: "k", Model: "m", Day: h(24, 0), Requests: 1, PromptTokens: 16, Cost: 160, Currency: "USD"},
	}
	if err := st.AddUsage(ctx, deltas); err != nil {
		t.Fatal(err)
	}
	hours, err := st.Usage(ctx, store.UsageFilter{ByHour: true})
	if err != nil {
		t.Fatal(err)
	}
	bucket := func(at time.Time, req, prompt, cost int64) store.UsageDelta {
		return store.UsageDelta{Kind: store.KindKey, PrincipalID: "k", Model: "m", Day: at.Truncate(24 * time.Hour),
			Hour: at.Truncate(time.Hour), Requests: req, PromptTokens: prompt, Cost: cost, Currency: "USD"}
	}
	want := []store.UsageDelta{bucket(h(0, 0), 2, 3, 30), bucket(h(1, 0), 1, 4, 40), bucket(h(23, 0), 1, 8, 80),
		bucket(h(24, 0), 1, 16, 160)}
	if diff := cmp.Diff(want, hours); diff != "" {
		t.Fatalf("hourly buckets (-want +got):\n%s", diff)
	}
	days, err := st.Usage(ctx, store.UsageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	day := func(at time.Time, req, prompt, cost int64) store.UsageDelta {
		d := bucket(at, req, prompt, cost)
		d.Hour = time.Time{}
		return d
	}
	if diff := cmp.Diff([]store.UsageDelta{day(h(0, 0), 4, 15, 150), day(h(24, 0), 1, 16, 160)}, days); diff != "" {
		t.Fatalf("daily sums (-want +got):\n%s", diff)
	}
	// Asia/Kolkata's day h(24) starts at h(18, 30) UTC: the hour starting
	// at 18:00 UTC (23:30 there) is left out, the ones from 19:00 in.
	kolkata := store.UsageFilter{From: h(-6+24, 30), To: h(24+18, 30), ByHour: true}
	got, err := st.Usage(ctx, kolkata)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.UsageDelta{bucket(h(23, 0), 1, 8, 80), bucket(h(24, 0), 1, 16, 160)}, got); diff != "" {
		t.Fatalf("hours in [%v, %v) (-want +got):\n%s", kolkata.From, kolkata.To, diff)
	}
	got, err = st.Usage(ctx, store.UsageFilter{From: h(1, 0), To: h(23, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.UsageDelta{day(h(1, 0), 1, 4, 40)}, got); diff != "" {
		t.Fatalf("daily sum of hours [1, 23) (-want +got):\n%s", diff)
	}
}

// UsageUpgrade checks migration 0008 on db (an empty database or
// schema): usage stored by migrations up to 0007 (daily buckets) is kept
// whole, with its hour unknown, is summed with the hourly buckets added
// after, and is selected by its day. migrations holds the backend's
// *.sql files; open opens the store over db's database, applying the rest.
func UsageUpgrade(t *testing.T, db *sql.DB, migrations fs.FS, lockSQL string, open func() store.Store) {
	t.Helper()
	ctx := context.Background()
	old := fstest.MapFS{}
	names, err := fs.Glob(migrations, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if strings.Compare(path.Base(name), "0008") < 0 {
			body, err := fs.ReadFile(migrations, name)
			if err != nil {
				t.Fatal(err)
			}
			old[name] = &fstest.MapFile{Data: body}
		}
	}
	if err := sqlstore.Migrate(ctx, db, old, lockSQL); err != nil {
		t.Fatal(err)
	}
	day := t0.Truncate(24 * time.Hour)
	if _, err := db.ExecContext(ctx, `INSERT INTO usage_totals (kind, principal_id, model, day, currency, requests,
		prompt_tokens, cost_nano) VALUES ('key', 'k', 'm', `+strconv.FormatInt(day.UnixMicro(), 10)+`, 'USD', 3, 30, 300)`); err != nil {
		t.Fatal(err)
	}
	st := open()
	if err := st.AddUsage(ctx, []store.UsageDelta{{Kind: store.KindKey, PrincipalID: "k", Model: "m",
		Day: day.Add(5 * time.Hour), Requests: 1, PromptTokens: 1, Cost: 1, Currency: "USD"}}); err != nil {
		t.Fatal(err)
	}
	days, err := st.Usage(ctx, store.UsageFilter{From: day, To: day.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.UsageDelta{{Kind: store.KindKey, PrincipalID: "k", Model: "m", Day: day, Requests: 4, PromptTokens: 31,
		Cost: 301, Currency: "USD"}}
	if diff := cmp.Diff(want, days); diff != "" {
		t.Fatalf("day after the upgrade (-want +got):\n%s", diff)
	}
	hours, err := st.Usage(ctx, store.UsageFilter{ByHour: true})
	if err != nil {
		t.Fatal(err)
	}
	want = []store.UsageDelta{
		{Kind: store.KindKey, PrincipalID: "k", Model: "m", Day: day, Requests: 3, PromptTokens: 30, Cost: 300, Currency: "USD"},
		{Kind: store.KindKey, PrincipalID: "k", Model: "m", Day: day, Hour: day.Add(5 * time.Hour), Requests: 1, PromptTokens: 1,
			Cost: 1, Currency: "USD"},
	}
	if diff := cmp.Diff(want, hours); diff != "" {
		t.Fatalf("hours after the upgrade: the old bucket has no hour (-want +got):\n%s", diff)
	}
}
