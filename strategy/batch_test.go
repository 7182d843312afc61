package strategy

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

func batchSpec(t *testing.T, kv ...string) contract.Spec {
	return mustSpec(t, append([]string{contract.KeyStrategy, "batch", contract.KeyBatches, "1,25%,50%,100%", contract.KeyInterval, "1m"}, kv...)...)
}

// apply plays the cluster after a decision: the stable's spec.replicas and the
// canary's size as written, every pod Ready at once unless notReady.
func (w *world) apply(d Decision, notReady bool) {
	if d.StableReplicas != nil {
		w.in.Stable.Desired = *d.StableReplicas
		w.in.Stable.Ready = *d.StableReplicas
	}
	if d.CanaryReplicas == 0 {
		w.noCanary()
	} else {
		ready := d.CanaryReplicas
		if notReady {
			ready = 0
		}
		w.canary(w.in.Status.Revision, ready)
		w.in.Canary.Replicas = d.CanaryReplicas
	}
	if d.Stable == Resume {
		w.in.Stable.Running, w.in.Stable.RolledOut = w.in.Stable.Template, true
	}
}

// trace is one decision's pod counts: stable/canary and the phase.
func trace(d Decision) string {
	s := int32(-1)
	if d.StableReplicas != nil {
		s = *d.StableReplicas
	}
	return fmt.Sprintf("%d/%d %s", s, d.CanaryReplicas, d.Status.Phase)
}

// run steps until the phase leaves the given ones (or a gate is due, which it
// passes), recording every decision's pod counts.
func (w *world) runBatches(t *testing.T, verdict contract.Verdict, until ...contract.Phase) []string {
	t.Helper()
	var out []string
	for i := 0; i < 200; i++ {
		var d Decision
		if GateDue(w.in) {
			d = w.gate(verdict)
		} else {
			d = w.step()
		}
		out = append(out, trace(d))
		for _, p := range until {
			if d.Status.Phase == p {
				return out
			}
		}
		w.apply(d, false)
		w.after(d.RequeueAfter)
	}
	t.Fatalf("no end after 200 decisions: %v", out)
	return nil
}

// runUntil steps (passing due gates) until the status satisfies done.
func (w *world) runUntil(done func(contract.Status) bool) {
	w.t.Helper()
	for i := 0; !done(w.in.Status); i++ {
		require.Less(w.t, i, 200, "condition never met; status %+v", w.in.Status)
		var d Decision
		if GateDue(w.in) {
			d = w.gate(contract.Pass)
		} else {
			d = w.step()
		}
		w.apply(d, false)
		w.after(d.RequeueAfter)
	}
}

func TestBatchReleaseMovesPodsInOrderAndHandsBackTheDesiredCount(t *testing.T) {
	w := newWorld(t, batchSpec(t, contract.KeyMaxSurge, "2"))
	w.template("c1")
	got := w.runBatches(t, contract.Pass, contract.Succeeded)
	// 10 pods, batches 1,3,5,10 with a surge of 2: grow then shrink per chunk;
	// promotion moves the pods back to the stable once it runs c1.
	want := []string{
		"10/1 Progressing", "9/1 Progressing", "9/1 Progressing", // batch 1, analysed
		"9/3 Progressing", "7/3 Progressing", "7/3 Progressing", // batch 2
		"7/5 Progressing", "5/5 Progressing", "5/5 Progressing", // batch 3
		"5/7 Progressing", "3/7 Progressing", "3/9 Progressing", "1/9 Progressing", "1/10 Progressing", "0/10 Progressing",
		"0/10 Promoting", // no old pods left to compare with: no gate; the stable rolls out c1 at zero replicas
		"2/10 Promoting", "2/8 Promoting", "4/8 Promoting", "4/6 Promoting", "6/6 Promoting", "6/4 Promoting",
		"8/4 Promoting", "8/2 Promoting", "10/2 Promoting", "10/0 Promoting",
		"10/0 Succeeded",
	}
	assert.Equal(t, want, got)
	assert.Equal(t, "c1", w.in.Status.StableRevision)
	assert.Nil(t, w.in.Status.Batch, "a finished release keeps no plan")
	assert.Equal(t, KeepPaused, w.last.Stable)
}

func TestBatchGateFailureReversesTheBatches(t *testing.T) {
	w := newWorld(t, batchSpec(t, contract.KeyThreshold, "0", contract.KeyMaxSurge, "1"))
	w.template("c1")
	w.runUntil(func(st contract.Status) bool { return st.StepStartedAt != nil })
	w.after(time.Minute)
	require.Equal(t, int32(1), w.in.Status.Batch.Canary)
	d := w.gate(contract.Fail)
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.True(t, d.ReducesExposure(w.prev))
	assert.Equal(t, "10/1 RollingBack", trace(d), "old pods restored before new ones go")
	w.apply(d, false)
	got := w.runBatches(t, contract.Pass, contract.RolledBack)
	assert.Equal(t, []string{"10/0 RollingBack", "10/0 RolledBack"}, got)
	assert.Equal(t, "c1", w.in.Status.FailedRevision)
	assert.Contains(t, w.in.Status.Message, "error-rate")
}

