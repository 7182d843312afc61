package analysis

import (
	"testing"
	"time"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/strategy/contract/contracttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Sample queries of testTarget() with the judge's default step (30s of a 5m window).
var (
	stepTarget = func() Target { t := testTarget(); t.Window = 30 * time.Second; return t }()
	cCPUStep   = podQ(stepTarget, "cpu", canarySide)
	sCPUStep   = podQ(stepTarget, "cpu", stableSide)
	cReqStep   = reqQ(stepTarget, "statuses", canarySide, 0)
	sReqStep   = reqQ(stepTarget, "statuses", stableSide, 0)
	stableCPU  = []float64{0.25, 0.24, 0.26, 0.25, 0.27, 0.23, 0.25, 0.26, 0.24, 0.25}
)

func scaled(xs []float64, f float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x * f
	}
	return out
}

func judgeOptions() Options {
	o := testOptions()
	o.Judge = &JudgeOptions{}
	return o
}

func TestJudgeDecidesBaselineFormsFromSamples(t *testing.T) {
	for _, tc := range []struct {
		name    string
		canary  []float64
		verdict contract.Verdict
		reason  string
	}{
		// With complete separation of 10 and 10 samples the exact one-sided p is 1/C(20,10).
		{"canary like stable passes", scaled(stableCPU, 1.02), contract.Pass,
			"cpu within its limit (Mann-Whitney p=5.41e-06 < 0.05; median 0.255 cores vs limit 0.325 cores, 10/10 samples)"},
		{"canary well above the tolerance fails", scaled(stableCPU, 1.6), contract.Fail,
			"cpu above its limit (Mann-Whitney p=5.41e-06 < 0.05; median 0.4 cores vs limit 0.325 cores, 10/10 samples)"},
		{"canary at the tolerance is inconclusive", scaled(stableCPU, 1.3), contract.Inconclusive,
			"cpu: cannot tell from its limit (Mann-Whitney p=0.551 above, 0.551 below; median 0.325 cores vs limit 0.325 cores, 10/10 samples)"},
		{"too few samples are inconclusive", []float64{0.9, 0.9}, contract.Inconclusive,
			"cpu: too few samples to judge (median 0.9 cores vs limit 0.325 cores, 2/10 samples, need 4)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeProm(t, map[string][]answer{
				cCPU: one(val(0.3)), sCPU: one(val(0.25)),
				cCPUStep: one(answer{samples: tc.canary}), sCPUStep: one(answer{samples: stableCPU}),
			})
			r := evaluate(t, f, judgeOptions(), testTarget(), "cpu<=1.3x")
			c := r.Checks[0]
			assert.Equal(t, tc.verdict, c.Verdict, c.Reason)
			assert.Equal(t, tc.reason, c.Reason)
			require.NotNil(t, c.Value, "the instant figures stay in the result")
			assert.InDelta(t, 0.3, *c.Value, 1e-12)
			assert.InDelta(t, 0.25, *c.Baseline, 1e-12)
		})
	}
}

func TestJudgeQueriesTheWindowInSteps(t *testing.T) {
	f := newFakeProm(t, map[string][]answer{
		cCPU: one(val(0.3)), sCPU: one(val(0.25)),
		cCPUStep: one(answer{samples: stableCPU}), sCPUStep: one(answer{samples: stableCPU}),
	})
	evaluate(t, f, judgeOptions(), testTarget(), "cpu<=1.3x")
	var ranges int
	for _, form := range f.requests {
		if form.Get("step") == "" {
			continue
		}
		ranges++
		assert.Equal(t, "30", form.Get("step"))
		assert.Equal(t, "1700000000", form.Get("end"))
		assert.Equal(t, "1699999730", form.Get("start"), "ten 30s steps ending at End")
	}
	assert.Equal(t, 2, ranges)
	assert.Contains(t, cCPUStep, "[30s]")
}

func TestJudgeErrorRateUsesPerStepShares(t *testing.T) {
	f := newFakeProm(t, map[string][]answer{
		cReq: one(reqs(540, 60)), sReq: one(reqs(597, 3)),
		cReqStep: one(reqSteps([]float64{91, 89, 90, 88, 92, 90}, []float64{9, 11, 10, 12, 8, 10})),
		sReqStep: one(reqSteps([]float64{100, 99, 100, 99, 100, 99}, []float64{0, 1, 0, 1, 0, 1})),
	})
	r := evaluate(t, f, judgeOptions(), testTarget(), "error-rate<=1%+baseline")
	c := r.Checks[0]
	assert.Equal(t, contract.Fail, c.Verdict, c.Reason)
	assert.Equal(t, "error rate above its limit (Mann-Whitney p=0.00108 < 0.05; median 10% vs limit 1.5%, 6/6 samples)", c.Reason)
}

func TestJudgeFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		canary answer
		reason string
	}{
		{"range query error", http500, "query failed: canary samples: server_error: server error: 500"},
		{"no samples", noData, "cpu: too few samples to judge (median NaN cores vs limit 0.325 cores, 0/10 samples, need 4)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeProm(t, map[string][]answer{
				cCPU: one(val(0.3)), sCPU: one(val(0.25)),
				cCPUStep: one(tc.canary), sCPUStep: one(answer{samples: stableCPU}),
			})
			r := evaluate(t, f, judgeOptions(), testTarget(), "cpu<=1.3x")
			assert.NotEqual(t, contract.Pass, r.Verdict)
			contracttest.AssertMessage(t, tc.reason+"...", r.Checks[0].Reason)
		})
	}
}

func TestJudgeLeavesAbsoluteFormsToThresholds(t *testing.T) {
	f := newFakeProm(t, map[string][]answer{cCPU: one(val(0.3))})
	r := evaluate(t, f, judgeOptions(), testTarget(), "cpu<=500m")
	assert.Equal(t, "cpu 0.3 cores <= 0.5 cores", r.Checks[0].Reason)
	assert.Empty(t, f.requests[0].Get("step"))
}
