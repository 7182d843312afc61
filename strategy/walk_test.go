package strategy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

func TestGoodCanaryWalksEveryStepThenPromotes(t *testing.T) {
	w := newWorld(t, mustSpec(t))

	// A new template starts a canary of one pod with no traffic.
	d := w.template("c1").step()
	assert.Equal(t, contract.Progressing, d.Status.Phase)
	assert.Equal(t, "c1", d.Status.Revision)
	assert.Equal(t, "s1", d.Status.StableRevision)
	assert.Equal(t, 1, d.Status.Step)
	assert.Equal(t, 5, d.Status.Steps)
	assert.Equal(t, 0, d.Status.Weight)
	assert.Equal(t, int32(1), d.CanaryReplicas)
	assert.True(t, d.Split.AllStable())
	assert.Equal(t, KeepPaused, d.Stable)
	assert.Equal(t, []string{contract.ReasonProgressing}, reasons(d.Events))

	// Pods not there, then not Ready: weight stays 0.
	d = w.after(2 * time.Second).step()
	assert.Equal(t, 0, d.Split.CanaryWeight)
	assert.Nil(t, d.Status.StepStartedAt)
	assert.Equal(t, PollInterval, d.RequeueAfter)
	d = w.canary("c1", 0).after(2 * time.Second).step()
	assert.Equal(t, 0, d.Split.CanaryWeight)
	assert.False(t, GateDue(w.in))

	// Ready: traffic moves to 10% and the analysis window starts.
	d = w.canary("c1", 1).after(2 * time.Second).step()
	assert.Equal(t, 10, d.Split.CanaryWeight)
	assert.Equal(t, 10, d.Status.Weight)
	require.NotNil(t, d.Status.StepStartedAt)
	assert.Equal(t, w.in.Now, *d.Status.StepStartedAt)
	assert.Equal(t, time.Minute, d.RequeueAfter)
	assert.Equal(t, []string{contract.ReasonStepAdvanced}, reasons(d.Events))

	// Before the interval no gate is due and the weight holds.
	d = w.after(30 * time.Second).step()
	assert.False(t, GateDue(w.in))
	assert.Equal(t, 10, d.Split.CanaryWeight)
	assert.Equal(t, 30*time.Second, d.RequeueAfter)

	// The gate passes: step 2 scales the canary first and keeps 10% until Ready.
	w.after(30 * time.Second)
	d = w.gate(contract.Pass)
	assert.Equal(t, contract.Progressing, d.Status.Phase)
	assert.Equal(t, 2, d.Status.Step)
	assert.Equal(t, 10, d.Split.CanaryWeight, "weight holds until the step's pods are Ready")
	assert.Equal(t, int32(2), d.CanaryReplicas)
	assert.Nil(t, d.Status.StepStartedAt)
	assert.Equal(t, []string{contract.ReasonGatePassed}, reasons(d.Events))
	assert.Len(t, d.Status.Checks, 2, "the gate's checks are recorded")

	d = w.step() // one of two pods Ready
	assert.Equal(t, 10, d.Split.CanaryWeight)
	d = w.canary("c1", 2).step()
	assert.Equal(t, 20, d.Split.CanaryWeight)

	for _, want := range []struct {
		step, weight int
		replicas     int32
	}{{3, 30, 3}, {4, 40, 4}, {5, 50, 5}} {
		d = w.passStep()
		assert.Equal(t, want.step, d.Status.Step)
		assert.Equal(t, want.weight, d.Split.CanaryWeight)
		assert.Equal(t, want.replicas, d.CanaryReplicas)
		assert.False(t, d.ReducesExposure(w.prev))
	}

	// The last gate passes: Promoting scales the canary to full size first.
	w.after(time.Minute)
	d = w.gate(contract.Pass)
	assert.Equal(t, contract.Promoting, d.Status.Phase)
	assert.Equal(t, int32(10), d.CanaryReplicas)
	assert.Equal(t, 50, d.Split.CanaryWeight, "weight holds until the full-size canary is Ready")
	assert.Equal(t, KeepPaused, d.Stable)
	assert.Equal(t, []string{contract.ReasonGatePassed, contract.ReasonPromoting}, reasons(d.Events))

	d = w.canary("c1", 10).step()
	assert.Equal(t, 100, d.Split.CanaryWeight)
	assert.Equal(t, KeepPaused, d.Stable, "stable resumes only once the canary holds all traffic")

	d = w.step()
	assert.Equal(t, Resume, d.Stable)
	assert.True(t, d.Promoting())
	assert.Equal(t, 100, d.Split.CanaryWeight)
	assert.Equal(t, int32(10), d.CanaryReplicas)

	// The stable rolls out c1 natively; traffic stays on the canary meanwhile.
	w.in.Stable.Running, w.in.Stable.RolledOut = "c1", false
	d = w.step()
	assert.Equal(t, Resume, d.Stable)
	assert.Equal(t, 100, d.Split.CanaryWeight)

	w.in.Stable.RolledOut = true
	d = w.step()
	assert.Equal(t, contract.Succeeded, d.Status.Phase)
	assert.Equal(t, 0, d.Status.Weight)
	assert.True(t, d.Split.AllStable())
	assert.Equal(t, int32(0), d.CanaryReplicas)
	assert.Equal(t, KeepPaused, d.Stable)
	assert.Equal(t, "c1", d.Status.StableRevision)
	assert.Equal(t, []string{contract.ReasonPromoted}, reasons(d.Events))
	assert.False(t, d.ReducesExposure(w.prev), "a promotion is not a rollback")

	// Settled: nothing more happens.
	d = w.noCanary().after(time.Hour).step()
	assert.Equal(t, contract.Succeeded, d.Status.Phase)
	assert.Empty(t, d.Events)
	assert.Equal(t, int32(0), d.CanaryReplicas)
	assert.Zero(t, d.RequeueAfter)
}

