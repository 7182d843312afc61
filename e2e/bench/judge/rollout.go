package main

import (
	"context"
	"time"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// outcome is how one simulated rollout ended.
type outcome struct {
	rolledBack bool
	promoted   bool
	atTick     bool     // rolled back by a sequential check at a sampler tick, not at a gate
	gates      int      // gates evaluated until the decision
	seconds    int      // from the canary's first traffic to the decision
	failed     []string // checks that failed the deciding gate (rollbacks)
}

// rollout plays the gates of one canary as strategy.judge counts them: a pass
// advances a step (the last one promotes); a fail holds the step and counts; every
// strategy.InconclusiveLimit-th inconclusive gate in a row counts as a fail; more
// than threshold fails roll back. Each gate judges the interval before it. The
// canary's request rate is the same at every step, so the gates read one series.
func rollout(ctx context.Context, ev *analysis.Analyzer, f *fakeProm, tr *trial, cfg config) outcome {
	var gates gateCount
	var out outcome
	for out.gates < cfg.maxGates {
		out.gates++
		end := out.gates * int(cfg.interval/time.Second)
		tr.extend(end)
		res := ev.Evaluate(ctx, benchTarget(int(cfg.interval/time.Second), f.second(end)), cfg.checks)
		if gates.decide(res, cfg, end, &out) {
			return out
		}
	}
	return out
}

// gateCount counts gates as strategy.judge does.
type gateCount struct{ passes, failures, inconclusive int }

// decide counts one gate's result and reports whether it ended the rollout,
// recording how in out.
func (g *gateCount) decide(res analysis.Result, cfg config, at int, out *outcome) bool {
	switch res.Verdict {
	case contract.Pass:
		g.inconclusive = 0
		if g.passes++; g.passes == cfg.steps {
			out.promoted, out.seconds = true, at
			return true
		}
		return false
	case contract.Inconclusive:
		if g.inconclusive++; g.inconclusive < strategy.InconclusiveLimit {
			return false
		}
		g.inconclusive = 0
	}
	if g.failures++; g.failures > cfg.threshold {
		out.rolledBack, out.seconds, out.failed = true, at, res.FailedNames()
		return true
	}
	return false
}
