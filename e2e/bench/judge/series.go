package main

import (
	"math"
	"math/rand/v2"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/e2e/sim"
)

// side is one half of a simulated canary analysis, canary or stable, sampled once
// a second like the sandbox's Prometheus scrapes the simulator. Counters are
// cumulative (index i holds the total after second origin+i); gauges hold that
// second's value. Seconds count from the rollout's start: the stable's series
// begin before it (origin < 0), the canary's at it.
type side struct {
	b       sim.Behaviour
	rps     float64 // requests per second over all pods of the side
	preRPS  float64 // before the rollout began (seconds <= 0), when set: the stable served the canary's share too
	pods    int
	origin  int     // second of index 0
	started float64 // second the pods started at (memory growth runs from there)
	buckets []float64

	reqs, errs []float64   // cumulative requests and 5xx
	hist       [][]float64 // cumulative per bucket (last one +Inf), not cumulative over le
	cpu        [][]float64 // per pod: cumulative CPU seconds
	mem, load  [][]float64 // per pod: gauges
}

func newSide(b sim.Behaviour, rps float64, pods int, started float64) *side {
	s := &side{b: b, rps: rps, pods: pods, started: started, buckets: sim.NginxBuckets()}
	s.reqs, s.errs = []float64{0}, []float64{0}
	s.hist = [][]float64{make([]float64, len(s.buckets)+1)}
	for range pods {
		s.cpu = append(s.cpu, []float64{0})
		s.mem = append(s.mem, []float64{0})
		s.load = append(s.load, []float64{0})
	}
	s.setOrigin(0)
	return s
}

// setOrigin moves the side's first second to origin; the gauges there take
// their noiseless values (counters start at 0).
func (s *side) setOrigin(origin int) {
	s.origin = origin
	for p := range s.pods {
		s.mem[p][0] = s.b.MemoryAt((float64(origin) - s.started) / 60)
		s.load[p][0] = s.b.Load
	}
}

// extend simulates seconds up to and including t, drawing as the simulator's
// engine does each 1s tick: a Poisson number of requests spread evenly over the
// pods, binomial errors, log-normal latencies (at most sim.MaxLatencySamples per
// pod and tick, weighted), then each pod's resources with their noise: CPU and
// load a fixed part plus a part per request the pod served.
func (s *side) extend(r *rand.Rand, t int) {
	for i := len(s.reqs); i <= t-s.origin; i++ {
		now := i + s.origin
		rps := s.rps
		if now <= 0 && s.preRPS > 0 {
			rps = s.preRPS
		}
		n := sim.Poisson(r, rps)
		e := sim.Binomial(r, n, s.b.ErrorRate)
		s.reqs = append(s.reqs, last(s.reqs)+float64(n))
		s.errs = append(s.errs, last(s.errs)+float64(e))
		h := append([]float64(nil), s.hist[len(s.hist)-1]...)
		s.observe(r, h, n)
		s.hist = append(s.hist, h)
		minutes := (float64(now) - s.started) / 60
		for p := range s.pods {
			k := float64(s.served(n, p))
			s.cpu[p] = append(s.cpu[p], last(s.cpu[p])+sim.Noisy(r, s.b.CPU+s.b.CPUPerRequest*k, sim.CPUNoise))
			s.mem[p] = append(s.mem[p], sim.Noisy(r, s.b.MemoryAt(minutes), sim.MemoryNoise))
			s.load[p] = append(s.load[p], sim.Noisy(r, s.b.Load+s.b.LoadPerRequest*k, sim.LoadNoise))
		}
	}
}

// served is pod p's share of n requests spread evenly over the pods.
func (s *side) served(n, p int) int {
	k := n / s.pods
	if p < n%s.pods {
		k++
	}
	return k
}

// idx is the index of second t in the series; covers reports whether the
// series hold seconds from to to.
func (s *side) idx(t int) int { return t - s.origin }

func (s *side) covers(from, to int) bool { return s.idx(from) >= 0 && s.idx(to) <= len(s.reqs)-1 }

