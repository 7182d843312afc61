package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// workingSet feeds pods' samples every 10s for the given seconds: start bytes,
// growing by perMinute, with 1% noise (the simulator's).
func workingSet(rng *rand.Rand, e *evidence, sd side, pods int, from time.Time, seconds int, start, perMinute float64) {
	for p := range pods {
		for s := 0; s <= seconds; s += 10 {
			v := (start + perMinute*float64(s)/60) * (1 + 0.01*rng.NormFloat64())
			e.addMemory(sd, fmt.Sprintf("pod-%v-%d", sd, p), from.Add(time.Duration(s)*time.Second), v)
		}
	}
}

func TestMemoryGrowthTellsALeakFromNoise(t *testing.T) {
	checks, err := contract.ParseChecks("memory-growth")
	require.NoError(t, err)
	const mi = 1 << 20
	t0 := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name    string
		leak    float64 // canary bytes per minute
		seconds int
		verdict contract.Verdict
	}{
		{"a 5%/min leak of 128Mi over two minutes fails", 6.4 * mi, 120, contract.Fail},
		{"a flat working set passes", 0, 120, contract.Pass},
		{"two samples are not a slope yet: no evidence of a leak", 6.4 * mi, 10, contract.Pass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(9, 10))
			e := newEvidence(nginxTarget(), t0)
			workingSet(rng, e, stableSide, 3, t0.Add(-5*time.Minute), 300+tc.seconds, 128*mi, 0)
			workingSet(rng, e, canarySide, 1, t0, tc.seconds, 128*mi, tc.leak)
			r := growthResult(checks[0], e.growth(canarySide), e.growth(stableSide))
			assert.Equal(t, tc.verdict, r.Verdict, r.Reason)
		})
	}
}

// A canary pod added at a later step starts smaller than the older ones: the
// slope is fitted within each pod, so the younger pod never reads as memory freed.
func TestMemoryGrowthIsFittedWithinEachPod(t *testing.T) {
	const mi = 1 << 20
	t0 := time.Unix(1_700_000_000, 0)
	e := newEvidence(nginxTarget(), t0)
	for s := 0; s <= 120; s += 10 {
		e.addMemory(canarySide, "old", t0.Add(time.Duration(s)*time.Second), 200*mi+float64(s)*mi/60)
		if s >= 60 {
			e.addMemory(canarySide, "young", t0.Add(time.Duration(s)*time.Second), 100*mi+float64(s-60)*mi/60)
		}
	}
	g := e.growth(canarySide)
	assert.InDelta(t, mi, g.perMinute, 1, "1Mi per minute in each pod")
}

// Working-set gauges are kept per pod and side; a NaN sample is dropped, and so
// is a canary pod's sample from before the rollout began (a previous release's
// pod, whose growth is not this canary's).
func TestEvidenceKeepsWorkingSetSamplesPerPod(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	e := newEvidence(nginxTarget(), t0.Add(10*time.Second))
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 10 * time.Second) }
	for i, v := range []float64{100, 110, math.NaN(), 130} {
		reqs := nginxSeries("shop", "web-ing", "", "200", float64(i*100))
		require.True(t, e.addTick(at(i), answers{famRequests: {reqs},
			famMemory: {podSample("web-abc12-xyz12", v), podSample("web-canary-abc12-xyz12", v/2)}}))
	}
	stable, canary := e.mem[1]["web-abc12-xyz12"], e.mem[0]["web-canary-abc12-xyz12"]
	assert.Equal(t, []growthPoint{{at(0), 100}, {at(1), 110}, {at(3), 130}}, stable)
	assert.Equal(t, []growthPoint{{at(3), 65}}, canary, "only after the rollout began, never NaN")
}

// A rollout held for hours keeps a bounded number of samples per pod, spread
// over the whole rollout, and the fitted slope is unchanged.
func TestMemoryGrowthSamplesPerPodAreBounded(t *testing.T) {
	const mi = 1 << 20
	t0 := time.Unix(1_700_000_000, 0)
	e := newEvidence(nginxTarget(), t0)
	const ticks = 6 * 60 * 3 // three hours at 10s
	for s := 0; s < ticks; s++ {
		e.addMemory(canarySide, "web-canary-1", t0.Add(time.Duration(s)*10*time.Second), 100*mi+float64(s)*mi/6)
	}
	pts := e.mem[0]["web-canary-1"]
	assert.LessOrEqual(t, len(pts), growthPoints)
	assert.Equal(t, t0, pts[0].at, "the first sample is kept")
	assert.Equal(t, t0.Add((ticks-1)*10*time.Second), pts[len(pts)-1].at, "the latest sample is kept")
	assert.InDelta(t, mi, e.growth(canarySide).perMinute, 1, "1Mi per minute")
}

// A gate asking for memory-growth before the sampler has usable evidence of the
// rollout (not tracked yet, being rebuilt, or stale) gets no slope, which
// passes saying so.
func TestGrowthWithoutEvidenceHasNoSlopeYet(t *testing.T) {
	checks, err := contract.ParseChecks("memory-growth")
	require.NoError(t, err)
	s := NewSampler(NewAnalyzer(newFakeProm(t, map[string][]answer{}).api(), testOptions()), SamplerOptions{})
	r := s.Growth("shop", "web", checks[0])
	assert.Equal(t, contract.Pass, r.Verdict)
	assert.Contains(t, r.Reason, "no slope yet")
}
