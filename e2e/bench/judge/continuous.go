package main

import (
	"context"
	"time"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// sampleTick is the daemon's default ROLLOUTD_SAMPLE_INTERVAL.
const sampleTick = 10

// continuousRollout plays one canary as the daemon does with continuous
// judgement: at every sampler tick the error-rate checks are judged on the counts
// since the canary's first traffic (analysis.SequentialErrorRate and SequentialLatency, the daemon's
// own code); a failure rolls back at that tick; when they show the canary within
// tolerance after the step's minimum exposure, the step's gate runs early for the
// other checks and advances if it passes (an early gate counts nothing
// otherwise); at the step's end the gate decides as before, error-rate by its
// sequential verdict when conclusive, else by the step's own window.
func continuousRollout(ctx context.Context, ev analysis.Evaluator, f *fakeProm, tr *trial, cfg config) outcome {
	var seq, others []contract.Check
	for _, c := range cfg.checks {
		if analysis.Sequentially(c) {
			seq = append(seq, c)
		} else {
			others = append(others, c)
		}
	}
	var out outcome
	var gates gateCount
	var stepStart int
	interval := int(cfg.interval / time.Second)
	for t := sampleTick; t <= cfg.maxGates*interval; t += sampleTick {
		tr.extend(t)
		verdict, results := judgeTick(seq, tr, t, len(seq))
		if verdict == contract.Fail {
			out.rolledBack, out.seconds, out.failed = true, t, failedOnly(results)
			return out
		}
		elapsed := t - stepStart
		due := elapsed >= interval
		early := !due && verdict == contract.Pass && elapsed >= int(analysis.DefaultMinStepExposure/time.Second) &&
			tr.canary.requests(t, elapsed) >= analysis.DefaultMinStepRequests
		if !due && !early {
			continue
		}
		checks := cfg.checks
		if verdict == contract.Pass {
			checks = others
		}
		res := ev.Evaluate(ctx, analysis.Target{
			Namespace: "bench", Deployment: "app", Canary: "app-canary", Service: "app", Ingress: "app",
			Source: contract.SourceNginx, Window: time.Duration(elapsed) * time.Second, End: f.t0.Add(time.Duration(t) * time.Second),
		}, checks)
		out.gates++
		if early && res.Verdict != contract.Pass {
			continue
		}
		stepStart = t
		if gates.decide(res, cfg, t, &out) {
			return out
		}
	}
	return out
}

// judgeTick judges the sequential checks on the counts from 0 to t, each at its
// share of the daemon's false-rollback bound.
func judgeTick(seq []contract.Check, tr *trial, t, n int) (contract.Verdict, []contract.CheckResult) {
	if n == 0 {
		return contract.Inconclusive, nil
	}
	canary := analysis.Counts{Requests: tr.canary.requests(t, t), Errors: tr.canary.errors(t, t)}
	stable := analysis.Counts{Requests: tr.stable.requests(t, t), Errors: tr.stable.errors(t, t)}
	verdict := contract.Pass
	var out []contract.CheckResult
	alpha := analysis.DefaultFalseRollback / float64(n)
	for _, c := range seq {
		var r contract.CheckResult
		if c.Metric == contract.MetricLatency {
			r = analysis.SequentialLatency(c, tr.canary.histogram(t), tr.stable.histogram(t), alpha)
		} else {
			r = analysis.SequentialErrorRate(c, "status", canary, stable, alpha)
		}
		out = append(out, r)
		switch {
		case r.Verdict == contract.Fail:
			verdict = contract.Fail
		case r.Verdict != contract.Pass && verdict == contract.Pass:
			verdict = contract.Inconclusive
		}
	}
	return verdict, out
}

// failedOnly names the checks that failed (the others were still inconclusive).
func failedOnly(results []contract.CheckResult) []string {
	var out []string
	for _, r := range results {
		if r.Verdict == contract.Fail {
			out = append(out, r.Name)
		}
	}
	return out
}
