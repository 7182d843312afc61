package controller

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/rolloutd/rolloutd/internal/alerts"
	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// markAlert writes the mark a webhook replica would: alert HighErrorRate firing
// since startsAt.
func (h *harness) markAlert(startsAt time.Time) {
	h.t.Helper()
	raw, err := alerts.Mark{Name: "HighErrorRate", Fingerprint: "f00d", StartsAt: startsAt,
		Labels: map[string]string{"alertname": "HighErrorRate", "namespace": ns, "deployment": "web", "severity": "critical"}}.Encode()
	require.NoError(h.t, err)
	h.edit(func(d *appsv1.Deployment) { d.Annotations[alerts.Key] = raw })
}

// firstUpdate is the first update of the user's Deployment since the last sync.
func (h *harness) firstUpdate() *appsv1.Deployment {
	h.t.Helper()
	for _, w := range h.writes() {
		if w.verb == "update" && w.resource == "deployments" && w.name == "web" {
			return w.obj.(*appsv1.Deployment)
		}
	}
	h.t.Fatalf("no update of deployments/web in %v", h.writeNames())
	return nil
}

func TestAlertDuringRolloutRollsBackAtOnce(t *testing.T) {
	h := atWeight10(t)
	started := h.status().StartedAt
	require.NotNil(t, started)
	h.clock.SetTime(t0.Add(20 * time.Second))
	h.markAlert(t0.Add(15 * time.Second))
	h.sync()

	ws := h.writeNames()
	require.Equal(t, "update deployments/web", ws[0], "the rollback is recorded first: %v", ws)
	first := h.firstUpdate()
	assert.NotContains(t, first.Annotations, alerts.Key, "the mark is dropped in the write recording the rollback")
	st, err := contract.Read(first.Annotations)
	require.NoError(t, err)
	assert.Equal(t, contract.RollingBack, st.Phase)
	assert.Equal(t, contract.ReasonAlert, st.Reason)
	assert.Equal(t, 0, st.Weight)
	assert.Contains(t, st.Message, "alert HighErrorRate {deployment=web, namespace=shop, severity=critical} firing since 2025-03-01T12:00:15Z")
	assert.Less(t, indexOf(ws, "update deployments/web"), indexOf(ws, "delete deployments/web-canary"), "%v", ws)
	assert.False(t, h.exists("ingresses", "web-canary"), "traffic is back on stable")
	assert.Contains(t, strings.Join(h.events(), "\n"), "Warning "+contract.ReasonAlert)
	assert.Equal(t, 1.0, testutil.ToFloat64(h.ctl.Metrics.AlertRollbacks.WithLabelValues("rollout")))

	h.sync()
	assert.Equal(t, contract.RolledBack, h.status().Phase)
	assert.Equal(t, contract.ReasonAlert, h.status().Reason)
}

func TestAlertOlderThanTheRolloutIsIgnored(t *testing.T) {
	h := atWeight10(t)
	h.clock.SetTime(t0.Add(20 * time.Second))
	h.markAlert(t0.Add(-time.Hour))
	h.sync()

	assert.Equal(t, []string{"update deployments/web"}, h.changes(), "only the mark is dropped")
	assert.NotContains(t, h.deployment("web").Annotations, alerts.Key)
	assert.Equal(t, contract.Progressing, h.status().Phase)
	assert.Equal(t, 10, h.status().Weight)
	evs := h.events()
	require.Len(t, evs, 1)
	assert.Contains(t, evs[0], "Normal "+contract.ReasonAlertIgnored)
	assert.Contains(t, evs[0], "before the rollout")
}

// promotedObjects is web after revision web:2 was promoted at promotedAt over
// web:1: two ReplicaSets, the newer one running, the Deployment paused.
func promotedObjects(t *testing.T, promotedAt time.Time, kv ...string) []runtime.Object {
	objs := userObjects(optedIn(kv...))
	d := objs[0].(*appsv1.Deployment)
	old := objs[1].(*appsv1.ReplicaSet)
	old.Spec.Replicas = ptr.To[int32](0)
	old.Status = appsv1.ReplicaSetStatus{}
	d.Spec.Template.Spec.Containers[0].Image = "web:2"
	d.Spec.Paused = true
	cur := ownedReplicaSet(d, "6a8d0", "uid-rs2", "2")
	rev := workload.Revision(d.Spec.Template)
	started := promotedAt.Add(-10 * time.Minute)
	raw, err := contract.Status{Phase: contract.Succeeded, Reason: contract.ReasonPromoted, Revision: rev, StableRevision: rev,
		Message: "revision " + rev + " promoted", LastTransitionTime: promotedAt, StartedAt: &started}.Encode()
	require.NoError(t, err)
	d.Annotations[contract.StatusKey] = raw
	return append(objs, cur)
}