func TestBatchGateFailureBelowTheThresholdHoldsTheBatch(t *testing.T) {
	w := newWorld(t, batchSpec(t, contract.KeyThreshold, "2"))
	w.template("c1")
	w.runUntil(func(st contract.Status) bool { return st.StepStartedAt != nil })
	for i := 1; i <= 2; i++ {
		d := w.after(time.Minute).gate(contract.Fail)
		assert.Equal(t, contract.Progressing, d.Status.Phase, "failure %d of 2 tolerated", i)
		assert.Equal(t, "c1", d.Status.Revision)
		assert.Equal(t, i, d.Status.Failures)
		assert.Equal(t, "9/1 Progressing", trace(d), "the batch holds its pods")
	}
	d := w.after(time.Minute).gate(contract.Fail)
	assert.Equal(t, contract.RollingBack, d.Status.Phase, "the third failure rolls back")
	assert.Equal(t, contract.ReasonGateFailed, d.Status.Reason)
}

func TestBatchPodsNeverReadyStopAndReverse(t *testing.T) {
	w := newWorld(t, batchSpec(t))
	d := w.template("c1").step()
	require.Equal(t, "10/1 Progressing", trace(d))
	w.apply(d, true)
	d = w.after(5 * time.Minute).step()
	assert.Equal(t, contract.Progressing, d.Status.Phase, "still within the deadline")
	w.apply(d, true)
	d = w.after(6 * time.Minute).step()
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, contract.ReasonNotReady, d.Status.Reason)
	assert.Contains(t, d.Status.Message, "not Ready within 10m0s (0 of 1 Ready)")
	assert.Equal(t, "10/0 RollingBack", trace(d), "the stable is whole: the unready canary pod goes")
}

func TestBatchDeleteFirstRemovesOldPodsBeforeCreating(t *testing.T) {
	w := newWorld(t, batchSpec(t, contract.KeyRollingOrder, "delete-first", contract.KeyMaxUnavailable, "2", contract.KeyBatches, "50%,100%"))
	w.template("c1")
	got := w.runBatches(t, contract.Pass, contract.Promoting)
	assert.Equal(t, []string{
		"8/0 Progressing", "8/2 Progressing", "6/2 Progressing", "6/4 Progressing", "5/4 Progressing", "5/5 Progressing", "5/5 Progressing",
		"3/5 Progressing", "3/7 Progressing", "1/7 Progressing", "1/9 Progressing", "0/9 Progressing", "0/10 Progressing",
		"0/10 Promoting",
	}, got)
}

// Delete-first grows the canary only once the stable's shrink took effect: its
// status still counting the pods of before means they have not gone yet, and
// creating canary pods beside them would exceed max-surge.
func TestBatchDeleteFirstWaitsForTheStablePodsToGo(t *testing.T) {
	w := newWorld(t, batchSpec(t, contract.KeyRollingOrder, "delete-first", contract.KeyMaxUnavailable, "2", contract.KeyMaxSurge, "0", contract.KeyBatches, "50%,100%"))
	w.template("c1")
	d := w.step()
	require.Equal(t, "8/0 Progressing", trace(d))
	w.apply(d, false)
	w.in.Stable.Pods = 10 // the Deployment controller has not removed the two pods yet
	d = w.step()
	assert.Equal(t, "8/0 Progressing", trace(d), "no canary pod while the old ones run")
	w.in.Stable.Pods = 8
	d = w.step()
	assert.Equal(t, "8/2 Progressing", trace(d))
}

// The hand-back re-pauses the stable, which bumps its generation: until the
// Deployment controller observes it, the stable reads as not rolled out. A
// delete-first hand-back whose first chunk only shrank the canary (the stable
// still at zero) must go on handing back, not move every pod to the canary again.
func TestBatchDeleteFirstHandBackSurvivesALaggingStableStatus(t *testing.T) {
	w := newWorld(t, batchSpec(t, contract.KeyRollingOrder, "delete-first", contract.KeyMaxUnavailable, "2", contract.KeyMaxSurge, "0", contract.KeyBatches, "50%,100%"))
	w.template("c1")
	w.runUntil(func(st contract.Status) bool { return st.Phase == contract.Promoting })
	require.Equal(t, contract.BatchStatus{Desired: 10, Canary: 10}, *w.in.Status.Batch)
	require.True(t, w.in.Stable.RolledOut, "the stable rolled out the vetted template at zero replicas")
	d := w.step()
	require.Equal(t, "0/8 Promoting", trace(d), "delete-first: the canary shrinks first")
	w.apply(d, false)
	w.in.Canary.Pods = 10         // its pods are still terminating
	w.in.Stable.RolledOut = false // the re-pause is not observed yet
	d = w.step()
	assert.Equal(t, "0/8 Promoting", trace(d), "the canary is not grown back, the stable waits for its pods to go")
	w.in.Canary.Pods = 8
	w.in.Stable.RolledOut = true
	got := w.runBatches(t, contract.Pass, contract.Succeeded)
	assert.Equal(t, "2/8 Promoting", got[0])
	assert.Equal(t, "10/0 Succeeded", got[len(got)-1])
}

