package strategy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// After a blue/green switch the stable pods are idle and an autoscaler shrinks
// them: the canary carrying all traffic keeps its size, and a switch back grows
// the stable to the size it had before it takes the traffic again.
func TestAnAutoscalerShrinkingIdleStablePodsNeverShrinksTheCanary(t *testing.T) {
	w := newWorld(t, blueGreenSpec(t))
	d := w.switched("g1")
	require.Equal(t, int32(10), d.CanaryReplicas)
	w.in.Stable.Desired = 2 // the HPA, acting on idle pods
	d = w.step()
	assert.Equal(t, contract.PendingConfirmation, d.Status.Phase)
	assert.Equal(t, int32(10), d.CanaryReplicas, "the side carrying traffic keeps its size")
	assert.Nil(t, d.StableReplicas)

	d = w.command(contract.Abort).step()
	require.Equal(t, contract.RollingBack, d.Status.Phase)
	require.NotNil(t, d.StableReplicas, "the switch back does not land on a shrunken stable")
	assert.Equal(t, int32(10), *d.StableReplicas)
}

func TestAStableScaledUpDuringARolloutGrowsTheCanary(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.startRollout("c1")
	w.in.Stable.Desired = 20
	d := w.step()
	assert.Equal(t, int32(2), d.CanaryReplicas, "10% of 20")
	assert.Equal(t, int32(20), d.Status.Sized)
	w.in.Stable.Desired = 10
	assert.Equal(t, int32(2), w.step().CanaryReplicas, "never shrunk mid-rollout")
}
