package controller

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// atWeight10 opts web in with router nginx, changes its image and brings the
// canary's first step to 10% of traffic.
func atWeight10(t *testing.T, kv ...string) *harness {
	t.Helper()
	h := newHarness(t, userObjects(optedIn(append([]string{contract.KeyRouter, "nginx"}, kv...)...))...)
	h.sync()
	h.setImage("web:2")
	h.sync()
	h.canaryReady(1)
	h.sync()
	require.Equal(t, 10, h.status().Weight)
	h.events()
	return h
}

func TestOptInPausesTheDeploymentAndWritesIdleStatus(t *testing.T) {
	for _, userPaused := range []bool{false, true} {
		name := "user left it running"
		if userPaused {
			name = "user had paused it"
		}
		t.Run(name, func(t *testing.T) {
			objs := userObjects(optedIn())
			objs[0].(*appsv1.Deployment).Spec.Paused = userPaused
			h := newHarness(t, objs...)
			h.sync()

			require.Equal(t, []string{"update deployments/web"}, h.changes(), "one write")
			var d *appsv1.Deployment
			for _, w := range h.writes() {
				if w.verb == "update" {
					d = w.obj.(*appsv1.Deployment)
				}
			}
			assert.True(t, d.Spec.Paused, "the daemon keeps an opted-in Deployment paused")
			st, err := contract.Read(d.Annotations)
			require.NoError(t, err)
			assert.Equal(t, contract.Idle, st.Phase)
			assert.Equal(t, userPaused, st.UserPaused, "the user's own spec.paused is remembered")
			assert.Equal(t, workload.Revision(d.Spec.Template), st.StableRevision)
			assert.Equal(t, t0, st.LastTransitionTime)
			assert.False(t, h.exists("deployments", "web-canary"))
		})
	}
}

func TestUnchangedReconcileWritesNothing(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		h := newHarness(t, userObjects(optedIn())...)
		h.sync()
		require.NotEmpty(t, h.writes())
		h.clock.SetTime(t0.Add(time.Hour))
		h.sync()
		assert.Empty(t, h.changes())
		assert.Empty(t, h.events())
	})
	t.Run("holding a step", func(t *testing.T) {
		h := atWeight10(t)
		h.clock.SetTime(t0.Add(20 * time.Second))
		requeue := h.sync()
		assert.Empty(t, h.writeNames())
		assert.Empty(t, h.events())
		assert.Equal(t, 40*time.Second, requeue, "requeued for the gate")
		assert.Zero(t, h.eval.calls())
	})
}

func TestTemplateChangeCreatesTheCanaryAndItsService(t *testing.T) {
	cases := []struct {
		router          string
		selectedByUsers bool
	}{
		{"nginx", false},
		{"service", true},
	}
	for _, tc := range cases {
		t.Run("router "+tc.router, func(t *testing.T) {
			h := newHarness(t, userObjects(optedIn(contract.KeyRouter, tc.router))...)
			h.sync()
			h.setImage("web:2")
			h.sync()

			st := h.status()
			assert.Equal(t, contract.Progressing, st.Phase)
			assert.Equal(t, workload.Revision(h.deployment("web").Spec.Template), st.Revision)
			assert.Equal(t, 0, st.Weight)
			assert.True(t, h.deployment("web").Spec.Paused, "the user's Deployment does not roll out by itself")

			c := h.deployment("web-canary")
			assert.Equal(t, int32(1), *c.Spec.Replicas, "10% of 4 replicas, at least one")
			assert.Equal(t, "web:2", c.Spec.Template.Spec.Containers[0].Image)
			assert.Equal(t, st.Revision, c.Annotations[contract.RevisionAnnotation])
			require.Len(t, c.OwnerReferences, 1)
			assert.Equal(t, "web", c.OwnerReferences[0].Name)

			svc, err := h.kube.CoreV1().Services(ns).Get(h.ctx, "web-canary", metav1.GetOptions{})
			require.NoError(t, err)
			assert.Equal(t, map[string]string{contract.CanaryOfLabel: "web"}, svc.Spec.Selector)
			assert.Equal(t, contract.ManagedByValue, svc.Labels[contract.ManagedByLabel])

			user, err := h.kube.CoreV1().Services(ns).Get(h.ctx, "web", metav1.GetOptions{})
			require.NoError(t, err)
			selects := labels.SelectorFromSet(user.Spec.Selector).Matches(labels.Set(c.Spec.Template.Labels))
			assert.Equal(t, tc.selectedByUsers, selects, "user's Service selects the canary pods")

			ws := h.writeNames()
			assert.Less(t, indexOf(ws, "create services/web-canary"), indexOf(ws, "create deployments/web-canary"), "%v", ws)
			assert.Contains(t, strings.Join(h.events(), "\n"), "Normal "+contract.ReasonProgressing)
		})
	}
}

