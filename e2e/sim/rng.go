package sim

import (
	"math"
	"math/rand/v2"
)

// NewRand returns the simulator's single random source for a seed, so a run
// with the same seed and the same objects replays.
func NewRand(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))
}

// poisson draws from a Poisson distribution: Knuth's product method for small
// means, a rounded normal approximation for large ones (the error is far
// below the noise the simulation adds anyway).
func poisson(r *rand.Rand, mean float64) int {
	switch {
	case !(mean > 0):
		return 0
	case mean < 30:
		limit, p, k := math.Exp(-mean), 1.0, 0
		for {
			p *= r.Float64()
			if p <= limit {
				return k
			}
			k++
		}
	default:
		return max(0, int(math.Round(mean+math.Sqrt(mean)*r.NormFloat64())))
	}
}

// binomial draws the number of successes in n trials of probability p.
func binomial(r *rand.Rand, n int, p float64) int {
	switch {
	case n <= 0 || !(p > 0):
		return 0
	case p >= 1:
		return n
	case p > 0.5:
		return n - binomial(r, n, 1-p)
	case n <= 64:
		k := 0
		for range n {
			if r.Float64() < p {
				k++
			}
		}
		return k
	case float64(n)*p < 20:
		return binomialInversion(r, n, p)
	default:
		mean, sd := float64(n)*p, math.Sqrt(float64(n)*p*(1-p))
		return min(n, max(0, int(math.Round(mean+sd*r.NormFloat64()))))
	}
}

// binomialInversion counts successes by jumping geometric gaps between them,
// exact and fast when n*p is small.
func binomialInversion(r *rand.Rand, n int, p float64) int {
	logQ := math.Log1p(-p)
	k, pos := 0, 0
	for {
		gap := int(math.Floor(math.Log(1-r.Float64())/logQ)) + 1
		pos += gap
		if pos > n {
			return k
		}
		k++
	}
}

// multinomial splits n draws over weights (any non-negative scale) by
// sequential conditional binomials.
func multinomial(r *rand.Rand, n int, weights []float64) []int {
	out := make([]int, len(weights))
	total := 0.0
	for _, w := range weights {
		total += math.Max(0, w)
	}
	if n <= 0 || !(total > 0) {
		return out
	}
	last := 0
	for i, w := range weights {
		if w > 0 {
			last = i
		}
	}
	left, rest := n, total
	for i := 0; i <= last && left > 0; i++ {
		w := math.Max(0, weights[i])
		if w == 0 {
			continue
		}
		if i == last {
			out[i] = left
			break
		}
		k := binomial(r, left, w/rest)
		out[i] = k
		left -= k
		rest -= w
	}
	return out
}

// spreadEven splits n draws uniformly over k slots, as a Service's
// load-balancing does over its ready endpoints.
func spreadEven(r *rand.Rand, n, k int) []int {
	w := make([]float64, k)
	for i := range w {
		w[i] = 1
	}
	return multinomial(r, n, w)
}
