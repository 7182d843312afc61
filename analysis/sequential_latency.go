package analysis

import (
	"fmt"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"math"
)

// The latency test turns a quantile bound into a count. "Canary's q-quantile is
// at most L" holds exactly when at most a share p = 1-q of the canary's requests
// take longer than L, and the requests above L are counted from the canary's
// histogram: a Bernoulli rate with the error rate's confidence sequence
// (sequential.go). For the ratio form L comes from the stable's own histogram:
// the stable's share above a duration x has a confidence sequence too, so its
// q-quantile lies, with probability at least 1-alpha/2 at every tick, between
//
//	Q_L = the longest x the stable's share above x is surely at least p, and
//	Q_U = the shortest x the stable's share above x is surely at most p.
//
// The check fails when the canary's share above factor x Q_U is surely above p
// (its quantile is then above factor x the stable's), and shows the canary
// within tolerance when its share above factor x Q_L is surely at most p; each
// side's sequence is at alpha/2. The absolute form compares with L directly, at
// alpha. Counts above a duration between two bucket bounds are read as
// histogram_quantile reads them, requests spread evenly inside a bucket: the
// bound is exact at bucket bounds and rests on that assumption between them.

// SequentialLatency decides a latency check from the request-duration
// histograms since the canary's first traffic, with the false-rollback bound
// alpha. Without canary requests (or, for the ratio form, stable requests) it
// is Inconclusive: no data never passes.
func SequentialLatency(c contract.Check, canary, stable Histogram, alpha float64) contract.CheckResult {
	r := contract.CheckResult{Name: c.Name(), Verdict: contract.Inconclusive}
	nc, ns := canary.Total(), stable.Total()
	ratio := c.Mode == contract.Ratio
	if nc <= 0 || (ratio && ns <= 0) {
		r.Reason = fmt.Sprintf("no request durations yet (canary %s, stable %s)", sig(nc), sig(ns))
		return r
	}
	p := 1 - c.Quantile
	cv := canary.Quantile(c.Quantile)
	r.Value = &cv
	level := alpha
	failAt, passAt := c.Bound, c.Bound
	var stableFigures string
	if ratio {
		level = alpha / 2
		lo, hi := stableQuantileBounds(stable, p, level)
		failAt, passAt = c.Bound*math.Max(hi, checkFloor(c)), c.Bound*math.Max(lo, checkFloor(c))
		sv := stable.Quantile(c.Quantile)
		r.Baseline = &sv
		stableFigures = fmt.Sprintf("; stable %s in [%s, %s] from %s requests, limit %sx", checkFormat(c, sv), checkFormat(c, lo),
			checkFormat(c, hi), sig(ns), contract.FormatNumber(c.Bound))
	}
	limit := math.Log(1 / level)
	eFail, ePass := canary.Above(failAt), canary.Above(passAt)
	lo, _ := rateBounds(eFail, nc, level)
	_, hi := rateBounds(ePass, nc, level)
	figures := fmt.Sprintf("canary %s; %s of %s requests above %s (at least %s), %s above %s (at most %s)%s",
		checkFormat(c, cv), pct(eFail/nc), sig(nc), checkFormat(c, failAt), pct(lo), pct(ePass/nc), checkFormat(c, passAt), pct(hi), stableFigures)
	bound := fmt.Sprintf("anytime-valid, false-rollback bound %s", contract.FormatNumber(alpha))
	switch {
	case eFail > p*nc && logMixture(p, eFail, nc) >= limit:
		r.Verdict = contract.Fail
		r.Reason = fmt.Sprintf("%s above its limit (%s; %s)", checkLabel(c), figures, bound)
	case !math.IsInf(passAt, 1) && ePass < p*nc && logMixture(p, ePass, nc) >= limit:
		r.Verdict = contract.Pass
		r.Reason = fmt.Sprintf("%s within its limit (%s; %s)", checkLabel(c), figures, bound)
	default:
		r.Reason = fmt.Sprintf("%s not yet told from its limit (%s; %s)", checkLabel(c), figures, bound)
	}
	return r
}

// stableQuantileBounds is the confidence sequence, at level, for the duration
// that a share p of the stable's requests exceed: [0, +Inf) ends where the
// counts cannot tell yet.
func stableQuantileBounds(h Histogram, p, level float64) (lo, hi float64) {
	n := h.Total()
	lo, hi = 0, math.Inf(1)
	if k, ok := tailCountSurelyBelow(p, n, level); ok {
		hi = h.atRank(n - k)
	}
	if k, ok := tailCountSurelyAbove(p, n, level); ok {
		lo = h.atRank(n - k)
	}
	return lo, hi
}

// tailCountSurelyBelow is the largest count k among n whose rate's confidence
// sequence lies at or below p (M_n(p) >= 1/level with k < pn); false when even
// k = 0 leaves p inside. log M_n(p) falls in k on [0, pn], so bisection finds it.
func tailCountSurelyBelow(p, n, level float64) (float64, bool) {
	limit := math.Log(1 / level)
	outside := func(k float64) bool { return logMixture(p, k, n) >= limit }
	if !outside(0) {
		return 0, false
	}
	return bisect(0, p*n, outside), true
}

// tailCountSurelyAbove is the smallest count k among n whose rate's confidence
// sequence lies at or above p; false when even k = n leaves p inside.
func tailCountSurelyAbove(p, n, level float64) (float64, bool) {
	limit := math.Log(1 / level)
	inside := func(k float64) bool { return logMixture(p, k, n) < limit }
	if inside(n) {
		return 0, false
	}
	return bisect(p*n, n, inside), true
}

// pct renders a share as a percentage with three significant digits.
func pct(v float64) string { return sig(v*100) + "%" }
