package controller

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

func TestRemovingEveryAnnotationMidRolloutStillRemovesTheCanary(t *testing.T) {
	h := atWeight10(t)
	require.True(t, h.exists("deployments", "web-canary"))
	h.edit(func(d *appsv1.Deployment) {
		for k := range d.Annotations {
			if strings.HasPrefix(k, contract.Prefix) {
				delete(d.Annotations, k)
			}
		}
	})
	// The owner no longer has any rolloutd.io annotation, so only an event of its
	// canary copy brings it back to the queue.
	h.sync()

	assert.False(t, h.exists("deployments", "web-canary"), "unvetted canary pods left serving")
	assert.False(t, h.exists("services", "web-canary"))
	assert.False(t, h.exists("ingresses", "web-canary"))
	assert.True(t, h.exists("ingresses", "web"))
	assert.Contains(t, strings.Join(h.events(), "\n"), "Normal "+ReasonOptedOut)
}

func TestADeploymentHoldingTheCanaryNameIsNeverTouched(t *testing.T) {
	objs := userObjects(optedIn(contract.KeyRouter, "nginx"))
	theirs := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web-canary", Namespace: ns, Labels: map[string]string{"app": "web-canary"}},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web-canary"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web-canary"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "theirs:1"}}}}},
	}
	h := newHarness(t, append(objs, theirs)...)
	h.sync()
	h.setImage("web:2")
	h.sync()
	h.sync()

	st := h.status()
	assert.NotEqual(t, contract.Progressing, st.Phase, "a rollout went on with somebody else's Deployment as its canary")
	assert.Contains(t, st.Message, "not rolloutd's canary")
	d := h.deployment("web-canary")
	assert.Equal(t, "theirs:1", d.Spec.Template.Spec.Containers[0].Image)
	assert.Equal(t, int32(2), *d.Spec.Replicas)
	for _, w := range h.writeNames() {
		assert.NotContains(t, w, "deployments/web-canary")
	}
}
