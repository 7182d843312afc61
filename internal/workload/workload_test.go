package workload

import (
	"testing"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func deployment() *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: types.UID("uid-web"), Generation: 4},
		Spec: appsv1.DeploymentSpec{
			Replicas:                ptr.To[int32](10),
			Selector:                &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			MinReadySeconds:         5,
			ProgressDeadlineSeconds: ptr.To[int32](120),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      map[string]string{"app": "web", "tier": "front", "version": "v2"},
					Annotations: map[string]string{"sim.rolloutd.io/error-rate": "0.01"},
				},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:2"}}},
			},
		},
	}
}

// replicaSetOf is the ReplicaSet the Deployment controller creates for d's template.
func replicaSetOf(d *appsv1.Deployment, name, revision string) *appsv1.ReplicaSet {
	tmpl := *d.Spec.Template.DeepCopy()
	tmpl.Labels["pod-template-hash"] = "6d4cf56db6"
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: d.Namespace, UID: types.UID("uid-" + name), ResourceVersion: "77",
			Labels:          map[string]string{"app": "web", "pod-template-hash": "6d4cf56db6"},
			Annotations:     map[string]string{RevisionNumberAnnotation: revision, "deployment.kubernetes.io/desired-replicas": "10"},
			OwnerReferences: []metav1.OwnerReference{OwnerRef(d)},
		},
		Spec:   appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](10), Template: tmpl},
		Status: appsv1.ReplicaSetStatus{Replicas: 10, ReadyReplicas: 9},
	}
}

func TestRevisionMatchesTheReplicaSetCreatedFromTheTemplate(t *testing.T) {
	d := deployment()
	rs := replicaSetOf(d, "web-6d4cf56db6", "3")
	assert.Equal(t, Revision(d.Spec.Template), Revision(rs.Spec.Template))
	assert.Len(t, Revision(d.Spec.Template), 10)
	assert.Contains(t, rs.Spec.Template.Labels, "pod-template-hash", "Revision must not modify its argument")
}

func TestRevisionChangesWithTheTemplate(t *testing.T) {
	base := deployment().Spec.Template
	cases := []struct {
		name   string
		change func(*corev1.PodTemplateSpec)
	}{
		{"image", func(p *corev1.PodTemplateSpec) { p.Spec.Containers[0].Image = "web:3" }},
		{"pod annotation", func(p *corev1.PodTemplateSpec) { p.Annotations["sim.rolloutd.io/error-rate"] = "0.5" }},
		{"label", func(p *corev1.PodTemplateSpec) { p.Labels["version"] = "v3" }},
		{"env", func(p *corev1.PodTemplateSpec) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "FEATURE", Value: "on"}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			changed := *base.DeepCopy()
			tc.change(&changed)
			assert.NotEqual(t, Revision(base), Revision(changed))
		})
	}
	assert.Equal(t, Revision(base), Revision(*base.DeepCopy()), "the hash is deterministic")
}

func TestCanaryStripsTheServiceSelectorUnlessSelectedByService(t *testing.T) {
	selector := map[string]string{"app": "web", "tier": "front"}
	cases := []struct {
		name       string
		selected   bool
		wantLabels map[string]string
	}{
		{"not selected by the user's Service", false,
			map[string]string{"version": "v2", contract.CanaryOfLabel: "web"}},
		{"selected by the user's Service (router service)", true,
			map[string]string{"app": "web", "tier": "front", "version": "v2", contract.CanaryOfLabel: "web"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := deployment()
			c := Canary(d, CanaryOptions{Revision: "abc123", Replicas: 3, ServiceSelector: selector, SelectedByService: tc.selected})
			assert.Equal(t, tc.wantLabels, c.Spec.Template.Labels)
			assert.Equal(t, map[string]string{contract.CanaryOfLabel: "web"}, c.Spec.Selector.MatchLabels)
			sel, err := metav1.LabelSelectorAsSelector(c.Spec.Selector)
			require.NoError(t, err)
			assert.True(t, sel.Matches(labels.Set(c.Spec.Template.Labels)), "the canary selects its own pods")
			userSel := labels.SelectorFromSet(selector)
			assert.Equal(t, tc.selected, userSel.Matches(labels.Set(c.Spec.Template.Labels)),
				"whether the user's Service selects the canary pods")
			assert.Equal(t, "web", d.Spec.Template.Labels["app"], "the user's Deployment is not modified")
		})
	}
}

