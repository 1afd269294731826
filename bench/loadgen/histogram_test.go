package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketOfRoundTrips(t *testing.T) {
	t.Parallel()
	prevHi := int64(-1)
	for i := 0; i < numBuckets; i++ {
		lo, hi := bucketRange(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, want %d (gap or overlap)", i, lo, prevHi+1)
		}
		if lo > hi {
			t.Fatalf("bucket %d: lo %d > hi %d", i, lo, hi)
		}
		if i < numBuckets-1 {
			for _, v := range []int64{lo, hi, lo + (hi-lo)/2} {
				if got := bucketOf(v); got != i {
					t.Fatalf("bucketOf(%d) = %d, want %d", v, got, i)
				}
			}
		}
		if lo >= linearLimit && float64(hi-lo+1)/float64(lo) > 1.0/subBuckets+1e-12 {
			t.Fatalf("bucket %d [%d,%d] wider than 1/%d of its values", i, lo, hi, subBuckets)
		}
		prevHi = hi
	}
	if got := bucketOf(maxTrackable * 4); got != numBuckets-1 {
		t.Fatalf("bucketOf(huge) = %d, want last bucket %d", got, numBuckets-1)
	}
}

// exactPercentile is the nearest-rank percentile of sorted values.
func exactPercentile(sorted []int64, p float64) int64 {
	rank := int(float64(len(sorted))*p/100 + 0.999999999)
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		gen  func(i int) int64
		n    int
	}{
		{"small exact values", func(i int) int64 { return int64(i % 200) }, 1000},
		{"uniform 1..1000us", func(i int) int64 { return int64(i+1) * 1000 }, 1000},
		{"lognormal around 2ms", func(int) int64 { return int64(2e6 * (0.2 + rng.ExpFloat64())) }, 50000},
		{"one sample", func(int) int64 { return 1234567 }, 1},
		{"bimodal", func(i int) int64 {
			if i%10 == 0 {
				return 80e6
			}
			return 300e3
		}, 10000},
	}
	for _, tt := range tests {
		var h histogram
		vals := make([]int64, tt.n)
		for i := range vals {
			vals[i] = tt.gen(i)
			h.Record(time.Duration(vals[i]))
		}
		slices.Sort(vals)
		for _, p := range []float64{1, 50, 90, 99, 99.9} {
			want := exactPercentile(vals, p)
			got := int64(h.Percentile(p))
			tol := max(want/200, 1) // 0.5%
			if want < linearLimit {
				tol = 0
			}
			if d := got - want; d > tol || d < -tol {
				t.Errorf("%s: p%v = %d, want %d ± %d", tt.name, p, got, want, tol)
			}
		}
		if got := h.Percentile(100); int64(got) != vals[len(vals)-1] {
			t.Errorf("%s: p100 = %d, want max %d", tt.name, got, vals[len(vals)-1])
		}
		if got := h.Percentile(0); int64(got) != vals[0] {
			t.Errorf("%s: p0 = %d, want min %d", tt.name, got, vals[0])
		}
		if h.Count() != uint64(tt.n) {
			t.Errorf("%s: count %d, want %d", tt.name, h.Count(), tt.n)
		}
	}
}

func TestPercentileEmpty(t *testing.T) {
	t.Parallel()
	var h histogram
	if h.Percentile(50) != 0 || h.Max() != 0 || h.Mean() != 0 || h.Count() != 0 {
		t.Fatal("empty histogram should answer zeros")
	}
}

func TestMergeEqualsRecordingTogether(t *testing.T) {
	t.Parallel()
	var a, b, all histogram
	for i := 0; i < 5000; i++ {
		d := time.Duration(i*i) * time.Nanosecond
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var m histogram
	m.Merge(&a)
	m.Merge(&b)
	m.Merge(&histogram{}) // merging an empty one changes nothing
	if m != all {
		t.Fatal("merged histogram differs from one recorded directly")
	}
}

func TestRecordNegativeAndHuge(t *testing.T) {
	t.Parallel()
	var h histogram
	h.Record(-5)
	h.Record(time.Duration(maxTrackable) * 10)
	if h.Percentile(1) != 0 {
		t.Errorf("negative sample should count as 0, p1 = %v", h.Percentile(1))
	}
	if h.Max() != time.Duration(maxTrackable)*10 {
		t.Errorf("max = %v, want exact huge value", h.Max())
	}
	if got := h.Percentile(99); got != h.Max() {
		t.Errorf("p99 of an overflowed sample should clamp to max, got %v", got)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	var h histogram
	if n := testing.AllocsPerRun(1000, func() { h.Record(1500 * time.Microsecond) }); n != 0 {
		t.Fatalf("Record allocates %v times per call", n)
	}
}
