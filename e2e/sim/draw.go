package sim

import (
	"math/rand/v2"
	"slices"
)

// The simulator's noise model, exported for programs that draw the same series
// without a cluster (e2e/bench/judge), so that what they measure is what the
// sandbox produces.
const (
	CPUNoise          = cpuNoise    // sigma of the multiplicative CPU noise per tick
	LoadNoise         = loadNoise   // sigma of the multiplicative load noise per tick
	MemoryNoise       = memoryNoise // sigma of the multiplicative memory noise per tick
	MaxLatencySamples = maxSamples  // latency samples drawn per pod and tick, weighted
)

// Poisson draws a request count with the given mean, as the engine does per tick.
func Poisson(r *rand.Rand, mean float64) int { return poisson(r, mean) }

// Binomial draws the failures among n requests of error rate p.
func Binomial(r *rand.Rand, n int, p float64) int { return binomial(r, n, p) }

// Noisy applies the engine's multiplicative normal noise of sigma to v.
func Noisy(r *rand.Rand, v, sigma float64) float64 { return noisy(r, v, sigma) }

// NginxBuckets returns the upper bounds of the simulated ingress-nginx request
// duration histogram, in seconds (+Inf implied).
func NginxBuckets() []float64 { return slices.Clone(nginxBuckets) }
