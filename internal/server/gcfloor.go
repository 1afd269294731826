package server

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// defaultGCHeadroom is server.gc_headroom_bytes's default. A gateway's
// live heap is small (2 MB bare, bench/RESULTS.md) and Go collects again
// once the heap has grown by GOGC percent of it, floored at 4 MB: a
// collection every ~340 requests, each ~2.3 ms of CPU for the goroutines'
// stacks and the globals it scans whatever the heap, some 7 µs of a
// request's 80-95. With 16 MiB of room it collects every ~1,700
// requests: 4.4-7.0 µs less CPU a request for 11-12.5 MB more peak RSS
// (bench/RESULTS.md, seventeenth session: "A floor under the collector's
// room" and "The session's end against its start").
const defaultGCHeadroom = 16 << 20

// gcFloor keeps, after (almost) every collection, at least floor bytes
// of room before the next: it raises the GC percent above the base (GOGC,
// 100 by default) while the scanned memory is small, and gives it back as
// the memory grows, so a large heap (thousands of open streams) is
// collected as GOGC says. A memory limit (GOMEMLIMIT) still caps the heap
// first. It is process-wide: the runtime has one GC percent, and the last
// server to start sets the floor. (Under a flat-out allocation rate the
// mark object made during a collection can outlive the next one, so the
// percent may trail by a cycle or two: a hostile review saw 218
// adjustments for 647 collections at 2 GB/s, one for one at 75 MB/s, and
// no overshoot of the goal.)
var gcFloor struct {
	once  sync.Once
	base  int          // the GC percent at start; <0 (GOGC=off): no floor
	floor atomic.Int64 // bytes; <=0: the base percent alone
}

// setGCFloor sets the room the collector keeps (server.gc_headroom_bytes,
// resolved: 0 means the default, -1 none), starts the per-collection
// adjustment the first time, and returns the floor in bytes and the base
// GC percent (-1: GOGC=off, no floor).
func setGCFloor(configured int64) (floor int64, base int) {
	floor = configured
	switch {
	case floor == 0:
		floor = defaultGCHeadroom
	case floor < 0:
		floor = 0
	}
	gcFloor.floor.Store(floor)
	gcFloor.once.Do(func() {
		gcFloor.base = int(readMetric("/gc/gogc:percent"))
		if gcFloor.base >= 0 {
			armGCFloor()
		}
	})
	adjustGCPercent()
	return floor, gcFloor.base
}

// applyGCFloor sets server.gc_headroom_bytes's floor, at start and on a
// reload that changes it, and logs what is in force (headroom_bytes 0:
// none; gogc -1: GOGC=off, so none either).
func (s *Server) applyGCFloor(configured int64) {
	floor, base := setGCFloor(configured)
	s.log.Info("gc floor", "headroom_bytes", floor, "gogc", base)
}

// gcMark is allocated after every collection and dropped at once; its
// cleanup runs after the next collection found it unreachable. It holds a
// pointer so that it is never a tiny allocation (whose cleanup may never
// run).
type gcMark struct{ _ *byte }

func armGCFloor() {
	runtime.AddCleanup(&gcMark{}, func(struct{}) {
		adjustGCPercent()
		armGCFloor()
	}, struct{}{})
}

var gcFloorSamples = []metrics.Sample{
	{Name: "/gc/heap/live:bytes"},
	{Name: "/gc/scan/stack:bytes"},
	{Name: "/gc/scan/globals:bytes"},
}

// gcFloorMu serialises the adjustments: a cleanup's adjustment that read
// the floor before setGCFloor changed it must not set its percent after
// setGCFloor's own.
var gcFloorMu sync.Mutex

// adjustGCPercent sets the GC percent for the memory the last collection
// scanned.
func adjustGCPercent() {
	if gcFloor.base < 0 {
		return
	}
	gcFloorMu.Lock()
	defer gcFloorMu.Unlock()
	metrics.Read(gcFloorSamples)
	var scanned uint64
	for _, s := range gcFloorSamples {
		if s.Value.Kind() == metrics.KindUint64 {
			scanned += s.Value.Uint64()
		}
	}
	p := gcPercent(gcFloor.base, gcFloor.floor.Load(), scanned)
	if p != int(readMetric("/gc/gogc:percent")) {
		debug.SetGCPercent(p)
	}
}

// maxGCPercent bounds the floor's percent: with almost nothing live a
// floor would otherwise ask for an unbounded one.
const maxGCPercent = 10000

// heapMinimum is the Go runtime's least heap goal at GOGC=100 (4 MB),
// which it scales by the GC percent: before the first collection the goal
// is that alone, and it floors every later one.
const heapMinimum = 4 << 20

// gcPercent is the GC percent that gives at least floor bytes of room over
// scanned bytes (the live heap, stacks and globals, which the runtime's
// goal grows from), and never less than base. Scanned counts as at least
// the runtime's heap minimum, so that the minimum scaled by the percent
// never passes the floor itself (before the first collection nothing has
// been scanned: a 16 MiB floor over a 1 MB one would set a 64 MB goal).
func gcPercent(base int, floor int64, scanned uint64) int {
	if floor <= 0 || base < 0 {
		return base
	}
	scanned = max(scanned, heapMinimum)
	p := (uint64(floor)*100 + scanned - 1) / scanned
	return max(base, int(min(p, maxGCPercent)))
}

// readMetric reads one uint64 runtime metric (0 if the runtime lacks it).
func readMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
