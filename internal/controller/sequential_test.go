package controller

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// A gate queries only the checks the continuous judge does not decide, and its
// results keep the order of the checks annotation, a bad ConfigMap's result last.
func TestGateQueriesOnlyWhatTheContinuousJudgeDoesNotDecide(t *testing.T) {
	checks, err := contract.ParseChecks("cpu<=1.3x, error-rate<=1%+baseline, memory<=1.3x")
	require.NoError(t, err)
	seq := &analysis.Sequential{StepChecks: []contract.CheckResult{{Name: "error-rate", Verdict: contract.Pass, Reason: "sequential"}}}

	queried, have := gateChecks(checks, seq)
	var names []string
	for _, c := range queried {
		names = append(names, c.Name())
	}
	assert.Equal(t, []string{"cpu", "memory"}, names)

	gate := []contract.CheckResult{{Name: "cpu", Verdict: contract.Pass}, {Name: "memory", Verdict: contract.Fail},
		{Name: "rolloutd.io/analysis", Verdict: contract.Fail}}
	merged := mergeChecks(checks, gate, have)
	names = nil
	for _, c := range merged {
		names = append(names, c.Name)
	}
	assert.Equal(t, []string{"cpu", "error-rate", "memory", "rolloutd.io/analysis"}, names)
	assert.Equal(t, "sequential", merged[1].Reason)

	all, none := gateChecks(checks, nil)
	assert.Equal(t, checks, all, "without a standing every check is queried")
	assert.Nil(t, none)
	assert.Equal(t, gate, mergeChecks(checks, gate, nil))
}

// growthJudge is a continuous judge with memory-growth evidence only.
type growthJudge struct{ growth contract.CheckResult }

func (growthJudge) Observe(context.Context, analysis.Target, string, time.Time, time.Time, []contract.Check) *analysis.Sequential {
	return nil
}
func (growthJudge) Forget(string, string) {}
func (j growthJudge) Growth(_, _ string, c contract.Check) contract.CheckResult {
	return j.growth
}

// A canary gate without a standing (no canary request in the step yet) still
// takes memory-growth from the evidence's fitted slope, never from one noisy
// deriv() over the gate's window (without evidence yet, the evidence's answer is
// that there is no slope: analysis's TestGrowthWithoutEvidenceHasNoSlopeYet);
// other strategies query it.
func TestGateTakesMemoryGrowthFromTheEvidence(t *testing.T) {
	checks, err := contract.ParseChecks("error-rate<=1%+baseline, memory-growth")
	require.NoError(t, err)
	fit := contract.CheckResult{Name: "memory-growth", Verdict: contract.Fail, Reason: "fitted"}
	for _, tc := range []struct {
		name     string
		strategy contract.Strategy
		queried  []string
	}{
		{"canary", contract.Canary, []string{"error-rate"}},
		{"batch", contract.Batch, []string{"error-rate", "memory-growth"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &rollout{c: &Controller{Options: Options{Sequential: growthJudge{fit}}}, spec: contract.Spec{Strategy: tc.strategy},
				d: &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}}}
			queried, have := r.growthChecks(checks)
			var names []string
			for _, c := range queried {
				names = append(names, c.Name())
			}
			assert.Equal(t, tc.queried, names)
			if tc.strategy == contract.Canary {
				merged := mergeChecks(checks, []contract.CheckResult{{Name: "error-rate", Verdict: contract.Pass}}, have)
				require.Len(t, merged, 2)
				assert.Equal(t, fit, merged[1])
			}
		})
	}
}
