package controller

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/rolloutd/rolloutd/internal/alerts"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// leadingWithUrgentQueue makes h's controller lead with an urgent queue, as Run
// does, without starting workers: the test reconciles what Take queues.
func leadingWithUrgentQueue(h *harness) {
	h.withUrgentClient()
	h.ctl.urgent = newUrgentQueue()
	h.ctl.leading.Store(true)
	h.t.Cleanup(h.ctl.urgent.ShutDown)
}

func firingMark(startsAt time.Time) alerts.Mark {
	return alerts.Mark{Name: "HighErrorRate", Fingerprint: "f00d", StartsAt: startsAt,
		Labels: map[string]string{"alertname": "HighErrorRate", "namespace": ns, "deployment": "web"}}
}

// take hands m over for web, to be settled within the given time, and returns
// the channel its outcome comes on.
func take(t *testing.T, h *harness, m alerts.Mark, within time.Duration) <-chan bool {
	t.Helper()
	got := make(chan bool, 1)
	require.True(t, h.ctl.Take(ns, "web", m, within, func(used bool) { got <- used }), "taken")
	return got
}

// nextUrgent waits for Take to queue the Deployment on the urgent queue.
func nextUrgent(t *testing.T, h *harness) string {
	t.Helper()
	require.Eventually(t, func() bool { return h.ctl.urgent.Len() > 0 }, 5*time.Second, time.Millisecond)
	k, quit := h.ctl.urgent.Get()
	require.False(t, quit)
	h.ctl.urgent.Done(k)
	return k
}

func answer(t *testing.T, got <-chan bool) bool {
	t.Helper()
	select {
	case used := <-got:
		return used
	case <-time.After(5 * time.Second):
		t.Fatal("the alert handed over was never settled")
		return false
	}
}

func TestHandedAlertRollsBackWithoutAMark(t *testing.T) {
	h := atWeight10(t)
	leadingWithUrgentQueue(h)
	h.clock.SetTime(t0.Add(20 * time.Second))
	h.kube.ClearActions()

	got := take(t, h, firingMark(t0.Add(15*time.Second)), time.Minute)
	k := nextUrgent(t, h)
	require.Equal(t, key, k)
	_, err := h.ctl.sync(h.ctx, k, true)
	require.NoError(t, err)

	assert.True(t, answer(t, got), "the decision used the alert up: no mark is needed")
	st := h.status()
	assert.Equal(t, contract.RollingBack, st.Phase)
	assert.Equal(t, contract.ReasonAlert, st.Reason)
	assert.Contains(t, st.Message, "alert HighErrorRate")
	assert.False(t, h.exists("ingresses", "web-canary"), "traffic is back on the stable")
	assert.NotContains(t, h.deployment("web").Annotations, alerts.Key, "no mark was ever written")
	assert.False(t, h.ctl.intervening(h.deployment("web")), "nothing is left handed over")
}

func TestHandedAlertIgnoredByTheDecisionNeedsNoMark(t *testing.T) {
	h := atWeight10(t)
	leadingWithUrgentQueue(h)
	h.clock.SetTime(t0.Add(20 * time.Second))

	got := take(t, h, firingMark(t0.Add(-time.Hour)), time.Minute)
	k := nextUrgent(t, h)
	_, err := h.ctl.sync(h.ctx, k, true)
	require.NoError(t, err)
	select {
	case <-got:
		t.Fatal("the urgent reconcile takes no traffic away for an old alert: the main queue decides it")
	default:
	}
	h.sync()

	assert.True(t, answer(t, got), "ignored for good, as the mark would have been")
	assert.Equal(t, contract.Progressing, h.status().Phase)
	assert.Equal(t, 10, h.status().Weight)
}

func TestHandedAlertIsGivenBackToBeMarked(t *testing.T) {
	t.Run("the controller does not lead", func(t *testing.T) {
		h := atWeight10(t)
		leadingWithUrgentQueue(h)
		h.ctl.leading.Store(false)
		assert.False(t, h.ctl.Take(ns, "web", firingMark(t0), time.Minute, func(bool) { t.Error("settled") }))
		assert.Zero(t, h.ctl.urgent.Len(), "nothing queued")
	})
	t.Run("no decision within the deadline", func(t *testing.T) {
		h := atWeight10(t)
		leadingWithUrgentQueue(h)
		got := take(t, h, firingMark(t0), 20*time.Millisecond)
		assert.False(t, answer(t, got), "given back to be marked")
		assert.False(t, h.ctl.intervening(h.deployment("web")), "the mark takes over; nothing stays handed over")
	})
	t.Run("a later alert replaces it", func(t *testing.T) {
		h := atWeight10(t)
		leadingWithUrgentQueue(h)
		first := take(t, h, firingMark(t0), time.Minute)
		nextUrgent(t, h)
		later := firingMark(t0.Add(time.Second))
		later.Fingerprint = "beef"
		second := take(t, h, later, time.Minute)
		assert.False(t, answer(t, first), "the replaced alert goes on to its mark")
		_, err := h.ctl.sync(h.ctx, nextUrgent(t, h), true)
		require.NoError(t, err)
		assert.True(t, answer(t, second))
	})
	t.Run("the controller stops leading", func(t *testing.T) {
		h := atWeight10(t)
		leadingWithUrgentQueue(h)
		got := take(t, h, firingMark(t0), time.Minute)
		nextUrgent(t, h)
		h.ctl.settleAllHanded()
		assert.False(t, answer(t, got))
	})
}

func TestHandedAlertPreemptsTheGateInFlight(t *testing.T) {
	h := atWeight10(t)
	leadingWithUrgentQueue(h)
	cancelled := make(chan error, 1)
	ctx, cancel := context.WithCancelCause(h.ctx)
	h.ctl.gates.Store(key, &gateRun{cancel: func(err error) { cancelled <- err; cancel(err) }})

	take(t, h, firingMark(t0), time.Minute)
	nextUrgent(t, h)

	select {
	case err := <-cancelled:
		assert.ErrorIs(t, err, errPreempted)
	case <-time.After(5 * time.Second):
		t.Fatal("the gate in flight was not cancelled")
	}
	assert.Error(t, ctx.Err())
	d := &appsv1.Deployment{}
	d.Namespace, d.Name = ns, "web"
	assert.True(t, h.ctl.intervening(d), "the gate's own check sees the alert too")
}
