package main

import (
	"slices"
	"testing"
)

// Odd rounds take the targets as given, even rounds reversed: in two
// rounds every target has had each place.
func TestRoundOrder(t *testing.T) {
	a, b, c := &target{name: "a"}, &target{name: "b"}, &target{name: "c"}
	order := []*target{a, b, c}
	names := func(ts []*target) (n []string) {
		for _, t := range ts {
			n = append(n, t.name)
		}
		return n
	}
	for r, want := range map[int][]string{1: {"a", "b", "c"}, 2: {"c", "b", "a"}, 3: {"a", "b", "c"}, 4: {"c", "b", "a"}} {
		if got := names(roundOrder(order, r)); !slices.Equal(got, want) {
			t.Errorf("round %d: %v, want %v", r, got, want)
		}
	}
	if got := names(order); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("the given order changed: %v", got)
	}
}
