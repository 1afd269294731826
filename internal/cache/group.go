package cache

import (
	"context"
	"fmt"
	"sync"
)

// Group coalesces concurrent identical misses so that one upstream call
// answers them all. Unlike singleflight, the leader runs fn on its own
// goroutine with its own ctx, so a streaming leader can write its client's
// stream from fn; waiters get the finished Entry when fn returns.
//
// A waiter whose ctx ends leaves at once and does not affect the leader. If
// the leader's own ctx ends and fn fails because of it, the waiters do not
// inherit that cancellation: they retry, and one of them becomes the new
// leader. The zero Group is ready to use.
type Group struct {
	mu    sync.Mutex
	calls map[Key]*call
}

type call struct {
	done chan struct{}
	// Written by the leader before done is closed.
	entry     Entry
	err       error
	abandoned bool // the leader left; waiters must retry
	waiters   int  // guarded by Group.mu; for tests
}

// Do runs fn once for all concurrent callers with the same key. It returns
// fn's result and whether this caller shared another caller's call. fn's
// Entry is shared by all callers and must not be modified.
func (g *Group) Do(ctx context.Context, key Key, fn func(ctx context.Context) (Entry, error)) (e Entry, shared bool, err error) {
	for {
		g.mu.Lock()
		if g.calls == nil {
			g.calls = make(map[Key]*call)
		}
		c, ok := g.calls[key]
		if !ok {
			c = &call{done: make(chan struct{})}
			g.calls[key] = c
			g.mu.Unlock()
			return g.lead(ctx, key, c, fn)
		}
		c.waiters++
		g.mu.Unlock()
		select {
		case <-c.done:
			if c.abandoned {
				continue
			}
			return c.entry, true, c.err
		case <-ctx.Done():
			g.mu.Lock()
			c.waiters--
			g.mu.Unlock()
			return Entry{}, true, fmt.Errorf("waiting for identical request: %w", context.Cause(ctx))
		}
	}
}

func (g *Group) lead(ctx context.Context, key Key, c *call, fn func(context.Context) (Entry, error)) (e Entry, shared bool, err error) {
	normal := false
	defer func() {
		if !normal {
			// fn panicked: release the waiters to retry, then re-panic.
			c.abandoned = true
		}
		g.mu.Lock()
		delete(g.calls, key)
		g.mu.Unlock()
		close(c.done)
	}()
	c.entry, c.err = fn(ctx)
	c.abandoned = c.err != nil && ctx.Err() != nil
	normal = true
	return c.entry, false, c.err
}

// waiting returns how many callers wait on key; for tests.
func (g *Group) waiting(key Key) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		return c.waiters
	}
	return 0
}
