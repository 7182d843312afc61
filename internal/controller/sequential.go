package controller

import (
	"context"
	"time"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// SequentialJudge is the continuous judge: evidence from the shared sampler since
// the canary's first traffic, judged at every tick (analysis.Sampler).
type SequentialJudge interface {
	// Observe starts or continues judging a rollout and returns its standing,
	// nil while there is none yet.
	Observe(ctx context.Context, t analysis.Target, revision string, since, stepStart time.Time, checks []contract.Check) *analysis.Sequential
	// Forget stops judging a rollout.
	Forget(namespace, name string)
	// Growth is a memory-growth check's result from the rollout's evidence, for
	// a gate without a standing.
	Growth(namespace, name string, c contract.Check) contract.CheckResult
}

// observeSequential puts the continuous judge's standing into in for a canary
// rollout with traffic steps; any other rollout is forgotten. It reads memory
// only: a rebuild from Prometheus runs in the background, so commands and alerts
// never wait behind it.
func (r *rollout) observeSequential(ctx context.Context, in *strategy.Input) {
	j := r.c.Sequential
	if j == nil {
		return
	}
	st := in.Status
	active := st.Phase == contract.Progressing || st.Phase == contract.Paused
	if !active || r.spec.Strategy != contract.Canary || st.StartedAt == nil || st.Revision == "" {
		j.Forget(r.d.Namespace, r.d.Name)
		return
	}
	var stepStart time.Time
	if st.StepStartedAt != nil {
		stepStart = *st.StepStartedAt
	}
	t := r.analysisTarget(*in)
	in.Sequential = j.Observe(ctx, t, st.Revision, *st.StartedAt, stepStart, r.spec.Checks)
}

// target is what the analysis of this rollout reads.
func (r *rollout) analysisTarget(in strategy.Input) analysis.Target {
	return analysis.Target{
		Namespace:  r.d.Namespace,
		Deployment: r.d.Name,
		Canary:     contract.CanaryName(r.d.Name),
		Service:    r.spec.Service,
		Ingress:    r.spec.Ingress,
		Source:     r.spec.RequestSource(),
		Window:     strategy.GateWindow(in),
		End:        r.now,
		// After a blue/green switch the stable pods are measured before it.
		BaselineOffset: strategy.GateBaselineOffset(in),
	}
}

// gateChecks splits the checks of a gate: those the per-gate queries decide, and
// the results the continuous judge already has for the others.
func gateChecks(checks []contract.Check, seq *analysis.Sequential) ([]contract.Check, map[string]contract.CheckResult) {
	if seq == nil {
		return checks, nil
	}
	have := map[string]contract.CheckResult{}
	for _, c := range seq.StepChecks {
		have[c.Name] = c
	}
	return splitChecks(checks, have)
}

// growthChecks takes the memory-growth checks of a canary gate without a
// standing from the rollout's evidence: a slope read by one deriv() over a short
// window is noise, the evidence's fit has a noise margin (and without evidence
// yet, no slope: analysis.Sampler.Growth).
func (r *rollout) growthChecks(checks []contract.Check) ([]contract.Check, map[string]contract.CheckResult) {
	j := r.c.Sequential
	if j == nil || r.spec.Strategy != contract.Canary {
		return checks, nil
	}
	have := map[string]contract.CheckResult{}
	for _, c := range checks {
		if c.Custom == nil && c.Metric == contract.MetricMemoryGrowth {
			have[c.Name()] = j.Growth(r.d.Namespace, r.d.Name, c)
		}
	}
	if len(have) == 0 {
		return checks, nil
	}
	return splitChecks(checks, have)
}

// splitChecks leaves out of checks those whose results are in have and taken
// from the evidence.
func splitChecks(checks []contract.Check, have map[string]contract.CheckResult) ([]contract.Check, map[string]contract.CheckResult) {
	var rest []contract.Check
	for _, c := range checks {
		if _, ok := have[c.Name()]; !ok || !analysis.FromEvidence(c) {
			rest = append(rest, c)
		}
	}
	return rest, have
}

// mergeChecks orders a gate's results as its checks are: per-gate results and the
// continuous judge's, then any extra per-gate results (a bad ConfigMap).
func mergeChecks(checks []contract.Check, gate []contract.CheckResult, seq map[string]contract.CheckResult) []contract.CheckResult {
	if seq == nil {
		return gate
	}
	byName := map[string]contract.CheckResult{}
	for _, c := range gate {
		byName[c.Name] = c
	}
	out := make([]contract.CheckResult, 0, len(checks))
	used := map[string]bool{}
	for _, c := range checks {
		n := c.Name()
		if res, ok := seq[n]; ok && analysis.FromEvidence(c) {
			out = append(out, res)
		} else if res, ok := byName[n]; ok {
			out = append(out, res)
		} else {
			continue
		}
		used[n] = true
	}
	for _, c := range gate {
		if !used[c.Name] {
			out = append(out, c)
		}
	}
	return out
}
