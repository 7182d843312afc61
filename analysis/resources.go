package analysis

import (
	"fmt"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"math"
	"time"
)

// CPU and load are compared for the same work. A pod's CPU (or load) is modelled
// as an idle part plus a part per request served:
//
//	u = idle + k * r        (u per pod, r requests per second per pod)
//
// With router nginx, istio or gateway the canary runs ceil(D*w/100) pods for w%
// of the traffic while the stable keeps D pods, so the two sides serve different
// traffic per pod and their per-pod figures differ by weight alone. The stable's
// idle part and cost per request are fitted (least squares) on its own samples
// since before the rollout began — its traffic per pod changes as the canary
// takes its share — and the canary's per-pod figure over the step is compared
// with the stable's fitted figure at the canary's traffic per pod,
// idle + k * r_canary: the same work, so weight and replica ratio cancel.
//
// Where the stable's samples cannot tell idle from per-request use (its traffic
// varied too little against the noise, so the fitted figure at the canary's
// traffic is uncertain by more than fitTolerance), the comparison takes the
// stable's per-pod figure scaled by the traffic ratio when the canary's pods
// serve more, unscaled otherwise: max(1, r_canary/r_stable) * u_stable, which
// never counts the canary's larger share per pod against it.

// fitTolerance is the relative standard error of the stable's fitted figure at
// the canary's traffic above which the fit is not used.
const fitTolerance = 0.05

// preRollout is how far before the rollout's start the stable's resource samples
// are read: they show it at its full traffic, before the canary took a share.
const preRollout = 5 * time.Minute

// usage is one side's resource use over a span of ticks.
type usage struct {
	podSeconds float64 // pods x seconds sampled
	value      float64 // CPU core-seconds, or load x pod-seconds
	requests   float64
}

// perPod is the mean per-pod figure (cores, or load); NaN without samples.
func (u usage) perPod() float64 {
	if u.podSeconds <= 0 {
		return math.NaN()
	}
	return u.value / u.podSeconds
}

// rate is the requests per second per pod.
func (u usage) rate() float64 {
	if u.podSeconds <= 0 {
		return 0
	}
	return u.requests / u.podSeconds
}

// fit is a least-squares line u = idle + k*r through the stable's samples.
type fit struct {
	idle, k float64
	n       float64 // samples
	meanR   float64
	sxx     float64 // sum of squared deviations of r
	s2      float64 // residual variance
}

// fitLine fits the stable's (r, u) samples; ok is false with fewer than three
// samples or no spread in r.
func fitLine(rs, us []float64) (fit, bool) {
	n := float64(len(rs))
	if n < 3 {
		return fit{}, false
	}
	var mr, mu float64
	for i := range rs {
		mr += rs[i]
		mu += us[i]
	}
	mr, mu = mr/n, mu/n
	var sxx, sxy float64
	for i := range rs {
		sxx += (rs[i] - mr) * (rs[i] - mr)
		sxy += (rs[i] - mr) * (us[i] - mu)
	}
	if sxx <= 0 {
		return fit{}, false
	}
	f := fit{k: sxy / sxx, n: n, meanR: mr, sxx: sxx}
	f.idle = mu - f.k*mr
	var rss float64
	for i := range rs {
		d := us[i] - f.idle - f.k*rs[i]
		rss += d * d
	}
	f.s2 = rss / (n - 2)
	return f, true
}

// at is the fitted figure at rate r and its standard error.
func (f fit) at(r float64) (v, se float64) {
	v = f.idle + f.k*r
	return v, math.Sqrt(f.s2 * (1/f.n + (r-f.meanR)*(r-f.meanR)/f.sxx))
}

// sameWorkFigure is the stable's figure for the canary's traffic per pod.
type sameWorkFigure struct {
	value float64 // what the step's gate compares the canary with
	how   string  // how value was found, for the reason
	// strict is the figure under the split of the stable's use into idle and
	// per-request parts least favourable to the canary: value itself when the
	// stable's fit told them apart, else the smaller of u_stable (all idle)
	// and u_stable * r_canary / r_stable (all per request).
	strict float64
}

