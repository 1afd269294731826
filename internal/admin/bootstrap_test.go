package admin_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storetest"
)

// TestBootstrapKey: the configured key becomes an admin key once, however
// many replicas start at the same time and however often they restart; a
// revoked bootstrap key stays revoked.
func TestBootstrapKey(t *testing.T) {
	for name, open := range map[string]func(testing.TB) store.Store{
		"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres,
	} {
		t.Run(name, func(t *testing.T) { testBootstrapKey(t, open(t)) })
	}
}

func testBootstrapKey(t *testing.T, st store.Store) {
	ctx := context.Background()
	full, id, _, err := auth.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	results := make([]admin.BootstrapResult, 8)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			r, gotID, err := admin.ImportBootstrapKey(ctx, st, full, now)
			if err != nil || gotID != id {
				t.Errorf("replica %d: %v %q", i, err, gotID)
			}
			results[i] = r
		})
	}
	wg.Wait()
	created := 0
	for _, r := range results {
		if r == admin.BootstrapCreated {
			created++
		} else if r != admin.BootstrapPresent {
			t.Errorf("result %v", r)
		}
	}
	if created != 1 {
		t.Fatalf("created %d times, want once", created)
	}
	p, err := auth.NewKeyAuthenticator(st, auth.KeyAuthenticatorOptions{}).AuthenticateKey(ctx, full)
	if err != nil || p.Role != "admin" || p.Name != admin.BootstrapKeyName {
		t.Fatalf("bootstrap key: %+v %v", p, err)
	}

	if err := st.RevokeKey(ctx, id, now); err != nil {
		t.Fatal(err)
	}
	if r, _, err := admin.ImportBootstrapKey(ctx, st, full, now); err != nil || r != admin.BootstrapPresent {
		t.Fatalf("restart after revoke: %v %v", r, err)
	}
	if k, _ := st.Key(ctx, id); k.RevokedAt.IsZero() {
		t.Fatal("restart un-revoked the bootstrap key")
	}

	other := auth.KeyPrefix + id + "_" + strings.Repeat("A", 43)
	if r, _, err := admin.ImportBootstrapKey(ctx, st, other, now); err != nil || r != admin.BootstrapMismatch {
		t.Fatalf("same id, other secret: %v %v", r, err)
	}
	for _, bad := range []string{"", "sk-123", "dsg_abc_short"} {
		if _, _, err := admin.ImportBootstrapKey(ctx, st, bad, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
