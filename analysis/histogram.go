package analysis

import (
	"math"
	"sort"
)

// Histogram is a side's request durations as Prometheus buckets hold them:
// for each upper bound le (seconds, +Inf included), the requests that took at
// most le. Counts are cumulative over le, as the _bucket series are.
type Histogram map[float64]float64

// Add returns h plus d, bound by bound.
func (h Histogram) Add(d Histogram) Histogram {
	if len(d) == 0 {
		return h
	}
	out := make(Histogram, max(len(h), len(d)))
	for le, n := range h {
		out[le] = n
	}
	for le, n := range d {
		out[le] += n
	}
	return out
}

// bounds are h's upper bounds in order with their cumulative counts, made
// monotone (a bucket counted before a later one on a missed scrape can read a
// little above it) and ending with +Inf when h has it.
func (h Histogram) bounds() (les, cum []float64) {
	for le := range h {
		les = append(les, le)
	}
	sort.Float64s(les)
	cum = make([]float64, len(les))
	for i, le := range les {
		cum[i] = h[le]
		if i > 0 && cum[i] < cum[i-1] {
			cum[i] = cum[i-1]
		}
	}
	return les, cum
}

// Total is the number of requests h counts (its +Inf bucket), 0 without one.
func (h Histogram) Total() float64 { return h[math.Inf(1)] }

// Quantile is the q-quantile as Prometheus' histogram_quantile computes it:
// linear interpolation inside the bucket holding the rank, the first bucket
// starting at 0, and the largest finite bound for a rank in the +Inf bucket.
// NaN without requests.
func (h Histogram) Quantile(q float64) float64 {
	total := h.Total()
	if total <= 0 {
		return math.NaN()
	}
	return h.atRank(q * total)
}

// atRank is the duration below which rank requests fall, interpolated.
func (h Histogram) atRank(rank float64) float64 {
	les, cum := h.bounds()
	lower, below := 0.0, 0.0
	for i, le := range les {
		if cum[i] >= rank && cum[i] > below {
			if math.IsInf(le, 1) {
				return lower
			}
			return lower + (le-lower)*(rank-below)/(cum[i]-below)
		}
		if !math.IsInf(le, 1) {
			lower, below = le, cum[i]
		}
	}
	return lower
}

// Above is the number of requests that took longer than x, read with the
// interpolation Quantile uses (requests spread evenly inside a bucket), so
// Above(Quantile(q)) is (1-q) of the requests. Every request of the +Inf bucket
// counts as above any x beyond the largest finite bound.
func (h Histogram) Above(x float64) float64 {
	les, cum := h.bounds()
	total := h.Total()
	lower, below := 0.0, 0.0
	for i, le := range les {
		if math.IsInf(le, 1) {
			break
		}
		if x < le {
			at := below + (cum[i]-below)*math.Max(x-lower, 0)/(le-lower)
			return math.Max(total-at, 0)
		}
		lower, below = le, cum[i]
	}
	return math.Max(total-below, 0)
}
