//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Given an opted-in Deployment whose stable is un-paused (promoting a vetted
// revision, or resumed by hand with `kubectl rollout resume`), when a new template
// reaches it at that instant, then the Deployment controller's ReplicaSet of the
// unvetted template is seen at once: the Deployment is paused again, the stable
// pods go back to a vetted revision, and the new template is released as a canary
// (a bad one is rolled back without ever keeping a stable pod).
func TestUnvettedTemplateNeverStaysOnTheStablePods(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// first is the release under way; at is the moment the unvetted template
		// reaches the un-paused stable.
		first string
		at    func(t *testing.T, kube kubernetes.Interface, ns, name string, daemon *framework.Daemon)
	}{
		{name: "edited while promoting", first: "example.com/web:v2", at: editWhilePromoting},
		{name: "edited while promoting, seen after a restart", first: "example.com/web:v2", at: func(t *testing.T, kube kubernetes.Interface, ns, name string, daemon *framework.Daemon) {
			// The daemon is down when it happens, so the Deployment controller
			// surely rolls the template out before rolloutd looks.
			waitDeployment(t, kube, ns, name, "Promoting with the stable un-paused", func(d *appsv1.Deployment, st contract.Status) bool {
				return st.Phase == contract.Promoting && !d.Spec.Paused
			})
			daemon.Kill()
			require.NoError(t, releasePatch(t.Context(), kube, ns, name, "example.com/web:v3-bad", true))
			framework.Eventually(t, time.Minute, "the Deployment controller rolled v3-bad out", func() (bool, error) {
				n, err := stableImagesRunning(t.Context(), kube, ns, name, "-bad")
				return n > 0, err
			})
			daemon.Restart()
		}},
		{name: "resumed by hand while progressing", first: "example.com/web:v3-bad", at: func(t *testing.T, kube kubernetes.Interface, ns, name string, _ *framework.Daemon) {
			waitDeployment(t, kube, ns, name, "Progressing with traffic on the canary", func(_ *appsv1.Deployment, st contract.Status) bool {
				return st.Phase == contract.Progressing && st.Weight > 0
			})
			_, err := kube.AppsV1().Deployments(ns).Patch(t.Context(), name, types.MergePatchType,
				[]byte(`{"spec":{"paused":false}}`), metav1.PatchOptions{})
			require.NoError(t, err)
			t.Log("resumed the Deployment by hand")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, ns := namespaceScenario(t)
			daemon := env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns}})
			a := app{name: "web", replicas: 4, router: "service", rps: 100, annotations: faultAnnotations}
			a.create(t, env.Kube, ns)

			require.NoError(t, releasePatch(t.Context(), env.Kube, ns, a.name, tc.first, strings.HasSuffix(tc.first, "-bad")))
			tc.at(t, env.Kube, ns, a.name, daemon)
			start := time.Now()

			framework.Eventually(t, 30*time.Second, "no stable pod or ReplicaSet replica on the unvetted template", func() (bool, error) {
				pods, err := stableImagesRunning(t.Context(), env.Kube, ns, a.name, "-bad")
				if err != nil {
					return false, err
				}
				sets, err := stableReplicaSets(t.Context(), env.Kube, ns, a.name, "-bad")
				if err != nil {
					return false, err
				}
				return pods == 0 && sets.replicas == 0, fmt.Errorf("%d stable pods run a -bad image, its ReplicaSets want %d", pods, sets.replicas)
			})
			sets, err := stableReplicaSets(t.Context(), env.Kube, ns, a.name, "-bad")
			require.NoError(t, err)
			t.Logf("%d ReplicaSets of the unvetted template created (%d scaled up); stable pods back on vetted revisions %v after it reached them",
				sets.count, sets.scaled, time.Since(start).Round(time.Millisecond))
			var st contract.Status
			framework.Eventually(t, rolloutTimeout, "the unvetted template analysed as a canary and settled", func() (bool, error) {
				var done bool
				var err error
				st, done, err = settledFor(t.Context(), env.Kube, ns, a.name)
				return done, err
			})
			assert.Equal(t, contract.RolledBack, st.Phase, "the bad template was released as a canary and rolled back: %s", st.Message)
			bad, err := stableImagesRunning(t.Context(), env.Kube, ns, a.name, "-bad")
			require.NoError(t, err)
			assert.Zero(t, bad, "stable pods left on the bad template")
			requireInvariants(t, env.Kube, ns)
			if sets.scaled > 0 {
				// An unvetted ReplicaSet that never asked for a pod (the
				// Deployment was paused again before its controller scaled it)
				// never reached a stable pod: nothing to revert, nothing to say.
				requireEventMessage(t, env, ns, a.name, "UnvettedRollout", "which no analysis vetted")
			}
		})
	}
}