func TestCanaryIsACopyOwnedByTheUsersDeployment(t *testing.T) {
	d := deployment()
	c := Canary(d, CanaryOptions{Revision: "abc123", Replicas: 3})
	assert.Equal(t, "web-canary", c.Name)
	assert.Equal(t, "shop", c.Namespace)
	assert.Equal(t, int32(3), *c.Spec.Replicas)
	assert.Equal(t, "abc123", c.Annotations[contract.RevisionAnnotation])
	assert.Equal(t, "rolloutd", c.Labels["app.kubernetes.io/managed-by"])
	assert.Equal(t, "web", c.Labels[contract.CanaryOfLabel])
	require.Len(t, c.OwnerReferences, 1)
	ref := c.OwnerReferences[0]
	assert.Equal(t, "Deployment", ref.Kind)
	assert.Equal(t, "apps/v1", ref.APIVersion)
	assert.Equal(t, "web", ref.Name)
	assert.Equal(t, types.UID("uid-web"), ref.UID)
	assert.True(t, *ref.Controller)
	assert.Equal(t, "web:2", c.Spec.Template.Spec.Containers[0].Image)
	assert.Equal(t, d.Spec.Template.Annotations, c.Spec.Template.Annotations)
	assert.Equal(t, int32(5), c.Spec.MinReadySeconds)
	assert.Equal(t, int32(120), *c.Spec.ProgressDeadlineSeconds)
	assert.False(t, c.Spec.Paused)

	// The copy shares no maps with the user's object.
	c.Spec.Template.Annotations["x"] = "y"
	assert.NotContains(t, d.Spec.Template.Annotations, "x")
}

func TestCanaryServiceSelectsCanaryPodsWithTheUsersPorts(t *testing.T) {
	d := deployment()
	user := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Spec: corev1.ServiceSpec{
			Selector:  map[string]string{"app": "web"},
			ClusterIP: "10.0.0.7",
			Type:      corev1.ServiceTypeNodePort,
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80,
				TargetPort: intstr.FromString("http"), NodePort: 30080}},
		},
	}
	svc := CanaryService(d, user)
	assert.Equal(t, "web-canary", svc.Name)
	assert.Equal(t, map[string]string{contract.CanaryOfLabel: "web"}, svc.Spec.Selector)
	assert.Equal(t, corev1.ServiceTypeClusterIP, svc.Spec.Type)
	assert.Empty(t, svc.Spec.ClusterIP)
	require.Len(t, svc.Spec.Ports, 1)
	assert.Equal(t, corev1.ServicePort{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromString("http")},
		svc.Spec.Ports[0], "no node port copied")
	assert.Equal(t, "rolloutd", svc.Labels["app.kubernetes.io/managed-by"])
	require.Len(t, svc.OwnerReferences, 1)
	assert.Equal(t, types.UID("uid-web"), svc.OwnerReferences[0].UID)
}

func TestCanaryReadyCountsOnlyReadyPodsOfTheCurrentSpec(t *testing.T) {
	cases := []struct {
		name       string
		generation int64
		st         appsv1.DeploymentStatus
		want       int32
	}{
		{"spec not yet observed", 3, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2}, 0},
		{"old pods remain", 3, appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 3, UpdatedReplicas: 2, ReadyReplicas: 3}, 0},
		{"some updated pods not ready", 3, appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 1}, 1},
		{"all ready", 3, appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3}, 3},
		{"no status yet", 1, appsv1.DeploymentStatus{}, 0},
		{"observed a newer generation", 3, appsv1.DeploymentStatus{ObservedGeneration: 4, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: tc.generation}, Status: tc.st}
			assert.Equal(t, tc.want, CanaryReady(c))
		})
	}
}

func TestRolledOutOnlyWhenEveryReplicaIsUpdatedAndAvailable(t *testing.T) {
	full := appsv1.DeploymentStatus{ObservedGeneration: 4, Replicas: 10, UpdatedReplicas: 10, AvailableReplicas: 10}
	cases := []struct {
		name     string
		replicas *int32
		mutate   func(*appsv1.DeploymentStatus)
		want     bool
	}{
		{"done", ptr.To[int32](10), func(*appsv1.DeploymentStatus) {}, true},
		{"spec not yet observed", ptr.To[int32](10), func(s *appsv1.DeploymentStatus) { s.ObservedGeneration = 3 }, false},
		{"updating", ptr.To[int32](10), func(s *appsv1.DeploymentStatus) { s.UpdatedReplicas = 6 }, false},
		{"not available", ptr.To[int32](10), func(s *appsv1.DeploymentStatus) { s.AvailableReplicas = 9 }, false},
		{"old pods still terminating", ptr.To[int32](10), func(s *appsv1.DeploymentStatus) { s.Replicas = 12 }, false},
		{"replicas unset means one", nil, func(s *appsv1.DeploymentStatus) {
			*s = appsv1.DeploymentStatus{ObservedGeneration: 4, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}
		}, true},
		{"scaled to zero", ptr.To[int32](0), func(s *appsv1.DeploymentStatus) {
			*s = appsv1.DeploymentStatus{ObservedGeneration: 4}
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := deployment()
			d.Spec.Replicas = tc.replicas
			d.Status = full
			tc.mutate(&d.Status)
			assert.Equal(t, tc.want, RolledOut(d))
		})
	}
}
