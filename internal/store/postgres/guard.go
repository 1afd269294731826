package postgres

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync"
	"time"

	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/sqlstore"
)

// Outage handling defaults.
const (
	// DefaultConnectTimeout bounds one connection attempt (TCP, TLS and
	// the start-up exchange) when the DSN sets no connect_timeout: without
	// it a black-holed server holds each attempt until the caller's
	// deadline.
	DefaultConnectTimeout = 2 * time.Second
	// DefaultRetryAfter is how long after a failed connection attempt new
	// attempts fail at once, instead of each waiting for the server.
	DefaultRetryAfter = time.Second
)

// ErrUnavailable is returned, at once, for connections wanted while
// PostgreSQL is known to be unreachable; it wraps the last connection
// error. It is a store.ErrUnavailable, as is every failed connection
// attempt.
var ErrUnavailable = fmt.Errorf("postgres known to be unreachable: %w", store.ErrUnavailable)

// guard is a driver.Connector that remembers failed connection attempts:
// after one, new attempts fail at once with ErrUnavailable for RetryAfter;
// then a single attempt probes the server while the others still fail
// fast, and the first success ends the outage. Queries on connections
// already open are not affected (their caller's deadline bounds them).
type guard struct {
	inner      driver.Connector
	retryAfter time.Duration
	now        func() time.Time

	mu       sync.Mutex
	down     bool
	probing  bool
	retryAt  time.Time
	since    time.Time // start of the current state
	last     error
	failures uint64
}

var _ driver.Connector = (*guard)(nil)

func newGuard(inner driver.Connector, retryAfter time.Duration) *guard {
	return &guard{inner: inner, retryAfter: retryAfter, now: time.Now, since: time.Now()}
}

// Connect implements driver.Connector.
func (g *guard) Connect(ctx context.Context) (driver.Conn, error) {
	if err := g.admit(); err != nil {
		return nil, err
	}
	c, err := g.inner.Connect(ctx)
	g.done(ctx, err)
	if err != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return c, err
}

// Driver implements driver.Connector.
func (g *guard) Driver() driver.Driver { return g.inner.Driver() }

func (g *guard) admit() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.down {
		return nil
	}
	if g.probing || g.now().Before(g.retryAt) {
		return fmt.Errorf("%w since %s: %w", ErrUnavailable, g.since.UTC().Format(time.RFC3339), g.last)
	}
	g.probing = true
	return nil
}

func (g *guard) done(ctx context.Context, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.probing = false
	switch {
	case err == nil:
		if g.down {
			g.down, g.since = false, g.now()
		}
	case ctx.Err() != nil:
		// The caller gave up: no evidence either way.
	default:
		g.failures++
		g.last = err
		g.retryAt = g.now().Add(g.retryAfter)
		if !g.down {
			g.down, g.since = true, g.now()
		}
	}
}

// health reports the guard's state.
func (g *guard) health() sqlstore.Health {
	g.mu.Lock()
	defer g.mu.Unlock()
	h := sqlstore.Health{Backend: "postgres", Up: !g.down, Since: g.since, ConnectFailures: g.failures}
	if g.down && g.last != nil {
		h.LastError = g.last.Error()
	}
	return h
}
