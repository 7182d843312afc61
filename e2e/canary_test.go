//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

const rolloutTimeout = 3 * time.Minute

// canaryRouters are the routers the basic canary scenarios run with: an Ingress
// split, and the replica ratio behind the user's Service.
var canaryRouters = []struct {
	router   string
	replicas int32
}{{"nginx", 3}, {"service", 4}}

// Given an opted-in Deployment, when a healthy version is released, then the
// stable Deployment ends up running the new template, it stays paused, and nothing
// generated is left; behind an Ingress, the canary Ingress walked through every
// step in order.
func TestCanaryGoodReleaseIsPromoted(t *testing.T) {
	t.Parallel()
	for _, r := range canaryRouters {
		t.Run(r.router, func(t *testing.T) {
			t.Parallel()
			env, ns := watchedScenario(t)
			a := app{name: "web", replicas: r.replicas, router: r.router, rps: 200}
			a.create(t, env.Kube, ns)
			tl := watchTimeline(t, env.Kube, ns, a.name)

			release(t, env.Kube, ns, a.name, "example.com/web:v2", nil)

			requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.Succeeded)
			if r.router == "nginx" {
				assert.Equal(t, []int{0, 10, 20, 30, 40, 50, 100, -1}, tl.weights(), "canary Ingress weights in order (created at 0 until the pods are Ready; -1 = deleted)")
			}
			framework.Eventually(t, time.Minute, "stable runs v2", func() (bool, error) {
				return runningImage(t, env.Kube, ns, a.name) == "example.com/web:v2", nil
			})
			requireNoCanaryObjects(t, env.Kube, ns, a.name)
			_, d := readStatus(t, env.Kube, ns, a.name)
			assert.True(t, d.Spec.Paused, "the Deployment stays paused while opted in")
		})
	}
}

// Given an opted-in Deployment, when a version with 10% errors is released, then it
// is rolled back naming error-rate, the stable pods are never replaced and still run
// v1, and it is not retried; behind an Ingress, the canary got weight 0 before it
// shrank.
func TestCanaryBadReleaseIsRolledBack(t *testing.T) {
	t.Parallel()
	for _, r := range canaryRouters {
		t.Run(r.router, func(t *testing.T) {
			t.Parallel()
			env, ns := watchedScenario(t)
			a := app{name: "shop", replicas: r.replicas, router: r.router, rps: 200}
			a.create(t, env.Kube, ns)
			before := stablePods(t, env.Kube, ns, a.name)
			tl := watchTimeline(t, env.Kube, ns, a.name)

			release(t, env.Kube, ns, a.name, "example.com/shop:bad", map[string]string{"sim.rolloutd.io/error-rate": "0.1"})

			st := requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.RolledBack)
			assert.Contains(t, st.Message, "error-rate")
			requireNoCanaryObjects(t, env.Kube, ns, a.name)
			if r.router == "nginx" {
				requireTrafficLeftFirst(t, tl)
			}
			assert.Equal(t, before, stablePods(t, env.Kube, ns, a.name), "stable pods were never replaced")
			assert.Equal(t, "example.com/shop:v1", runningImage(t, env.Kube, ns, a.name))
			requireNotRetried(t, env, ns, a.name)
		})
	}
}

// Given a rollout at step 2, when the daemon is killed with SIGKILL and restarted,
// then the rollout resumes where it stood and is promoted.
func TestDaemonKilledMidRolloutResumes(t *testing.T) {
	t.Parallel()
	env, ns := namespaceScenario(t)
	daemon := env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns}})
	a := app{name: "pay", replicas: 3, router: "nginx", rps: 200}
	a.create(t, env.Kube, ns)
	tl := watchTimeline(t, env.Kube, ns, a.name)

	release(t, env.Kube, ns, a.name, "example.com/pay:v2", nil)
	framework.Eventually(t, time.Minute, "rollout at step 2", func() (bool, error) {
		st, _ := readStatus(t, env.Kube, ns, a.name)
		return st.Step >= 2 && st.Weight == 20, nil
	})
	daemon.Kill()
	daemon.Restart()

	requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.Succeeded)
	assert.Equal(t, []int{0, 10, 20, 30, 40, 50, 100, -1}, tl.weights())
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
}

// Given a rollout in progress, when the user removes rolloutd.io/enabled, then the
// Deployment is handed back as written: un-paused, no status, nothing generated,
// and it rolls out its template natively.
func TestOptOutMidRolloutRestoresDeployment(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	a := app{name: "blog", replicas: 3, router: "nginx", rps: 100,
		annotations: map[string]string{"rolloutd.io/interval": "1m"}}
	a.create(t, env.Kube, ns)

	release(t, env.Kube, ns, a.name, "example.com/blog:v2", nil)
	framework.Eventually(t, time.Minute, "canary receives traffic", func() (bool, error) {
		st, _ := readStatus(t, env.Kube, ns, a.name)
		return st.Weight == 10, nil
	})
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{"rolloutd.io/enabled": nil}}})
	_, err := env.Kube.AppsV1().Deployments(ns).Patch(context.Background(), a.name, types.MergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)

	framework.Eventually(t, time.Minute, "deployment handed back", func() (bool, error) {
		_, d := readStatus(t, env.Kube, ns, a.name)
		_, has := d.Annotations[contract.StatusKey]
		return !d.Spec.Paused && !has, nil
	})
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
	framework.Eventually(t, time.Minute, "native rollout of v2", func() (bool, error) {
		return runningImage(t, env.Kube, ns, a.name) == "example.com/blog:v2", nil
	})
}

// requireTrafficLeftFirst checks the recorded order: the canary Ingress was at
// weight 0 or deleted before the canary Deployment shrank or was deleted.
func requireTrafficLeftFirst(t *testing.T, tl *timeline) {
	t.Helper()
	var maxPods int32
	trafficGone := false
	for _, r := range tl.snapshot() {
		switch r.kind {
		case "ingress":
			trafficGone = r.weight <= 0
		case "canary":
			if r.pods < maxPods {
				require.True(t, trafficGone, "canary shrank to %d pods while the canary Ingress still had traffic", r.pods)
			}
			if r.pods > maxPods {
				maxPods = r.pods
			}
		}
	}
	require.True(t, trafficGone, "canary Ingress still routes traffic")
}

// requireNotRetried nudges the Deployment (an unrelated annotation triggers a
// reconcile) and checks that the rolled-back revision does not start again.
func requireNotRetried(t *testing.T, env *framework.Env, ns, name string) {
	t.Helper()
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{"example.com/nudge": "1"}}})
	_, err := env.Kube.AppsV1().Deployments(ns).Patch(context.Background(), name, types.MergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)
	consistently(t, 8*time.Second, "a rolled-back revision is not retried", func() error {
		st, _ := readStatus(t, env.Kube, ns, name)
		if st.Phase != contract.RolledBack {
			return fmt.Errorf("phase %s: %s", st.Phase, st.Message)
		}
		_, err := env.Kube.AppsV1().Deployments(ns).Get(context.Background(), name+"-canary", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("canary deployment exists (%v)", err)
		}
		return nil
	})
}