func TestAlertAfterPromotionInsideTheWindowRestoresThePreviousRevision(t *testing.T) {
	h := newHarness(t, promotedObjects(t, t0)...)
	oldTemplate := h.deployment("web").Spec.Template.DeepCopy()
	oldTemplate.Spec.Containers[0].Image = "web:1"
	h.clock.SetTime(t0.Add(5 * time.Minute))
	h.markAlert(t0.Add(4 * time.Minute))
	h.sync()

	first := h.firstUpdate()
	assert.Equal(t, "web:1", first.Spec.Template.Spec.Containers[0].Image, "the previous ReplicaSet's template, read from the API")
	assert.NotContains(t, first.Spec.Template.Labels, "pod-template-hash")
	assert.Equal(t, workload.Revision(*oldTemplate), workload.Revision(first.Spec.Template))
	assert.False(t, first.Spec.Paused, "the stable rolls the previous revision out at once")
	assert.NotContains(t, first.Annotations, alerts.Key)
	st, err := contract.Read(first.Annotations)
	require.NoError(t, err)
	assert.Equal(t, contract.RollingBack, st.Phase)
	assert.Equal(t, contract.ReasonAlert, st.Reason)
	assert.Equal(t, workload.Revision(*oldTemplate), st.Restore)
	assert.Contains(t, st.Message, "HighErrorRate")
	assert.Contains(t, st.Message, "restoring revision "+st.Restore)
	assert.False(t, h.exists("deployments", "web-canary"), "no canary for a rollback")
	assert.Contains(t, strings.Join(h.events(), "\n"), "Warning "+contract.ReasonAlert)
	assert.Equal(t, 1.0, testutil.ToFloat64(h.ctl.Metrics.AlertRollbacks.WithLabelValues("promoted")))

	// Still rolling out: stays un-paused.
	h.clock.SetTime(t0.Add(5*time.Minute + time.Second))
	h.sync()
	assert.Equal(t, contract.RollingBack, h.status().Phase)
	assert.False(t, h.deployment("web").Spec.Paused)

	// The Deployment controller adopts the old ReplicaSet as the newest revision.
	h.adoptAsRevision3()
	h.sync()
	d := h.deployment("web")
	assert.True(t, d.Spec.Paused, "paused again once rolled back")
	assert.Equal(t, "web:1", d.Spec.Template.Spec.Containers[0].Image)
	assert.Equal(t, contract.RolledBack, h.status().Phase)
	assert.Equal(t, contract.ReasonAlert, h.status().Reason)
	assert.Equal(t, st.Restore, h.status().StableRevision)
	assert.Contains(t, strings.Join(h.events(), "\n"), "Warning "+contract.ReasonRolledBack)

	// Settled: nothing more to do.
	h.clock.SetTime(t0.Add(time.Hour))
	h.sync()
	assert.Empty(t, h.changes())
}

func TestAlertAfterPromotionOutsideTheWindowOnlyRecordsAnEvent(t *testing.T) {
	tests := []struct {
		name   string
		kv     []string
		after  time.Duration
		reason string
	}{
		{"default window of 30m", nil, 31 * time.Minute, "outside the rollback window of 30m0s"},
		{"window annotation", []string{contract.KeyRollbackWindow, "2m"}, 3 * time.Minute, "outside the rollback window of 2m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, promotedObjects(t, t0, tt.kv...)...)
			before := h.deployment("web")
			h.clock.SetTime(t0.Add(tt.after))
			h.markAlert(t0.Add(tt.after - time.Second))
			h.sync()

			assert.Equal(t, []string{"update deployments/web"}, h.changes(), "only the mark is dropped")
			d := h.deployment("web")
			assert.NotContains(t, d.Annotations, alerts.Key)
			assert.Equal(t, before.Spec.Template, d.Spec.Template, "the template stays")
			assert.True(t, d.Spec.Paused)
			assert.Equal(t, before.Annotations[contract.StatusKey], d.Annotations[contract.StatusKey], "the status stays")
			evs := h.events()
			require.Len(t, evs, 1)
			assert.Contains(t, evs[0], "Normal "+contract.ReasonAlertIgnored)
			assert.Contains(t, evs[0], tt.reason)
			assert.Zero(t, testutil.ToFloat64(h.ctl.Metrics.AlertRollbacks.WithLabelValues("promoted")))
		})
	}
}

func TestOptOutDropsAPendingAlertMark(t *testing.T) {
	h := newHarness(t, promotedObjects(t, t0)...)
	h.markAlert(t0)
	h.edit(func(d *appsv1.Deployment) { d.Annotations[contract.KeyEnabled] = "false" })
	h.sync()
	assert.NotContains(t, h.deployment("web").Annotations, alerts.Key)
}
