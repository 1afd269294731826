package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/store"
)

// testLimits: SetKeyLimits and SetClientLimits replace models and limits
// and nothing else; an unknown id is ErrNotFound.
func testLimits(t *testing.T, st store.Store) {
	ls, ok := st.(store.LimitStore)
	if !ok {
		t.Fatalf("%T has no store.LimitStore", st)
	}
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := st.CreateKey(ctx, store.Key{ID: "k1", Name: "one", Role: "developer", Hash: []byte("h"), RPM: 5, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateClient(ctx, store.Client{ID: "c1", Name: "svc", Role: "developer", SecretHash: "x", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	l := store.Limits{Models: []string{"deepseek-*"}, RPM: 1, TPM: 2, MaxConcurrent: 3}
	if err := ls.SetKeyLimits(ctx, "k1", l); err != nil {
		t.Fatal(err)
	}
	if err := ls.SetClientLimits(ctx, "c1", l); err != nil {
		t.Fatal(err)
	}
	k, err := st.Key(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(k.Models, l.Models) || k.RPM != 1 || k.TPM != 2 || k.MaxConcurrent != 3 || k.Name != "one" || string(k.Hash) != "h" {
		t.Fatalf("key after SetKeyLimits: %+v", k)
	}
	c, err := st.Client(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Models, l.Models) || c.RPM != 1 || c.TPM != 2 || c.MaxConcurrent != 3 || c.SecretHash != "x" {
		t.Fatalf("client after SetClientLimits: %+v", c)
	}
	if err := ls.SetKeyLimits(ctx, "k1", store.Limits{}); err != nil { // back to the defaults, every model
		t.Fatal(err)
	}
	if k, _ = st.Key(ctx, "k1"); k.Models != nil || k.RPM != 0 {
		t.Fatalf("key after clearing: %+v", k)
	}
	if err := ls.SetKeyLimits(ctx, "nope", l); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
	if err := ls.SetClientLimits(ctx, "nope", l); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown client: %v", err)
	}
}
