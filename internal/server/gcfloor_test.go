package server

import (
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strings"
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
	if InDefaultGC(t) {
		return
	}
	defer setGCFloor(-1)
	setGCFloor(256 << 20)
	base := gcFloor.base
	if base != 100 {
		t.Fatalf("base GC percent %d without GOGC set, want 100", base)
	}
	small := int(readMetric("/gc/gogc:percent"))
	if small <= base {
		t.Fatalf("GC percent %d with a 256 MiB floor over a small heap, base %d", small, base)
	}
	// Two collections first, so that the cleanup armed at start has run
	// and what follows needs the one it armed again (a chain that
	// stopped after one passed without these).
	for range 2 {
		waitGCPercent(t, func(p int) bool { return p == small })
	}
	live := make([]byte, 128<<20) // scanned as live heap, though never touched
	waitGCPercent(t, func(p int) bool { return p < small && p <= 200 })
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

// InDefaultGC runs the calling test again in a child process without
// GOGC in its environment when this process has it set, and reports
// whether it did (the caller then returns): a floor's GC percent is seen
// against the runtime's default base, 100, whatever GOGC the tests were
// started with (under GOGC=off there is no floor; over 6,400 a 256 MiB
// floor never passes the base). Exported for the server_test package.
func InDefaultGC(t *testing.T) bool {
	t.Helper()
	if _, set := os.LookupEnv("GOGC"); !set {
		return false
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOGC=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("%s without GOGC: %v\n%s", t.Name(), err, out)
	}
	return true
}