func TestBatchPauseAtWaitsForPromote(t *testing.T) {
	w := newWorld(t, batchSpec(t, contract.KeyPauseAt, "2"))
	w.template("c1")
	got := w.runBatches(t, contract.Pass, contract.Paused)
	assert.Equal(t, "7/3 Paused", got[len(got)-1])
	assert.Equal(t, contract.ReasonAwaitingApproval, w.in.Status.Reason)
	assert.Contains(t, w.in.Status.Message, "rolloutctl promote web")
	for i := 0; i < 3; i++ {
		d := w.after(time.Hour).step()
		assert.Equal(t, "7/3 Paused", trace(d), "waits however long")
	}
	d := w.command(contract.Promote).step()
	assert.Equal(t, contract.Progressing, d.Status.Phase)
	assert.Equal(t, 3, d.Status.Step)
	assert.Equal(t, []string{contract.ReasonResumed}, reasons(d.Events))
}

func TestBatchFollowsAnHPAMidRelease(t *testing.T) {
	w := newWorld(t, batchSpec(t, contract.KeyMaxSurge, "100%"))
	w.template("c1")
	w.runUntil(func(st contract.Status) bool { return st.Step == 2 && st.StepStartedAt != nil })
	require.Equal(t, contract.BatchStatus{Desired: 10, Stable: 7, Canary: 3}, *w.in.Status.Batch)
	w.in.Stable.Desired, w.in.Stable.Ready = 11, 11 // the HPA adds 4 stable pods
	d := w.step()
	assert.Equal(t, contract.BatchStatus{Desired: 14, Stable: 11, Canary: 3}, *d.Status.Batch)
	assert.Equal(t, int32(11), *d.StableReplicas, "the HPA's count is kept, not written back")
	got := w.runBatches(t, contract.Pass, contract.Succeeded)
	assert.Equal(t, "14/0 Succeeded", got[len(got)-1], "the new desired count is handed back")
}

func TestBatchTemplateChangeReversesThenReleasesTheNewOne(t *testing.T) {
	w := newWorld(t, batchSpec(t))
	w.template("c1")
	w.runUntil(func(st contract.Status) bool { return st.StepStartedAt != nil })
	d := w.template("c2").step()
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, contract.ReasonReverted, d.Status.Reason)
	w.apply(d, false)
	got := w.runBatches(t, contract.Pass, contract.Idle)
	assert.Equal(t, "10/0 Idle", got[len(got)-1])
	assert.Empty(t, w.in.Status.FailedRevision)
	d = w.step()
	assert.Equal(t, contract.Progressing, d.Status.Phase)
	assert.Equal(t, "c2", d.Status.Revision)
}

// A reconcile that reads a status older than the last write (the cache lags behind
// the update) plans from the canary's observed size and never shrinks it back.
func TestBatchLaggingStatusNeverShrinksTheCanary(t *testing.T) {
	w := newWorld(t, batchSpec(t, contract.KeyMaxSurge, "2"))
	w.template("c1")
	w.runUntil(func(st contract.Status) bool { return st.Step == 4 && st.Batch.Canary == 7 && st.Batch.Stable == 3 })
	stale := w.in.Status
	d := w.step() // grows the canary to 9
	require.Equal(t, int32(9), d.CanaryReplicas)
	w.apply(d, true)    // the canary's controller has not caught up: 0 Ready
	w.in.Status = stale // and the next reconcile reads the status from before that write
	d = w.step()
	assert.Equal(t, int32(9), d.CanaryReplicas, "the canary keeps its 9 pods")
	assert.Equal(t, int32(3), *d.StableReplicas, "the stable waits for them")
}

func TestBatchAlertReversesAtOnce(t *testing.T) {
	w := newWorld(t, batchSpec(t, contract.KeyMaxSurge, "100%"))
	w.template("c1")
	w.runUntil(func(st contract.Status) bool { return st.Step == 3 && st.StepStartedAt != nil })
	w.in.Alert = &Alert{Name: "HighErrorRate", StartsAt: w.in.Now}
	d := w.step()
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, contract.ReasonAlert, d.Status.Reason)
	assert.Equal(t, "10/5 RollingBack", trace(d), "old pods come back first, within the surge")
	w.apply(d, false)
	got := w.runBatches(t, contract.Pass, contract.RolledBack)
	assert.Equal(t, []string{"10/0 RollingBack", "10/0 RolledBack"}, got)
}

