package cache

import (
	"context"
	"errors"
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
	// Chunks the leader published so far, and a channel closed (and
	// replaced) when one is added after a follower took it (watched: most
	// streams have no follower, and then no channel is made per chunk);
	// guarded by Group.mu.
	chunks  [][]byte
	more    chan struct{}
	watched bool
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
			// No more channel: nothing is published through Do (a
			// DoStream follower of this call waits for done).
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

// ErrLeaderLeft is returned to a streaming follower that had already
// received part of the answer when the call it followed was abandoned: it
// cannot start over, so its stream ends with an error.
var ErrLeaderLeft = errors.New("the coalesced call ended before its answer was complete")

// DoStream is Do for streamed answers, fanned out live: fn gets a publish
// function and calls it with each chunk as its own client gets it; every
// follower's follow is called with each published chunk, in order, as soon
// as it is published (a follower that joins late first gets the chunks it
// missed). When fn returns, followers return its Entry once they have been
// given every chunk. A leader that publishes nothing (a non-streaming call
// of the same key, through Do) is followed as by Do.
//
// A follower whose follow fails, or whose ctx ends, leaves at once. If the
// call is abandoned, followers that were given no chunk yet retry as with
// Do; the others get ErrLeaderLeft.
func (g *Group) DoStream(ctx context.Context, key Key, fn func(ctx context.Context, publish func([]byte)) (Entry, error),
	follow func([]byte) error) (e Entry, shared bool, err error) {
	for {
		g.mu.Lock()
		if g.calls == nil {
			g.calls = make(map[Key]*call)
		}
		c, ok := g.calls[key]
		if !ok {
			// Room for a short answer's chunks without regrowing.
			c = &call{done: make(chan struct{}), more: make(chan struct{}), chunks: make([][]byte, 0, 32)}
			g.calls[key] = c
			g.mu.Unlock()
			return g.lead(ctx, key, c, func(ctx context.Context) (Entry, error) {
				return fn(ctx, func(p []byte) { g.publish(c, p) })
			})
		}
		c.waiters++
		g.mu.Unlock()
		n, err := g.follow(ctx, c, follow)
		if err != nil {
			g.mu.Lock()
			c.waiters--
			g.mu.Unlock()
			return Entry{}, true, err
		}
		if c.abandoned {
			if n == 0 {
				continue
			}
			return Entry{}, true, ErrLeaderLeft
		}
		return c.entry, true, c.err
	}
}

// publish adds one chunk to c and wakes its followers.
func (g *Group) publish(c *call, p []byte) {
	g.mu.Lock()
	c.chunks = append(c.chunks, p)
	if c.watched {
		close(c.more)
		c.more, c.watched = make(chan struct{}), false
	}
	g.mu.Unlock()
}

// follow hands c's chunks to fn as they are published until c is done and
// every chunk was handed over. It returns how many chunks it handed over.
func (g *Group) follow(ctx context.Context, c *call, fn func([]byte) error) (int, error) {
	n := 0
	for {
		g.mu.Lock()
		pending, more := c.chunks[n:], c.more
		c.watched = true
		g.mu.Unlock()
		for _, p := range pending {
			if err := fn(p); err != nil {
				return n, err
			}
			n++
		}
		if len(pending) > 0 {
			continue
		}
		select {
		case <-more:
		case <-c.done:
			g.mu.Lock()
			left := len(c.chunks) - n
			g.mu.Unlock()
			if left == 0 {
				return n, nil
			}
		case <-ctx.Done():
			return n, fmt.Errorf("waiting for identical request: %w", context.Cause(ctx))
		}
	}
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
