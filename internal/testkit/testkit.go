// Package testkit holds the helpers that dsgate's tests share: waiting for a
// condition, and requiring an external service or tool.
//
// Only tests import it (internal/architecture_test.go enforces that).
package testkit

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// RequireEnv is the variable that makes every missing service or tool a
// failure instead of a skip. scripts/test.sh (the README's test command, and
// so CI) sets it; a plain `go test` by hand may skip what it cannot reach.
const RequireEnv = "DSGATE_TEST_REQUIRE"

// Required reports whether missing services and tools must fail the tests.
func Required() bool { return os.Getenv(RequireEnv) == "1" || os.Getenv("CI") == "true" }

// Need fails or skips t when err says a service or tool the test needs is
// missing: it fails under the test script (see RequireEnv) and skips
// otherwise. hint tells how to provide it. A nil err does nothing.
func Need(t testing.TB, what, hint string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if Required() {
		t.Fatalf("%s is required (%s=1): %v; %s", what, RequireEnv, err, hint)
		return
	}
	t.Skipf("%s unavailable, skipping: %v; %s", what, err, hint)
}

// Eventually polls cond every few milliseconds until it holds, and fails t
// naming what when it still does not after d. The bound only guards
// against a hang; tests never assert on how long a condition took.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for wait := time.Millisecond; !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
			return
		}
		time.Sleep(wait)
		if wait < 50*time.Millisecond {
			wait *= 2
		}
	}
}

// LiveHeap is the heap in use after two collections: what a test's objects
// keep, measured as the difference of two calls around their making (run
// it from a test that is not parallel, so no other test allocates).
func LiveHeap() int64 {
	var s runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&s)
	return int64(s.HeapAlloc)
}
