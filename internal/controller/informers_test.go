package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

func deploymentWith(labels, annotations map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, UID: "u1", ResourceVersion: "7",
			Labels: labels, Annotations: annotations, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "web", Image: "web:1"}}}}},
	}
}

func TestSlimDeploymentKeepsOnlyTheIdentityOfUnmanagedDeployments(t *testing.T) {
	out, err := slimDeployment(deploymentWith(map[string]string{"app": "web"}, map[string]string{"team": "a"}))
	require.NoError(t, err)
	stub, ok := out.(*metav1.PartialObjectMetadata)
	require.True(t, ok, "an unmanaged Deployment is cached as metadata, got %T", out)
	assert.Equal(t, metav1.ObjectMeta{Name: "web", Namespace: ns, UID: "u1", ResourceVersion: "7"}, stub.ObjectMeta)
}

func TestSlimDeploymentKeepsManagedDeploymentsAndCanariesWhole(t *testing.T) {
	for name, d := range map[string]*appsv1.Deployment{
		"opted in":    deploymentWith(nil, map[string]string{"rolloutd.io/enabled": "true"}),
		"opting out":  deploymentWith(nil, map[string]string{"rolloutd.io/status": "{}"}),
		"canary copy": deploymentWith(map[string]string{contract.CanaryOfLabel: "web"}, nil),
	} {
		t.Run(name, func(t *testing.T) {
			out, err := slimDeployment(d)
			require.NoError(t, err)
			full, ok := out.(*appsv1.Deployment)
			require.True(t, ok)
			assert.Equal(t, "web:1", full.Spec.Template.Spec.Containers[0].Image)
			assert.Nil(t, full.ManagedFields)
		})
	}
}

func TestInformersDeploymentAnswersStubsAndMissesFromTheCache(t *testing.T) {
	inf, err := NewInformers(nil, nil, 0)
	require.NoError(t, err)
	idx := inf.deployments[metav1.NamespaceAll]
	stub, err := slimDeployment(deploymentWith(nil, nil))
	require.NoError(t, err)
	require.NoError(t, idx.Add(stub))

	d, err := inf.Deployment(ns, "web")
	require.NoError(t, err)
	assert.Equal(t, "web", d.Name)
	assert.False(t, hasRolloutdAnnotations(d))

	_, err = inf.Deployment(ns, "absent")
	assert.True(t, apierrors.IsNotFound(err), "got %v", err)
}

func TestSlimServiceKeepsSelectorAndPorts(t *testing.T) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Annotations: map[string]string{"big": "x"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIP: "10.0.0.1",
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	out, err := slimService(svc)
	require.NoError(t, err)
	slim := out.(*corev1.Service)
	assert.Equal(t, svc.Spec.Selector, slim.Spec.Selector)
	assert.Equal(t, svc.Spec.Ports, slim.Spec.Ports)
	assert.Empty(t, slim.Annotations)
	assert.Empty(t, slim.Spec.ClusterIP)
}

func TestSlimIngressKeepsOnlyItsIdentity(t *testing.T) {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, ResourceVersion: "3",
		Annotations: map[string]string{"nginx.ingress.kubernetes.io/rewrite-target": "/"}},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "web.example.com"}}}}
	out, err := slimIngress(ing)
	require.NoError(t, err)
	assert.Equal(t, &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, ResourceVersion: "3"}}, out)
}

func TestReplicaSetsOfReturnsOnlyTheSetsTheDeploymentControls(t *testing.T) {
	inf, err := NewInformers(nil, nil, 0)
	require.NoError(t, err)
	web := deploymentWith(nil, nil)
	other := deploymentWith(nil, nil)
	other.Name, other.UID = "api", "u2"
	owned := func(name string, owner *appsv1.Deployment, controller bool) *appsv1.ReplicaSet {
		return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "Deployment", Name: owner.Name, UID: owner.UID, Controller: &controller}}}}
	}
	idx := inf.sets[metav1.NamespaceAll]
	for _, rs := range []*appsv1.ReplicaSet{owned("web-1", web, true), owned("web-2", web, true),
		owned("api-1", other, true), owned("adopted", web, false)} {
		slim, err := workload.SlimReplicaSet(rs)
		require.NoError(t, err)
		require.NoError(t, idx.Add(slim))
	}

	sets, err := inf.ReplicaSetsOf(web)
	require.NoError(t, err)
	var names []string
	for _, rs := range sets {
		names = append(names, rs.Name)
	}
	assert.ElementsMatch(t, []string{"web-1", "web-2"}, names)
}

// A streaming list runs an informer's transform twice on the same object.
func TestTransformsAreIdempotent(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}}
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "web.example.com"}}}}
	cases := map[string]struct {
		transform func(any) (any, error)
		obj       func() any
	}{
		"unmanaged deployment": {slimDeployment, func() any { return deploymentWith(nil, nil) }},
		"managed deployment":   {slimDeployment, func() any { return deploymentWith(nil, map[string]string{"rolloutd.io/enabled": "true"}) }},
		"service":              {slimService, func() any { return svc.DeepCopy() }},
		"ingress":              {slimIngress, func() any { return ing.DeepCopy() }},
		"replicaset": {workload.SlimReplicaSet, func() any {
			return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: ns},
				Spec: appsv1.ReplicaSetSpec{Template: deploymentWith(nil, nil).Spec.Template}}
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			once, err := c.transform(c.obj())
			require.NoError(t, err)
			first, err := c.transform(c.obj())
			require.NoError(t, err)
			twice, err := c.transform(first)
			require.NoError(t, err)
			assert.Equal(t, once, twice)
		})
	}
}