func TestBatchAbortReverses(t *testing.T) {
	w := newWorld(t, batchSpec(t))
	d := w.template("c1").step()
	w.apply(d, false)
	d = w.command(contract.Abort).step()
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	w.apply(d, false)
	got := w.runBatches(t, contract.Pass, contract.Aborted)
	assert.Equal(t, "10/0 Aborted", got[len(got)-1])
	assert.Equal(t, int32(10), w.in.Stable.Desired)
}

// promotingBatch is a batch release of c1 over s1 that has just entered Promoting,
// its pods still moving to the canary while the stable stays paused on s1.
func promotingBatch(t *testing.T) *world {
	w := newWorld(t, batchSpec(t, contract.KeyMaxSurge, "100%", contract.KeyBatches, "25%,50%"))
	w.template("c1")
	w.runUntil(func(st contract.Status) bool { return st.Phase == contract.Promoting })
	require.Equal(t, "s1", w.in.Stable.Running)
	w.in.Stable.Paused = true
	return w
}

func TestBatchAlertWhilePromotingBeforeTheStableRanItReverses(t *testing.T) {
	w := promotingBatch(t)
	w.in.Alert = &Alert{Name: "HighErrorRate", StartsAt: w.in.Now}
	d := w.step()
	require.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, contract.ReasonAlert, d.Status.Reason)
	assert.Empty(t, d.Status.Restore)
	assert.False(t, d.KeepAlert, "acted on at once, not after the promotion")
	assert.NotEqual(t, Resume, d.Stable, "the stable never rolls the revision out")
	w.apply(d, false)
	got := w.runBatches(t, contract.Pass, contract.RolledBack)
	assert.Equal(t, "10/0 RolledBack", got[len(got)-1])
	assert.Equal(t, "s1", w.in.Stable.Running)
}

func TestBatchAlertAfterTheStableRolledTheRevisionOutRestoresThePreviousTemplate(t *testing.T) {
	w := promotingBatch(t)
	w.in.Stable.Paused = false
	for i := 0; w.in.Stable.Running != "c1"; i++ {
		require.Less(t, i, 50, "the stable never rolled c1 out")
		d := w.step()
		require.Equal(t, contract.Promoting, d.Status.Phase)
		w.apply(d, false)
	}
	w.in.Stable.Previous = "s1"
	b := *w.in.Status.Batch
	w.in.Alert = &Alert{Name: "HighErrorRate", StartsAt: w.in.Now}
	d := w.step()
	require.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, "s1", d.Status.Restore)
	assert.Equal(t, Resume, d.Stable, "the stable rolls the previous template out at once")
	assert.Equal(t, b.Canary, d.CanaryReplicas, "no pod moves before the stable runs s1")
	assert.Equal(t, b.Stable, *d.StableReplicas)
	assert.True(t, d.ReducesExposure(w.prev))

	// The controller wrote s1's template with that status; the stable rolls it out.
	w.template("s1")
	w.in.Stable.RolledOut = false
	d = w.step()
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, b.Canary, d.CanaryReplicas, "pods wait for the restored template")
	w.apply(d, false)
	got := w.runBatches(t, contract.Pass, contract.RolledBack)
	assert.Equal(t, "10/0 RolledBack", got[len(got)-1])
	assert.Equal(t, "s1", w.in.Status.StableRevision)
	assert.Empty(t, w.in.Status.Restore)
}

func TestBatchAutoscalerShrinkingTheStableNeverShrinksTheRelease(t *testing.T) {
	w := newWorld(t, batchSpec(t, contract.KeyMaxSurge, "100%"))
	w.template("c1")
	w.runUntil(func(st contract.Status) bool { return st.Step == 3 && st.StepStartedAt != nil })
	require.Equal(t, contract.BatchStatus{Desired: 10, Stable: 5, Canary: 5}, *w.in.Status.Batch)
	w.in.Stable.Desired, w.in.Stable.Ready = 2, 2 // the HPA shrinks the old pods
	d := w.step()
	assert.Equal(t, contract.BatchStatus{Desired: 10, Stable: 2, Canary: 5}, *d.Status.Batch)
	assert.Equal(t, int32(5), d.CanaryReplicas, "the new pods keep their share")
	w.apply(d, false)
	d = w.command(contract.Abort).step()
	w.apply(d, false)
	got := w.runBatches(t, contract.Pass, contract.Aborted)
	assert.Equal(t, "10/0 Aborted", got[len(got)-1], "the stable taking the traffic back grows back to the release's size")
}