func TestFailedGatesHoldUnderThresholdAndRollBackOverIt(t *testing.T) {
	cases := []struct {
		threshold string
		tolerated int
	}{{"0", 0}, {"1", 1}, {"2", 2}}
	for _, tc := range cases {
		t.Run("threshold "+tc.threshold, func(t *testing.T) {
			w := newWorld(t, mustSpec(t, "rolloutd.io/threshold", tc.threshold))
			w.startRollout("c1")
			for i := 1; i <= tc.tolerated; i++ {
				w.after(time.Minute)
				d := w.gate(contract.Fail)
				assert.Equal(t, contract.Progressing, d.Status.Phase, "failure %d is tolerated", i)
				assert.Equal(t, 1, d.Status.Step, "the step is held")
				assert.Equal(t, 10, d.Split.CanaryWeight)
				assert.Equal(t, i, d.Status.Failures)
				assert.Equal(t, contract.ReasonGateFailed, d.Status.Reason)
				assert.Contains(t, d.Status.Message, "error-rate")
				assert.Equal(t, w.in.Now, *d.Status.StepStartedAt, "a fresh window starts")
				require.Len(t, d.Events, 1)
				assert.True(t, d.Events[0].Warning)
			}
			w.after(time.Minute)
			d := w.gate(contract.Fail)
			assert.Equal(t, contract.RollingBack, d.Status.Phase)
			assert.Equal(t, contract.ReasonGateFailed, d.Status.Reason)
			assert.Equal(t, 0, d.Status.Weight)
			assert.True(t, d.Split.AllStable())
			assert.Equal(t, int32(0), d.CanaryReplicas)
			assert.Equal(t, "c1", d.Status.FailedRevision)
			assert.True(t, d.ReducesExposure(w.prev), "the rollback is persisted before it is applied")
			assert.Equal(t, KeepPaused, d.Stable)
		})
	}
}

func TestRollbackFinishesOnceTheCanaryIsGoneAndIsNotRetried(t *testing.T) {
	w := newWorld(t, mustSpec(t, "rolloutd.io/threshold", "0"))
	w.startRollout("c1")
	w.after(time.Minute)
	require.Equal(t, contract.RollingBack, w.gate(contract.Fail).Status.Phase)

	// While the canary remains the rollback is not over, and not re-persisted first.
	d := w.step()
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, int32(0), d.CanaryReplicas)
	assert.True(t, d.Split.AllStable())
	assert.False(t, d.ReducesExposure(w.prev))
	assert.Equal(t, PollInterval, d.RequeueAfter)

	d = w.noCanary().step()
	assert.Equal(t, contract.RolledBack, d.Status.Phase)
	assert.Equal(t, contract.ReasonGateFailed, d.Status.Reason, "the reason that started the rollback is kept")
	require.Len(t, d.Events, 1)
	assert.Equal(t, contract.ReasonRolledBack, d.Events[0].Reason)
	assert.True(t, d.Events[0].Warning)

	// The same template is not retried, however long it stays.
	for i := 0; i < 3; i++ {
		d = w.after(time.Hour).step()
		assert.Equal(t, contract.RolledBack, d.Status.Phase)
		assert.Equal(t, int32(0), d.CanaryReplicas)
		assert.Empty(t, d.Events)
	}

	// A new template starts again from step 1.
	d = w.template("c2").step()
	assert.Equal(t, contract.Progressing, d.Status.Phase)
	assert.Equal(t, "c2", d.Status.Revision)
	assert.Equal(t, 1, d.Status.Step)
	assert.Zero(t, d.Status.Failures)
	assert.Empty(t, d.Status.FailedRevision)
}

func TestInconclusiveGatesCountAsOneFailureEveryLimit(t *testing.T) {
	w := newWorld(t, mustSpec(t, "rolloutd.io/threshold", "1"))
	w.startRollout("c1")
	for round := 1; round <= 2; round++ {
		for i := 1; i < InconclusiveLimit; i++ {
			w.after(time.Minute)
			d := w.gate(contract.Inconclusive)
			assert.Equal(t, contract.Progressing, d.Status.Phase)
			assert.Equal(t, i, d.Status.Inconclusive)
			assert.Equal(t, round-1, d.Status.Failures, "round %d: inconclusive %d is not yet a failure", round, i)
			assert.Equal(t, contract.ReasonInconclusive, d.Status.Reason)
			assert.Equal(t, 10, d.Split.CanaryWeight)
		}
		w.after(time.Minute)
		d := w.gate(contract.Inconclusive)
		if round == 1 {
			assert.Equal(t, contract.Progressing, d.Status.Phase)
			assert.Equal(t, 1, d.Status.Failures, "%d inconclusive gates count as one failure", InconclusiveLimit)
			assert.Zero(t, d.Status.Inconclusive)
			continue
		}
		assert.Equal(t, contract.RollingBack, d.Status.Phase, "the second counted failure exceeds threshold 1")
	}
}

