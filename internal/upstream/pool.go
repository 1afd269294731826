package upstream

import "slices"

// Target is one upstream serving a model under the upstream's own name.
type Target struct {
	Upstream *Upstream
	Model    string // the upstream's name for the model
	Weight   int
	Priority int // tier: 0 first
	// FIMFamily names the model's FIM tokens (see FIMFamilies); "" guesses
	// from Model, "none" turns FIM off. See Target.FIM.
	FIMFamily string
}

// Selector picks one target among candidates, all of them available. It
// must be safe for concurrent use and never return nil for a non-empty
// slice.
type Selector interface {
	Select(candidates []*Target) *Target
}

// Class describes a request for routing rules.
type Class struct {
	HighPriority bool
	MaxTokens    int
	PromptChars  int
}

// Rule sends requests of a class to a policy. A rule matches when any of
// its set conditions holds.
type Rule struct {
	HighPriority   bool // the request is marked high priority
	MinMaxTokens   int  // max_tokens at least this (0: unset)
	MinPromptChars int  // prompt at least this many characters (0: unset)
	Selector       Selector
}

func (r Rule) matches(c Class) bool {
	return (r.HighPriority && c.HighPriority) ||
		(r.MinMaxTokens > 0 && c.MaxTokens >= r.MinMaxTokens) ||
		(r.MinPromptChars > 0 && c.PromptChars >= r.MinPromptChars)
}

// DefaultRules is the seed brief's routing: high-priority requests to a
// weighted pool, long generations to least connections; everything else
// takes the pool's default policy (round robin).
func DefaultRules() []Rule {
	return []Rule{
		{HighPriority: true, Selector: &WeightedRoundRobin{}},
		{MinMaxTokens: 1024, MinPromptChars: 16000, Selector: LeastConn{}},
	}
}

// Pool is the set of targets serving one public model.
type Pool struct {
	tiers    [][]*Target // by ascending priority
	selector Selector
	rules    []Rule
}

// NewPool groups targets by priority tier. A nil selector is round robin.
func NewPool(targets []*Target, sel Selector, rules []Rule) *Pool {
	if sel == nil {
		sel = &RoundRobin{}
	}
	p := &Pool{selector: sel, rules: rules}
	sorted := slices.Clone(targets)
	slices.SortStableFunc(sorted, func(a, b *Target) int { return a.Priority - b.Priority })
	for i, t := range sorted {
		if i == 0 || t.Priority != sorted[i-1].Priority {
			p.tiers = append(p.tiers, nil)
		}
		p.tiers[len(p.tiers)-1] = append(p.tiers[len(p.tiers)-1], t)
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

func (p *Pool) selectorFor(c Class) Selector {
	for _, r := range p.rules {
		if r.matches(c) {
			return r.Selector
		}
	}
	return p.selector
}

// Next picks a target for a request of class c from the first tier that
// has an available target not in tried. It returns nil when none is left.
func (p *Pool) Next(c Class, tried []*Target) *Target {
	var buf [8]*Target
	for _, tier := range p.tiers {
		cands := buf[:0]
		for _, t := range tier {
			if t.Upstream.Available() && !slices.Contains(tried, t) {
				cands = append(cands, t)
			}
		}
		if len(cands) > 0 {
			return p.selectorFor(c).Select(cands)
		}
	}
	return nil
}

// Usable reports whether any target could take a request now.
func (p *Pool) Usable() bool {
	for _, tier := range p.tiers {
		for _, t := range tier {
			if t.Upstream.Available() {
				return true
			}
		}
	}
	return false
}