// stableFit is the stable's fitted line when it has one with no negative part;
// whether it tells idle from per-request use depends on the rate it is read at
// (toldAt).
type stableFit struct {
	fit
	ok bool
}

func newStableFit(rs, us []float64) stableFit {
	f, ok := fitLine(rs, us)
	return stableFit{fit: f, ok: ok && f.idle >= 0 && f.k >= 0}
}

// toldAt is the fitted figure at rate r, and whether it is certain enough
// (relative standard error at most fitTolerance) to be used.
func (f stableFit) toldAt(r float64) (float64, bool) {
	if !f.ok {
		return 0, false
	}
	v, se := f.at(r)
	return v, v > 0 && se <= fitTolerance*v
}

// sameWorkValue is the figure the canary's per-pod use at canaryRate is compared
// with, given the stable's per-pod figure perPod at stableRate: the fitted one
// when told, else perPod scaled by the traffic ratio when the canary's pods serve
// more, unscaled otherwise. told and scaled say which.
func (f stableFit) sameWorkValue(perPod, stableRate, canaryRate float64) (v float64, told, scaled bool) {
	if v, ok := f.toldAt(canaryRate); ok {
		return v, true, false
	}
	if stableRate > 0 && canaryRate > stableRate {
		return perPod * canaryRate / stableRate, false, true
	}
	return perPod, false, false
}

// sameWork is the stable's figure at the canary's traffic per pod.
func sameWork(stable usage, canaryRate float64, f stableFit) sameWorkFigure {
	sr, v := stable.rate(), stable.perPod()
	value, told, scaled := f.sameWorkValue(v, sr, canaryRate)
	switch {
	case told:
		return sameWorkFigure{value: value, strict: value, how: fmt.Sprintf(
			"stable fitted at the canary's %s req/s per pod: idle %s + %s per req/s, from %d samples",
			sig(canaryRate), sig(f.idle), sig(f.k), int(f.n))}
	case scaled:
		return sameWorkFigure{value: value, strict: v, how: fmt.Sprintf(
			"stable %s per pod at %s req/s scaled to the canary's %s req/s (idle part not told)", sig(v), sig(sr), sig(canaryRate))}
	}
	strict := v
	if sr > 0 {
		strict = min(v, v*canaryRate/sr)
	}
	return sameWorkFigure{value: value, strict: strict, how: fmt.Sprintf(
		"stable per pod at %s req/s, canary %s req/s (idle part not told)", sig(sr), sig(canaryRate))}
}

// sameWorkResult decides a cpu or load ratio check at a step's gate: the
// canary's per-pod figure over the step against factor x the stable's at the
// same traffic per pod. rs, us are the stable's samples (traffic and figure per
// pod) since before the rollout. early reports whether the result may let the
// step advance before its end: the canary is within tolerance of the strict
// figure too, so a passing comparison without the stable's fit ("idle part not
// told"), which a canary whose pods serve less can pass with a regression,
// waits for the step's end.
func sameWorkResult(c contract.Check, canary, stable usage, f stableFit, minReq float64) (r contract.CheckResult, early bool) {
	r = contract.CheckResult{Name: c.Name()}
	switch {
	case canary.requests < minReq || canary.requests == 0:
		r.Verdict, r.Reason = contract.Inconclusive, fmt.Sprintf("not enough traffic on the canary (%.0f requests)", canary.requests)
		return r, false
	case canary.podSeconds <= 0:
		r.Verdict, r.Reason = contract.Fail, "no data for canary"
		return r, false
	case stable.podSeconds <= 0:
		r.Verdict, r.Reason = contract.Fail, "no data for stable"
		return r, false
	}
	cv := canary.perPod()
	fig := sameWork(stable, canary.rate(), f)
	r.Value, r.Baseline = &cv, &fig.value
	r.Verdict, r.Reason = compare(c, cv, fig.value)
	r.Reason += "; " + fig.how
	strict, _ := compare(c, cv, fig.strict)
	return r, r.Verdict == contract.Pass && strict == contract.Pass
}
