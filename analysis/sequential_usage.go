package analysis

import (
	"fmt"
	"iter"
	"math"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// The ratio forms of the cpu and load checks judged continuously. At every
// tick i since the canary's first traffic the canary's excess over its
// allowance is one sample,
//
//	d_i = u_i - factor * e_i
//
// where u_i is the canary's per-pod figure in the tick and e_i the stable's
// figure for the same work in the same tick (resources.go): its fitted line at
// the canary's traffic per pod when the fit tells idle from per-request use,
// else the stable's per-pod figure of that tick, scaled by the traffic ratio
// when the canary's pods serve more — of the two splits, the one that never
// counts the canary's share against it. Pairing the sides tick by tick cancels
// what moves both (a load swing, a traffic step).
//
// The check fails when the mean excess is above 0 with confidence, read off an
// asymptotic confidence sequence: the Robbins normal-mixture boundary with the
// sample variance plugged in (Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas,
// "Time-uniform central limit theory and asymptotic confidence sequences", Ann.
// Statist. 52(6), 2024, Theorem 2.2). For t ticks with mean m and sample
// variance s²,
//
//	m ± sqrt( 2 (t s² ρ² + 1) / (t² ρ²) · log( sqrt(t s² ρ² + 1) / α ) )
//
// holds the mean excess at every t at once with probability tending to 1-α;
// the one-sided use at α is conservative. ρ is chosen so the boundary is
// tightest at usageTightAt ticks (the paper's section 3.4), in units of s, so
// the figure's unit does not matter. The guarantee is asymptotic: it assumes
// the ticks' excesses are independent with a finite variance and holds as
// their number grows, so no verdict comes before usageBurnIn ticks
// (delayed-start mixtures: Bibaut, Kallus & Lindon, "Near-optimal, near-
// calibrated, non-parametric sequential tests and confidence sequences with
// possibly dependent observations", 2022). It does not hold exactly when use
// drifts slowly within a side (a cache warming, a collector's cycle longer
// than a tick): successive ticks are then alike and the sample variance is too
// small. A canary within tolerance is never shown as such by this sequence:
// an early advance still needs the step's comparison on the strict figure
// (resources.go).

// usageBurnIn is how many ticks the sequence needs before it can fail a canary.
const usageBurnIn = 6

// usageTightAt is the tick count at which the boundary is tightest: 30 ticks,
// five minutes at the default sample interval.
const usageTightAt = 30

// usageTick is one tick's resource figures per pod and requests per second per
// pod, canary and stable.
type usageTick struct {
	canary, canaryRate, stable, stableRate float64
	requests                               float64 // the canary's, in the tick
}

// usageBoundary is the half-width of the confidence sequence after t samples of
// sample variance s2 at level alpha.
func usageBoundary(t int, s2, alpha float64) float64 {
	la := -2 * math.Log(alpha)
	rho2 := (la + math.Log(la+1)) / usageTightAt // rho² s², in units of s
	x := float64(t)*rho2 + 1
	return math.Sqrt(2 * s2 * x / (float64(t) * float64(t) * rho2) * math.Log(math.Sqrt(x)/alpha))
}

// sequentialUsage judges a ratio cpu or load check on the ticks since the
// canary's first traffic, with f the stable's fit. It fails the check or leaves
// it inconclusive.
func sequentialUsage(c contract.Check, ticks iter.Seq[usageTick], f stableFit, alpha, minRequests float64) contract.CheckResult {
	r := contract.CheckResult{Name: c.Name(), Verdict: contract.Inconclusive}
	var n int
	var mean, m2, canary, expected, requests float64
	for t := range ticks {
		e, _, _ := f.sameWorkValue(t.stable, t.stableRate, t.canaryRate)
		d := t.canary - c.Bound*e
		if !isFinite(d) {
			continue
		}
		n++ // Welford's running mean and variance
		delta := d - mean
		mean += delta / float64(n)
		m2 += delta * (d - mean)
		canary += t.canary
		expected += e
		requests += t.requests
	}
	what := "CPU"
	if c.Metric == contract.MetricLoad {
		what = "load"
	}
	if n < usageBurnIn || requests < minRequests || requests == 0 {
		r.Reason = fmt.Sprintf("%s not judged continuously yet (%d of %d ticks, %s requests)", what, n, usageBurnIn, sig(requests))
		return r
	}
	cv, sv := canary/float64(n), expected/float64(n)
	r.Value, r.Baseline = &cv, &sv
	lo := mean - usageBoundary(n, m2/float64(n-1), alpha)
	figures := fmt.Sprintf("canary %s per pod against %sx the stable's %s for the same work, over %d ticks; excess %s, at least %s; anytime-valid (asymptotic), false-rollback bound %s",
		sig(cv), contract.FormatNumber(c.Bound), sig(sv), n, sig(mean), sig(lo), contract.FormatNumber(alpha))
	if lo > 0 {
		r.Verdict, r.Reason = contract.Fail, fmt.Sprintf("%s above its limit (%s)", what, figures)
		return r
	}
	r.Reason = fmt.Sprintf("%s not yet told above its limit (%s)", what, figures)
	return r
}
