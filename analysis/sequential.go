package analysis

import (
	"fmt"
	"math"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"gonum.org/v1/gonum/mathext"
)

// Continuous judgement: a check's verdict from the counts seen since the canary's
// first traffic, valid however often it is looked at.
//
// The error-rate test uses confidence sequences for a Bernoulli rate built from
// the conjugate Beta-binomial mixture martingale (Robbins 1970, "Statistical
// methods related to the law of the iterated logarithm", Ann. Math. Statist.
// 41(5); Howard, Ramdas, McAuliffe & Sekhon 2021, "Time-uniform, nonparametric,
// nonasymptotic confidence sequences", Ann. Statist. 49(2), section 3; it is the
// two-category case of the Dirichlet-multinomial test of Lindon & Malek 2022,
// "Anytime-valid inference for multinomial count data", NeurIPS). For S errors
// among n requests and a Beta(a, b) mixing prior, for each candidate rate q
//
//	M_n(q) = B(a+S, b+n-S) / (B(a, b) q^S (1-q)^(n-S))
//
// is a nonnegative martingale with M_0 = 1 when q is the true rate, so by Ville's
// inequality P(exists n: M_n(q) >= 1/alpha) <= alpha. The set {q : M_n(q) < 1/alpha}
// is therefore a confidence sequence: it holds the true rate at every n at once
// with probability at least 1-alpha, whenever and however often it is read.
//
// The check "canary <= stable + allowance" fails when the canary's lower bound
// exceeds the stable's upper bound plus the allowance, and shows the canary within
// tolerance when the canary's upper bound is at most the stable's lower bound plus
// the allowance; each side's sequence is at alpha/2, so a canary within tolerance
// is failed with probability at most alpha over the whole rollout. The model
// assumes each side's error probability is the same for every request; it does
// not hold exactly when the error rate swings with time and the canary's share
// of traffic changes meanwhile (the two sides then average different periods).

// Prior of the mixture: uniform (Laplace). Any fixed prior keeps the bound; this
// one trades a little power near 0 for no assumption about the rate.
const seqPriorA, seqPriorB = 1.0, 1.0

// Counts are requests and 5xx errors seen on one side.
type Counts struct {
	Requests float64 `json:"requests"`
	Errors   float64 `json:"errors"`
	// Unlabelled counts requests whose series carry no status label: their
	// errors cannot be told, so any of them fails the error-rate check.
	Unlabelled float64 `json:"unlabelled,omitempty"`
}

// Add returns c plus d.
func (c Counts) Add(d Counts) Counts {
	return Counts{Requests: c.Requests + d.Requests, Errors: c.Errors + d.Errors, Unlabelled: c.Unlabelled + d.Unlabelled}
}

// share is the observed error share, 0 without requests.
func (c Counts) share() float64 {
	if c.Requests <= 0 {
		return 0
	}
	return c.Errors / c.Requests
}

// logMixture is log M_n(q) for s errors among n requests.
func logMixture(q, s, n float64) float64 {
	return mathext.Lbeta(seqPriorA+s, seqPriorB+n-s) - mathext.Lbeta(seqPriorA, seqPriorB) -
		s*math.Log(q) - (n-s)*math.Log1p(-q)
}

// rateBounds is the confidence sequence for a rate at level alpha after s
// errors among n requests: the q with M_n(q) < 1/alpha. log M_n is convex in q
// with its minimum (at most 0) at s/n, so each end is found by bisection.
func rateBounds(s, n, alpha float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	s = math.Min(math.Max(s, 0), n)
	limit := math.Log(1 / alpha)
	inside := func(q float64) bool { return logMixture(q, s, n) < limit }
	mle := s / n
	lo, hi = 0, 1
	if s > 0 {
		lo = bisect(0, mle, func(q float64) bool { return !inside(q) })
	}
	if s < n {
		hi = bisect(mle, 1, inside)
	}
	return lo, hi
}

// bisect finds the boundary in [a, b] where below(q) turns false, given
// below(a) is true; 60 halvings reach float precision.
func bisect(a, b float64, below func(float64) bool) float64 {
	for range 60 {
		m := (a + b) / 2
		if m <= a || m >= b {
			break
		}
		if below(m) {
			a = m
		} else {
			b = m
		}
	}
	return (a + b) / 2
}

// SequentialErrorRate decides an error-rate check from the counts since the canary's
// first traffic, with the false-rollback bound alpha. Without canary requests
// (or, for a baseline, stable requests) it is Inconclusive: no data never passes.
func SequentialErrorRate(c contract.Check, label string, canary, stable Counts, alpha float64) contract.CheckResult {
	r := contract.CheckResult{Name: c.Name(), Verdict: contract.Inconclusive}
	if canary.Requests <= 0 || (c.Mode == contract.BaselinePlus && stable.Requests <= 0) {
		r.Reason = fmt.Sprintf("no requests yet (canary %s, stable %s)", sig(canary.Requests), sig(stable.Requests))
		return r
	}
	for _, s := range []struct {
		what string
		c    Counts
	}{{"canary", canary}, {"stable", stable}} {
		if s.c.Unlabelled > 0 && (s.what == "canary" || c.Mode == contract.BaselinePlus) {
			_, err := statusCounts{total: s.c.Requests, unlabelled: s.c.Unlabelled}.errorShare(label, s.what)
			r.Verdict, r.Reason = contract.Fail, err.Error()
			return r
		}
	}
	cv := canary.share()
	r.Value = &cv
	level := alpha
	var sLo, sHi float64
	if c.Mode == contract.BaselinePlus {
		level = alpha / 2
		sLo, sHi = rateBounds(stable.Errors, stable.Requests, level)
		sv := stable.share()
		r.Baseline = &sv
	}
	cLo, cHi := rateBounds(canary.Errors, canary.Requests, level)
	failAt, passAt := c.Bound, c.Bound
	if c.Mode == contract.BaselinePlus {
		failAt, passAt = sHi+c.Bound, sLo+c.Bound
	}
	f := func(v float64) string { return checkFormat(c, v) }
	figures := fmt.Sprintf("canary %s in [%s, %s] from %s requests", f(cv), f(cLo), f(cHi), sig(canary.Requests))
	if c.Mode == contract.BaselinePlus {
		figures += fmt.Sprintf(", stable %s in [%s, %s] from %s; limit %s + %s", f(stable.share()), f(sLo), f(sHi),
			sig(stable.Requests), f(stable.share()), f(c.Bound))
	} else {
		figures += ", limit " + f(c.Bound)
	}
	bound := fmt.Sprintf("anytime-valid, false-rollback bound %s", contract.FormatNumber(alpha))
	switch {
	case cLo > failAt:
		r.Verdict = contract.Fail
		r.Reason = fmt.Sprintf("error rate above its limit (%s; %s)", figures, bound)
	case cHi <= passAt:
		r.Verdict = contract.Pass
		r.Reason = fmt.Sprintf("error rate within its limit (%s; %s)", figures, bound)
	default:
		r.Reason = fmt.Sprintf("error rate not yet told from its limit (%s; %s)", figures, bound)
	}
	return r
}
