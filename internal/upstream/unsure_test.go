package upstream

import (
	"testing"
	"time"
)

// TestUnsureWitnesses: a principal's unsure failure is corroborated only
// by another principal's within the window, however many it causes.
func TestUnsureWitnesses(t *testing.T) {
	var w unsureWitnesses
	t0 := time.Unix(1_000_000, 0)
	const win = 10 * time.Second
	steps := []struct {
		p    string
		at   time.Duration
		want bool
	}{
		{"a", 0, false},
		{"a", time.Second, false}, // the same principal again
		{"a", 2 * time.Second, false},
		{"b", 3 * time.Second, true},   // a failed 1 s ago
		{"b", 4 * time.Second, true},   // a still within the window
		{"b", 13 * time.Second, false}, // a's last failure is 11 s old
		{"a", 14 * time.Second, true},  // b failed 1 s ago
		{"c", 30 * time.Second, false}, // everyone else is stale
		{"c", 31 * time.Second, false},
	}
	for i, s := range steps {
		if got := w.corroborated(s.p, t0.Add(s.at), win); got != s.want {
			t.Errorf("step %d (%s at %v): corroborated %v, want %v", i, s.p, s.at, got, s.want)
		}
	}
}
