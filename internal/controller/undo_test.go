package controller

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// firstRevision is the revision hash of web:1, the template of kept revision 1 in
// promotedObjects.
func (h *harness) firstRevision() string {
	h.t.Helper()
	rs, err := h.kube.AppsV1().ReplicaSets(ns).Get(h.ctx, "web-5f7c9", metav1.GetOptions{})
	require.NoError(h.t, err)
	return workload.Revision(rs.Spec.Template)
}

// undo writes the command rolloutctl undo would.
func (h *harness) undo(revision int64, template string, now bool) {
	h.t.Helper()
	raw, err := json.Marshal(contract.Command{Verb: contract.Undo, Revision: revision, Template: template, Now: now, By: "alice"})
	require.NoError(h.t, err)
	h.edit(func(d *appsv1.Deployment) { d.Annotations[contract.CommandKey] = string(raw) })
}

func TestUndoNowWritesTheKeptTemplateAndRollsItOutOnTheStable(t *testing.T) {
	h := newHarness(t, promotedObjects(t, t0)...)
	want := h.firstRevision()
	h.clock.SetTime(t0.Add(time.Hour))
	h.undo(1, want, true)
	h.sync()

	first := h.firstUpdate()
	assert.Equal(t, "web:1", first.Spec.Template.Spec.Containers[0].Image, "revision 1's template, read from the API")
	assert.NotContains(t, first.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	assert.False(t, first.Spec.Paused, "rolled out at once")
	assert.NotContains(t, first.Annotations, contract.CommandKey, "consumed in the same write")
	st, err := contract.Read(first.Annotations)
	require.NoError(t, err)
	assert.Equal(t, contract.RollingBack, st.Phase)
	assert.Equal(t, contract.ReasonUndo, st.Reason)
	assert.Equal(t, want, st.Restore)
	assert.Equal(t, &contract.UndoRequest{Revision: 1, Now: true, By: "alice"}, st.Undo)
	assert.False(t, h.exists("deployments", "web-canary"))
	evs := strings.Join(h.events(), "\n")
	assert.Contains(t, evs, "Normal "+contract.ReasonUndo+" undo to revision 1")
	assert.Contains(t, evs, "alice")

	// The Deployment controller adopts revision 1's ReplicaSet as revision 3.
	h.adoptAsRevision3()
	h.sync()
	d := h.deployment("web")
	assert.True(t, d.Spec.Paused, "paused again once every pod runs it")
	assert.Equal(t, contract.Succeeded, h.status().Phase)
	assert.Equal(t, contract.ReasonUndone, h.status().Reason)
	assert.Equal(t, want, h.status().StableRevision)
	assert.Contains(t, strings.Join(h.events(), "\n"), "Normal "+contract.ReasonUndone)
	rec, ok := h.status().Record(want)
	require.True(t, ok, "the outcome is recorded for history")
	assert.Equal(t, contract.Succeeded, rec.Phase)
	assert.Equal(t, contract.ReasonUndone, rec.Reason)

	h.sync()
	assert.Empty(t, h.changes(), "settled")
}

func TestUndoWritesTheKeptTemplateBeforeItsFastCanary(t *testing.T) {
	h := newHarness(t, promotedObjects(t, t0)...)
	want := h.firstRevision()
	h.clock.SetTime(t0.Add(time.Hour))
	h.undo(1, want, false)
	h.sync()

	ws := h.changes()
	require.NotEmpty(t, ws)
	assert.Equal(t, "update deployments/web", ws[0], "template and status first: %v", ws)
	assert.Less(t, indexOf(ws, "update deployments/web"), indexOf(ws, "create deployments/web-canary"), "%v", ws)
	first := h.firstUpdate()
	assert.Equal(t, "web:1", first.Spec.Template.Spec.Containers[0].Image)
	assert.True(t, first.Spec.Paused, "the stable waits for the canary's verdict")
	st := h.status()
	assert.Equal(t, contract.Progressing, st.Phase)
	assert.Equal(t, want, st.Revision)
	assert.Equal(t, 1, st.Steps, "one step")
	canary := h.deployment("web-canary")
	assert.Equal(t, "web:1", canary.Spec.Template.Spec.Containers[0].Image)
	assert.Equal(t, int32(2), *canary.Spec.Replicas, "sized for the last step's 50% of 4")
}

func TestUndoRefusedLeavesTheDeploymentAlone(t *testing.T) {
	tests := []struct {
		name     string
		kv       []string
		revision int64
		template func(h *harness) string
		why      string
	}{
		{"template no longer matches", nil, 1, func(*harness) string { return "0123456789" }, "now holds template"},
		{"outside rolloutd.io/revision-history", []string{contract.KeyRevisionHistory, "1"}, 1,
			(*harness).firstRevision, "revision 1 is not kept"},
		{"no such revision", nil, 7, (*harness).firstRevision, "revision 7 is not kept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, promotedObjects(t, t0, tt.kv...)...)
			before := h.deployment("web")
			h.undo(tt.revision, tt.template(h), true)
			h.sync()

			d := h.deployment("web")
			assert.Equal(t, before.Spec.Template, d.Spec.Template)
			assert.True(t, d.Spec.Paused)
			assert.NotContains(t, d.Annotations, contract.CommandKey, "dropped, so another command can follow")
			assert.Equal(t, contract.Succeeded, h.status().Phase)
			evs := h.events()
			require.Len(t, evs, 1)
			assert.Contains(t, evs[0], "Warning "+contract.ReasonUndoRefused)
			assert.Contains(t, evs[0], tt.why)
		})
	}
}

func TestAbortReasonIsRecordedInTheStatus(t *testing.T) {
	h := atWeight10(t)
	raw, err := json.Marshal(contract.Command{Verb: contract.Abort, Reason: "p99 on the dashboard", By: "alice"})
	require.NoError(t, err)
	h.edit(func(d *appsv1.Deployment) { d.Annotations[contract.CommandKey] = string(raw) })
	h.sync()
	assert.Equal(t, "aborted by alice: p99 on the dashboard", h.status().Message)
}
