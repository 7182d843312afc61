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
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Given a batch release whose promotion is under way — its pods still moving to
// the new version while the stable stays paused, or the stable already rolling the
// new version out and taking its pods back — when an alert fires, then it rolls
// back at once, as a weighted release does: the release never reaches Succeeded,
// and the Deployment ends on the previous version at its desired count.
func TestBatchAlertWhilePromotingRollsBackAtOnce(t *testing.T) {
	t.Parallel()
	for _, when := range []string{"pods moving", "stable rolled it out"} {
		t.Run(when, func(t *testing.T) {
			t.Parallel()
			env, ns := namespaceScenario(t)
			a := batchApp("promo", "rolloutd.io/batches", "50%", "rolloutd.io/max-surge", "1",
				"rolloutd.io/interval", "3s", "rolloutd.io/checks", "cpu<=5x")
			a.replicas = 6
			d := webhookDaemon(t, env, ns, nil)
			a.create(t, env.Kube, ns)
			phases := watchPhases(t, env.Kube, ns, a.name)
			release(t, env.Kube, ns, a.name, "example.com/promo:v2", nil)

			// Watched, not polled: with simulated pods the stable's own rollout
			// of the new version can be over within a second.
			awaitDeployment(t, env.Kube, ns, a.name, batchTimeout, "promotion "+when, func(st contract.Status, dep *appsv1.Deployment) bool {
				return st.Phase == contract.Promoting && (when == "pods moving" || !dep.Spec.Paused)
			})
			postAlert(t, env, d, ns, a.name, "BatchPromotionBurning", time.Now())

			requireRolledBackByAlert(t, env, ns, a.name, "example.com/promo:v1")
			assert.NotContains(t, phases.after(contract.Promoting), contract.Succeeded, "phases %v", phases.seen())
			_, dep := readStatus(t, env.Kube, ns, a.name)
			assert.Equal(t, int32(6), *dep.Spec.Replicas, "the desired count is handed back")
			assert.True(t, dep.Spec.Paused)
		})
	}
}

// Given a batch release with half its pods on the new version, when an autoscaler
// scales the stable's old pods down, then the new pods keep their count, and an
// abort hands the traffic back to a stable grown back to the release's size.
func TestBatchAutoscalerOnTheStableNeverShrinksTheRelease(t *testing.T) {
	t.Parallel()
	env, ns := namespaceScenario(t)
	a := batchApp("hpa", "rolloutd.io/batches", "50%,100%", "rolloutd.io/interval", "10m", "rolloutd.io/checks", "cpu<=5x")
	a.replicas = 4
	env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns}})
	a.create(t, env.Kube, ns)
	release(t, env.Kube, ns, a.name, "example.com/hpa:v2", nil)
	framework.Eventually(t, batchTimeout, "batch 1 in place", func() (bool, error) {
		st, _ := readStatus(t, env.Kube, ns, a.name)
		return st.Batch != nil && st.Batch.Canary == 2 && st.StepStartedAt != nil, fmt.Errorf("%s: %s", st.Phase, st.Message)
	})

	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		scale, err := env.Kube.AppsV1().Deployments(ns).GetScale(ctx, a.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		scale.Spec.Replicas = 1 // what an HPA does as the load moves to the new pods
		_, err = env.Kube.AppsV1().Deployments(ns).UpdateScale(ctx, a.name, scale, metav1.UpdateOptions{})
		return err
	})
	require.NoError(t, err)
	consistently(t, 3*time.Second, "the new pods keep their count", func() error {
		c, err := env.Kube.AppsV1().Deployments(ns).Get(ctx, a.name+"-canary", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if *c.Spec.Replicas != 2 {
			return fmt.Errorf("canary at %d pods", *c.Spec.Replicas)
		}
		return nil
	})

	sendCommand(t, env.Kube, ns, a.name, "abort")
	waitPhase(t, env.Kube, ns, a.name, batchTimeout, contract.Aborted)
	_, dep := readStatus(t, env.Kube, ns, a.name)
	assert.Equal(t, int32(4), *dep.Spec.Replicas, "the stable taking the traffic back grew back to the release's size")
	assert.Equal(t, "example.com/hpa:v1", runningImage(t, env.Kube, ns, a.name))
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
}

// awaitDeployment returns as soon as a Deployment event shows cond true (the
// status annotation and the spec are on the same object, so every state passes by
// the watch), and fails the test with the last state seen after timeout.
func awaitDeployment(t *testing.T, kube kubernetes.Interface, ns, name string, timeout time.Duration, what string,
	cond func(contract.Status, *appsv1.Deployment) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	dep, err := kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	w, err := kube.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: dep.ResourceVersion,
		FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
	require.NoError(t, err)
	defer w.Stop()
	last := ""
	for {
		st, _ := contract.Read(dep.Annotations)
		if cond(st, dep) {
			return
		}
		last = fmt.Sprintf("phase %s, stable paused %v: %s", st.Phase, dep.Spec.Paused, st.Message)
		select {
		case <-ctx.Done():
			t.Fatalf("waited %s for %s: last observation: %s", timeout, what, last)
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch of %s/%s ended while waiting for %s: last observation: %s", ns, name, what, last)
			}
			if d, isDep := ev.Object.(*appsv1.Deployment); isDep {
				dep = d
			}
		}
	}
}
