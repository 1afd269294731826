package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit"
)

func TestGroupCoalesces(t *testing.T) {
	t.Parallel()
	var g Group
	key := Key{1}
	var calls atomic.Int32
	release := make(chan struct{})
	fn := func(ctx context.Context) (Entry, error) {
		calls.Add(1)
		<-release
		return Entry{Model: "m", Body: []byte("answer")}, nil
	}
	const n = 100
	var wg sync.WaitGroup
	var shared atomic.Int32
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			e, sh, err := g.Do(context.Background(), key, fn)
			if err != nil || string(e.Body) != "answer" {
				errs <- errors.Join(err, errors.New("wrong answer "+string(e.Body)))
			}
			if sh {
				shared.Add(1)
			}
		})
	}
	testkit.Eventually(t, 5*time.Second, "99 waiters", func() bool { return g.waiting(key) == n-1 })
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("upstream called %d times, want 1", got)
	}
	if got := shared.Load(); got != n-1 {
		t.Errorf("shared = %d, want %d", got, n-1)
	}
}

func TestGroupWaiterLeavesWithoutCancellingLeader(t *testing.T) {
	t.Parallel()
	var g Group
	key := Key{2}
	release := make(chan struct{})
	var leaderCtxErr atomic.Value
	leaderDone := make(chan Entry)
	go func() {
		e, _, _ := g.Do(context.Background(), key, func(ctx context.Context) (Entry, error) {
			<-release
			if ctx.Err() != nil {
				leaderCtxErr.Store(ctx.Err())
			}
			return Entry{Model: "done"}, nil
		})
		leaderDone <- e
	}()
	testkit.Eventually(t, 5*time.Second, "leader", func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.calls[key] != nil })

	ctx, cancel := context.WithCancel(context.Background())
	waiterErr := make(chan error)
	go func() {
		_, _, err := g.Do(ctx, key, nil)
		waiterErr <- err
	}()
	testkit.Eventually(t, 5*time.Second, "waiter", func() bool { return g.waiting(key) == 1 })
	cancel()
	if err := <-waiterErr; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled waiter got %v", err)
	}
	close(release)
	if e := <-leaderDone; e.Model != "done" || leaderCtxErr.Load() != nil {
		t.Errorf("leader got %+v, ctx err %v", e, leaderCtxErr.Load())
	}
}

func TestGroupLeaderCancelledWaitersRetry(t *testing.T) {
	t.Parallel()
	var g Group
	key := Key{3}
	var calls atomic.Int32
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	go g.Do(leaderCtx, key, func(ctx context.Context) (Entry, error) {
		calls.Add(1)
		<-ctx.Done() // the leader's client went away mid-stream
		return Entry{}, ctx.Err()
	})
	testkit.Eventually(t, 5*time.Second, "leader", func() bool { return calls.Load() == 1 })
	result := make(chan Entry)
	go func() {
		e, _, err := g.Do(context.Background(), key, func(ctx context.Context) (Entry, error) {
			calls.Add(1)
			return Entry{Model: "second"}, nil
		})
		if err != nil {
			t.Errorf("waiter: %v", err)
		}
		result <- e
	}()
	testkit.Eventually(t, 5*time.Second, "waiter", func() bool { return g.waiting(key) == 1 })
	cancelLeader()
	if e := <-result; e.Model != "second" {
		t.Errorf("waiter got %+v, want the retried answer", e)
	}
	if calls.Load() != 2 {
		t.Errorf("calls = %d, want 2", calls.Load())
	}
}

func TestGroupSharesErrors(t *testing.T) {
	t.Parallel()
	var g Group
	key := Key{4}
	boom := errors.New("upstream 500")
	release := make(chan struct{})
	go g.Do(context.Background(), key, func(ctx context.Context) (Entry, error) {
		<-release
		return Entry{}, boom
	})
	testkit.Eventually(t, 5*time.Second, "leader", func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.calls[key] != nil })
	errc := make(chan error)
	go func() {
		_, shared, err := g.Do(context.Background(), key, func(ctx context.Context) (Entry, error) {
			t.Error("waiter ran fn")
			return Entry{}, nil
		})
		if !shared {
			t.Error("not shared")
		}
		errc <- err
	}()
	testkit.Eventually(t, 5*time.Second, "waiter", func() bool { return g.waiting(key) == 1 })
	close(release)
	if err := <-errc; !errors.Is(err, boom) {
		t.Errorf("waiter error = %v, want %v", err, boom)
	}
}

func TestGroupLeaderPanic(t *testing.T) {
	t.Parallel()
	var g Group
	key := Key{5}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic not propagated to the leader")
			}
		}()
		g.Do(context.Background(), key, func(ctx context.Context) (Entry, error) { panic("bug") })
	}()
	e, shared, err := g.Do(context.Background(), key, func(ctx context.Context) (Entry, error) {
		return Entry{Model: "ok"}, nil
	})
	if err != nil || shared || e.Model != "ok" {
		t.Errorf("after panic: %+v %v %v", e, shared, err)
	}
}

// A follower that joins after the leader published gets the backlog, then
// each later chunk before the leader returns.
func TestGroupDoStreamFansOutLive(t *testing.T) {
	t.Parallel()
	var g Group
	key := Key{9}
	published, release := make(chan struct{}), make(chan struct{})
	leaderDone := make(chan error, 1)
	go func() {
		_, _, err := g.DoStream(context.Background(), key, func(ctx context.Context, publish func([]byte)) (Entry, error) {
			publish([]byte("a"))
			close(published)
			<-release
			publish([]byte("b"))
			return Entry{Body: []byte("ab")}, nil
		}, nil)
		leaderDone <- err
	}()
	<-published
	got := make(chan string, 4)
	followerDone := make(chan error, 1)
	go func() {
		e, shared, err := g.DoStream(context.Background(), key, nil, func(p []byte) error { got <- string(p); return nil })
		if err == nil && (!shared || string(e.Body) != "ab") {
			err = errors.New("wrong entry " + string(e.Body))
		}
		followerDone <- err
	}()
	if p := <-got; p != "a" {
		t.Fatalf("first chunk %q", p)
	}
	close(release)
	if p := <-got; p != "b" {
		t.Fatalf("second chunk %q", p)
	}
	if err := errors.Join(<-leaderDone, <-followerDone); err != nil {
		t.Fatal(err)
	}
}

// A follower that got part of an abandoned call cannot start over.
func TestGroupDoStreamAbandonedMidStream(t *testing.T) {
	t.Parallel()
	var g Group
	key := Key{10}
	ctx, cancel := context.WithCancel(context.Background())
	published := make(chan struct{})
	go g.DoStream(ctx, key, func(ctx context.Context, publish func([]byte)) (Entry, error) {
		publish([]byte("a"))
		close(published)
		<-ctx.Done()
		return Entry{}, ctx.Err()
	}, nil)
	<-published
	first := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, _, err := g.DoStream(context.Background(), key, nil, func([]byte) error { close(first); return nil })
		done <- err
	}()
	<-first
	cancel()
	if err := <-done; !errors.Is(err, ErrLeaderLeft) {
		t.Fatalf("err = %v, want ErrLeaderLeft", err)
	}
}
