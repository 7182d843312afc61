package analysis

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/strategy/contract/contracttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With no errors the uniform mixture has a closed form (Robbins 1970):
// M_n(q) = 1 / ((n+1)(1-q)^n), so the upper end of the sequence is
// 1 - (alpha/(n+1))^(1/n); with every request an error, by symmetry, the lower
// end is (alpha/(n+1))^(1/n).
func TestRateBoundsMatchTheClosedFormsWithoutErrorsAndWithOnlyErrors(t *testing.T) {
	for _, n := range []float64{1, 10, 200, 10000} {
		for _, alpha := range []float64{0.05, 0.01, 0.0025} {
			lo, hi := rateBounds(0, n, alpha)
			assert.Equal(t, 0.0, lo)
			assert.InDelta(t, 1-math.Pow(alpha/(n+1), 1/n), hi, 1e-9, "n=%v alpha=%v", n, alpha)
			lo, hi = rateBounds(n, n, alpha)
			assert.InDelta(t, math.Pow(alpha/(n+1), 1/n), lo, 1e-9, "n=%v alpha=%v", n, alpha)
			assert.Equal(t, 1.0, hi)
		}
	}
	// The uniform mixture's value at a general point is the Beta function ratio:
	// B(3, 9)/B(1, 1) = 2!8!/11! = 1/495 for 2 errors in 10 requests.
	assert.InDelta(t, math.Log(1.0/495)-2*math.Log(0.3)-8*math.Log(0.7), logMixture(0.3, 2, 10), 1e-12)
}

func TestRateBoundsHoldTheObservedShareAndNarrowWithMoreRequests(t *testing.T) {
	lo1, hi1 := rateBounds(10, 1000, 0.01)
	lo2, hi2 := rateBounds(100, 10000, 0.01)
	assert.Less(t, lo1, 0.01)
	assert.Greater(t, hi1, 0.01)
	assert.Less(t, hi2-lo2, hi1-lo1)
	lo, hi := rateBounds(0, 0, 0.01)
	assert.Equal(t, [2]float64{0, 1}, [2]float64{lo, hi}, "no requests, no knowledge")
}

// The bound holds under continuous monitoring: reading the sequence after every
// batch of requests, the true rate falls outside it in at most alpha of the runs.
// A fixed-horizon 95% interval read that often would miss far more often.
func TestRateBoundsCoverTheTrueRateAtEveryLook(t *testing.T) {
	const runs, looks, batch, alpha, p = 400, 100, 50, 0.05, 0.02
	rng := rand.New(rand.NewPCG(1, 2))
	missed := 0
	for range runs {
		s, n := 0.0, 0.0
		for range looks {
			for range batch {
				if rng.Float64() < p {
					s++
				}
				n++
			}
			if lo, hi := rateBounds(s, n, alpha); p < lo || p > hi {
				missed++
				break
			}
		}
	}
	assert.LessOrEqual(t, float64(missed)/runs, alpha, "%d of %d runs left the sequence", missed, runs)
}

func TestSeqErrorRateVerdicts(t *testing.T) {
	baseline, err := contract.ParseChecks("error-rate<=1%+baseline")
	require.NoError(t, err)
	absolute, err := contract.ParseChecks("error-rate<=2%")
	require.NoError(t, err)
	stable := Counts{Requests: 18000, Errors: 18}
	for _, tc := range []struct {
		name    string
		check   contract.Check
		canary  Counts
		stable  Counts
		verdict contract.Verdict
		reason  string
	}{
		{"every request failing fails on its first tick", baseline[0], Counts{200, 200, 0}, stable, contract.Fail, "error rate above its limit..."},
		{"a healthy canary with enough requests is within tolerance", baseline[0], Counts{20000, 20, 0}, stable, contract.Pass, "error rate within its limit..."},
		{"a few requests cannot tell", baseline[0], Counts{50, 0, 0}, stable, contract.Inconclusive, "error rate not yet told from its limit..."},
		{"no canary request is inconclusive", baseline[0], Counts{}, stable, contract.Inconclusive, "no requests yet (canary 0, stable 18000)"},
		{"no stable request is inconclusive for a baseline", baseline[0], Counts{200, 200, 0}, Counts{}, contract.Inconclusive, "no requests yet..."},
		{"unlabelled canary requests fail naming the label", baseline[0], Counts{200, 0, 200}, stable, contract.Fail,
			`200 of 200 requests on canary carry no "code" label...`},
		{"absolute bound fails", absolute[0], Counts{2000, 400, 0}, Counts{}, contract.Fail, "error rate above its limit..."},
		{"absolute bound passes", absolute[0], Counts{20000, 20, 0}, Counts{}, contract.Pass, "error rate within its limit..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := SequentialErrorRate(tc.check, "code", tc.canary, tc.stable, 0.01)
			assert.Equal(t, tc.verdict, r.Verdict, r.Reason)
			contracttest.AssertMessage(t, tc.reason, r.Reason)
			if tc.canary.Requests > 0 && tc.canary.Unlabelled == 0 && (tc.stable.Requests > 0 || tc.check.Mode == contract.Absolute) {
				require.NotNil(t, r.Value)
				assert.InDelta(t, tc.canary.Errors/tc.canary.Requests, *r.Value, 1e-12)
			}
		})
	}
}

func TestSeqErrorRateReasonCarriesTheEvidence(t *testing.T) {
	checks, err := contract.ParseChecks("error-rate<=1%+baseline")
	require.NoError(t, err)
	r := SequentialErrorRate(checks[0], "code", Counts{200, 200, 0}, Counts{1800, 2, 0}, 0.01)
	assert.Equal(t, "error rate above its limit (canary 100% in [94.8%, 100%] from 200 requests, "+
		"stable 0.111% in [0.000131%, 0.988%] from 1800; limit 0.111% + 1%; anytime-valid, false-rollback bound 0.01)", r.Reason)
}
