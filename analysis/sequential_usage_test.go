package analysis

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The boundary worked by hand from Theorem 2.2 of Waudby-Smith et al. at its
// tightest tick: alpha 0.05, unit variance, t = 30 gives rho² = (5.99146 +
// ln 6.99146)/30 = 0.264538 and sqrt(2 * 8.93615 / (900 * 0.264538) *
// ln(sqrt(8.93615)/0.05)) = 0.55416, against 1.96/sqrt(30) = 0.358 for a
// fixed-horizon interval read once. It scales with the standard deviation.
func TestUsageBoundaryMatchesTheMixtureFormula(t *testing.T) {
	assert.InDelta(t, 0.55416, usageBoundary(30, 1, 0.05), 1e-4)
	assert.InDelta(t, 2*0.55416, usageBoundary(30, 4, 0.05), 2e-4)
	assert.Less(t, usageBoundary(300, 1, 0.05), usageBoundary(30, 1, 0.05), "it narrows with more ticks")
	assert.Greater(t, usageBoundary(30, 1, 0.001), usageBoundary(30, 1, 0.05), "a smaller bound is wider")
}

// atLimit draws a canary whose per-pod CPU is exactly at 1.3x the stable's for
// the same work, plus noise, with a given excess over that limit.
func atLimit(rng *rand.Rand, excess float64) usageTick {
	return usageTick{canary: 0.13 + excess + 0.01*rng.NormFloat64(), canaryRate: 10, stable: 0.1, stableRate: 10, requests: 100}
}

// Read after every tick, a canary exactly at its limit is failed in at most
// alpha of the runs (the sequence's bound under continuous monitoring); one a
// standard deviation above it is failed in every run.
func TestSequentialUsageHoldsItsBoundAtEveryLook(t *testing.T) {
	c := contract.Check{Metric: contract.MetricCPU, Mode: contract.Ratio, Bound: 1.3}
	const runs, looks, alpha = 400, 240, 0.05
	rng := rand.New(rand.NewPCG(3, 4))
	failedAt := func(excess float64) int {
		var ticks []usageTick
		for i := range looks {
			ticks = append(ticks, atLimit(rng, excess))
			if sequentialUsage(c, slices.Values(ticks), newStableFit(nil, nil), alpha, 1).Verdict == contract.Fail {
				return i + 1
			}
		}
		return 0
	}
	falseFails, caught, latest := 0, 0, 0
	for range runs {
		if failedAt(0) > 0 {
			falseFails++
		}
		if at := failedAt(0.01); at > 0 {
			caught++
			latest = max(latest, at)
		}
	}
	t.Logf("at the limit: %d of %d runs failed; one sd above: all failed by tick %d", falseFails, runs, latest)
	assert.LessOrEqual(t, float64(falseFails)/runs, alpha, "%d of %d runs at the limit failed", falseFails, runs)
	assert.Equal(t, runs, caught, "a canary one standard deviation above its limit is always failed")
	assert.Less(t, latest, looks/2)
}

func TestSequentialUsageWaitsForItsBurnInAndTraffic(t *testing.T) {
	c := contract.Check{Metric: contract.MetricLoad, Mode: contract.Ratio, Bound: 1.5}
	far := usageTick{canary: 10, canaryRate: 10, stable: 1, stableRate: 10, requests: 100}
	ticks := []usageTick{far, far, far, far, far}
	r := sequentialUsage(c, slices.Values(ticks), newStableFit(nil, nil), 0.01, 1)
	assert.Equal(t, contract.Inconclusive, r.Verdict, r.Reason)
	assert.Contains(t, r.Reason, "5 of 6 ticks")
	ticks = append(ticks, far)
	r = sequentialUsage(c, slices.Values(ticks), newStableFit(nil, nil), 0.01, 1000)
	assert.Equal(t, contract.Inconclusive, r.Verdict, "600 requests, 1000 needed: %s", r.Reason)
	r = sequentialUsage(c, slices.Values(ticks), newStableFit(nil, nil), 0.01, 1)
	assert.Equal(t, contract.Fail, r.Verdict, r.Reason)
	assert.Contains(t, r.Reason, "load above its limit (canary 10 per pod against 1.5x the stable's 1 for the same work, over 6 ticks")
}

// A ratio cpu check is judged at every tick, in the standing itself: a canary
// using three times the stable's CPU per request loses its traffic before the
// step's end, without a gate counting failures, whether or not the stable's fit
// tells its idle part; one within tolerance is not failed.
func TestCPURegressionFailsInTheStanding(t *testing.T) {
	checks, err := contract.ParseChecks("cpu<=1.3x")
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		levels []float64 // the stable's requests per tick before the rollout
		perReq float64   // the canary's core-seconds per request (the stable's: 0.001)
		fails  bool
	}{
		{"fit, three times the CPU per request", []float64{200, 100, 300, 200}, 0.003, true},
		{"no fit, three times the CPU per request", []float64{200, 200, 200, 200}, 0.003, true},
		{"fit, 50% more CPU per request", []float64{200, 100, 300, 200}, 0.0015, false},
		{"no fit, healthy", []float64{200, 200, 200, 200}, 0.001, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, tr := stableThenStep(tc.levels, tc.perReq, checks)
			s := &Sampler{opts: SamplerOptions{FalseRollback: 0.01, MinStepExposure: DefaultMinStepExposure, MinStepRequests: DefaultMinStepRequests}, minReq: 20}
			st := s.standing(tr, from)
			require.Len(t, st.Checks, 1, "cpu<=1.3x is a sequential check")
			r := st.Checks[0]
			assert.Contains(t, r.Reason, "anytime-valid")
			if tc.fails {
				assert.Equal(t, contract.Fail, st.Verdict, r.Reason)
				assert.True(t, strings.HasPrefix(r.Reason, "CPU above its limit"), r.Reason)
				assert.Equal(t, contract.Fail, st.StepChecks[0].Verdict, "the step's record shows the failure")
				return
			}
			assert.NotEqual(t, contract.Fail, st.Verdict, r.Reason)
		})
	}
}

// The sampler judges every rollout's cpu and load at every tick over all the
// ticks since the canary's first traffic: an hour of them (360 at 10s) is read
// without allocating.
func BenchmarkSequentialUsageAnHourIn(b *testing.B) {
	checks, err := contract.ParseChecks("cpu<=1.3x")
	require.NoError(b, err)
	levels := make([]float64, 60) // ten hours before the rollout, six fit samples each
	for i := range levels {
		levels[i] = 200
	}
	_, tr := stableThenStep(levels, 0.001, checks)
	for range 360 - 2*fitBlock {
		tr.ev.ticks = append(tr.ev.ticks, tr.ev.ticks[len(tr.ev.ticks)-1])
	}
	rs, us := tr.ev.stableSamples(famCPU)
	b.ReportAllocs()
	for b.Loop() {
		sequentialUsage(checks[0], tr.ev.usageTicks(famCPU), newStableFit(rs, us), 0.0025, 20)
	}
}
