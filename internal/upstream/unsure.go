package upstream

import (
	"sync"
	"time"
)

// unsureWitnesses remembers which principals caused an upstream's recent
// unsure failures (see BlameUnsure and Upstream.FailUnsure). Two entries
// are enough: the principal of the latest such failure, and the latest
// principal other than that one.
type unsureWitnesses struct {
	mu    sync.Mutex
	last  witness
	other witness
}

// witness is one principal's latest unsure failure.
type witness struct {
	principal string
	at        time.Time
	set       bool
}

// corroborated records an unsure failure that principal's call caused at
// now, and reports whether another principal's call failed the same
// unexplained way within window.
func (w *unsureWitnesses) corroborated(principal string, now time.Time, window time.Duration) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	var prev witness // the latest failure of a principal other than this one
	if w.last.set && w.last.principal != principal {
		prev, w.other = w.last, w.last
	} else {
		prev = w.other
	}
	w.last = witness{principal: principal, at: now, set: true}
	return prev.set && now.Sub(prev.at) <= window
}
