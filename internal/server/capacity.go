package server

import (
	"math"

	"github.com/dsgate/dsgate/internal/config"
)

// fdReserve is how many file descriptors the derived connection limit
// keeps for everything else: listeners, log and audit files, databases,
// the cache's files, health checks, idle upstream connections.
const fdReserve = 256

// memReserve is how much of a memory limit the derived connection limit
// keeps for the process itself: the binary's resident pages, the runtime
// and the state that is not per connection (30-40 MB at start, bare or
// with the full pipeline; bench/RESULTS.md, issue 22's open streams),
// and the collector's floor (server.gc_headroom_bytes, 16 MiB: a bare
// gateway's peak under load 52 MB with it, 41 without).
const memReserve = 64 << 20

// connMemory is what the derived connection limit allows one open stream:
// 62-65 KB of resident memory each with 2,000 and 9,800 streams open
// (four goroutine stacks, 26 KB; buffers and request state; the rest the
// collector's headroom). Past that the collector runs without pause under
// a memory limit and every stream's first byte waits (2 s at 9,800 streams
// in 430 MiB), or the pod is killed.
const connMemory = 64 << 10

// capacityLimits are what the default connection limit is derived from.
type capacityLimits struct {
	nofile uint64 // RLIMIT_NOFILE; 0 if unknown
	// memory is the runtime's soft memory limit (GOMEMLIMIT, which the
	// Helm chart and the manifests set from the pod's memory limit);
	// math.MaxInt64 if none.
	memory int64
	// reserved is memory the configuration sets aside besides memReserve
	// (the response cache's memory tier).
	reserved uint64
}

// maxConnections is the limit of client connections and requests in
// flight (httpapi.Capacity): the configured one, or, for 0, the smaller
// of two: half of what the file descriptor limit leaves after fdReserve,
// since each open stream holds a client and an upstream socket; and, under
// a memory limit, what it leaves after memReserve and the reserved memory
// at connMemory a connection, or a quarter of the limit when the reserve
// takes it all (a small pod with a big cache tier). -1, or no known
// limit, means no limit (0).
func maxConnections(configured int, l capacityLimits) int {
	switch {
	case configured > 0:
		return configured
	case configured < 0:
		return 0
	}
	n := 0 // no limit
	switch {
	case l.nofile == 0:
	case l.nofile <= 2*fdReserve:
		n = max(int(l.nofile/4), 1)
	default:
		n = int(min(l.nofile-fdReserve, 1<<31) / 2)
	}
	if l.memory <= 0 || l.memory == math.MaxInt64 {
		return n
	}
	limit, keep := uint64(l.memory), memReserve+min(l.reserved, 1<<62)
	room := max(limit-min(limit, keep), limit/4)
	m := max(int(room/connMemory), 1)
	if n == 0 {
		return m
	}
	return min(n, m)
}

// cacheMemory is the memory the response cache's memory tier may hold:
// 1.5 times its bound, as a full tier keeps about 1.4 times its bytes
// resident with the collector's headroom (bench/results-access-cache-observe.md).
func cacheMemory(c config.Cache) uint64 {
	if !c.Enabled {
		return 0
	}
	return min(c.Memory.MaxBytes, 1<<60) / 2 * 3
}