// editWhilePromoting releases a bad template the moment the stable is un-paused
// to promote the vetted one.
func editWhilePromoting(t *testing.T, kube kubernetes.Interface, ns, name string, _ *framework.Daemon) {
	d := waitDeployment(t, kube, ns, name, "Promoting with the stable un-paused", func(d *appsv1.Deployment, st contract.Status) bool {
		return st.Phase == contract.Promoting && !d.Spec.Paused
	})
	require.NoError(t, releasePatch(t.Context(), kube, ns, name, "example.com/web:v3-bad", true))
	t.Logf("released v3-bad at Promoting, weight %d, resourceVersion %s", mustStatus(t, d).Weight, d.ResourceVersion)
}

// waitDeployment watches name until cond holds for it and its status.
func waitDeployment(t *testing.T, kube kubernetes.Interface, ns, name, what string, cond func(*appsv1.Deployment, contract.Status) bool) *appsv1.Deployment {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), rolloutTimeout)
	defer cancel()
	w, err := kube.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	require.NoError(t, err)
	defer w.Stop()
	var last contract.Status
	for ev := range w.ResultChan() {
		d, ok := ev.Object.(*appsv1.Deployment)
		if !ok {
			continue
		}
		last = mustStatus(t, d)
		if cond(d, last) {
			return d
		}
	}
	t.Fatalf("%s never %s; last %s: %s", name, what, last.Phase, last.Message)
	return nil
}

func mustStatus(t *testing.T, d *appsv1.Deployment) contract.Status {
	t.Helper()
	st, err := contract.Read(d.Annotations)
	require.NoError(t, err)
	return st
}

// stableImagesRunning counts the stable's pods (not the canary's, not being
// deleted) whose image contains marker.
func stableImagesRunning(ctx context.Context, kube kubernetes.Interface, ns, name, marker string) (int, error) {
	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range pods.Items {
		if p.Labels[contract.CanaryOfLabel] == "" && p.DeletionTimestamp == nil &&
			strings.Contains(p.Spec.Containers[0].Image, marker) {
			n++
		}
	}
	return n, nil
}

// replicaSetCount is how many ReplicaSets matched and the replicas they want.
type replicaSetCount struct{ count, replicas, scaled int32 }

// stableReplicaSets counts the user Deployment's ReplicaSets whose image contains
// marker.
func stableReplicaSets(ctx context.Context, kube kubernetes.Interface, ns, name, marker string) (replicaSetCount, error) {
	var out replicaSetCount
	list, err := kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		return out, err
	}
	for _, rs := range list.Items {
		owner := metav1.GetControllerOf(&rs)
		if owner == nil || owner.Name != name || !strings.Contains(rs.Spec.Template.Spec.Containers[0].Image, marker) {
			continue
		}
		out.count++
		if rs.Spec.Replicas != nil {
			out.replicas += *rs.Spec.Replicas
		}
		if rs.Generation > 1 || (rs.Spec.Replicas != nil && *rs.Spec.Replicas > 0) {
			out.scaled++ // asked for pods at some point (a spec change is a resize)
		}
	}
	return out, nil
}
