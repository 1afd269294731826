package server

import (
	"math"
	"testing"

	"github.com/dsgate/dsgate/internal/config"
)

func TestMaxConnectionsFromNofile(t *testing.T) {
	for _, c := range []struct {
		configured int
		nofile     uint64
		want       int
	}{
		{0, 20000, (20000 - fdReserve) / 2}, // this bench machine: 9,872
		{0, 1024, (1024 - fdReserve) / 2},   // a common default
		{0, 300, 75},                        // a tiny limit: a quarter
		{0, 1 << 62, 1 << 30},               // "unlimited"
		{0, 0, 0},                           // unknown: no limit
		{2, 20000, 2},                       // configured
		{-1, 20000, 0},                      // turned off
	} {
		if got := maxConnections(c.configured, capacityLimits{nofile: c.nofile, memory: math.MaxInt64}); got != c.want {
			t.Errorf("maxConnections(%d, nofile %d) = %d, want %d", c.configured, c.nofile, got, c.want)
		}
	}
}

// Issue 22: the Helm chart runs the gateway with GOMEMLIMIT at the pod's
// memory limit (512 MiB by default) and a file descriptor limit far above
// it, so the connection limit let in streams the pod could not hold: at
// 9,800 open streams under a 430 MiB limit every stream's first byte
// waited 2 s for a collector that never stopped (bench/RESULTS.md). The
// derived limit is now the smaller of the two.
func TestMaxConnectionsFromMemoryLimit(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		name       string
		configured int
		l          capacityLimits
		want       int
	}{
		{"the chart's pod", 0, capacityLimits{nofile: 1 << 20, memory: 512 * mib}, (512 - 64) * 16},
		{"descriptors fewer", 0, capacityLimits{nofile: 1024, memory: 512 * mib}, (1024 - fdReserve) / 2},
		{"the cache's tier kept", 0, capacityLimits{nofile: 1 << 20, memory: 512 * mib, reserved: 96 * mib}, (512 - 64 - 96) * 16},
		{"no descriptor limit known", 0, capacityLimits{memory: 128 * mib}, 64 * 16},
		{"a limit below the reserve: a quarter", 0, capacityLimits{nofile: 1 << 20, memory: 32 * mib}, 8 * 16},
		{"the cache's tier takes it all", 0, capacityLimits{nofile: 1 << 20, memory: 160 * mib, reserved: 96 * mib}, 40 * 16},
		{"a tiny limit", 0, capacityLimits{nofile: 1 << 20, memory: 1 << 10}, 1},
		{"an absurd cache tier", 0, capacityLimits{nofile: 1 << 20, memory: 512 * mib, reserved: math.MaxUint64}, 128 * 16},
		{"no memory limit", 0, capacityLimits{nofile: 20000, memory: math.MaxInt64}, (20000 - fdReserve) / 2},
		{"configured wins", 50000, capacityLimits{nofile: 1 << 20, memory: 512 * mib}, 50000},
		{"turned off", -1, capacityLimits{nofile: 1 << 20, memory: 512 * mib}, 0},
	} {
		if got := maxConnections(c.configured, c.l); got != c.want {
			t.Errorf("%s: maxConnections(%d, %+v) = %d, want %d", c.name, c.configured, c.l, got, c.want)
		}
	}
}

func TestCacheMemoryReserved(t *testing.T) {
	off := config.Cache{Memory: config.CacheMemory{MaxBytes: 64 << 20}}
	if got := cacheMemory(off); got != 0 {
		t.Errorf("cache off: %d reserved", got)
	}
	on := off
	on.Enabled = true
	if got := cacheMemory(on); got != 96<<20 {
		t.Errorf("64 MiB tier: %d reserved, want 96 MiB", got)
	}
	on.Memory.MaxBytes = math.MaxUint64
	if got := cacheMemory(on); got < 1<<60 {
		t.Errorf("an absurd tier: %d reserved, wrapped", got)
	}
}
