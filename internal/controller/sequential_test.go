package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
