//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rolloutd/rolloutd/e2e/framework"
)

// Given a rollout holding 10% on a canary, when every rolloutd.io annotation is
// removed at once (a GitOps tool re-applying the manifest without them), then it
// is an opt-out: traffic back, canary objects removed, and the Deployment
// un-paused as the user wrote it (a Deployment the user had paused stays paused).
func TestStrippingEveryAnnotationHandsTheDeploymentBack(t *testing.T) {
	t.Parallel()
	for _, userPaused := range []bool{false, true} {
		t.Run(fmt.Sprintf("user paused %t", userPaused), func(t *testing.T) {
			t.Parallel()
			env, ns := watchedScenario(t)
			a := app{name: "web", replicas: 3, router: "nginx", rps: 50, annotations: holdAnnotations}
			if userPaused {
				a.create(t, env.Kube, ns, pausedByUser)
			} else {
				a.create(t, env.Kube, ns)
			}
			release(t, env.Kube, ns, a.name, "example.com/web:v2", nil)
			holdAtFirstStep(t, env, ns, ingressWeightIs(10))

			stripRolloutdAnnotations(t, env, ns, a.name)

			requireNoCanaryObjects(t, env.Kube, ns, a.name)
			framework.Eventually(t, repairTimeout, fmt.Sprintf("spec.paused back to %t", userPaused), func() (bool, error) {
				d, err := env.Kube.AppsV1().Deployments(ns).Get(t.Context(), a.name, metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				return d.Spec.Paused == userPaused, fmt.Errorf("paused %t", d.Spec.Paused)
			})
			if !userPaused {
				framework.Eventually(t, rolloutTimeout, "the user's template rolled out", func() (bool, error) {
					img := runningImage(t, env.Kube, ns, a.name)
					return img == "example.com/web:v2", fmt.Errorf("running %s", img)
				})
			}
			requireNoRolloutdAnnotations(t, env, ns, a.name)
		})
	}
}

// pausedByUser pauses the Deployment before rolloutd sees it.
func pausedByUser(d *appsv1.Deployment) { d.Spec.Paused = true }

// stripRolloutdAnnotations removes every rolloutd.io annotation in one update.
func stripRolloutdAnnotations(t *testing.T, env *framework.Env, ns, name string) {
	t.Helper()
	d, err := env.Kube.AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
	require.NoError(t, err)
	patch := `{"metadata":{"annotations":{`
	first := true
	for k := range d.Annotations {
		if strings.HasPrefix(k, "rolloutd.io/") {
			if !first {
				patch += ","
			}
			patch += fmt.Sprintf("%q:null", k)
			first = false
		}
	}
	patch += `}}}`
	_, err = env.Kube.AppsV1().Deployments(ns).Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	require.NoError(t, err)
}

// requireNoRolloutdAnnotations checks for a few seconds that no rolloutd.io
// annotation comes back on a Deployment that was stripped of them.
func requireNoRolloutdAnnotations(t *testing.T, env *framework.Env, ns, name string) {
	t.Helper()
	consistently(t, 3*time.Second, "no rolloutd annotation comes back", func() error {
		d, err := env.Kube.AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for k := range d.Annotations {
			if strings.HasPrefix(k, "rolloutd.io/") {
				return fmt.Errorf("annotation %s written again", k)
			}
		}
		return nil
	})
}
