package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// sampleTick is the daemon's default ROLLOUTD_SAMPLE_INTERVAL, in seconds.
const sampleTick = int(analysis.DefaultSampleInterval / time.Second)

// rebuildWait bounds the wait for the sampler's evidence rebuild, which reads
// the fake in memory: a rebuild that does not finish is a fake the sampler's
// queries do not fit.
const rebuildWait = 10 * time.Second

// continuousRollout plays one canary as the daemon does with continuous
// judgement, through the daemon's own analysis.Sampler reading the fake: its
// evidence is rebuilt at the rollout's start (the stable's resources from
// before it), then at every tick the sampler reads the grouped series and the
// rollout's standing decides as strategy does: a failed sequential check rolls
// back at that tick; when every one shows the canary within tolerance after
// the step's minimum exposure, the step's gate runs early and advances if it
// passes (an early gate counts nothing otherwise); at the step's end the gate
// decides as before. A gate takes the checks the evidence has (sequential, cpu
// and load for the same work, memory-growth) from the standing and queries the
// others, as the controller does (gate.go).
func continuousRollout(ctx context.Context, a *analysis.Analyzer, f *fakeProm, tr *trial, cfg config) (outcome, error) {
	var now atomic.Int64 // seconds since the rollout's start: the sampler's clock
	s := analysis.NewSampler(a, analysis.SamplerOptions{Now: func() time.Time { return f.second(int(now.Load())) }})
	since := f.t0
	tr.extend(0)
	if err := rebuild(ctx, s, since, cfg.checks); err != nil {
		return outcome{}, err
	}
	var out outcome
	var gates gateCount
	stepStart := 0
	interval := int(cfg.interval / time.Second)
	for t := sampleTick; t <= cfg.maxGates*interval; t += sampleTick {
		tr.extend(t)
		now.Store(int64(t))
		s.Tick(ctx, f.second(t))
		target := benchTarget(t-stepStart, f.second(t))
		seq := s.Observe(ctx, target, "rev", since, f.second(stepStart), cfg.checks)
		if seq != nil && seq.Verdict == contract.Fail {
			out.rolledBack, out.atTick, out.seconds, out.failed = true, true, t, failedOnly(seq.Checks)
			return out, nil
		}
		due := t-stepStart >= interval
		early := !due && seq != nil && seq.Verdict == contract.Pass && seq.Exposed
		if !due && !early {
			continue
		}
		res := gate(ctx, a, s, target, cfg.checks, seq)
		out.gates++
		if early && res.Verdict != contract.Pass {
			continue
		}
		stepStart = t
		if gates.decide(res, cfg, t, &out) {
			return out, nil
		}
	}
	return out, nil
}

// rebuild starts judging the rollout and waits for the sampler's evidence
// rebuild from the fake, as the daemon's first reconcile of a rollout does.
func rebuild(ctx context.Context, s *analysis.Sampler, since time.Time, checks []contract.Check) error {
	deadline := time.Now().Add(rebuildWait)
	for !s.Ready(benchNamespace, "app") {
		if time.Now().After(deadline) {
			return fmt.Errorf("judgebench: the sampler's evidence was not rebuilt within %s", rebuildWait)
		}
		s.Observe(ctx, benchTarget(0, since), "rev", since, since, checks)
		time.Sleep(time.Millisecond)
	}
	return nil
}

// benchTarget is the trial's rollout: a gate over window seconds ending at end.
func benchTarget(window int, end time.Time) analysis.Target {
	return analysis.Target{
		Namespace: benchNamespace, Deployment: "app", Canary: "app-canary", Service: "app", Ingress: "app",
		Source: contract.SourceNginx, Window: time.Duration(max(window, 1)) * time.Second, End: end,
	}
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
