package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dsgate/dsgate/internal/store"
)

// Run runs the conformance suite; open returns a fresh, empty store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Keys", func(t *testing.T) { testKeys(t, open(t)) })
	t.Run("Clients", func(t *testing.T) { testClients(t, open(t)) })
	t.Run("Roles", func(t *testing.T) { testRoles(t, open(t)) })
	t.Run("Usage", func(t *testing.T) { testUsage(t, open(t)) })
	t.Run("UsageConcurrent", func(t *testing.T) { testUsageConcurrent(t, open(t)) })
	t.Run("JournalMark", func(t *testing.T) { testJournalMark(t, open(t)) })
	t.Run("UsageCost", func(t *testing.T) { testUsageCost(t, open(t)) })
	t.Run("UsageHours", func(t *testing.T) { testUsageHours(t, open(t)) })
	t.Run("Teams", func(t *testing.T) { testTeams(t, open(t)) })
	t.Run("Limits", func(t *testing.T) { testLimits(t, open(t)) })
	t.Run("CostOverrides", func(t *testing.T) { testCostOverrides(t, open(t)) })
	t.Run("RevokedTokens", func(t *testing.T) { testRevokedTokens(t, open(t)) })
	t.Run("SigningKeys", func(t *testing.T) { testSigningKeys(t, open(t)) })
	t.Run("BatchFiles", func(t *testing.T) { testBatchFiles(t, open(t)) })
	t.Run("Batches", func(t *testing.T) { testBatches(t, open(t)) })
	t.Run("BatchItems", func(t *testing.T) { testBatchItems(t, open(t)) })
	t.Run("Responses", func(t *testing.T) { testResponses(t, open(t)) })
	t.Run("Reopen", func(t *testing.T) {
		st := open(t)
		if err := st.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testKeys(t *testing.T, st store.Store) {
	ctx := context.Background()
	k := store.Key{ID: "abc123", Name: "ci", Role: "developer", Hash: bytes.Repeat([]byte{7}, 32),
		Models: []string{"deepseek-chat"}, RPM: 60, TPM: 1000, MaxConcurrent: 4, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := st.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateKey(ctx, k); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate create: got %v, want ErrConflict", err)
	}
	got, err := st.Key(ctx, "abc123")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(k, got); diff != "" {
		t.Fatalf("Key() mismatch (-want +got):\n%s", diff)
	}
	_, err = st.Key(ctx, "nope")
	mustNotFound(t, err, "Key(nope)")
	k2 := store.Key{ID: "def456", Name: "b", Role: "analyst", Hash: []byte{1}, CreatedAt: t0.Add(time.Second)}
	if err := st.CreateKey(ctx, k2); err != nil {
		t.Fatal(err)
	}
	list, err := st.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "abc123" || list[1].ID != "def456" {
		t.Fatalf("ListKeys = %+v", list)
	}
	if err := st.RevokeKey(ctx, "abc123", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeKey(ctx, "abc123", t0.Add(time.Hour)); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	got, _ = st.Key(ctx, "abc123")
	if !got.RevokedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("RevokedAt = %v, want first revocation time", got.RevokedAt)
	}
	mustNotFound(t, st.RevokeKey(ctx, "nope", t0), "RevokeKey(nope)")
}

func testClients(t *testing.T, st store.Store) {
	ctx := context.Background()
	c := store.Client{ID: "svc-search", Name: "search", Role: "developer", SecretHash: "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA",
		Scopes: []string{"chat", "embeddings"}, Models: []string{"deepseek-*"}, RPM: 10, TPM: 20, MaxConcurrent: 2, CreatedAt: t0}
	if err := st.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateClient(ctx, c); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate create: got %v, want ErrConflict", err)
	}
	got, err := st.Client(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Fatalf("Client() mismatch (-want +got):\n%s", diff)
	}
	_, err = st.Client(ctx, "nope")
	mustNotFound(t, err, "Client(nope)")
	if err := st.RevokeClient(ctx, c.ID, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	list, err := st.ListClients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].RevokedAt.IsZero() {
		t.Fatalf("ListClients = %+v, want one revoked client", list)
	}
	mustNotFound(t, st.RevokeClient(ctx, "nope", t0), "RevokeClient(nope)")
}

func testRoles(t *testing.T, st store.Store) {
	ctx := context.Background()
	r := store.Role{Name: "ops", Grants: []store.Grant{{Resource: "admin.*", Actions: []string{"read"}}},
		Models: []string{"deepseek-chat"}, UpdatedAt: t0}
	if err := st.PutRole(ctx, r); err != nil {
		t.Fatal(err)
	}
	r.Grants = append(r.Grants, store.Grant{Resource: "cache", Actions: []string{"*"}})
	r.UpdatedAt = t0.Add(time.Hour)
	if err := st.PutRole(ctx, r); err != nil {
		t.Fatalf("replacing role: %v", err)
	}
	got, err := st.Role(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Fatalf("Role() mismatch (-want +got):\n%s", diff)
	}
	list, err := st.ListRoles(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListRoles = %v, %v", list, err)
	}
	if err := st.DeleteRole(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	mustNotFound(t, st.DeleteRole(ctx, "ops"), "DeleteRole twice")
	_, err = st.Role(ctx, "ops")
	mustNotFound(t, err, "Role after delete")
}

func testUsage(t *testing.T, st store.Store) {
	ctx := context.Background()
	day := t0.Truncate(24 * time.Hour)
	deltas := []store.UsageDelta{
		{Kind: store.KindKey, PrincipalID: "k1", Model: "m", Day: t0, Requests: 1, PromptTokens: 10, CacheHitTokens: 3, CompletionTokens: 5},
		{Kind: store.KindKey, PrincipalID: "k1", Model: "m", Day: t0.Add(time.Hour), Requests: 2, PromptTokens: 1, CompletionTokens: 1},
		{Kind: store.KindClient, PrincipalID: "c1", Model: "m", Day: t0.Add(24 * time.Hour), Requests: 1, PromptTokens: 7},
	}
	if err := st.AddUsage(ctx, deltas); err != nil {
		t.Fatal(err)
	}
	if err := st.AddUsage(ctx, nil); err != nil {
		t.Fatalf("empty AddUsage: %v", err)
	}
	got, err := st.Usage(ctx, store.UsageFilter{Kind: store.KindKey, PrincipalID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.UsageDelta{{Kind: store.KindKey, PrincipalID: "k1", Model: "m", Day: day, Requests: 3, PromptTokens: 11, CacheHitTokens: 3, CompletionTokens: 6}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Usage(k1) mismatch (-want +got):\n%s", diff)
	}
	all, err := st.Usage(ctx, store.UsageFilter{From: day.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].PrincipalID != "c1" {
		t.Fatalf("Usage(from next day) = %+v", all)
	}
	none, err := st.Usage(ctx, store.UsageFilter{To: day})
	if err != nil || len(none) != 0 {
		t.Fatalf("Usage(to day) = %+v, %v; want none", none, err)
	}
}

// testUsageConcurrent adds from many goroutines at once; totals must be exact
// and no write may fail with a lock error.
func testUsageConcurrent(t *testing.T, st store.Store) {
	ctx := context.Background()
	const writers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				err := st.AddUsage(ctx, []store.UsageDelta{
					{Kind: store.KindKey, PrincipalID: "hot", Model: "m", Day: t0, Requests: 1, PromptTokens: 2, CompletionTokens: 3},
					{Kind: store.KindClient, PrincipalID: "hot", Model: "m", Day: t0, Requests: 1, CacheHitTokens: 1},
				})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("AddUsage under contention: %v", err)
	}
	got, err := st.Usage(ctx, store.UsageFilter{PrincipalID: "hot"})
	if err != nil {
		t.Fatal(err)
	}
	const n = writers * each
	if len(got) != 2 || got[1].Requests != n || got[1].PromptTokens != 2*n || got[1].CompletionTokens != 3*n ||
		got[0].Requests != n || got[0].CacheHitTokens != n {
		t.Fatalf("totals after %d concurrent adds = %+v", n, got)
	}
}

func testRevokedTokens(t *testing.T, st store.Store) {
	ctx := context.Background()
	if ok, err := st.TokenRevoked(ctx, "j1"); err != nil || ok {
		t.Fatalf("TokenRevoked(unknown) = %v, %v", ok, err)
	}
	for _, jti := range []string{"j1", "j2", "j1", "old"} {
		exp := t0.Add(time.Hour)
		if jti == "old" {
			exp = t0.Add(-time.Minute)
		}
		if err := st.RevokeToken(ctx, jti, exp); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := st.TokenRevoked(ctx, "j1"); err != nil || !ok {
		t.Fatalf("TokenRevoked(j1) = %v, %v", ok, err)
	}
	list, err := st.RevokedTokens(ctx, 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].JTI != "j1" || list[1].JTI != "j2" || list[0].Seq >= list[1].Seq {
		t.Fatalf("RevokedTokens(0) = %+v", list)
	}
	after, err := st.RevokedTokens(ctx, list[0].Seq, t0)
	if err != nil || len(after) != 1 || after[0].JTI != "j2" {
		t.Fatalf("RevokedTokens(after j1) = %+v, %v", after, err)
	}
	if err := st.PruneRevokedTokens(ctx, t0); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.TokenRevoked(ctx, "old"); ok {
		t.Fatal("expired revocation survived pruning")
	}
	if ok, _ := st.TokenRevoked(ctx, "j2"); !ok {
		t.Fatal("live revocation pruned")
	}
}

func testSigningKeys(t *testing.T, st store.Store) {
	ctx := context.Background()
	a := store.SigningKey{KID: "a", Algorithm: "ES256", PrivateKey: []byte("enc-a"), PublicKey: []byte("pub-a"), CreatedAt: t0, ActivatesAt: t0}
	b := store.SigningKey{KID: "b", Algorithm: "ES256", PrivateKey: []byte("enc-b"), PublicKey: []byte("pub-b"), CreatedAt: t0.Add(time.Hour), ActivatesAt: t0.Add(time.Hour)}
	for _, k := range []store.SigningKey{a, b} {
		if err := st.AddSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AddSigningKey(ctx, a); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate signing key: %v", err)
	}
	if err := st.RetireSigningKey(ctx, "a", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustNotFound(t, st.RetireSigningKey(ctx, "zz", t0), "RetireSigningKey(zz)")
	got, err := st.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a.RetiredAt = t0.Add(time.Hour)
	if diff := cmp.Diff([]store.SigningKey{b, a}, got); diff != "" {
		t.Fatalf("SigningKeys mismatch (-want +got):\n%s", diff)
	}
	if err := st.DeleteSigningKey(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.SigningKeys(ctx); len(got) != 1 {
		t.Fatalf("after delete: %d keys", len(got))
	}

}

// testJournalMark: AddJournalUsage adds the usage and moves the journal's
// mark in one go; marks are per journal.
func testJournalMark(t *testing.T, st store.Store) {
	ctx := context.Background()
	if m, err := st.JournalMark(ctx, "j1"); err != nil || m != 0 {
		t.Fatalf("mark of a new journal: %d, %v", m, err)
	}
	d := store.UsageDelta{Kind: store.KindKey, PrincipalID: "jp", Model: "m", Day: time.Now(), Requests: 2, PromptTokens: 5}
	if err := st.AddJournalUsage(ctx, []store.UsageDelta{d}, "j1", 5); err != nil {
		t.Fatal(err)
	}
	if err := st.AddJournalUsage(ctx, []store.UsageDelta{d}, "j1", 9); err != nil {
		t.Fatal(err)
	}
	if m, err := st.JournalMark(ctx, "j1"); err != nil || m != 9 {
		t.Fatalf("mark j1 = %d, %v; want 9", m, err)
	}
	if m, _ := st.JournalMark(ctx, "j2"); m != 0 {
		t.Fatalf("mark j2 = %d; want 0", m)
	}
	got, err := st.Usage(ctx, store.UsageFilter{PrincipalID: "jp"})
	if err != nil || len(got) != 1 || got[0].Requests != 4 || got[0].PromptTokens != 10 {
		t.Fatalf("usage %+v, %v", got, err)
	}
}

// testUsageCost sums cost and savings exactly in nano-units, per currency:
// the same principal, model and day in two currencies are two buckets.
func testUsageCost(t *testing.T, st store.Store) {
	ctx := context.Background()
	day := t0.Truncate(24 * time.Hour)
	const big = int64(4_000_000_000_000_000_000) // near int64's top: no float64 on the way
	deltas := []store.UsageDelta{
		{Kind: store.KindKey, PrincipalID: "k1", Model: "m", Day: t0, Requests: 1, PromptTokens: 10, Cost: 624_001, CostSaved: 3, Currency: "USD"},
		{Kind: store.KindKey, PrincipalID: "k1", Model: "m", Day: t0.Add(time.Hour), Requests: 1, Cost: big, CostSaved: 1, Currency: "USD"},
		{Kind: store.KindKey, PrincipalID: "k1", Model: "m", Day: t0, Requests: 1, Cost: 7, Currency: "CNY"},
		{Kind: store.KindKey, PrincipalID: "k1", Model: "m", Day: t0, Requests: 1, PromptTokens: 1},
	}
	if err := st.AddUsage(ctx, deltas); err != nil {
		t.Fatal(err)
	}
	got, err := st.Usage(ctx, store.UsageFilter{Kind: store.KindKey, PrincipalID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.UsageDelta{
		{Kind: store.KindKey, PrincipalID: "k1", Model: "m", Day: day, Requests: 1, PromptTokens: 1},
		{Kind: store.KindKey, PrincipalID: "k1", Model: "m", Day: day, Requests: 1, Cost: 7, Currency: "CNY"},
		{Kind: store.KindKey, PrincipalID: "k1", Model: "m", Day: day, Requests: 2, PromptTokens: 10, Cost: big + 624_001, CostSaved: 4, Currency: "USD"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Usage(k1) mismatch (-want +got):\n%s", diff)
	}
}

// testTeams covers the TeamStore the SQL stores implement.
func testTeams(t *testing.T, st store.Store) {
	ts, ok := st.(store.TeamStore)
	if !ok {
		t.Fatal("the store has no teams: every SQL store implements store.TeamStore")
	}
	ctx := context.Background()
	if err := ts.SetTeamMember(ctx, store.KindKey, "k1", "research"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("member of a missing team: %v", err)
	}
	team := store.Team{Name: "research", Models: []string{"deepseek-flash"}, RPM: 60, TPM: 1000, MaxConcurrent: 4, UpdatedAt: t0}
	if err := ts.PutTeam(ctx, team); err != nil {
		t.Fatal(err)
	}
	got, err := ts.Team(ctx, "research")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(team, got); diff != "" {
		t.Fatalf("team (-want +got):\n%s", diff)
	}
	team.Models, team.RPM = nil, 0
	if err := ts.PutTeam(ctx, team); err != nil {
		t.Fatal(err)
	}
	if err := ts.PutTeam(ctx, store.Team{Name: "ops", UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	list, err := ts.ListTeams(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "ops" || list[1].RPM != 0 || len(list[1].Models) != 0 {
		t.Fatalf("teams %+v %v", list, err)
	}
	for _, m := range []store.TeamMember{{Kind: store.KindKey, PrincipalID: "k1", Team: "research"}, {Kind: store.KindClient, PrincipalID: "c1", Team: "research"}, {Kind: store.KindKey, PrincipalID: "k2", Team: "ops"}} {
		if err := ts.SetTeamMember(ctx, m.Kind, m.PrincipalID, m.Team); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts.SetTeamMember(ctx, store.KindKey, "k2", "research"); err != nil { // moves
		t.Fatal(err)
	}
	if err := ts.SetTeamMember(ctx, store.KindClient, "c1", ""); err != nil { // leaves
		t.Fatal(err)
	}
	members, err := ts.ListTeamMembers(ctx)
	want := []store.TeamMember{{Kind: store.KindKey, PrincipalID: "k1", Team: "research"}, {Kind: store.KindKey, PrincipalID: "k2", Team: "research"}}
	if diff := cmp.Diff(want, members); err != nil || diff != "" {
		t.Fatalf("members (-want +got):\n%s %v", diff, err)
	}
	if err := ts.DeleteTeam(ctx, "research"); err != nil {
		t.Fatal(err)
	}
	if err := ts.DeleteTeam(ctx, "research"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if members, _ := ts.ListTeamMembers(ctx); len(members) != 0 {
		t.Fatalf("members of a deleted team remain: %+v", members)
	}
}

// testCostOverrides covers the CostOverrideStore the SQL stores implement.
func testCostOverrides(t *testing.T, st store.Store) {
	cs, ok := st.(store.CostOverrideStore)
	if !ok {
		t.Fatal("the store has no cost overrides: every SQL store implements store.CostOverrideStore")
	}
	ctx := context.Background()
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	a := store.CostOverride{Kind: store.OverridePrice, Name: "deepseek-chat@@", Body: `{"model":"deepseek-chat","output":"3"}`, UpdatedBy: "k1", UpdatedAt: at}
	b := store.CostOverride{Kind: store.OverrideBudget, Name: "team:research/day/USD", Body: `{"amount":"5"}`, UpdatedAt: at}
	for _, o := range []store.CostOverride{a, b} {
		if err := cs.PutCostOverride(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	a.Body = `{"model":"deepseek-chat","output":"4"}`
	if err := cs.PutCostOverride(ctx, a); err != nil { // replaces
		t.Fatal(err)
	}
	got, err := cs.ListCostOverrides(ctx, store.OverridePrice)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != a {
		t.Fatalf("prices: %+v, want [%+v]", got, a)
	}
	if err := cs.DeleteCostOverride(ctx, store.OverridePrice, a.Name); err != nil {
		t.Fatal(err)
	}
	mustNotFound(t, cs.DeleteCostOverride(ctx, store.OverridePrice, a.Name), "deleted override")
	if got, _ := cs.ListCostOverrides(ctx, store.OverridePrice); len(got) != 0 {
		t.Fatalf("after delete: %+v", got)
	}
	if got, _ := cs.ListCostOverrides(ctx, store.OverrideBudget); len(got) != 1 || got[0] != b {
		t.Fatalf("budgets: %+v", got)
	}
}
