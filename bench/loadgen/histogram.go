package main

import (
	"math"
	"math/bits"
	"time"
)

// The histogram is log-linear, like HdrHistogram with two significant
// digits: values below 256 ns have a bucket each; above, every power of
// two is cut into 128 equal buckets, so a bucket is never wider than 1/128
// (0.8%) of the values in it. Values at or above maxTrackable share the
// last bucket; min, max and the sum are kept exactly.
const (
	subBuckets   = 128
	linearLimit  = 2 * subBuckets // values below this have their own bucket
	maxShift     = 40             // 256 ns << 40 is about 3.3 days
	numBuckets   = linearLimit + maxShift*subBuckets
	maxTrackable = int64(linearLimit) << maxShift
)

// histogram records durations in nanoseconds. Its zero value is ready to
// use; it is not safe for concurrent use (each worker owns one and they
// are merged at the end).
type histogram struct {
	counts [numBuckets]uint64
	n      uint64
	sum    int64
	min    int64
	max    int64
}

// bucketOf returns the bucket index of v (v >= 0).
func bucketOf(v int64) int {
	if v < linearLimit {
		return int(v)
	}
	if v >= maxTrackable {
		return numBuckets - 1
	}
	shift := bits.Len64(uint64(v)) - 8 // keep the top 8 bits: 128..255
	top := int(v >> shift)
	return linearLimit + (shift-1)*subBuckets + top - subBuckets
}

// bucketRange returns the smallest and largest value bucket i holds.
func bucketRange(i int) (lo, hi int64) {
	if i < linearLimit {
		return int64(i), int64(i)
	}
	shift := (i-linearLimit)/subBuckets + 1
	top := int64((i-linearLimit)%subBuckets + subBuckets)
	lo = top << shift
	return lo, lo + int64(1)<<shift - 1
}

// Record adds one duration. Negative durations count as zero.
func (h *histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += v
}

// Merge adds every sample of o to h.
func (h *histogram) Merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Count is the number of recorded samples.
func (h *histogram) Count() uint64 { return h.n }

// Max is the largest recorded sample, exactly.
func (h *histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean is the exact mean of the samples, 0 when there are none.
func (h *histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / int64(h.n))
}

// Percentile returns the value at or below which p percent of the samples
// lie (nearest rank: the sample of rank ceil(p/100*n)). It answers with the
// middle of that sample's bucket, clamped to the exact min and max, so the
// error is below 0.4% of the value. 0 when there are no samples.
func (h *histogram) Percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	switch {
	case p <= 0:
		return time.Duration(h.min)
	case p >= 100:
		return time.Duration(h.max)
	}
	rank := uint64(math.Ceil(p / 100 * float64(h.n)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			if i == numBuckets-1 { // the overflow bucket has no upper bound
				return time.Duration(h.max)
			}
			lo, hi := bucketRange(i)
			v := lo + (hi-lo)/2
			return time.Duration(min(max(v, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}
