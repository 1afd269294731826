package server

import (
	"runtime"
	"testing"
	"time"
)

func TestGCPercent(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		name    string
		base    int
		floor   int64
		scanned uint64
		want    int
	}{
		{"small heap raised", 100, 16 * mb, 6 * mb, 267},
		{"rounded up", 100, 16 * mb, 5 * mb, 320},
		{"below the runtime's minimum", 100, 16 * mb, 2 * mb, 400},
		{"nothing scanned yet", 100, 16 * mb, 0, 400},
		{"large heap keeps base", 100, 16 * mb, 300 * mb, 100},
		{"the floor's own size", 100, 16 * mb, 16 * mb, 100},
		{"higher base kept", 400, 16 * mb, 8 * mb, 400},
		{"huge floor is bounded", 100, 1 << 40, 8 * mb, maxGCPercent},
		{"no floor", 100, 0, 2 * mb, 100},
		{"GOGC=off stays off", -1, 16 * mb, 2 * mb, -1},
	} {
		if got := gcPercent(c.base, c.floor, c.scanned); got != c.want {
			t.Errorf("%s: gcPercent(%d, %d, %d) = %d, want %d", c.name, c.base, c.floor, c.scanned, got, c.want)
		}
	}
}

// TestGCFloorFollowsCollections: the GC percent follows what each
// collection leaves live: raised for a small heap, lowered at the next
// collection once the heap has grown, back to the base without a floor.
func TestGCFloorFollowsCollections(t *testing.T) {
	defer setGCFloor(-1)
	setGCFloor(256 << 20)
	base := gcFloor.base
	if base < 0 { // GOGC=off: no floor to follow
		if p := int(readMetric("/gc/gogc:percent")); p != base {
			t.Fatalf("GC percent %d under GOGC=off", p)
		}
		return
	}
	if base >= 6400 { // 256 MiB over the 4 MiB minimum: the floor never passes such a GOGC
		t.Skipf("the test process runs with GOGC=%d", base) // only under a hand-set GOGC; the suite sets none
	}
	small := int(readMetric("/gc/gogc:percent"))
	if small <= max(base, 100) {
		t.Fatalf("GC percent %d with a 256 MiB floor over a small heap, base %d", small, base)
	}
	// Two collections first, so that the cleanup armed at start has run
	// and what follows needs the one it armed again (a chain that
	// stopped after one passed without these).
	for range 2 {
		waitGCPercent(t, func(p int) bool { return p == small })
	}
	live := make([]byte, 128<<20) // scanned as live heap, though never touched
	waitGCPercent(t, func(p int) bool { return p < small && p <= max(base, 200) })
	runtime.KeepAlive(live)
	setGCFloor(-1)
	waitGCPercent(t, func(p int) bool { return p == base })
}

func waitGCPercent(t *testing.T, ok func(int) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		p := int(readMetric("/gc/gogc:percent"))
		if ok(p) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GC percent %d after 10 s of collections", p)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
