package controller

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/internal/notify"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// notifications records what the controller asks to send.
type notifications struct {
	mu     sync.Mutex
	events []notify.Event
}

func (n *notifications) Notify(e notify.Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.events = append(n.events, e)
}

func (n *notifications) kinds() []notify.Kind {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []notify.Kind
	for _, e := range n.events {
		out = append(out, e.Kind)
	}
	return out
}

func TestBadReleaseNotifiesStartAndRollbackNamingTheFailingCheck(t *testing.T) {
	h := newHarness(t, userObjects(optedIn(contract.KeyRouter, "nginx", contract.KeyThreshold, "0", contract.KeyNotify, "slack"))...)
	sent := &notifications{}
	h.ctl.Notifier = sent
	h.sync()
	h.setImage("web:2")
	h.sync()
	h.canaryReady(1)
	h.sync()
	h.eval.verdict = contract.Fail
	h.clock.SetTime(t0.Add(time.Minute))
	h.sync()
	h.sync() // RolledBack: no second rollback notification

	require.Equal(t, []notify.Kind{notify.Started, notify.RolledBack}, sent.kinds())
	rb := sent.events[1]
	assert.Equal(t, contract.ReasonGateFailed, rb.Reason)
	assert.Equal(t, []string{"slack"}, rb.Channels, "the Deployment's choice of channels")
	assert.Contains(t, rb.Message, "error-rate")
	require.NotEmpty(t, rb.Checks)
	assert.Equal(t, contract.Fail, rb.Checks[0].Verdict)
	assert.Equal(t, h.status().Revision, rb.Revision)
}

func TestMetricsFollowTheRolloutAndDisappearOnOptOut(t *testing.T) {
	h := newHarness(t, userObjects(optedIn(contract.KeyRouter, "nginx", contract.KeyThreshold, "0"))...)
	m := h.ctl.Metrics
	h.sync()
	stable := h.status().Revision
	require.Equal(t, 1, testutil.CollectAndCount(m.Info), "Idle: one info series")
	h.setImage("web:2")
	h.sync()
	h.canaryReady(1)
	h.sync()
	rev := h.status().Revision
	require.NotEqual(t, stable, rev)
	assert.Equal(t, 1, testutil.CollectAndCount(m.Info), "the old revision's series was replaced")
	assert.Equal(t, 1.0, testutil.ToFloat64(m.Info.WithLabelValues(ns, "web", rev, "canary", "nginx")))
	assert.Equal(t, 10.0, testutil.ToFloat64(m.Weight.WithLabelValues(ns, "web")))

	h.eval.verdict = contract.Fail
	h.clock.SetTime(t0.Add(time.Minute))
	h.sync()
	h.sync()
	require.Equal(t, contract.RolledBack, h.status().Phase)
	checks := h.status().Checks
	require.NotEmpty(t, checks)
	assert.Equal(t, 1.0, testutil.ToFloat64(m.CheckVerdict.WithLabelValues(ns, "web", checks[0].Name, "Fail")))
	assert.Equal(t, 0.0, testutil.ToFloat64(m.CheckVerdict.WithLabelValues(ns, "web", checks[0].Name, "Pass")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.Phase.WithLabelValues(ns, "web", string(contract.RolledBack))))
	assert.Equal(t, 1, testutil.CollectAndCount(m.GateDuration), "one gate timed")
	assert.Equal(t, 1, testutil.CollectAndCount(m.Duration), "one finished rollout timed")

	h.edit(func(d *appsv1.Deployment) { d.Annotations[contract.KeyEnabled] = "false" })
	h.sync()
	assert.Zero(t, testutil.CollectAndCount(m.Info), "info")
	assert.Zero(t, testutil.CollectAndCount(m.CheckVerdict), "verdicts")
	assert.Zero(t, testutil.CollectAndCount(m.Phase), "phase")
	assert.Zero(t, testutil.CollectAndCount(m.Weight), "weight")
}

func TestStatusCarriesConditionsThroughARollback(t *testing.T) {
	h := atWeight10(t, contract.KeyThreshold, "0")
	gen := h.deployment("web").Generation
	cond := func(typ string) metav1.Condition {
		c := h.status().Condition(typ)
		require.NotNil(t, c, typ)
		return *c
	}
	assert.Equal(t, metav1.ConditionTrue, cond(contract.ConditionProgressing).Status)
	assert.Equal(t, metav1.ConditionUnknown, cond(contract.ConditionPromoted).Status)
	started := cond(contract.ConditionProgressing).LastTransitionTime

	h.eval.verdict = contract.Fail
	h.clock.SetTime(t0.Add(time.Minute))
	h.sync()
	h.sync()

	healthy := cond(contract.ConditionHealthy)
	assert.Equal(t, metav1.ConditionFalse, healthy.Status)
	assert.Equal(t, "ChecksFailed", healthy.Reason)
	promoted := cond(contract.ConditionPromoted)
	assert.Equal(t, metav1.ConditionFalse, promoted.Status)
	assert.Equal(t, contract.ReasonGateFailed, promoted.Reason)
	progressing := cond(contract.ConditionProgressing)
	assert.Equal(t, metav1.ConditionFalse, progressing.Status)
	assert.True(t, progressing.LastTransitionTime.After(started.Time), "moved when the status changed")
	assert.GreaterOrEqual(t, progressing.ObservedGeneration, gen)
}
