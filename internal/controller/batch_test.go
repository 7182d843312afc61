package controller

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// sizes remembers the last spec.replicas seen per Deployment, to list the writes
// that change one.
type sizes map[string]int32

// moves lists the writes since the last sync that changed a Deployment's size, in
// order: "create web-canary=1", "update web=3".
func (s sizes) moves(h *harness) []string {
	var out []string
	for _, w := range h.writes() {
		d, ok := w.obj.(*appsv1.Deployment)
		if !ok || d.Spec.Replicas == nil {
			continue
		}
		if n, seen := s[d.Name]; seen && n == *d.Spec.Replicas {
			continue
		}
		s[d.Name] = *d.Spec.Replicas
		out = append(out, fmt.Sprintf("%s %s=%d", w.verb, d.Name, *d.Spec.Replicas))
	}
	return out
}

// One batch of a 4-replica Deployment (batches 50%,100%, max-surge 1): each chunk
// creates one canary pod, waits until it is Ready, then removes one stable pod by
// writing spec.replicas in the same update as the status.
func TestBatchChunkWritesCanaryBeforeStableInOrder(t *testing.T) {
	h := newHarness(t, userObjects(optedIn(contract.KeyStrategy, "batch", contract.KeyBatches, "50%,100%", contract.KeyMaxSurge, "1"))...)
	h.sync()
	h.setImage("web:2")
	sz := sizes{"web": 4}

	h.sync()
	assert.Equal(t, []string{"create web-canary=1"}, sz.moves(h), "the canary grows first; the stable keeps 4")
	st := h.status()
	require.NotNil(t, st.Batch)
	assert.Equal(t, contract.BatchStatus{Desired: 4, Stable: 4, Canary: 1}, *st.Batch)

	h.sync()
	assert.Empty(t, sz.moves(h), "nothing moves while the new pod is not Ready")

	h.canaryReady(1)
	h.sync()
	assert.Equal(t, []string{"update web=3"}, sz.moves(h), "then one stable pod goes, with the status")
	assert.Equal(t, int32(3), *h.deployment("web").Spec.Replicas)
	assert.Equal(t, contract.BatchStatus{Desired: 4, Stable: 3, Canary: 1}, *h.status().Batch)
	assert.True(t, h.deployment("web").Spec.Paused)

	h.sync()
	assert.Empty(t, sz.moves(h), "the next chunk waits until the stable pod is gone")
	h.stableReady(3)
	h.sync()
	assert.Equal(t, []string{"update web-canary=2"}, sz.moves(h))
	h.canaryReady(2)
	h.sync()
	assert.Equal(t, []string{"update web=2"}, sz.moves(h))

	h.sync()
	st = h.status()
	assert.Equal(t, contract.Progressing, st.Phase)
	assert.NotNil(t, st.StepStartedAt, "batch 1 complete: its analysis window starts")
	assert.Equal(t, 50, st.Weight)
	assert.Empty(t, sz.moves(h))
}

// A stable resized by someone else (an HPA) is never written back: the plan
// takes the change as the new desired count.
func TestBatchKeepsAnHPAResize(t *testing.T) {
	h := newHarness(t, userObjects(optedIn(contract.KeyStrategy, "batch", contract.KeyBatches, "50%,100%", contract.KeyMaxSurge, "1"))...)
	h.sync()
	h.setImage("web:2")
	h.sync()
	h.canaryReady(1)
	h.sync() // stable 3, canary 1
	h.edit(func(d *appsv1.Deployment) { *d.Spec.Replicas = 5 })
	h.sync()
	assert.Equal(t, contract.BatchStatus{Desired: 6, Stable: 5, Canary: 2}, *h.status().Batch)
	assert.Equal(t, int32(5), *h.deployment("web").Spec.Replicas, "the HPA's count stays")
}

// Opting out mid-batch, or removing every rolloutd.io annotation at once, hands
// back the desired count, growing the stable before the canary goes.
func TestBatchOptOutRestoresTheDesiredCount(t *testing.T) {
	cases := []struct {
		name     string
		stripped bool
		leaveIt  func(d *appsv1.Deployment)
	}{
		{"enabled removed", false, func(d *appsv1.Deployment) { delete(d.Annotations, contract.KeyEnabled) }},
		{"every annotation stripped", true, func(d *appsv1.Deployment) {
			for k := range d.Annotations {
				if strings.HasPrefix(k, contract.Prefix) {
					delete(d.Annotations, k)
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, userObjects(optedIn(contract.KeyStrategy, "batch", contract.KeyBatches, "50%,100%", contract.KeyMaxSurge, "1"))...)
			h.sync()
			h.setImage("web:2")
			h.sync()
			h.canaryReady(1)
			h.sync()
			require.Equal(t, int32(3), *h.deployment("web").Spec.Replicas)
			h.edit(tc.leaveIt)
			if tc.stripped {
				// The informer's handler keeps the last status's word, as it does
				// before it enqueues the Deployment.
				require.Eventually(t, func() bool { _, ok := h.ctl.stripped.Load(key); return ok }, 5*time.Second, time.Millisecond)
			}
			h.sync()
			assert.Equal(t, int32(4), *h.deployment("web").Spec.Replicas, "the stable grows first")
			assert.True(t, h.exists("deployments", "web-canary"), "the canary stays until the stable's pods are Ready")
			h.stableReady(4)
			h.sync()
			h.sync()
			assert.Equal(t, int32(4), *h.deployment("web").Spec.Replicas)
			assert.False(t, h.exists("deployments", "web-canary"))
			assert.False(t, h.deployment("web").Spec.Paused, "handed back")
			assert.NotContains(t, h.deployment("web").Annotations, contract.StatusKey)
		})
	}
}