func TestPassingGateResetsTheInconclusiveCount(t *testing.T) {
	w := newWorld(t, mustSpec(t, "rolloutd.io/threshold", "0"))
	w.startRollout("c1")
	for i := 1; i < InconclusiveLimit; i++ {
		w.after(time.Minute)
		w.gate(contract.Inconclusive)
	}
	w.after(time.Minute)
	d := w.gate(contract.Pass)
	assert.Zero(t, d.Status.Inconclusive)
	assert.Equal(t, 2, d.Status.Step)
	w.canary("c1", d.CanaryReplicas).step()
	w.after(time.Minute)
	d = w.gate(contract.Inconclusive)
	assert.Equal(t, contract.Progressing, d.Status.Phase, "one inconclusive gate after a pass does not roll back")
}

func TestTemplateChangedMidRolloutRestartsAtStepOne(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.startRollout("c1")
	w.passStep()
	d := w.passStep()
	require.Equal(t, 30, d.Split.CanaryWeight)
	w.after(time.Minute)
	w.gate(contract.Fail)

	d = w.template("c2").after(10 * time.Second).step()
	assert.Equal(t, contract.Progressing, d.Status.Phase)
	assert.Equal(t, contract.ReasonRestarted, d.Status.Reason)
	assert.Equal(t, "c2", d.Status.Revision)
	assert.Equal(t, 1, d.Status.Step)
	assert.Equal(t, 0, d.Status.Weight)
	assert.True(t, d.Split.AllStable(), "traffic leaves the old canary")
	assert.Equal(t, int32(1), d.CanaryReplicas)
	assert.Zero(t, d.Status.Failures, "failures of the old revision do not count")
	assert.Nil(t, d.Status.StepStartedAt)

	// Ready pods of the old revision do not receive traffic.
	d = w.canary("c1", 3).step()
	assert.Equal(t, 0, d.Split.CanaryWeight)
	d = w.canary("c2", 1).step()
	assert.Equal(t, 10, d.Split.CanaryWeight)
}

func TestTemplateRevertedToStableEndsIdleAfterCleanup(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.startRollout("c1")
	w.passStep()

	d := w.template("s1").step()
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, contract.ReasonReverted, d.Status.Reason)
	assert.True(t, d.Split.AllStable())
	assert.Equal(t, int32(0), d.CanaryReplicas)
	assert.Empty(t, d.Status.FailedRevision, "a revert does not mark the canary revision failed")

	d = w.step()
	assert.Equal(t, contract.RollingBack, d.Status.Phase, "not Idle while the canary exists")
	d = w.noCanary().step()
	assert.Equal(t, contract.Idle, d.Status.Phase)
	require.Len(t, d.Events, 1)
	assert.False(t, d.Events[0].Warning)

	// Re-applying the reverted canary template starts a fresh rollout.
	d = w.template("c1").step()
	assert.Equal(t, contract.Progressing, d.Status.Phase)
	assert.Equal(t, "c1", d.Status.Revision)
}

func TestCanaryNotReadyInTimeRollsBackNamingReadiness(t *testing.T) {
	cases := []struct {
		name  string
		reach func(w *world)
	}{
		{"first step", func(w *world) { w.template("c1").step() }},
		{"later step", func(w *world) {
			w.startRollout("c1")
			w.after(time.Minute)
			w.gate(contract.Pass) // step 2 wants 2 pods; 1 stays Ready
		}},
		{"full size for promotion", func(w *world) {
			w.in.Spec.Steps = []int{50}
			w.startRollout("c1")
			w.after(time.Minute)
			w.gate(contract.Pass) // Promoting wants 10 pods; 5 stay Ready
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, mustSpec(t))
			w.in.ReadyTimeout = 5 * time.Minute
			tc.reach(w)
			phase := w.in.Status.Phase
			d := w.after(5 * time.Minute).step()
			assert.Equal(t, phase, d.Status.Phase, "exactly the timeout is still within it")
			d = w.after(time.Second).step()
			assert.Equal(t, contract.RollingBack, d.Status.Phase)
			assert.Equal(t, contract.ReasonNotReady, d.Status.Reason)
			assert.Contains(t, d.Status.Message, "not Ready")
			assert.Contains(t, d.Status.Message, "within 5m0s")
			assert.Equal(t, int32(0), d.CanaryReplicas)
			assert.True(t, d.Split.AllStable())
			assert.Equal(t, "c1", d.Status.FailedRevision)
		})
	}
}
