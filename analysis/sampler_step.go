package analysis

import (
	"fmt"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"math"
)

// A step's gate records each continuously judged check: the sequential result
// when it is conclusive, else the plain comparison of the step's own counts,
// as a gate without continuous judgement decides.

// stepStart is where a step gate's record of a check starts: done with the
// sequential result when it is conclusive, or inconclusive when the canary
// served too few requests in the step; else not done, for the plain comparison.
func (s *Sampler) stepStart(c contract.Check, seq contract.CheckResult, canaryRequests float64) (r contract.CheckResult, done bool) {
	if seq.Verdict != contract.Inconclusive {
		return seq, true
	}
	r = contract.CheckResult{Name: c.Name()}
	if n := canaryRequests; n < s.minReq || n == 0 {
		r.Verdict, r.Reason = contract.Inconclusive, fmt.Sprintf("not enough traffic on the canary (%.0f requests)", n)
		return r, true
	}
	return r, false
}

// stepResult is a step gate's record of a sequential check: its sequential
// result when conclusive, else today's plain comparison of the step's counts.
func (s *Sampler) stepResult(c contract.Check, seq contract.CheckResult, label string, canary, stable Counts) contract.CheckResult {
	r, done := s.stepStart(c, seq, canary.Requests)
	if done {
		return r
	}
	share := func(x Counts, what string) (float64, error) {
		return statusCounts{total: x.Requests, errors: x.Errors, unlabelled: x.Unlabelled}.errorShare(label, what)
	}
	cv, err := share(canary, "canary")
	if err != nil {
		r.Verdict, r.Reason = contract.Fail, err.Error()
		return r
	}
	r.Value = &cv
	var sv float64
	if c.Mode == contract.BaselinePlus {
		if sv, err = share(stable, "stable"); err != nil {
			r.Verdict, r.Reason = contract.Fail, err.Error()
			return r
		}
		r.Baseline = &sv
	}
	r.Verdict, r.Reason = compare(c, cv, sv)
	return r
}

// stepLatency is a step gate's record of a latency check: its sequential result
// when conclusive, else the plain comparison of the step's quantiles, as the
// per-gate query computed them. A canary with requests but no duration
// histogram fails: no data never passes.
func (s *Sampler) stepLatency(c contract.Check, seq contract.CheckResult, canaryReqs Counts, h [2]Histogram) contract.CheckResult {
	r, done := s.stepStart(c, seq, canaryReqs.Requests)
	if done {
		return r
	}
	cv := h[0].Quantile(c.Quantile)
	if math.IsNaN(cv) {
		r.Verdict, r.Reason = contract.Fail, "no data for canary (no request-duration histogram)"
		return r
	}
	r.Value = &cv
	var sv float64
	if c.Mode == contract.Ratio {
		if sv = h[1].Quantile(c.Quantile); math.IsNaN(sv) {
			r.Verdict, r.Reason = contract.Fail, "no data for stable (no request-duration histogram)"
			return r
		}
		r.Baseline = &sv
	}
	r.Verdict, r.Reason = compare(c, cv, sv)
	return r
}
