package main

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/e2e/sim"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

func TestQuantileInterpolatesInsideTheBucketHoldingTheRank(t *testing.T) {
	s := newSide(sim.DefaultBehaviour(), 0, 1, 0)
	s.buckets = []float64{0.1, 0.2}
	s.reqs = []float64{0, 0}
	// 50 requests at or under 0.1s, 50 in (0.1, 0.2].
	s.hist = [][]float64{{0, 0, 0}, {50, 50, 0}}
	for _, tc := range []struct{ q, want float64 }{
		{0.25, 0.05}, {0.5, 0.1}, {0.75, 0.15}, {0.99, 0.198},
	} {
		assert.InDelta(t, tc.want, s.quantile(tc.q, 1, 1), 1e-9, "q=%v", tc.q)
	}
	s.hist = [][]float64{{0, 0, 0}, {0, 0, 0}}
	assert.True(t, math.IsNaN(s.quantile(0.99, 1, 1)), "no requests, no quantile")
}

// The fake answers every query the checks send; a template change it does not
// understand fails the check with a "judgebench:" reason and this test.
func TestHealthyTrialPassesEveryCheckInBothModes(t *testing.T) {
	cfg, err := parseFlags([]string{"--seed", "7"})
	require.NoError(t, err)
	tr := &trial{rng: sim.NewRand(7),
		canary: newSide(sim.DefaultBehaviour(), 200, 1, 0),
		stable: newSide(sim.DefaultBehaviour(), 800, 3, -60)}
	tr.extend(60)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, opts := range []analysis.Options{{}, {Judge: &analysis.JudgeOptions{}}} {
		f := &fakeProm{t0: t0, canary: tr.canary, stable: tr.stable}
		res := analysis.NewAnalyzer(f, opts).Evaluate(context.Background(), analysis.Target{
			Namespace: "bench", Deployment: "app", Canary: "app-canary", Ingress: "app",
			Source: contract.SourceNginx, Window: time.Minute, End: t0.Add(time.Minute),
		}, cfg.checks)
		assert.Equal(t, contract.Pass, res.Verdict, "judge=%v: %+v", opts.Judge != nil, res.Checks)
		assert.Positive(t, f.queries.Load())
	}
}

// The continuous mode replays the daemon's judgement: a canary failing every
// request is rolled back at the first sampler tick, before any gate; a healthy
// one is promoted.
func TestContinuousModeRollsBackAtTheFirstTickAndPromotesAHealthyCanary(t *testing.T) {
	cfg, err := parseFlags([]string{"--seed", "3"})
	require.NoError(t, err)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		errorRate  float64
		rolledBack bool
	}{{"every request failing", 1, true}, {"healthy", sim.DefaultBehaviour().ErrorRate, false}} {
		b := sim.DefaultBehaviour()
		b.ErrorRate = tc.errorRate
		tr := &trial{rng: sim.NewRand(3), canary: newSide(b, 20, 1, 0), stable: newSide(sim.DefaultBehaviour(), 80, 3, -60)}
		f := &fakeProm{t0: t0, canary: tr.canary, stable: tr.stable}
		o := continuousRollout(context.Background(), analysis.NewAnalyzer(f, analysis.Options{}), f, tr, cfg)
		assert.Equal(t, tc.rolledBack, o.rolledBack, "%s: %+v", tc.name, o)
		if tc.rolledBack {
			assert.Equal(t, sampleTick, o.seconds, tc.name)
			assert.Zero(t, o.gates, "no gate was needed")
			assert.Equal(t, []string{"error-rate"}, o.failed)
		} else {
			assert.True(t, o.promoted, "%s: %+v", tc.name, o)
		}
	}
}
