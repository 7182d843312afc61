package analysis

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nginxLe are ingress-nginx's request-duration buckets, as the sandbox's
// simulator exports them.
var nginxLe = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// logNormal draws n durations with the given median and 99th percentile into
// a cumulative histogram over nginxLe.
func logNormal(rng *rand.Rand, h Histogram, n int, p50, p99 float64) Histogram {
	if h == nil {
		h = Histogram{}
		for _, le := range nginxLe {
			h[le] = 0
		}
		h[math.Inf(1)] = 0
	}
	sigma := math.Log(p99/p50) / 2.3263478740408408
	for range n {
		d := p50 * math.Exp(sigma*rng.NormFloat64())
		for le := range h {
			if d <= le {
				h[le]++
			}
		}
	}
	return h
}

// histogram_quantile's own examples: linear inside the bucket, the first bucket
// from 0, a rank in +Inf gives the largest finite bound; Above inverts it.
func TestHistogramQuantileInterpolatesAsPrometheusDoes(t *testing.T) {
	inf := math.Inf(1)
	h := Histogram{0.1: 50, 0.2: 90, 0.5: 100, inf: 100}
	assert.InDelta(t, 0.1, h.Quantile(0.5), 1e-12)
	assert.InDelta(t, 0.05, h.Quantile(0.25), 1e-12, "first bucket starts at 0")
	assert.InDelta(t, 0.15, h.Quantile(0.7), 1e-12)
	assert.InDelta(t, 0.35, h.Quantile(0.95), 1e-12)
	for _, q := range []float64{0.25, 0.5, 0.7, 0.95} {
		assert.InDelta(t, (1-q)*100, h.Above(h.Quantile(q)), 1e-9, "q=%v", q)
	}
	tail := Histogram{0.1: 90, inf: 100}
	assert.Equal(t, 0.1, tail.Quantile(0.99), "rank in +Inf: the largest finite bound")
	assert.Equal(t, 10.0, tail.Above(0.5), "the +Inf bucket is above every finite duration")
	assert.True(t, math.IsNaN(Histogram{}.Quantile(0.99)))
	assert.Equal(t, Histogram{0.1: 3, inf: 4}, Histogram{0.1: 1, inf: 1}.Add(Histogram{0.1: 2, inf: 3}))
}

// The count thresholds are where the rate's confidence sequence touches p.
func TestTailCountsAreWhereTheRateSequenceTouchesP(t *testing.T) {
	for _, n := range []float64{2000, 5000, 50000} {
		k, ok := tailCountSurelyBelow(0.01, n, 0.0025)
		require.True(t, ok, "n=%v", n)
		_, hi := rateBounds(k, n, 0.0025)
		assert.InDelta(t, 0.01, hi, 1e-6, "n=%v", n)
		k, ok = tailCountSurelyAbove(0.01, n, 0.0025)
		require.True(t, ok, "n=%v", n)
		lo, _ := rateBounds(k, n, 0.0025)
		assert.InDelta(t, 0.01, lo, 1e-6, "n=%v", n)
	}
	_, ok := tailCountSurelyBelow(0.01, 100, 0.0025)
	assert.False(t, ok, "100 requests cannot show a tail share below 1%")
}

func TestSeqLatencyVerdicts(t *testing.T) {
	ratio, err := contract.ParseChecks("latency-p99<=1.5x")
	require.NoError(t, err)
	absolute, err := contract.ParseChecks("latency-p99<=200ms")
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(3, 4))
	stable := logNormal(rng, nil, 20000, 0.02, 0.08)
	for _, tc := range []struct {
		name     string
		check    contract.Check
		canary   Histogram
		verdict  contract.Verdict
		contains string
	}{
		{"p99 doubled fails", ratio[0], logNormal(rng, nil, 2000, 0.02, 0.16), contract.Fail, "p99 latency above its limit"},
		{"same as stable, much evidence, passes", ratio[0], logNormal(rng, nil, 5000, 0.02, 0.08), contract.Pass, "p99 latency within its limit"},
		{"same as stable, little evidence, waits", ratio[0], logNormal(rng, nil, 200, 0.02, 0.08), contract.Inconclusive, "not yet told"},
		{"absolute bound exceeded fails", absolute[0], logNormal(rng, nil, 2000, 0.05, 0.4), contract.Fail, "limit"},
		{"no canary durations is no verdict", ratio[0], Histogram{}, contract.Inconclusive, "no request durations yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := SequentialLatency(tc.check, tc.canary, stable, 0.005)
			assert.Equal(t, tc.verdict, r.Verdict, r.Reason)
			assert.Contains(t, r.Reason, tc.contains)
		})
	}
}

// Under continuous monitoring a canary just like the stable is failed in at
// most alpha of the runs, looked at after every batch of requests.
func TestSeqLatencyRarelyFailsAHealthyCanaryAtAnyLook(t *testing.T) {
	checks, err := contract.ParseChecks("latency-p99<=1.2x")
	require.NoError(t, err)
	const runs, looks, alpha = 100, 30, 0.05
	rng := rand.New(rand.NewPCG(5, 6))
	failed := 0
	for range runs {
		var canary, stable Histogram
		for range looks {
			canary = logNormal(rng, canary, 20, 0.02, 0.08)
			stable = logNormal(rng, stable, 180, 0.02, 0.08)
			if SequentialLatency(checks[0], canary, stable, alpha).Verdict == contract.Fail {
				failed++
				break
			}
		}
	}
	assert.LessOrEqual(t, float64(failed)/runs, alpha, "%d of %d healthy runs failed", failed, runs)
}
