//go:build race

package chatwire

// raceEnabled is true under the race detector, whose instrumentation adds
// allocations; the strict allocation checks run without it (the test
// script runs them again without -race).
const raceEnabled = true
