package controller

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

func TestUpdateOnUnrelatedConflict(t *testing.T) {
	base := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "u1", Generation: 3, ResourceVersion: "10",
			Annotations: map[string]string{"rolloutd.io/enabled": "true", "rolloutd.io/status": `{"phase":"Progressing"}`}},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3), Paused: true},
	}
	cases := []struct {
		name      string
		edit      func(d *appsv1.Deployment) // what another writer changed since base
		wantWrite bool
	}{
		{name: "another annotation changed: rebased and written", wantWrite: true,
			edit: func(d *appsv1.Deployment) { d.Annotations["team/touched"] = "7"; d.Generation++ }},
		{name: "the status subresource changed: rebased and written", wantWrite: true,
			edit: func(d *appsv1.Deployment) { d.Status.ReadyReplicas = 2 }},
		{name: "the spec changed: the conflict is returned",
			edit: func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"v": "2"} }},
		{name: "the replica count changed: the conflict is returned",
			edit: func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](5) }},
		{name: "a rolloutd.io annotation changed: the conflict is returned",
			edit: func(d *appsv1.Deployment) { d.Annotations["rolloutd.io/command"] = `{"action":"abort"}` }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fresh := base.DeepCopy()
			fresh.ResourceVersion = "11"
			tc.edit(fresh)
			kube := fake.NewClientset(fresh)
			kube.PrependReactor("update", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
				obj := a.(k8stesting.UpdateAction).GetObject().(*appsv1.Deployment)
				if obj.ResourceVersion != "11" {
					return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, obj.Name, nil)
				}
				return false, nil, nil
			})
			upd := base.DeepCopy()
			upd.Annotations["rolloutd.io/status"] = `{"phase":"Promoting"}`
			upd.Spec.Paused = false

			_, err := updateOnUnrelatedConflict(context.Background(), kube.AppsV1().Deployments("ns"), base, upd)

			got, getErr := kube.AppsV1().Deployments("ns").Get(context.Background(), "web", metav1.GetOptions{})
			require.NoError(t, getErr)
			if !tc.wantWrite {
				require.True(t, apierrors.IsConflict(err), "want the conflict, got %v", err)
				assert.Equal(t, fresh, got, "nothing written")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, `{"phase":"Promoting"}`, got.Annotations["rolloutd.io/status"])
			assert.False(t, got.Spec.Paused)
			for k, v := range fresh.Annotations {
				if k != "rolloutd.io/status" {
					assert.Equal(t, v, got.Annotations[k], "the other writer's %s is kept", k)
				}
			}
		})
	}
}
