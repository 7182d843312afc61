package strategy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

func standing(v contract.Verdict, exposed bool) *analysis.Sequential {
	c := contract.CheckResult{Name: "error-rate", Verdict: v, Reason: "error rate above its limit (canary 100% in [94.8%, 100%])"}
	return &analysis.Sequential{Verdict: v, Checks: []contract.CheckResult{c}, StepChecks: []contract.CheckResult{c}, Exposed: exposed}
}

// Given a canary at its first step, when the continuous judge fails a check
// between gates, then traffic goes back to the stable at once: no gate, no
// threshold counting, the status naming the check with its figures.
func TestSequentialFailRollsBackAtOnce(t *testing.T) {
	for _, phase := range []contract.Phase{contract.Progressing, contract.Paused} {
		t.Run(string(phase), func(t *testing.T) {
			w := newWorld(t, mustSpec(t, "rolloutd.io/threshold", "5"))
			w.startRollout("c1")
			w.in.Status.Phase = phase
			w.after(3 * time.Second).in.Sequential = standing(contract.Fail, false)
			d := w.step()
			assert.Equal(t, contract.RollingBack, d.Status.Phase)
			assert.Equal(t, contract.ReasonCheckFailed, d.Status.Reason)
			assert.True(t, d.Split.AllStable(), "weight 0 at once")
			assert.Equal(t, 0, d.Status.Failures, "no threshold counting")
			assert.Contains(t, d.Status.Message, "at 10%, error-rate: error rate above its limit")
			require.Len(t, d.Status.Checks, 1)
			assert.Equal(t, contract.Fail, d.Status.Checks[0].Verdict)
		})
	}
}

func TestSequentialPassAdvancesEarlyAfterTheMinimumExposure(t *testing.T) {
	for _, tc := range []struct {
		name     string
		adaptive string
		seq      *analysis.Sequential
		gate     contract.Verdict
		advanced bool
	}{
		{"within tolerance and exposed advances", "true", standing(contract.Pass, true), contract.Pass, true},
		{"not yet exposed waits", "true", standing(contract.Pass, false), "", false},
		{"inconclusive waits", "true", standing(contract.Inconclusive, true), "", false},
		{"adaptive off waits", "false", standing(contract.Pass, true), "", false},
		{"another check not passing waits without counting", "true", standing(contract.Pass, true), contract.Fail, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, mustSpec(t, "rolloutd.io/adaptive", tc.adaptive))
			w.startRollout("c1")
			w.after(20 * time.Second).in.Sequential = tc.seq
			assert.Equal(t, tc.gate != "", GateDue(w.in))
			if tc.gate != "" {
				res := result(tc.gate)
				w.in.Gate = &res
			}
			d := w.step()
			assert.Equal(t, contract.Progressing, d.Status.Phase)
			assert.Equal(t, 0, d.Status.Failures)
			if tc.advanced {
				assert.Equal(t, 2, d.Status.Step, "next step before the interval ended")
				return
			}
			assert.Equal(t, 1, d.Status.Step)
			assert.Equal(t, 10, d.Split.CanaryWeight)
			assert.Equal(t, 40*time.Second, d.RequeueAfter, "the step runs its course")
		})
	}
}