func TestTrafficReachesTheCanaryOnlyAfterItsPodsAreReady(t *testing.T) {
	h := newHarness(t, userObjects(optedIn(contract.KeyRouter, "nginx"))...)
	h.sync()
	h.setImage("web:2")
	h.sync()
	w, _ := h.ingressWeight()
	assert.Equal(t, 0, w, "no traffic before the canary pods are Ready")

	h.sync() // still not Ready
	w, _ = h.ingressWeight()
	assert.Equal(t, 0, w)

	h.canaryReady(1)
	h.sync()
	w, ok := h.ingressWeight()
	assert.True(t, ok)
	assert.Equal(t, 10, w)
	assert.Equal(t, 10, h.status().Weight)
	ing, err := h.kube.NetworkingV1().Ingresses(ns).Get(h.ctx, "web-canary", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "web-canary", ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name)
}

func TestGateRunsOnlyWhenDueWithTheStepsWindow(t *testing.T) {
	h := atWeight10(t)
	h.clock.SetTime(t0.Add(59 * time.Second))
	h.sync()
	assert.Zero(t, h.eval.calls())

	h.clock.SetTime(t0.Add(time.Minute))
	h.sync()
	require.Equal(t, 1, h.eval.calls())
	tgt := h.eval.targets[0]
	assert.Equal(t, contract.SourceNginx, tgt.Source)
	assert.Equal(t, "web-canary", tgt.Canary)
	assert.Equal(t, "web", tgt.Ingress)
	assert.Equal(t, time.Minute, tgt.Window)
	assert.Equal(t, t0.Add(time.Minute), tgt.End)

	// 20% of 4 replicas is still the one Ready pod, so traffic moves at once.
	st := h.status()
	assert.Equal(t, 2, st.Step)
	assert.Equal(t, 20, st.Weight)
	w, _ := h.ingressWeight()
	assert.Equal(t, 20, w)
	assert.Equal(t, int32(1), *h.deployment("web-canary").Spec.Replicas)
	assert.NotEmpty(t, st.Checks)
	assert.Equal(t, t0.Add(time.Minute), *st.StepStartedAt, "step 2's window starts now")

	// Step 3 (30% of 4 = 2 pods) holds 20% until the second pod is Ready.
	h.clock.SetTime(t0.Add(2 * time.Minute))
	h.sync()
	assert.Equal(t, 2, h.eval.calls())
	assert.Equal(t, 3, h.status().Step)
	w, _ = h.ingressWeight()
	assert.Equal(t, 20, w, "no more traffic before the new pod is Ready")
	assert.Equal(t, int32(2), *h.deployment("web-canary").Spec.Replicas)
	h.canaryReady(2)
	h.sync()
	w, _ = h.ingressWeight()
	assert.Equal(t, 30, w)
}

