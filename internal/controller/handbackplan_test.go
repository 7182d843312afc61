package controller

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/rolloutd/rolloutd/strategy"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// The canary copy's plan and the observed sizes give the hand-back's status:
// counts as they are, the plan's total, the user's spec.paused and chunking.
func TestPlanStatusTakesTheCountsFromTheCluster(t *testing.T) {
	cases := []struct {
		name           string
		plan           contract.HandBackPlan
		stable, canary int32
		wantBatch      contract.BatchStatus
		wantSurge      contract.Quantity
		wantOrder      contract.RollingOrder
	}{
		{
			name: "mid release, the chunking of the annotations",
			plan: contract.HandBackPlan{Desired: 10, Spec: map[string]string{
				contract.KeyStrategy: "batch", contract.KeyMaxSurge: "3", contract.KeyRollingOrder: "delete-first", contract.KeyMaxUnavailable: "1"}},
			stable: 5, canary: 5,
			wantBatch: contract.BatchStatus{Desired: 10, Stable: 5, Canary: 5},
			wantSurge: contract.Quantity{Value: 3}, wantOrder: contract.DeleteFirst,
		},
		{
			name:   "a chunk already moved back, defaults for what the plan leaves out",
			plan:   contract.HandBackPlan{Desired: 4, UserPaused: true},
			stable: 4, canary: 1,
			wantBatch: contract.BatchStatus{Desired: 4, Stable: 4, Canary: 1},
			wantSurge: contract.Quantity{Value: 25, Percent: true}, wantOrder: contract.CreateFirst,
		},
		{
			name:   "a value that no longer parses falls back to the defaults",
			plan:   contract.HandBackPlan{Desired: 6, Spec: map[string]string{contract.KeyMaxSurge: "lots"}},
			stable: 3, canary: 3,
			wantBatch: contract.BatchStatus{Desired: 6, Stable: 3, Canary: 3},
			wantSurge: contract.Quantity{Value: 25, Percent: true}, wantOrder: contract.CreateFirst,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := planStatus("web", tc.plan, tc.stable, tc.canary)
			require.NotNil(t, got.status.Batch)
			assert.Equal(t, tc.wantBatch, *got.status.Batch)
			assert.True(t, got.status.Phase.Active(), "a hand-back under way")
			assert.Equal(t, tc.plan.UserPaused, got.status.UserPaused)
			assert.Equal(t, tc.wantSurge, got.spec.MaxSurge)
			assert.Equal(t, tc.wantOrder, got.spec.RollingOrder)
			assert.True(t, got.derived)
			again, ok := contract.PlanOf(got.status)
			require.True(t, ok)
			assert.Equal(t, tc.plan, again, "the plan is kept as it was read")
		})
	}
}

// Derived from the plan, the hand-back walks the same chunks an opt-out walks:
// the stable grows by max-surge and is Ready before canary pods go.
func TestPlanStatusHandsBackInTheReleaseChunks(t *testing.T) {
	plan := contract.HandBackPlan{Desired: 10, Spec: map[string]string{contract.KeyStrategy: "batch", contract.KeyMaxSurge: "3"}}
	stable, canary := int32(8), int32(5) // killed right after the first chunk
	var seen [][2]int32
	for range 10 {
		last := planStatus("web", plan, stable, canary)
		d, done := strategy.HandBack(strategy.Input{Name: "web", Spec: last.spec, Status: last.status,
			Stable: strategy.Stable{Desired: stable, Ready: stable},
			Canary: strategy.Canary{Exists: canary > 0, Replicas: canary, Pods: canary, Ready: canary}})
		if done {
			break
		}
		stable, canary = *d.StableReplicas, d.CanaryReplicas
		assert.GreaterOrEqual(t, stable+canary, int32(10), "never below the user's count")
		assert.LessOrEqual(t, stable+canary, int32(13), "within max-surge")
		seen = append(seen, [2]int32{stable, canary})
	}
	assert.Equal(t, [][2]int32{{8, 2}, {10, 2}, {10, 0}}, seen)
}

// stripAll removes every rolloutd.io annotation, as a GitOps tool re-applying
// the manifest without them does.
func stripAll(d *appsv1.Deployment) {
	for k := range d.Annotations {
		if strings.HasPrefix(k, contract.Prefix) {
			delete(d.Annotations, k)
		}
	}
}

// forget drops what the daemon kept in memory, as a restart does.
func (h *harness) forget() {
	h.ctl.stripped.Range(func(k, _ any) bool {
		h.ctl.stripped.Delete(k)
		return true
	})
}

// A daemon that lost its memory (restarted during the hand-back, or down when
// the annotations went) finishes the hand-back from the canary copy's plan:
// the stable grows back to the desired count before the canary goes, and no
// rolloutd.io annotation is written back to the user's Deployment.
func TestStrippedBatchHandBackSurvivesARestart(t *testing.T) {
	for _, restartAfterFirstChunk := range []bool{false, true} {
		name := "stripped while down"
		if restartAfterFirstChunk {
			name = "restarted after the first chunk"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, userObjects(optedIn(contract.KeyStrategy, "batch", contract.KeyBatches, "50%,100%", contract.KeyMaxSurge, "1"))...)
			h.sync()
			h.setImage("web:2")
			h.sync()
			h.canaryReady(1)
			h.sync()
			require.Equal(t, int32(3), *h.deployment("web").Spec.Replicas)
			plan, ok, err := contract.ReadHandBackPlan(h.deployment("web-canary").Annotations)
			require.NoError(t, err)
			require.True(t, ok, "the batch release keeps its plan on the canary copy")
			assert.Equal(t, int32(4), plan.Desired)

			h.edit(stripAll)
			require.Eventually(t, func() bool { _, ok := h.ctl.stripped.Load(key); return ok }, 5*time.Second, time.Millisecond)
			if restartAfterFirstChunk {
				h.sync()
				require.Equal(t, int32(4), *h.deployment("web").Spec.Replicas)
			}
			h.forget()
			h.sync()
			assert.Equal(t, int32(4), *h.deployment("web").Spec.Replicas, "the stable grows first")
			assert.True(t, h.exists("deployments", "web-canary"), "the canary stays until the stable's pods are Ready")
			h.stableReady(4)
			h.sync()
			h.sync()
			assert.False(t, h.exists("deployments", "web-canary"))
			d := h.deployment("web")
			assert.Equal(t, int32(4), *d.Spec.Replicas, "the user's count")
			assert.False(t, d.Spec.Paused, "handed back un-paused, as the user had it")
			for k := range d.Annotations {
				assert.False(t, strings.HasPrefix(k, contract.Prefix), "annotation %s written back", k)
			}
		})
	}
}
