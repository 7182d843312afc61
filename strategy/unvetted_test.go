package strategy

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

func TestNewestReplicaSetOfAnUnvettedTemplateIsRevertedBeforeAnythingElse(t *testing.T) {
	cases := []struct {
		name       string
		st         contract.Status
		newest     string
		newestPods int32
		wantRevert []string // nil: no revert
	}{
		{name: "promoting: the promoted revision is vetted",
			st: contract.Status{Phase: contract.Promoting, Revision: "c1", StableRevision: "s1"}, newest: "c1", newestPods: 3},
		{name: "promoting: a template edited meanwhile returns to the promoted one first",
			st: contract.Status{Phase: contract.Promoting, Revision: "c1", StableRevision: "s1"}, newest: "c2", newestPods: 1,
			wantRevert: []string{"c1", "s1"}},
		{name: "progressing, resumed by hand: the canary's revision is not vetted yet",
			st: contract.Status{Phase: contract.Progressing, Revision: "c1", StableRevision: "s1", Weight: 20}, newest: "c1", newestPods: 2,
			wantRevert: []string{"s1"}},
		{name: "an alert restoring the previous revision",
			st: contract.Status{Phase: contract.RollingBack, Revision: "c1", StableRevision: "c1", Restore: "s1"}, newest: "s1", newestPods: 3},
		{name: "edited while an alert restores",
			st: contract.Status{Phase: contract.RollingBack, Revision: "c1", StableRevision: "c1", Restore: "s1"}, newest: "c2", newestPods: 3,
			wantRevert: []string{"s1", "c1"}},
		{name: "idle, a rolled-back revision resumed by hand",
			st: contract.Status{Phase: contract.RolledBack, Revision: "c1", StableRevision: "s1", FailedRevision: "c1"}, newest: "c1", newestPods: 10,
			wantRevert: []string{"s1"}},
		{name: "already scaled back to zero",
			st: contract.Status{Phase: contract.Promoting, Revision: "c1", StableRevision: "s1"}, newest: "c2", newestPods: 0},
		{name: "no stable revision recorded yet",
			st: contract.Status{Phase: contract.Idle}, newest: "s9", newestPods: 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, mustSpec(t))
			w.in.Status = tc.st
			w.in.Stable.Newest, w.in.Stable.NewestPods = tc.newest, tc.newestPods
			w.in.Stable.Template = tc.newest
			d := w.step()
			if tc.wantRevert == nil {
				assert.Nil(t, d.Revert)
				return
			}
			if assert.NotNil(t, d.Revert) {
				assert.Equal(t, tc.newest, d.Revert.From)
				assert.Equal(t, tc.wantRevert, d.Revert.To)
			}
			assert.Equal(t, KeepPaused, d.Stable, "the Deployment is paused again")
			assert.Equal(t, tc.st.Phase, d.Status.Phase, "the phase waits for the pods to return")
			assert.Equal(t, tc.st.Weight, d.Status.Weight, "traffic stays as it is")
			if assert.Len(t, d.Events, 1) {
				assert.Equal(t, contract.ReasonUnvetted, d.Events[0].Reason)
			}
			w.step()
			assert.Empty(t, w.last.Events, "the Event is sent once")
		})
	}
}

// Given a revert racing the Deployment controller (the daemon was down while an
// edit made during a promotion rolled out), when a reconcile sees the unvetted
// ReplicaSet at zero for a moment and restarts the rollout with the new
// template, then the unvetted revision is not recorded as the stable one: once
// the controller scales it up again it is reverted again, and the canary is never
// judged against it.
func TestARestartDuringARevertNeverTakesTheUnvettedRevisionForTheStable(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.in.Status = contract.Status{Phase: contract.Promoting, Revision: "c1", StableRevision: "s1", Weight: 100}
	w.in.Stable = Stable{Template: "c2", Running: "c2", Newest: "c2", NewestPods: 0, Desired: 10}
	d := w.step()
	assert.Equal(t, contract.Progressing, d.Status.Phase, "the new template is released as a canary")
	assert.Equal(t, "c2", d.Status.Revision)
	assert.Equal(t, "c1", d.Status.StableRevision, "the stable revision is the vetted one the revert returns to")

	w.in.Stable.NewestPods = 10 // the controller scaled the unvetted ReplicaSet up again
	d = w.step()
	if assert.NotNil(t, d.Revert, "reverted again") {
		assert.Equal(t, "c2", d.Revert.From)
		assert.Equal(t, []string{"c1"}, d.Revert.To)
	}
}
