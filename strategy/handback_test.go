package strategy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// An opt-out mid batch release walks the pods back chunk by chunk: the stable
// grows by max-surge, waits for Ready, then the canary shrinks by as many.
func TestHandBackGrowsTheStableBeforeShrinkingTheCanary(t *testing.T) {
	in := Input{Name: "web", Spec: mustSpec(t, contract.KeyStrategy, "batch", contract.KeyMaxSurge, "3"),
		Status: contract.Status{Phase: contract.Paused, Batch: &contract.BatchStatus{Desired: 10, Stable: 5, Canary: 5}},
		Stable: Stable{Desired: 5, Ready: 5},
		Canary: Canary{Exists: true, Replicas: 5, Pods: 5, Ready: 5}}
	type counts struct{ stable, canary int32 }
	var seen []counts
	for range 20 {
		d, done := HandBack(in)
		if done {
			break
		}
		b := d.Status.Batch
		require.NotNil(t, d.StableReplicas)
		assert.Equal(t, b.Stable, *d.StableReplicas)
		assert.Equal(t, b.Canary, d.CanaryReplicas)
		assert.LessOrEqual(t, b.Stable+b.Canary, int32(13), "within max-surge")
		assert.GreaterOrEqual(t, b.Stable+b.Canary, int32(10), "never below desired")
		seen = append(seen, counts{b.Stable, b.Canary})
		// The cluster follows, every pod Ready.
		in.Status = d.Status
		in.Stable.Desired, in.Stable.Ready = b.Stable, b.Stable
		in.Canary = Canary{Exists: b.Canary > 0, Replicas: b.Canary, Pods: b.Canary, Ready: b.Canary}
	}
	assert.Equal(t, []counts{{8, 5}, {8, 2}, {10, 2}, {10, 0}}, seen)
	_, done := HandBack(in)
	assert.True(t, done)
}

func TestHandBackWaitsForTheStablePodsToBeReady(t *testing.T) {
	in := Input{Name: "web", Spec: mustSpec(t, contract.KeyStrategy, "batch"),
		Status: contract.Status{Phase: contract.Progressing, Batch: &contract.BatchStatus{Desired: 4, Stable: 3, Canary: 1}},
		Stable: Stable{Desired: 3, Ready: 2},
		Canary: Canary{Exists: true, Replicas: 1, Pods: 1, Ready: 1}}
	d, done := HandBack(in)
	assert.False(t, done)
	assert.Equal(t, int32(1), d.CanaryReplicas, "the canary keeps its pod until the stable's are Ready")
	assert.Equal(t, int32(3), *d.StableReplicas)
}
