package strategy

// Tests of what interrupts or bends a rollout's walk: approvals, pause and abort,
// alerts, broken routing, unvetted templates and edge cases of the spec.

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

func TestPauseAtWaitsForApprovalAfterTheGatePasses(t *testing.T) {
	for _, verb := range []contract.Verb{contract.Promote, contract.Resume} {
		t.Run(string(verb), func(t *testing.T) {
			w := newWorld(t, mustSpec(t, "rolloutd.io/pause-at", "20"))
			w.startRollout("c1")
			d := w.passStep()
			require.Equal(t, 20, d.Split.CanaryWeight)

			w.after(time.Minute)
			d = w.gate(contract.Pass)
			assert.Equal(t, contract.Paused, d.Status.Phase)
			assert.Equal(t, 2, d.Status.Step)
			assert.Equal(t, 20, d.Split.CanaryWeight)
			assert.Equal(t, int32(2), d.CanaryReplicas)
			assert.Contains(t, d.Status.Message, "rolloutctl promote web")
			assert.Equal(t, contract.ReasonAwaitingApproval, d.Status.Reason)
			assert.Equal(t, []string{contract.ReasonGatePassed, contract.ReasonAwaitingApproval}, reasons(d.Events))

			// Paused: no gate, no progress, however long.
			d = w.after(time.Hour).step()
			assert.False(t, GateDue(w.in))
			assert.Equal(t, contract.Paused, d.Status.Phase)
			assert.Equal(t, 20, d.Split.CanaryWeight)
			assert.Equal(t, int32(2), d.CanaryReplicas)
			assert.Empty(t, d.Events)

			d = w.command(verb).step()
			assert.Equal(t, contract.Progressing, d.Status.Phase)
			assert.Equal(t, 3, d.Status.Step, "the approved step goes on to the next")
			assert.Equal(t, 2, d.Status.Approved)
			assert.Equal(t, 20, d.Split.CanaryWeight, "the next weight waits for its pods")
			assert.Equal(t, int32(3), d.CanaryReplicas)
			d = w.canary("c1", 3).step()
			assert.Equal(t, 30, d.Split.CanaryWeight)
		})
	}
}

func TestPauseAtTheLastStepPromotesAfterApproval(t *testing.T) {
	w := newWorld(t, mustSpec(t, "rolloutd.io/steps", "25,50", "rolloutd.io/pause-at", "50"))
	w.startRollout("c1")
	w.passStep()
	w.after(time.Minute)
	require.Equal(t, contract.Paused, w.gate(contract.Pass).Status.Phase)
	d := w.command(contract.Promote).step()
	assert.Equal(t, contract.Promoting, d.Status.Phase)
	assert.Equal(t, int32(10), d.CanaryReplicas)
}

func TestPauseAndResumeCommandsHoldTheStepThenRestartItsWindow(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.startRollout("c1")

	d := w.after(30 * time.Second).command(contract.Pause).step()
	assert.Equal(t, contract.Paused, d.Status.Phase)
	assert.Equal(t, contract.ReasonPaused, d.Status.Reason)
	assert.Contains(t, d.Status.Message, "alice")
	assert.Contains(t, d.Status.Message, "rolloutctl resume web")
	assert.Equal(t, 10, d.Split.CanaryWeight)
	assert.Equal(t, int32(1), d.CanaryReplicas)

	d = w.after(10 * time.Minute).step()
	assert.Equal(t, contract.Paused, d.Status.Phase)
	assert.False(t, GateDue(w.in), "no gate while paused")

	d = w.command(contract.Resume).step()
	assert.Equal(t, contract.Progressing, d.Status.Phase)
	assert.Equal(t, contract.ReasonResumed, d.Status.Reason)
	assert.Equal(t, 1, d.Status.Step, "resume continues the same step")
	assert.Equal(t, 10, d.Split.CanaryWeight)
	require.NotNil(t, d.Status.StepStartedAt)
	assert.Equal(t, w.in.Now, *d.Status.StepStartedAt, "a fresh analysis window")
	assert.False(t, GateDue(w.in))
	w.after(time.Minute)
	assert.True(t, GateDue(w.in))
}

func TestManualPauseAtAPauseAtStepDoesNotSkipItsGate(t *testing.T) {
	for _, verb := range []contract.Verb{contract.Resume, contract.Promote} {
		t.Run(string(verb), func(t *testing.T) {
			w := newWorld(t, mustSpec(t, "rolloutd.io/pause-at", "20"))
			w.startRollout("c1")
			d := w.passStep() // step 1's gate passed; its checks are in the status
			require.Equal(t, 20, d.Split.CanaryWeight)

			// Paused by hand in the middle of step 2's window, before its gate.
			w.after(10 * time.Second).command(contract.Pause).step()
			d = w.after(time.Minute).command(verb).step()
			assert.Equal(t, contract.Progressing, d.Status.Phase)
			assert.Equal(t, 2, d.Status.Step, "step 2's gate has not passed yet")
			assert.Equal(t, 20, d.Split.CanaryWeight)
			require.NotNil(t, d.Status.StepStartedAt)
			assert.Equal(t, w.in.Now, *d.Status.StepStartedAt, "a fresh window for step 2")
		})
	}
}

func TestAbortRollsBackToAborted(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.startRollout("c1")
	w.passStep()

	d := w.command(contract.Abort).step()
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, contract.ReasonAborted, d.Status.Reason)
	assert.Contains(t, d.Status.Message, "alice")
	assert.True(t, d.Split.AllStable())
	assert.Equal(t, int32(0), d.CanaryReplicas)
	assert.True(t, d.ReducesExposure(w.prev))

	d = w.noCanary().step()
	assert.Equal(t, contract.Aborted, d.Status.Phase)
	d = w.after(time.Hour).step()
	assert.Equal(t, contract.Aborted, d.Status.Phase, "an aborted revision is not retried")
}