func TestRollbackPersistsTheStatusBeforeRemovingTheCanary(t *testing.T) {
	h := atWeight10(t, contract.KeyThreshold, "0")
	h.eval.verdict = contract.Fail
	h.clock.SetTime(t0.Add(time.Minute))
	h.sync()

	ws := h.writeNames()
	status1 := indexOf(ws, "update deployments/web")
	ingress := indexOf(ws, "delete ingresses/web-canary")
	canary := indexOf(ws, "delete deployments/web-canary")
	require.GreaterOrEqual(t, status1, 0, "%v", ws)
	require.GreaterOrEqual(t, ingress, 0, "%v", ws)
	require.GreaterOrEqual(t, canary, 0, "%v", ws)
	assert.Less(t, status1, ingress, "the rollback is recorded before anything is undone: %v", ws)
	assert.Less(t, ingress, canary, "traffic leaves the canary before its pods go: %v", ws)
	assert.Contains(t, ws, "delete services/web-canary")

	first := h.writes()[status1].obj.(*appsv1.Deployment)
	st, err := contract.Read(first.Annotations)
	require.NoError(t, err)
	assert.Equal(t, contract.RollingBack, st.Phase)
	assert.Equal(t, 0, st.Weight)
	assert.True(t, first.Spec.Paused)

	assert.False(t, h.exists("ingresses", "web-canary"))
	assert.False(t, h.exists("deployments", "web-canary"))
	assert.False(t, h.exists("services", "web-canary"))
	assert.True(t, h.exists("ingresses", "web"), "the user's Ingress stays")
	assert.True(t, h.exists("services", "web"), "the user's Service stays")
	evs := strings.Join(h.events(), "\n")
	assert.Contains(t, evs, "Warning "+contract.ReasonGateFailed)

	// Next reconcile, with the canary gone from the cache: RolledBack.
	h.sync()
	assert.Equal(t, contract.RolledBack, h.status().Phase)
	assert.Equal(t, h.status().Revision, h.status().FailedRevision)

	// And the failed revision is not tried again.
	h.clock.SetTime(t0.Add(time.Hour))
	h.sync()
	assert.Empty(t, h.changes())
	assert.False(t, h.exists("deployments", "web-canary"))
}

func TestAbortCommandIsConsumedWithTheRollback(t *testing.T) {
	h := atWeight10(t)
	h.command("abort")
	h.sync()

	ws := h.writes()
	require.NotEmpty(t, ws)
	require.Equal(t, "update deployments/web", ws[0].String(), "%v", h.writeNames())
	first := ws[0].obj.(*appsv1.Deployment)
	assert.NotContains(t, first.Annotations, contract.CommandKey, "the command is dropped in the write recording its effect")
	st, err := contract.Read(first.Annotations)
	require.NoError(t, err)
	assert.Equal(t, contract.RollingBack, st.Phase)
	assert.Equal(t, contract.ReasonAborted, st.Reason)
	assert.Contains(t, st.Message, "alice")

	h.sync()
	assert.Equal(t, contract.Aborted, h.status().Phase)
}

func TestInvalidAnnotationsWarnAndStartNothing(t *testing.T) {
	h := newHarness(t, userObjects(optedIn(contract.KeySteps, "50,10", contract.KeyInterval, "soon"))...)
	h.setImage("web:2")
	h.sync()

	evs := h.events()
	require.Len(t, evs, 1, "%v", evs)
	assert.True(t, strings.HasPrefix(evs[0], "Warning "+ReasonInvalidSpec+" "), evs[0])
	assert.Contains(t, evs[0], contract.KeySteps)
	assert.Contains(t, evs[0], contract.KeyInterval)
	assert.Contains(t, evs[0], "increasing weights")

	st := h.status()
	assert.Equal(t, ReasonInvalidSpec, st.Reason)
	assert.Contains(t, st.Message, contract.KeySteps)
	assert.NotEqual(t, contract.Progressing, st.Phase)
	assert.True(t, h.deployment("web").Spec.Paused, "the new template does not roll out unanalysed")
	assert.False(t, h.exists("deployments", "web-canary"))
	assert.False(t, h.exists("services", "web-canary"))

	// Reported once: the same problem writes and warns no more.
	h.sync()
	assert.Empty(t, h.writeNames())
	assert.Empty(t, h.events())

	// Fixed annotations start the rollout.
	h.edit(func(d *appsv1.Deployment) {
		d.Annotations[contract.KeySteps] = "10,50"
		delete(d.Annotations, contract.KeyInterval)
	})
	h.sync()
	assert.Equal(t, contract.Progressing, h.status().Phase)
	assert.True(t, h.exists("deployments", "web-canary"))
}

