package upstream

import (
	"slices"
	"sync/atomic"
)

// Target is one upstream serving a model under the upstream's own name.
type Target struct {
	Upstream *Upstream
	Model    string // the upstream's name for the model
	Weight   int
	Priority int // tier: 0 first
}

// Selector picks one target among candidates, all of them available. It
// must be safe for concurrent use and never return nil for a non-empty
// slice.
type Selector interface {
	Select(candidates []*Target) *Target
}

// Pool is the set of targets serving one public model.
type Pool struct {
	tiers    [][]*Target // by ascending priority
	selector Selector
}

// NewPool groups targets by priority tier. A nil selector is round robin.
func NewPool(targets []*Target, sel Selector) *Pool {
	if sel == nil {
		sel = &RoundRobin{}
	}
	byPrio := map[int][]*Target{}
	for _, t := range targets {
		byPrio[t.Priority] = append(byPrio[t.Priority], t)
	}
	prios := make([]int, 0, len(byPrio))
	for p := range byPrio {
		prios = append(prios, p)
	}
	slices.Sort(prios)
	p := &Pool{selector: sel}
	for _, pr := range prios {
		p.tiers = append(p.tiers, byPrio[pr])
	}
	return p
}

// Targets lists every target, tier by tier.
func (p *Pool) Targets() []*Target {
	var all []*Target
	for _, t := range p.tiers {
		all = append(all, t...)
	}
	return all
}

// Next picks a target from the first tier that has an available one not
// in tried. It returns nil when none is left. The candidate slice lives on
// the stack for the common small pool.
func (p *Pool) Next(tried []*Target) *Target {
	var buf [8]*Target
	for _, tier := range p.tiers {
		cands := buf[:0]
		for _, t := range tier {
			if t.Upstream.Available() && !slices.Contains(tried, t) {
				cands = append(cands, t)
			}
		}
		if len(cands) > 0 {
			return p.selector.Select(cands)
		}
	}
	return nil
}

// Usable reports whether any target could take a request now.
func (p *Pool) Usable() bool { return p.Next(nil) != nil }

// RoundRobin cycles through the candidates.
type RoundRobin struct{ n atomic.Uint64 }

var _ Selector = (*RoundRobin)(nil)

// Select implements Selector.
func (r *RoundRobin) Select(c []*Target) *Target {
	return c[(r.n.Add(1)-1)%uint64(len(c))]
}
