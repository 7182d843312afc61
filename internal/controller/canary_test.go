package controller

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stesting "k8s.io/client-go/testing"
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

// Given a rollout rolled back by an abort, the canary copy is deleted in the
// foreground; and while a copy is being deleted (its pods may still serve behind
// the canary Service), a new release neither updates it nor creates another, and
// moves no traffic, until it is gone.
func TestANewCanaryWaitsUntilThePreviousCopyIsGone(t *testing.T) {
	h := atWeight10(t)
	old := h.deployment("web-canary")
	h.command("abort")
	var deleted *metav1.DeleteOptions
	for i := 0; i < 5 && deleted == nil; i++ {
		h.sync()
		for _, a := range h.kube.Actions() {
			if d, ok := a.(k8stesting.DeleteAction); ok && a.GetResource().Resource == "deployments" && d.GetName() == "web-canary" {
				o := d.GetDeleteOptions()
				deleted = &o
			}
		}
	}
	require.NotNil(t, deleted, "the canary copy was not deleted")
	require.NotNil(t, deleted.PropagationPolicy)
	assert.Equal(t, metav1.DeletePropagationForeground, *deleted.PropagationPolicy)

	// The API keeps it, marked, while the garbage collector removes its pods.
	old.DeletionTimestamp = &metav1.Time{Time: t0}
	old.Finalizers = []string{metav1.FinalizerDeleteDependents}
	old.ResourceVersion = ""
	require.NoError(t, h.kube.Tracker().Add(old))
	h.setImage("web:3")
	for i := 0; i < 3; i++ {
		h.sync()
		for _, w := range h.changes() {
			assert.NotContains(t, w, "deployments/web-canary", "the copy being deleted was changed or replaced")
		}
	}
	st := h.status()
	assert.Equal(t, contract.RollingBack, st.Phase, "the rollback ends only once the copy is gone")
	assert.Zero(t, st.Weight, "traffic moved while the previous copy's pods may serve")

	require.NoError(t, h.kube.Tracker().Delete(deploymentsGVR, ns, "web-canary"))
	created := false
	for i := 0; i < 4 && !created; i++ {
		h.sync()
		created = indexOf(h.changes(), "create deployments/web-canary") >= 0
	}
	require.True(t, created, "no canary for the new release once the previous copy was gone")
	assert.Equal(t, "web:3", h.deployment("web-canary").Spec.Template.Spec.Containers[0].Image)
	h.canaryReady(1)
	h.sync()
	assert.Equal(t, 10, h.status().Weight)
}
