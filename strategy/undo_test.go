package strategy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// undoTo requests an undo to kept revision 3 holding template rev, which the
// controller found kept with template kept ("" when not kept).
func (w *world) undoTo(rev, kept string, now bool) *world {
	w.in.Command = &contract.Command{Verb: contract.Undo, Revision: 3, Template: rev, Now: now, By: "alice"}
	w.in.Stable.UndoTarget = kept
	return w
}

func TestUndoRunsAFastCanaryAtTheLastWeightWithoutManualGates(t *testing.T) {
	w := newWorld(t, mustSpec(t, "rolloutd.io/pause-at", "*"))
	d := w.undoTo("s0", "s0", false).step()

	require.Equal(t, contract.Progressing, d.Status.Phase)
	assert.Equal(t, "s0", d.Status.Revision, "the kept revision is under release")
	assert.Equal(t, "s1", d.Status.StableRevision)
	assert.Equal(t, 1, d.Status.Steps, "one step")
	assert.Equal(t, int32(5), d.CanaryReplicas, "sized for the last step's 50%")
	assert.Equal(t, &contract.UndoRequest{Revision: 3, By: "alice"}, d.Status.Undo)
	assert.Equal(t, []string{contract.ReasonUndo}, reasons(d.Events))
	assert.Contains(t, d.Events[0].Message, "alice")
	assert.Contains(t, d.Events[0].Message, "revision 3")

	// The controller wrote the kept template; its canary comes up at 50%.
	w.template("s0").canary("s0", 5).after(5 * time.Second)
	d = w.step()
	assert.Equal(t, 50, d.Status.Weight)
	assert.Equal(t, "step 1/1: 50% of traffic on the canary", d.Status.Message)

	d = w.after(time.Minute).gate(contract.Pass)
	require.Equal(t, contract.Promoting, d.Status.Phase, "no approval gate for an undo: %s", d.Status.Message)

	w.canary("s0", 10)
	require.Equal(t, 100, w.step().Status.Weight)
	w.in.Stable.Running = "s0"
	d = w.step()
	assert.Equal(t, contract.Succeeded, d.Status.Phase)
	assert.Equal(t, contract.ReasonUndone, d.Status.Reason)
	assert.Equal(t, "undo to revision 3 (template s0) requested by alice done after a fast canary: the stable pods run it", d.Status.Message)
	assert.Equal(t, []string{contract.ReasonUndone}, reasons(d.Events))
	assert.Equal(t, "s0", d.Status.StableRevision)
}

func TestUndoNowRestoresOnTheStableDeploymentWithoutACanary(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	d := w.undoTo("s0", "s0", true).step()

	require.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, contract.ReasonUndo, d.Status.Reason)
	assert.Equal(t, "s0", d.Status.Restore, "the controller writes the kept template with this status")
	assert.Equal(t, "s0", d.Status.Revision)
	assert.Equal(t, Resume, d.Stable, "the stable Deployment rolls it out")
	assert.Zero(t, d.CanaryReplicas)
	assert.True(t, d.Split.AllStable())
	assert.True(t, d.ReducesExposure(w.prev), "persisted, with the template, before anything else")
	assert.Equal(t, &contract.UndoRequest{Revision: 3, Now: true, By: "alice"}, d.Status.Undo)

	w.template("s0").after(time.Second)
	w.in.Stable.RolledOut = false
	d = w.step()
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, Resume, d.Stable, "stays un-paused until every pod runs it")

	w.in.Stable.Running, w.in.Stable.RolledOut = "s0", true
	d = w.step()
	assert.Equal(t, contract.Succeeded, d.Status.Phase)
	assert.Equal(t, contract.ReasonUndone, d.Status.Reason)
	assert.Contains(t, d.Status.Message, "without a canary")
	assert.Equal(t, KeepPaused, d.Stable)
	assert.Equal(t, "s0", d.Status.StableRevision)
	assert.Empty(t, d.Status.Restore)
	assert.Equal(t, []string{contract.ReasonUndone}, reasons(d.Events))
}

