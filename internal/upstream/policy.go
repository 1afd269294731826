package upstream

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// The selection policies. Each is a small Selector; NewSelector maps a
// config name to one.
var (
	_ Selector = (*RoundRobin)(nil)
	_ Selector = (*WeightedRoundRobin)(nil)
	_ Selector = LeastConn{}
	_ Selector = LeastLoad{}
	_ Selector = EWMA{}
	_ Selector = Random{}
)

// Policies lists the policy names NewSelector accepts.
var Policies = []string{"round_robin", "weighted_round_robin", "least_conn", "least_load", "ewma_latency", "random"}

// NewSelector returns a fresh selector for a policy name.
func NewSelector(policy string) (Selector, error) {
	switch policy {
	case "round_robin", "":
		return &RoundRobin{}, nil
	case "weighted_round_robin":
		return &WeightedRoundRobin{}, nil
	case "least_conn":
		return LeastConn{}, nil
	case "least_load":
		return LeastLoad{}, nil
	case "ewma_latency":
		return EWMA{}, nil
	case "random":
		return Random{}, nil
	}
	return nil, fmt.Errorf("unknown policy %q", policy)
}

// RoundRobin cycles through the candidates.
type RoundRobin struct{ n atomic.Uint64 }

// Select implements Selector.
func (r *RoundRobin) Select(c []*Target) *Target {
	return c[(r.n.Add(1)-1)%uint64(len(c))]
}

// WeightedRoundRobin is nginx's smooth weighted round robin: over any
// window a target with weight w gets w shares, and picks are interleaved
// rather than bunched (weights 5,1,1 give a a b a c a a, not a a a a a b c).
type WeightedRoundRobin struct {
	mu      sync.Mutex
	current map[*Target]int
}

// Select implements Selector.
func (w *WeightedRoundRobin) Select(c []*Target) *Target {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.current == nil {
		w.current = map[*Target]int{}
	}
	var best *Target
	total := 0
	for _, t := range c {
		wt := max(t.Weight, 1)
		w.current[t] += wt
		total += wt
		if best == nil || w.current[t] > w.current[best] {
			best = t
		}
	}
	w.current[best] -= total
	return best
}

// LeastConn picks the target with the fewest in-flight requests per unit
// of weight; ties go to a random one of them so idle pools spread load.
type LeastConn struct{}

// Select implements Selector.
func (LeastConn) Select(c []*Target) *Target {
	return leastBy(c, func(t *Target) float64 {
		return float64(t.Upstream.InFlight()) / float64(max(t.Weight, 1))
	})
}

// LeastLoad picks the target whose engine reports the shortest queue (see
// Upstream.LoadScore); targets without metrics fall back to in-flight
// counts.
type LeastLoad struct{}

// Select implements Selector.
func (LeastLoad) Select(c []*Target) *Target {
	return leastBy(c, func(t *Target) float64 { return t.Upstream.LoadScore() / float64(max(t.Weight, 1)) })
}

// EWMA is power of two choices over peak-EWMA latency times load: two
// random candidates, the cheaper wins. A target with no latency yet costs
// nothing, so new and recovered targets get tried.
type EWMA struct{}

// Select implements Selector.
func (EWMA) Select(c []*Target) *Target {
	if len(c) == 1 {
		return c[0]
	}
	i := rand.IntN(len(c))
	j := rand.IntN(len(c) - 1)
	if j >= i {
		j++
	}
	a, b := c[i], c[j]
	if ewmaCost(b) < ewmaCost(a) {
		return b
	}
	return a
}

func ewmaCost(t *Target) float64 {
	return float64(t.Upstream.Latency()) * float64(t.Upstream.InFlight()+1) / float64(max(t.Weight, 1))
}

// Random picks uniformly.
type Random struct{}

// Select implements Selector.
func (Random) Select(c []*Target) *Target { return c[rand.IntN(len(c))] }

// leastBy returns a target with the lowest score, choosing uniformly among
// ties (reservoir sampling), so equal targets share the load.
func leastBy(c []*Target, score func(*Target) float64) *Target {
	best, bestScore, ties := c[0], score(c[0]), 1
	for _, t := range c[1:] {
		switch s := score(t); {
		case s < bestScore:
			best, bestScore, ties = t, s, 1
		case s == bestScore:
			ties++
			if rand.IntN(ties) == 0 {
				best = t
			}
		}
	}
	return best
}
