package strategy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

func TestCanaryLosingReadyPodsUnderTrafficIsRolledBack(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(w *world)
		recovers bool
	}{
		{"at a step", func(w *world) {}, false},
		{"paused by an operator", func(w *world) { w.command(contract.Pause).step() }, false},
		{"recovering within the limit", func(w *world) {}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, mustSpec(t))
			w.in.UnreadyLimit = 20 * time.Second
			w.startRollout("c1")
			tt.setup(w)
			w.canary("c1", 0).after(time.Second)
			d := w.step()
			require.NotEqual(t, contract.RollingBack, d.Status.Phase, "a short loss is tolerated")
			require.NotNil(t, d.Status.UnreadySince)
			assert.LessOrEqual(t, d.RequeueAfter, 20*time.Second+time.Millisecond, "looks again at the limit")
			if tt.recovers {
				w.canary("c1", 1).after(10 * time.Second)
				d = w.step()
				assert.Nil(t, d.Status.UnreadySince)
				w.canary("c1", 0).after(15 * time.Second)
				d = w.step()
				assert.NotEqual(t, contract.RollingBack, d.Status.Phase, "the bound restarts after a recovery")
				return
			}
			w.after(21 * time.Second)
			d = w.step()
			require.Equal(t, contract.RollingBack, d.Status.Phase)
			assert.Equal(t, contract.ReasonNotReady, d.Status.Reason)
			assert.Contains(t, d.Status.Message, "0 of the 1 Ready pods its 10% of traffic needs for more than 20s")
			assert.Equal(t, 0, d.Split.CanaryWeight)
		})
	}
}
