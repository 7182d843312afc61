//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Given an opted-in Deployment whose name is 45 characters long (the API server
// cuts its canary pods' names), when a healthy version is released with router
// service (analysis selects pods by name), then it is promoted: the canary's pods
// are found as the API server named them.
func TestLongDeploymentNameHealthyReleaseIsPromoted(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	a := faultApp("checkout-"+strings.Repeat("x", 36), "service")
	require.Len(t, a.name, 45)
	a.create(t, env.Kube, ns)

	release(t, env.Kube, ns, a.name, "example.com/checkout:v2", nil)
	requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.Succeeded)
}

// Given a Deployment whose name is 50 characters long, when it opts in, then it
// is refused with a Warning Event naming the limit, no canary is made of it, and
// it is left running as the user wrote it.
func TestDeploymentNameTooLongIsRefusedWithAnEvent(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	name := "checkout-" + strings.Repeat("y", 41)
	require.Len(t, name, 50)
	a := faultApp(name, "service")
	d := a.deployment(ns)
	_, err := env.Kube.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{})
	require.NoError(t, err)

	framework.Eventually(t, time.Minute, "a Warning InvalidSpec Event naming the limit", func() (bool, error) {
		return hasEvent(t.Context(), env, ns, corev1.EventTypeWarning, "InvalidSpec", "at most 49 characters")
	})
	release(t, env.Kube, ns, name, "example.com/checkout:v2", nil)
	framework.Eventually(t, time.Minute, "the release rolled out by the Deployment controller", func() (bool, error) {
		got, err := env.Kube.AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return !got.Spec.Paused && got.Status.UpdatedReplicas == *got.Spec.Replicas && got.Status.Replicas == *got.Spec.Replicas, nil
	})
	_, err = env.Kube.AppsV1().Deployments(ns).Get(t.Context(), name+"-canary", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "no canary (%v)", err)
}
