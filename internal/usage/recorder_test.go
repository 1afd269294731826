package usage_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storetest"
	"github.com/dsgate/dsgate/internal/usage"
)

// exactness sends n records from many goroutines while Run flushes every
// few milliseconds, then checks the stored totals to the token.
func exactness(t *testing.T, w usage.Writer, st store.UsageStore, n int) {
	t.Helper()
	rec := usage.New(w, usage.Options{FlushInterval: 2 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()

	const workers = 64
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < n; i += workers {
				kind := store.KindKey
				if i%2 == 1 {
					kind = store.KindClient
				}
				rec.Record(usage.Record{Kind: kind, PrincipalID: "p", Model: "deepseek-chat",
					PromptTokens: 3, CacheHitTokens: 1, CompletionTokens: 7})
			}
		}(g)
	}
	wg.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	got, err := st.Usage(context.Background(), store.UsageFilter{PrincipalID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	var req, prompt, hit, completion int64
	for _, u := range got {
		req, prompt, hit, completion = req+u.Requests, prompt+u.PromptTokens, hit+u.CacheHitTokens, completion+u.CompletionTokens
	}
	if req != int64(n) || prompt != 3*int64(n) || hit != int64(n) || completion != 7*int64(n) {
		t.Fatalf("totals requests=%d prompt=%d hit=%d completion=%d, want %d/%d/%d/%d (stats %+v)",
			req, prompt, hit, completion, n, 3*n, n, 7*n, rec.Stats())
	}
	t.Logf("%d records in %d flushes", n, rec.Stats().Flushes)
}

func TestExactSQLite(t *testing.T) {
	st := storetest.OpenSQLite(t)
	exactness(t, st, st, 10000)
}

func TestExactPostgres(t *testing.T) {
	st := storetest.OpenPostgres(t)
	exactness(t, st, st, 10000)
}

// flakyWriter fails every other write, like a store with lock trouble.
type flakyWriter struct {
	store.UsageStore
	calls atomic.Int64
}

func (f *flakyWriter) AddUsage(ctx context.Context, d []store.UsageDelta) error {
	if f.calls.Add(1)%2 == 0 {
		return errors.New("database is locked")
	}
	return f.UsageStore.AddUsage(ctx, d)
}

func TestExactDespiteFailures(t *testing.T) {
	st := storetest.OpenSQLite(t)
	exactness(t, &flakyWriter{UsageStore: st}, st, 2000)
}

// blockedWriter never returns until released.
type blockedWriter struct{ release chan struct{} }

func (b blockedWriter) AddUsage(ctx context.Context, _ []store.UsageDelta) error {
	select {
	case <-b.release:
		return errors.New("released")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestRecordDoesNotBlockOnStore(t *testing.T) {
	w := blockedWriter{release: make(chan struct{})}
	defer close(w.release)
	rec := usage.New(w, usage.Options{FlushTimeout: time.Minute})
	rec.Record(usage.Record{Kind: store.KindKey, PrincipalID: "p"})
	go func() { _ = rec.Flush(context.Background()) }() // stuck in the store
	finished := make(chan struct{})
	go func() {
		for i := 0; i < 1000; i++ {
			rec.Record(usage.Record{Kind: store.KindKey, PrincipalID: "p", PromptTokens: 1})
		}
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		t.Fatal("Record blocked while the store was stuck")
	}
	if got := rec.Stats().Records; got != 1001 {
		t.Fatalf("records = %d", got)
	}
}