// observe spreads n requests evenly over the pods and records their latencies.
func (s *side) observe(r *rand.Rand, h []float64, n int) {
	for p := range s.pods {
		k := s.served(n, p)
		if k == 0 {
			continue
		}
		m := min(k, sim.MaxLatencySamples)
		for i := range m {
			w := float64(k / m)
			if i < k%m {
				w++
			}
			h[s.bucket(s.b.SampleLatency(r))] += w
		}
	}
}

func (s *side) bucket(v float64) int {
	for i, le := range s.buckets {
		if v <= le {
			return i
		}
	}
	return len(s.buckets)
}

func last(xs []float64) float64 { return xs[len(xs)-1] }

// Query answers, each over the window (end-w, end] in seconds.

func (s *side) requests(end, w int) float64 { return s.reqs[s.idx(end)] - s.reqs[s.idx(end-w)] }
func (s *side) errors(end, w int) float64   { return s.errs[s.idx(end)] - s.errs[s.idx(end-w)] }

func (s *side) cpuRate(end, w int) float64 {
	end = s.idx(end)
	sum := 0.0
	for p := range s.pods {
		sum += (s.cpu[p][end] - s.cpu[p][end-w]) / float64(w)
	}
	return sum / float64(s.pods)
}

func (s *side) memory(end int) float64 {
	end = s.idx(end)
	sum := 0.0
	for p := range s.pods {
		sum += s.mem[p][end]
	}
	return sum / float64(s.pods)
}

// memorySlope is deriv() over the window: each pod's least-squares slope of its
// working set, in bytes per second, averaged over the pods.
func (s *side) memorySlope(end, w int) float64 {
	end = s.idx(end)
	sum := 0.0
	for p := range s.pods {
		var mx, my, sxx, sxy float64
		n := float64(w + 1)
		for t := end - w; t <= end; t++ {
			mx += float64(t)
			my += s.mem[p][t]
		}
		mx, my = mx/n, my/n
		for t := end - w; t <= end; t++ {
			sxx += (float64(t) - mx) * (float64(t) - mx)
			sxy += (float64(t) - mx) * (s.mem[p][t] - my)
		}
		if sxx > 0 {
			sum += sxy / sxx
		}
	}
	return sum / float64(s.pods)
}

func (s *side) loadAvg(end, w int) float64 {
	end = s.idx(end)
	sum := 0.0
	for p := range s.pods {
		for t := end - w + 1; t <= end; t++ {
			sum += s.load[p][t]
		}
	}
	return sum / float64(w*s.pods)
}

// histogram is the side's request durations from 0 to end, cumulative over le
// as Prometheus' _bucket series are.
func (s *side) histogram(end int) analysis.Histogram {
	h := analysis.Histogram{}
	cum := 0.0
	for i, c := range s.hist[s.idx(end)] {
		cum += c
		le := math.Inf(1)
		if i < len(s.buckets) {
			le = s.buckets[i]
		}
		h[le] = cum
	}
	return h
}

// quantile is histogram_quantile over the window's bucket increases, with
// Prometheus's linear interpolation inside the bucket holding the rank.
func (s *side) quantile(q float64, end, w int) float64 {
	end = s.idx(end)
	counts := make([]float64, len(s.buckets)+1)
	total := 0.0
	for i := range counts {
		counts[i] = s.hist[end][i] - s.hist[end-w][i]
		total += counts[i]
	}
	if total == 0 {
		return math.NaN()
	}
	rank, cum := q*total, 0.0
	for i, c := range counts {
		if cum+c < rank {
			cum += c
			continue
		}
		if i == len(s.buckets) {
			return s.buckets[len(s.buckets)-1]
		}
		lower := 0.0
		if i > 0 {
			lower = s.buckets[i-1]
		}
		return lower + (s.buckets[i]-lower)*(rank-cum)/c
	}
	return s.buckets[len(s.buckets)-1]
}