func TestOptOutHandsTheDeploymentBack(t *testing.T) {
	cases := []struct {
		name       string
		userPaused bool
		optOut     func(d *appsv1.Deployment)
	}{
		{"enabled set to false", false, func(d *appsv1.Deployment) { d.Annotations[contract.KeyEnabled] = "false" }},
		{"enabled removed", false, func(d *appsv1.Deployment) { delete(d.Annotations, contract.KeyEnabled) }},
		{"user had paused it", true, func(d *appsv1.Deployment) { d.Annotations[contract.KeyEnabled] = "false" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := userObjects(optedIn(contract.KeyRouter, "nginx"))
			objs[0].(*appsv1.Deployment).Spec.Paused = tc.userPaused
			h := newHarness(t, objs...)
			h.sync()
			h.setImage("web:2")
			h.sync()
			h.canaryReady(1)
			h.sync()
			require.True(t, h.exists("ingresses", "web-canary"))
			h.events()

			h.edit(tc.optOut)
			h.sync()

			d := h.deployment("web")
			assert.Equal(t, tc.userPaused, d.Spec.Paused, "spec.paused as the user had it")
			assert.NotContains(t, d.Annotations, contract.StatusKey)
			assert.Equal(t, "web:2", d.Spec.Template.Spec.Containers[0].Image, "the user's template is theirs")
			assert.False(t, h.exists("ingresses", "web-canary"))
			assert.False(t, h.exists("deployments", "web-canary"))
			assert.False(t, h.exists("services", "web-canary"))
			assert.True(t, h.exists("ingresses", "web"))
			assert.True(t, h.exists("services", "web"))
			ws := h.writeNames()
			assert.Less(t, indexOf(ws, "delete ingresses/web-canary"), indexOf(ws, "delete deployments/web-canary"), "%v", ws)
			assert.Contains(t, strings.Join(h.events(), "\n"), "Normal "+ReasonOptedOut)

			// Handed back: nothing more to do.
			h.sync()
			assert.Empty(t, h.writeNames())
		})
	}
}

func TestSyncIgnoresWhatItDoesNotOwn(t *testing.T) {
	h := atWeight10(t)
	h.settle()
	h.kube.ClearActions()
	for _, k := range []string{"shop/web-canary", "shop/missing", "not/a/key"} {
		_, err := h.ctl.Sync(h.ctx, k)
		require.NoError(t, err, k)
	}
	assert.Empty(t, h.writeNames())
}

func TestMissingIngressStartsNoCanaryAndWarnsOnce(t *testing.T) {
	h := newHarness(t, userObjects(optedIn(contract.KeyRouter, "nginx", contract.KeyIngress, "storefront"))...)
	h.sync()
	h.setImage("web:2")
	h.sync()

	st := h.status()
	assert.Equal(t, contract.Idle, st.Phase)
	assert.Equal(t, contract.ReasonRoutingBroken, st.Reason)
	assert.Contains(t, st.Message, "shop/storefront")
	assert.Contains(t, st.Message, contract.KeyIngress, "tells the user which annotation to fix")
	assert.False(t, h.exists("deployments", "web-canary"))
	assert.True(t, h.deployment("web").Spec.Paused)
	evs := h.events()
	require.Len(t, evs, 1, "%v", evs)
	assert.True(t, strings.HasPrefix(evs[0], "Warning "+contract.ReasonRoutingBroken), evs[0])

	h.sync()
	assert.Empty(t, h.changes())
	assert.Empty(t, h.events(), "reported once")
}

func TestDeletedIngressMidRolloutRollsBack(t *testing.T) {
	h := atWeight10(t)
	require.NoError(t, h.kube.NetworkingV1().Ingresses(ns).Delete(h.ctx, "web", metav1.DeleteOptions{}))
	h.sync()
	st := h.status()
	assert.Equal(t, contract.RollingBack, st.Phase)
	assert.Equal(t, contract.ReasonRoutingBroken, st.Reason)
	assert.False(t, h.exists("ingresses", "web-canary"))
	assert.False(t, h.exists("deployments", "web-canary"))
}
