//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Given a batch release holding half of 10 pods on the canary (waiting for
// approval), when the Deployment opts out, or every rolloutd.io annotation is
// removed at once (which is the same opt-out), then the stable grows back first,
// in chunks of max-surge, before the canary's pods go: never more than 13 pods,
// never fewer than 10 Ready; the Deployment is handed back un-paused at 10
// replicas and rolls the user's template out with its own strategy.
func TestBatchOptOutGrowsTheStableBeforeRemovingTheCanary(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		leaveIt func(t *testing.T, env *framework.Env, ns, name string)
	}{
		{name: "enabled false", leaveIt: optOut},
		{name: "every annotation stripped", leaveIt: stripRolloutdAnnotations},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, ns := watchedScenario(t)
			a := batchApp("web", "rolloutd.io/batches", "50%,100%", "rolloutd.io/pause-at", "1", "rolloutd.io/max-surge", "3")
			a.create(t, env.Kube, ns, func(d *appsv1.Deployment) {
				// The Deployment's own rollout after the hand-back keeps the same bounds.
				surge, none := intstr.FromInt32(3), intstr.FromInt32(0)
				d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
					RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &none}}
			})
			pods := pausedAtHalf(t, env, ns, a.name)

			tc.leaveIt(t, env, ns, a.name)

			requireNoCanaryObjects(t, env.Kube, ns, a.name)
			requireHandedBackAtTen(t, env, ns, a.name, time.Minute)
			// The hand-back ends when the canary's last pod is gone; the rollout of
			// the user's template after it is the Deployment controller's own.
			handedBack := func(s podSample) bool { return s.canary == 0 }
			pods.requireWithinUntil(t, handedBack, 10, 3, 0)
			_, d := readStatus(t, env.Kube, ns, a.name)
			assert.NotContains(t, d.Annotations, contract.StatusKey, "no status left")
		})
	}
}

// optOut sets rolloutd.io/enabled to "false".
func optOut(t *testing.T, env *framework.Env, ns, name string) {
	t.Helper()
	annotateDeployment(t, env.Kube, ns, name, "rolloutd.io/enabled", "false")
}

// pausedAtHalf releases v2 of a 10-replica batch app whose first batch is 50%
// with a pause after it, waits until half the pods are on the canary, and
// returns a pod counter that saw the 10 Ready pods.
func pausedAtHalf(t *testing.T, env *framework.Env, ns, name string) *podCounter {
	t.Helper()
	release(t, env.Kube, ns, name, "example.com/web:v2", nil)
	st := waitPhase(t, env.Kube, ns, name, batchTimeout, contract.Paused, contract.RolledBack)
	require.Equal(t, contract.Paused, st.Phase, "message: %s", st.Message)
	require.Equal(t, int32(5), st.Batch.Canary, "half the pods on the canary")
	pods := countPods(t, env.Kube, ns, name)
	t.Cleanup(func() { t.Logf("pod trace (time, stable, canary, total, Ready):\n%s", pods.trace()) })
	framework.Eventually(t, 30*time.Second, "the pod counter saw the 10 Ready pods", func() (bool, error) {
		s := pods.snapshot()
		return len(s) > 0 && s[len(s)-1].ready >= 10, nil
	})
	return pods
}

// requireHandedBackAtTen waits until the Deployment is un-paused at its 10
// replicas and runs v2.
func requireHandedBackAtTen(t *testing.T, env *framework.Env, ns, name string, timeout time.Duration) {
	t.Helper()
	framework.Eventually(t, timeout, "handed back un-paused at 10 replicas, running v2", func() (bool, error) {
		d, err := env.Kube.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		img := runningImage(t, env.Kube, ns, name)
		return !d.Spec.Paused && *d.Spec.Replicas == 10 && img == "example.com/web:v2",
			fmt.Errorf("paused %t, replicas %d, running %q", d.Spec.Paused, *d.Spec.Replicas, img)
	})
}
