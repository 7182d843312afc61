package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/rolloutd/rolloutd/router"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// switchedBlueGreen opts web in for blue/green through nginx, releases web:2,
// brings the canary up at full size and passes the gate before the switch,
// returning the writes of the reconcile that switched.
func switchedBlueGreen(t *testing.T, kv ...string) (*harness, []write) {
	t.Helper()
	h := newHarness(t, userObjects(optedIn(append([]string{contract.KeyRouter, "nginx", contract.KeyStrategy, "bluegreen"}, kv...)...))...)
	h.sync()
	h.setImage("web:2")
	h.sync()
	require.Equal(t, int32(4), *h.deployment("web-canary").Spec.Replicas, "the canary comes up at full size")
	h.canaryReady(4)
	h.sync()
	w, ok := h.ingressWeight()
	require.True(t, ok)
	require.Equal(t, 0, w, "no user traffic while the canary is analysed")
	require.NotNil(t, h.status().StepStartedAt)

	h.clock.SetTime(t0.Add(time.Minute))
	h.sync()
	require.Equal(t, 1, h.eval.calls())
	assert.Zero(t, h.eval.targets[0].BaselineOffset, "before the switch both sides share the window")
	require.Equal(t, contract.PendingConfirmation, h.status().Phase)
	ws := h.writes()
	h.events()
	return h, ws
}

func ingressWrites(ws []write) []write {
	var out []write
	for _, w := range ws {
		if w.resource == "ingresses" {
			out = append(out, w)
		}
	}
	return out
}

func TestBlueGreenSwitchIsOneIngressWriteBeforeTheStatus(t *testing.T) {
	_, ws := switchedBlueGreen(t)

	names := []string{}
	for _, w := range ws {
		names = append(names, w.String())
	}
	assert.Equal(t, []string{"update ingresses/web-canary", "update deployments/web"}, names,
		"one traffic write, then the status; the canary is already at full size")
	ing := ws[0].obj.(*networkingv1.Ingress)
	assert.Equal(t, "100", ing.Annotations[router.AnnCanaryWeight])
	st, err := contract.Read(ws[1].obj.(*appsv1.Deployment).Annotations)
	require.NoError(t, err)
	assert.Equal(t, 100, st.Weight)
	assert.True(t, ws[1].obj.(*appsv1.Deployment).Spec.Paused, "the old pods stay as they are")
}

func TestBlueGreenFailedGateSwitchesBackInOneWriteAfterPersisting(t *testing.T) {
	h, _ := switchedBlueGreen(t, contract.KeyThreshold, "0")
	h.eval.verdict = contract.Fail
	h.clock.SetTime(t0.Add(2 * time.Minute))
	h.sync()

	require.Equal(t, 2, h.eval.calls())
	gate := h.eval.targets[1]
	assert.Equal(t, time.Minute, gate.Window)
	assert.Equal(t, time.Minute, gate.BaselineOffset, "the stable is measured over the minute before the switch")

	ws := h.writeNames()
	require.Len(t, ingressWrites(h.writes()), 1, "traffic moves back in one write: %v", ws)
	persisted := indexOf(ws, "update deployments/web")
	back := indexOf(ws, "delete ingresses/web-canary")
	gone := indexOf(ws, "delete deployments/web-canary")
	require.True(t, persisted == 0 && back > persisted && gone > back,
		"status first, then all traffic back, then the canary removed: %v", ws)
	st, err := contract.Read(h.writes()[0].obj.(*appsv1.Deployment).Annotations)
	require.NoError(t, err)
	assert.Equal(t, contract.RollingBack, st.Phase)
	assert.Equal(t, 0, st.Weight)
	_, exists := h.ingressWeight()
	assert.False(t, exists, "all traffic on the stable pods")

	h.sync()
	assert.Equal(t, contract.RolledBack, h.status().Phase)
}

func TestBlueGreenConfirmCommandStartsThePromotion(t *testing.T) {
	h, _ := switchedBlueGreen(t)
	h.command(string(contract.Confirm))
	h.sync()

	assert.Empty(t, ingressWrites(h.writes()), "the canary keeps all traffic")
	d := h.deployment("web")
	assert.NotContains(t, d.Annotations, contract.CommandKey, "the command is consumed")
	assert.False(t, d.Spec.Paused, "the stable rolls out the vetted template")
	st := h.status()
	assert.Equal(t, contract.Promoting, st.Phase)
	assert.Equal(t, contract.ReasonConfirmed, st.Reason)
	assert.Contains(t, st.Message, "alice")
	w, _ := h.ingressWeight()
	assert.Equal(t, 100, w)
	assert.Contains(t, h.events(), "Normal "+contract.ReasonConfirmed+" "+st.Message)
}
