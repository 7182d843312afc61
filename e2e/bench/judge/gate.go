package main

import (
	"context"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// gate decides one gate of a canary under continuous judgement as the
// controller does (internal/controller/sequential.go): the checks the evidence
// has are taken from the standing's step results; without a standing, only
// memory-growth is (from the sampler's slope); every other check is queried
// over the step.
func gate(ctx context.Context, a *analysis.Analyzer, s *analysis.Sampler, t analysis.Target, checks []contract.Check, seq *analysis.Sequential) analysis.Result {
	have := map[string]contract.CheckResult{}
	if seq != nil {
		for _, r := range seq.StepChecks {
			have[r.Name] = r
		}
	} else {
		for _, c := range checks {
			if c.Custom == nil && c.Metric == contract.MetricMemoryGrowth {
				have[c.Name()] = s.Growth(t.Namespace, t.Deployment, c)
			}
		}
	}
	var queried []contract.Check
	for _, c := range checks {
		if _, ok := have[c.Name()]; !ok || !analysis.FromEvidence(c) {
			queried = append(queried, c)
		}
	}
	byName := map[string]contract.CheckResult{}
	for _, r := range a.Evaluate(ctx, t, queried).Checks {
		byName[r.Name] = r
	}
	var out []contract.CheckResult
	for _, c := range checks {
		if r, ok := have[c.Name()]; ok && analysis.FromEvidence(c) {
			out = append(out, r)
		} else if r, ok := byName[c.Name()]; ok {
			out = append(out, r)
		}
	}
	return analysis.Combine(out)
}