func TestAbortWhilePausedRollsBack(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.startRollout("c1")
	w.command(contract.Pause).step()
	d := w.command(contract.Abort).step()
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, contract.ReasonAborted, d.Status.Reason)
}

func TestFiringAlertRollsBackAtOnce(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.startRollout("c1")
	w.after(10 * time.Second)
	w.in.Alert = &Alert{Name: "HighErrorRate", StartsAt: t0}
	d := w.step()
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, contract.ReasonAlert, d.Status.Reason)
	assert.Contains(t, d.Status.Message, "HighErrorRate")
	assert.True(t, d.Split.AllStable())
	assert.Equal(t, int32(0), d.CanaryReplicas)
	assert.Equal(t, "c1", d.Status.FailedRevision)
	assert.True(t, d.ReducesExposure(w.prev))
}

func TestFiringAlertWithoutRolloutChangesNothing(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	before := w.in.Status
	w.in.Alert = &Alert{Name: "HighErrorRate", StartsAt: t0}
	d := w.step()
	assert.True(t, contract.Equal(before, d.Status), "got %+v", d.Status)
	assert.Empty(t, d.Events)
}

func TestBrokenRoutingRollsBackAnActiveRollout(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.startRollout("c1")
	w.in.Broken = "ingress default/web: not found"
	d := w.step()
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, contract.ReasonRoutingBroken, d.Status.Reason)
	assert.Contains(t, d.Status.Message, "ingress default/web")
	assert.True(t, d.Split.AllStable())
}

func TestBrokenRoutingKeepsAnIdleDeploymentIdleAndReportsOnce(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.in.Broken = "service default/web: not found"
	d := w.template("c1").step()
	assert.Equal(t, contract.Idle, d.Status.Phase)
	assert.Equal(t, contract.ReasonRoutingBroken, d.Status.Reason)
	assert.Contains(t, d.Status.Message, "service default/web")
	assert.Equal(t, int32(0), d.CanaryReplicas)
	require.Len(t, d.Events, 1)
	assert.True(t, d.Events[0].Warning)
	assert.Positive(t, d.RequeueAfter, "look again later")

	first := d.Status
	d = w.after(30 * time.Second).step()
	assert.Empty(t, d.Events, "reported once")
	assert.True(t, contract.Equal(first, d.Status), "nothing to write")

	w.in.Broken = ""
	d = w.step()
	assert.Equal(t, contract.Progressing, d.Status.Phase, "starts once routing works")
}

func TestPromotionNeverResumesAnUnvettedTemplate(t *testing.T) {
	cases := []struct {
		name  string
		setup func(w *world)
	}{
		{"changed after the canary took all traffic", func(w *world) {
			w.canary("c1", 10).step() // weight 100
			require.Equal(t, 100, w.in.Status.Weight)
		}},
		{"changed while the stable rolls out", func(w *world) {
			w.canary("c1", 10).step()
			require.Equal(t, Resume, w.step().Stable)
			w.in.Stable.Running, w.in.Stable.RolledOut = "c1", false
		}},
		{"changed before the canary reached full size", func(w *world) {
			w.canary("c1", 10) // full size Ready, weight still 50
			require.Equal(t, 50, w.in.Status.Weight)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, mustSpec(t, "rolloutd.io/steps", "50"))
			w.startRollout("c1")
			w.after(time.Minute)
			require.Equal(t, contract.Promoting, w.gate(contract.Pass).Status.Phase)
			tc.setup(w)

			d := w.template("c2").step()
			assert.NotEqual(t, Resume, d.Stable)
			assert.Equal(t, contract.Progressing, d.Status.Phase)
			assert.Equal(t, contract.ReasonRestarted, d.Status.Reason)
			assert.Equal(t, "c2", d.Status.Revision, "the canary the controller builds is the current template")
			assert.Equal(t, 1, d.Status.Step)
			assert.True(t, d.Split.AllStable())
		})
	}
}

func TestFirstRolloutOfANewDeploymentIsNative(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.in.Status = contract.Status{}
	w.in.Stable = Stable{Template: "c1", Running: "", Desired: 3}
	d := w.step()
	assert.Equal(t, contract.Idle, d.Status.Phase)
	assert.Equal(t, Resume, d.Stable)
	assert.Equal(t, int32(0), d.CanaryReplicas)
	assert.True(t, d.Split.AllStable())
	assert.Positive(t, d.RequeueAfter)

	// Once the first ReplicaSet runs the template, the Deployment is kept paused.
	w.in.Stable.Running, w.in.Stable.RolledOut = "c1", true
	d = w.step()
	assert.Equal(t, KeepPaused, d.Stable)
	assert.Equal(t, contract.Idle, d.Status.Phase)
	assert.Equal(t, "c1", d.Status.StableRevision)
}

func TestIdleWithUnchangedTemplateDoesNothing(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	before := w.in.Status
	d := w.after(time.Hour).step()
	assert.True(t, contract.Equal(before, d.Status))
	assert.Empty(t, d.Events)
	assert.Equal(t, int32(0), d.CanaryReplicas)
	assert.Zero(t, d.RequeueAfter)
	assert.Equal(t, KeepPaused, d.Stable)
}

func TestShortenedStepsDuringARolloutDoNotPanic(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.startRollout("c1")
	w.passStep()
	w.passStep() // step 3 of 5
	w.in.Spec = mustSpec(t, "rolloutd.io/steps", "10,20")
	w.after(time.Minute)
	d := w.gate(contract.Pass)
	assert.Equal(t, contract.Promoting, d.Status.Phase, "past the last step of the new list")
}