func TestUndoNowInterruptedByATemplateChangePausesAndCanariesTheNewTemplate(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.undoTo("s0", "s0", true).step()
	w.template("c9").after(time.Second)
	d := w.step()
	assert.Equal(t, contract.Idle, d.Status.Phase)
	assert.Equal(t, KeepPaused, d.Stable, "a template nobody vetted is never rolled out")
	assert.Contains(t, d.Status.Message, "interrupted")

	d = w.step()
	assert.Equal(t, contract.Progressing, d.Status.Phase)
	assert.Equal(t, "c9", d.Status.Revision)
}

func TestUndoRefusedChangesNothing(t *testing.T) {
	tests := []struct {
		name           string
		template, kept string
		why            string
	}{
		{"revision not kept", "s0", "", "revision 3 is not kept (only the newest 10 ReplicaSets count"},
		{"revision holds another template", "s0", "x7", "revision 3 now holds template x7, not s0"},
		{"no template named", "", "s0", "names no template revision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, mustSpec(t))
			before := w.in.Status
			d := w.undoTo(tt.template, tt.kept, false).step()
			assert.Equal(t, before, d.Status)
			assert.Zero(t, d.CanaryReplicas)
			assert.Equal(t, KeepPaused, d.Stable)
			require.Len(t, d.Events, 1)
			assert.True(t, d.Events[0].Warning)
			assert.Equal(t, contract.ReasonUndoRefused, d.Events[0].Reason)
			assert.Contains(t, d.Events[0].Message, tt.why)
			assert.Contains(t, d.Events[0].Message, "alice")
		})
	}
}

func TestUndoDuringARolloutIsIgnored(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.startRollout("c1")
	d := w.undoTo("s0", "s0", true).step()
	assert.Equal(t, contract.Progressing, d.Status.Phase)
	assert.Equal(t, "c1", d.Status.Revision)
	assert.Nil(t, d.Status.Undo)
}

func TestUndoCanaryFailingItsGateRollsBack(t *testing.T) {
	w := newWorld(t, mustSpec(t, "rolloutd.io/threshold", "0"))
	w.undoTo("s0", "s0", false).step()
	w.template("s0").canary("s0", 5).after(5 * time.Second)
	w.step()
	d := w.after(time.Minute).gate(contract.Fail)
	require.Equal(t, contract.RollingBack, d.Status.Phase)
	d = w.noCanary().step()
	assert.Equal(t, contract.RolledBack, d.Status.Phase)
	assert.Equal(t, "s0", d.Status.FailedRevision, "not retried until the template changes")
}

func TestRolloutAfterAnUndoUsesTheFullStepsAgain(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.undoTo("s0", "s0", true).step()
	w.template("s0")
	w.in.Stable.Running = "s0"
	require.Equal(t, contract.Succeeded, w.step().Status.Phase)

	d := w.template("c2").step()
	assert.Equal(t, contract.Progressing, d.Status.Phase)
	assert.Equal(t, 5, d.Status.Steps)
	assert.Nil(t, d.Status.Undo)
}

func TestAlertAfterAnUndoDoesNotReturnToTheUndoneRevision(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.undoTo("s0", "s0", true).step()
	w.template("s0")
	w.in.Stable.Running, w.in.Stable.Previous = "s0", "s1"
	require.Equal(t, contract.Succeeded, w.step().Status.Phase)

	w.after(time.Minute)
	w.in.Alert = firing(w.in.Now)
	d := w.step()
	assert.Equal(t, contract.Succeeded, d.Status.Phase)
	assert.Contains(t, d.AlertIgnored, "restored by an operator's undo")
}

func TestAbortRecordsTheOperatorsReason(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.startRollout("c1")
	w.in.Command = &contract.Command{Verb: contract.Abort, By: "alice", Reason: " p99 latency on the dashboard "}
	d := w.step()
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, "aborted by alice: p99 latency on the dashboard", d.Status.Message)
	d = w.noCanary().step()
	assert.Equal(t, contract.Aborted, d.Status.Phase)
	assert.Contains(t, d.Status.Message, "p99 latency on the dashboard")
}
