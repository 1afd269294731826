package cache

import (
	"sync"
	"sync/atomic"
)

// purges keeps a purge from being undone by writes that began before it:
// background writes still queued, a write a worker is making, and the
// promotion of a read that answered late. Each write carries the purge
// generation it began in; a write of an entry a later purge matched is
// dropped, or, when it was already under way, its key is hidden from Get
// in that tier until the worker has deleted what it wrote.
type purges struct {
	gen    atomic.Uint64 // bumped by every Purge
	hidden atomic.Int64  // len(keys), read by Get without the lock

	mu      sync.Mutex
	all     uint64            // generation of the last purge of every model
	byModel map[string]uint64 // generation of the last purge of one model
	writing map[*inflight]struct{}
	keys    map[tierKey]int // written by stale writes, not deleted yet
}

// inflight is a background write a worker is making.
type inflight struct {
	tier  *tierState
	key   Key
	model string
	stale bool // a purge matched it while it was made
}

type tierKey struct {
	tier *tierState
	key  Key
}

// begin registers j as under way, or returns nil when a purge since j
// began matches its entry.
func (p *purges) begin(j job) *inflight {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stale(j.gen, j.e.Model) {
		return nil
	}
	w := &inflight{tier: j.tier, key: j.key, model: j.e.Model}
	if p.writing == nil {
		p.writing = make(map[*inflight]struct{})
	}
	p.writing[w] = struct{}{}
	return w
}

// stale reports whether a purge after generation gen matched model; p.mu
// is held.
func (p *purges) stale(gen uint64, model string) bool {
	return p.all > gen || p.byModel[model] > gen
}

// end unregisters w and reports whether a purge matched it meanwhile; its
// key then stays hidden until unhide.
func (p *purges) end(w *inflight) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.writing, w)
	return w.stale
}

func (p *purges) unhide(w *inflight) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := tierKey{w.tier, w.key}
	if p.keys[k]--; p.keys[k] <= 0 {
		delete(p.keys, k)
	}
	p.hidden.Store(int64(len(p.keys)))
}

// purged starts a purge by f: writes begun before it and matching it no
// longer land, and those under way are hidden until deleted.
func (p *purges) purged(f Filter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.gen.Add(1)
	if f.Model == "" {
		p.all = g
	} else {
		if p.byModel == nil {
			p.byModel = make(map[string]uint64)
		}
		p.byModel[f.Model] = g
	}
	for w := range p.writing {
		if !w.stale && f.Match(w.model) {
			w.stale = true
			if p.keys == nil {
				p.keys = make(map[tierKey]int)
			}
			p.keys[tierKey{w.tier, w.key}]++
		}
	}
	p.hidden.Store(int64(len(p.keys)))
}

// isHidden reports whether key in ts was written by a write a purge
// matched and is not deleted yet.
func (p *purges) isHidden(ts *tierState, key Key) bool {
	if p.hidden.Load() == 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[tierKey{ts, key}] > 0
}

// current reports whether no purge since generation gen matched model.
func (p *purges) current(gen uint64, model string) bool {
	if p.gen.Load() == gen {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.stale(gen, model)
}
