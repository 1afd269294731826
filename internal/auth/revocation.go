package auth

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dsgate/dsgate/internal/store"
)

// RevocationOptions configures a RevocationList.
type RevocationOptions struct {
	// PollInterval is how often Run reads new revocations from the store;
	// it bounds how long other replicas take to see one. Default 250ms.
	PollInterval time.Duration
	// MaxStale: when the last successful poll is older than this (Run not
	// started, or the store failing), Revoked asks the store directly.
	// Default 2s.
	MaxStale time.Duration
	Clock    func() time.Time
	Logger   *slog.Logger
}

// RevocationList tells whether an access token (by jti) was revoked. It
// keeps every unexpired revocation in memory and polls the shared store
// for new ones, so a revocation on one replica reaches all replicas within
// PollInterval plus one store round trip, without a store read per request.
type RevocationList struct {
	st   store.TokenStore
	opts RevocationOptions

	mu       sync.RWMutex
	revoked  map[string]time.Time // jti -> token expiry
	lastSeq  int64
	lastSync time.Time
}

// NewRevocationList returns a list backed by st; call Run to keep it fresh.
func NewRevocationList(st store.TokenStore, opts RevocationOptions) *RevocationList {
	if opts.PollInterval <= 0 {
		opts.PollInterval = 250 * time.Millisecond
	}
	if opts.MaxStale <= 0 {
		opts.MaxStale = 2 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &RevocationList{st: st, opts: opts, revoked: make(map[string]time.Time)}
}

// Revoke records jti as revoked until expiresAt, in the store and locally.
func (l *RevocationList) Revoke(ctx context.Context, jti string, expiresAt time.Time) error {
	if err := l.st.RevokeToken(ctx, jti, expiresAt); err != nil {
		return err
	}
	l.mu.Lock()
	l.revoked[jti] = expiresAt
	l.mu.Unlock()
	return nil
}

// Revoked reports whether jti was revoked.
func (l *RevocationList) Revoked(ctx context.Context, jti string) (bool, error) {
	l.mu.RLock()
	_, ok := l.revoked[jti]
	fresh := l.opts.Clock().Sub(l.lastSync) < l.opts.MaxStale
	l.mu.RUnlock()
	if ok || fresh {
		return ok, nil
	}
	revoked, err := l.st.TokenRevoked(ctx, jti)
	if err != nil {
		return false, fmt.Errorf("checking revocation: %w", err)
	}
	return revoked, nil
}

// revokedSeqOverlap re-reads this many sequence numbers on every poll: a
// PostgreSQL sequence value can become visible after a larger one committed.
const revokedSeqOverlap = 256

// Sync reads revocations added since the last poll and drops expired ones.
func (l *RevocationList) Sync(ctx context.Context) error {
	now := l.opts.Clock()
	l.mu.RLock()
	after := max(l.lastSeq-revokedSeqOverlap, 0)
	l.mu.RUnlock()
	recs, err := l.st.RevokedTokens(ctx, after, now)
	if err != nil {
		return fmt.Errorf("polling revocations: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range recs {
		l.revoked[r.JTI] = r.ExpiresAt
		l.lastSeq = max(l.lastSeq, r.Seq)
	}
	for jti, exp := range l.revoked {
		if !exp.After(now) {
			delete(l.revoked, jti)
		}
	}
	l.lastSync = now
	return nil
}

// Run polls until ctx ends; about once an hour it also prunes the store.
func (l *RevocationList) Run(ctx context.Context) error {
	t := time.NewTicker(l.opts.PollInterval)
	defer t.Stop()
	var lastPrune time.Time
	for {
		if err := l.Sync(ctx); err != nil && ctx.Err() == nil {
			l.opts.Logger.Warn("token revocation poll failed", "err", err)
		}
		if now := l.opts.Clock(); now.Sub(lastPrune) > time.Hour {
			lastPrune = now
			if err := l.st.PruneRevokedTokens(ctx, now); err != nil && ctx.Err() == nil {
				l.opts.Logger.Warn("pruning revoked tokens failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
