package auth

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/maypok86/otter/v2"
	"google.golang.org/grpc/peer"

	"github.com/dsgate/dsgate/internal/ratelimit"
)

// FailedAuthDimension names the limit on failed authentications per client
// address in the *ratelimit.Error it returns, which transports render as
// 429 with Retry-After in OpenAI's error shape.
const FailedAuthDimension ratelimit.Dimension = "failed_authentication"

// FailureLimiterOptions configures a FailureLimiter.
type FailureLimiterOptions struct {
	// PerMinute is how many failed authentications one client address may
	// make in a minute before its credentials stop being looked up; default
	// 30.
	PerMinute int
	// MaxAddresses bounds the addresses tracked (least used forgotten
	// first); default 100000.
	MaxAddresses int
	Clock        func() time.Time // default time.Now
}

// FailureLimiter counts failed authentications per client address in a
// fixed one-minute window. Past the limit, Check rejects the address until
// the window ends, so a flood of made-up credentials costs no store reads
// and no password hashing. Memory is bounded (an otter cache); safe for
// concurrent use. A nil *FailureLimiter limits nothing.
//
// Behind a reverse proxy every caller has the proxy's address: raise the
// limit or turn it off (PerMinute < 0) there.
type FailureLimiter struct {
	opts  FailureLimiterOptions
	addrs *otter.Cache[netip.Prefix, failWindow]
}

type failWindow struct {
	start    time.Time
	failures int
}

const failureWindow = time.Minute

// NewFailureLimiter returns a limiter, or nil when opts.PerMinute < 0.
func NewFailureLimiter(opts FailureLimiterOptions) *FailureLimiter {
	if opts.PerMinute < 0 {
		return nil
	}
	if opts.PerMinute == 0 {
		opts.PerMinute = 30
	}
	if opts.MaxAddresses <= 0 {
		opts.MaxAddresses = 100000
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &FailureLimiter{opts: opts, addrs: otter.Must(&otter.Options[netip.Prefix, failWindow]{
		MaximumSize:      opts.MaxAddresses,
		ExpiryCalculator: otter.ExpiryWriting[netip.Prefix, failWindow](failureWindow),
	})}
}

// Check returns a *ratelimit.Error when addr has used up its failures for
// the current window, else nil. An empty or unparsable addr is not limited.
func (l *FailureLimiter) Check(addr string) error {
	if l == nil {
		return nil
	}
	key, ok := addrKey(addr)
	if !ok {
		return nil
	}
	w, ok := l.addrs.GetIfPresent(key)
	if !ok {
		return nil
	}
	now := l.opts.Clock()
	if end := w.start.Add(failureWindow); w.failures >= l.opts.PerMinute && now.Before(end) {
		return &ratelimit.Error{Dimension: FailedAuthDimension, RetryAfter: end.Sub(now), Limit: int64(l.opts.PerMinute)}
	}
	return nil
}

// Fail records one failed authentication from addr.
func (l *FailureLimiter) Fail(addr string) {
	if l == nil {
		return
	}
	key, ok := addrKey(addr)
	if !ok {
		return
	}
	now := l.opts.Clock()
	l.addrs.Compute(key, func(w failWindow, found bool) (failWindow, otter.ComputeOp) {
		if !found || !now.Before(w.start.Add(failureWindow)) {
			w = failWindow{start: now}
		}
		w.failures++
		return w, otter.WriteOp
	})
}

// addrKey is the unit of limiting: the IPv4 address, or the IPv6 /64 (one
// subscriber usually holds a whole /64). addr may carry a port.
func addrKey(addr string) (netip.Prefix, bool) {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap().WithZone("")
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

type clientAddrKey struct{}

// WithClientAddr returns ctx carrying the caller's network address (an
// http.Request's RemoteAddr), for the per-address failure limit.
func WithClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

// ClientAddr returns the caller's address set by WithClientAddr, else the
// gRPC peer's, else "".
func ClientAddr(ctx context.Context) string {
	if a, ok := ctx.Value(clientAddrKey{}).(string); ok {
		return a
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}
