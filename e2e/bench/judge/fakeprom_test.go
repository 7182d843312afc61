package main

import (
	"context"
	"math"
	"slices"
	"testing"

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
	tr := newTrial(baseBehaviour(), baseBehaviour(), 200, cfg, 7)
	tr.extend(60)
	for _, opts := range []analysis.Options{{}, {Judge: &analysis.JudgeOptions{}}} {
		f := &fakeProm{t0: benchStart, canary: tr.canary, stable: tr.stable}
		res := analysis.NewAnalyzer(f, opts).Evaluate(context.Background(), benchTarget(60, f.second(60)), cfg.checks)
		assert.Equal(t, contract.Pass, res.Verdict, "judge=%v: %+v", opts.Judge != nil, res.Checks)
		assert.Positive(t, f.queries.Load())
	}
}

// The continuous mode replays the daemon's judgement through its own sampler:
// a canary failing every request is rolled back at the first sampler tick,
// before any gate; a healthy CPU-bound one is promoted before the schedule's
// end; one costing 50% more CPU per request is rolled back by the cpu check
// compared for the same work, and a leaking one by memory-growth.
func TestContinuousModeRollsBackRegressionsAndPromotesAHealthyCanary(t *testing.T) {
	cfg, err := parseFlags([]string{"--seed", "3"})
	require.NoError(t, err)
	for _, tc := range []struct {
		scenario   string
		rolledBack []string // the deciding checks; nil: promoted
	}{
		{"errors 100%", []string{"error-rate"}},
		{"healthy", nil},
		{"cpu +50% per request", []string{"cpu"}},
		{"memory leak 5%/min", []string{"memory-growth"}},
	} {
		canary := baseBehaviour()
		i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.name == tc.scenario })
		require.GreaterOrEqual(t, i, 0, tc.scenario)
		scenarios[i].change(&canary)
		tr := newTrial(canary, baseBehaviour(), 20, cfg, 3)
		f := &fakeProm{t0: benchStart, canary: tr.canary, stable: tr.stable}
		o, err := continuousRollout(context.Background(), analysis.NewAnalyzer(f, analysis.Options{}), f, tr, cfg)
		require.NoError(t, err, tc.scenario)
		if tc.rolledBack == nil {
			assert.True(t, o.promoted, "%s: %+v", tc.scenario, o)
			assert.Less(t, o.seconds, cfg.steps*60, "%s: promoted before the schedule's end", tc.scenario)
			continue
		}
		assert.True(t, o.rolledBack, "%s: %+v", tc.scenario, o)
		assert.Equal(t, tc.rolledBack, o.failed, tc.scenario)
	}
	cfg.checks = cfg.checks[:1] // error-rate alone: judged at every tick
	tr := newTrial(func() sim.Behaviour { b := baseBehaviour(); b.ErrorRate = 1; return b }(), baseBehaviour(), 20, cfg, 3)
	f := &fakeProm{t0: benchStart, canary: tr.canary, stable: tr.stable}
	o, err := continuousRollout(context.Background(), analysis.NewAnalyzer(f, analysis.Options{}), f, tr, cfg)
	require.NoError(t, err)
	assert.Equal(t, sampleTick, o.seconds, "rolled back at the first tick")
	assert.Zero(t, o.gates, "no gate was needed")
}
