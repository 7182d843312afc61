package main

import (
	"context"
	"time"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy"
)

// outcome is how one simulated rollout ended.
type outcome struct {
	rolledBack bool
	promoted   bool
	gates      int      // gates evaluated until the decision
	failed     []string // checks that failed the deciding gate (rollbacks)
}

// rollout plays the gates of one canary as strategy.judge counts them: a pass
// advances a step (the last one promotes); a fail holds the step and counts; every
// strategy.InconclusiveLimit-th inconclusive gate in a row counts as a fail; more
// than threshold fails roll back. Each gate judges the interval before it. The
// canary's request rate is the same at every step, so the gates read one series.
func rollout(ctx context.Context, ev analysis.Evaluator, f *fakeProm, tr *trial, cfg config) outcome {
	var passes, failures, inconclusive int
	var out outcome
	for out.gates < cfg.maxGates {
		out.gates++
		end := out.gates * int(cfg.interval/time.Second)
		tr.extend(end)
		res := ev.Evaluate(ctx, analysis.Target{
			Namespace: "bench", Deployment: "app", Canary: "app-canary", Service: "app", Ingress: "app",
			Source: analysis.SourceNginx, Window: cfg.interval, End: f.t0.Add(time.Duration(end) * time.Second),
		}, cfg.checks)
		switch res.Verdict {
		case analysis.Pass:
			inconclusive = 0
			if passes++; passes == cfg.steps {
				out.promoted = true
				return out
			}
			continue
		case analysis.Inconclusive:
			if inconclusive++; inconclusive < strategy.InconclusiveLimit {
				continue
			}
			inconclusive = 0
		}
		if failures++; failures > cfg.threshold {
			out.rolledBack, out.failed = true, res.FailedNames()
			return out
		}
	}
	return out
}
