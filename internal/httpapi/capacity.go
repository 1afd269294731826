package httpapi

import (
	"net"
	"net/http"
	"sync/atomic"

	"github.com/dsgate/dsgate/internal/openai"
)

// Capacity bounds the client connections and the requests in flight (the
// gRPC listener's calls among them), so that the gateway refuses clearly
// (503 with Retry-After, in the API's error shape; UNAVAILABLE on gRPC)
// before the process runs out of file descriptors or memory: an open
// stream holds a client socket and an upstream socket, and without a
// bound a crowd of clients ends in failed accepts and failed dials.
//
// The limit applies to both counts. Connections are counted by
// ConnState, which the HTTP server calls; a request that arrives while
// more connections are open than the limit, or that would take the
// requests in flight past it, is refused and its connection closed. The
// health probes and /metrics are never refused.
type Capacity struct {
	limit    int64
	conns    atomic.Int64
	inFlight atomic.Int64
}

// NewCapacity returns a Capacity that allows limit connections and
// requests in flight; limit <= 0 allows any number.
func NewCapacity(limit int) *Capacity { return &Capacity{limit: int64(limit)} }

// Limit is the number of connections and of requests in flight allowed,
// 0 for no limit.
func (c *Capacity) Limit() int {
	if c == nil || c.limit <= 0 {
		return 0
	}
	return int(c.limit)
}

// ConnState counts the open client connections: set it as the
// http.Server's ConnState.
func (c *Capacity) ConnState(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		c.conns.Add(1)
	case http.StateClosed, http.StateHijacked:
		c.conns.Add(-1)
	}
}

// Admit takes a place for one request or gRPC call; false means the
// gateway is full. Every admitted request must be released.
func (c *Capacity) Admit() bool {
	if c == nil || c.limit <= 0 {
		return true
	}
	if c.inFlight.Add(1) > c.limit || c.conns.Load() > c.limit {
		c.inFlight.Add(-1)
		return false
	}
	return true
}

// Release gives back an admitted request's place.
func (c *Capacity) Release() {
	if c != nil && c.limit > 0 {
		c.inFlight.Add(-1)
	}
}

// exemptFromCapacity reports the paths never refused: the health probes,
// which must keep answering under load (a liveness probe that failed
// would restart a busy gateway), and /metrics, which shows the load.
func exemptFromCapacity(path string) bool {
	return path == "/healthz" || path == "/readyz" || path == "/metrics"
}

// refuseBusy answers a request the gateway has no room for: 503 with
// Retry-After in the route's error shape, and the connection closed so
// its file descriptor is freed.
func refuseBusy(w http.ResponseWriter, r *http.Request, o *Options) {
	w.Header().Set("Connection", "close")
	if o.Metrics != nil {
		o.Metrics.RateLimitRejections.WithLabelValues("capacity").Inc()
	}
	failAs(w, r, openai.Overloaded(o.Capacity.Limit()), shapeOf(r.URL.Path))
}
