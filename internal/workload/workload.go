// Package workload builds and observes the Kubernetes workloads of a release: the
// canary copy of the user's Deployment and its Service, the revision hash of a pod
// template, and what the user's Deployment is running.
package workload

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"

	"github.com/rolloutd/rolloutd/strategy/contract"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Revision is a short, stable hash of a pod template. ReplicaSet templates carry an
// extra pod-template-hash label, which is ignored so that a Deployment's template and
// the ReplicaSet created from it hash alike.
func Revision(t corev1.PodTemplateSpec) string {
	if _, ok := t.Labels[contract.PodTemplateHashLabel]; ok {
		t = *t.DeepCopy()
		delete(t.Labels, contract.PodTemplateHashLabel)
	}
	b, err := json.Marshal(t)
	if err != nil {
		// A PodTemplateSpec always marshals; fall back to a value that never
		// matches a real revision rather than panicking.
		return "unhashable"
	}
	h := fnv.New64a()
	_, _ = h.Write(b)
	return fmt.Sprintf("%x", h.Sum64())[:10]
}

// CanaryOptions says how the canary copy is built.
type CanaryOptions struct {
	// Revision is the template revision under release.
	Revision string
	Replicas int32
	// ServiceSelector is the user's Service selector. Unless SelectedByService,
	// its keys are removed from the canary pods' labels so the user's Service
	// does not send them traffic.
	ServiceSelector   map[string]string
	SelectedByService bool
}

// OwnerRef is the owner reference generated objects carry: the user's Deployment.
func OwnerRef(d *appsv1.Deployment) metav1.OwnerReference {
	return *metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))
}

// Canary builds the canary Deployment: the user's current pod template with canary
// labels, scaled to opts.Replicas, owned by the user's Deployment.
func Canary(d *appsv1.Deployment, opts CanaryOptions) *appsv1.Deployment {
	name := contract.CanaryName(d.Name)
	tmpl := *d.Spec.Template.DeepCopy()
	labels := map[string]string{}
	for k, v := range tmpl.Labels {
		if _, selected := opts.ServiceSelector[k]; selected && !opts.SelectedByService {
			continue
		}
		labels[k] = v
	}
	labels[contract.CanaryOfLabel] = d.Name
	tmpl.Labels = labels
	replicas := opts.Replicas
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       d.Namespace,
			Labels:          map[string]string{contract.ManagedByLabel: contract.ManagedByValue, contract.CanaryOfLabel: d.Name},
			Annotations:     map[string]string{contract.RevisionAnnotation: opts.Revision},
			OwnerReferences: []metav1.OwnerReference{OwnerRef(d)},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas:                &replicas,
			Selector:                &metav1.LabelSelector{MatchLabels: map[string]string{contract.CanaryOfLabel: d.Name}},
			Template:                tmpl,
			Strategy:                d.Spec.Strategy,
			MinReadySeconds:         d.Spec.MinReadySeconds,
			ProgressDeadlineSeconds: d.Spec.ProgressDeadlineSeconds,
		},
	}
}

// CanaryService builds the Service selecting the canary pods, with the user's
// Service's ports.
func CanaryService(d *appsv1.Deployment, user *corev1.Service) *corev1.Service {
	var ports []corev1.ServicePort
	for _, p := range user.Spec.Ports {
		ports = append(ports, corev1.ServicePort{Name: p.Name, Protocol: p.Protocol, Port: p.Port, TargetPort: p.TargetPort})
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:            contract.CanaryName(d.Name),
			Namespace:       d.Namespace,
			Labels:          map[string]string{contract.ManagedByLabel: contract.ManagedByValue, contract.CanaryOfLabel: d.Name},
			OwnerReferences: []metav1.OwnerReference{OwnerRef(d)},
		},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{contract.CanaryOfLabel: d.Name},
			Ports:    ports,
			Type:     corev1.ServiceTypeClusterIP,
		},
	}
}

// ServiceChanges names the fields of a canary Service that differ from want: the
// selector, or the ports' names, protocols, numbers and target ports (what
// CanaryService sets; the API server's defaults elsewhere are not drift).
func ServiceChanges(have, want *corev1.Service) []string {
	var out []string
	if !maps.Equal(have.Spec.Selector, want.Spec.Selector) {
		out = append(out, "spec.selector")
	}
	same := len(have.Spec.Ports) == len(want.Spec.Ports)
	for i := 0; same && i < len(want.Spec.Ports); i++ {
		h, w := have.Spec.Ports[i], want.Spec.Ports[i]
		same = h.Name == w.Name && h.Protocol == w.Protocol && h.Port == w.Port && h.TargetPort == w.TargetPort
	}
	if !same {
		out = append(out, "spec.ports")
	}
	return out
}

// CanaryReady counts the canary's ready pods running its current template: zero
// while the Deployment controller has not observed the latest spec or old pods
// remain.
func CanaryReady(c *appsv1.Deployment) int32 {
	st := c.Status
	if st.ObservedGeneration < c.Generation || st.UpdatedReplicas < st.Replicas {
		return 0
	}
	if st.ReadyReplicas < st.UpdatedReplicas {
		return st.ReadyReplicas
	}
	return st.UpdatedReplicas
}

// RolledOut reports whether the Deployment controller has finished rolling out the
// Deployment's current template: every desired replica updated and available, and
// no old pods left.
func RolledOut(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	return st.ObservedGeneration >= d.Generation && st.UpdatedReplicas == want &&
		st.AvailableReplicas >= want && st.Replicas == want
}

// ReadyReplicas counts the Deployment's Ready pods, or 0 while its controller has
// not observed the latest spec (a resize is not reflected yet).
func ReadyReplicas(d *appsv1.Deployment) int32 {
	if d.Status.ObservedGeneration < d.Generation {
		return 0
	}
	return d.Status.ReadyReplicas
}

// Replicas is the Deployment's spec.replicas (1 when unset, as the API defaults it).
func Replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// AnnotationPatch is the JSON merge patch that sets annotation key to value,
// guarded by resourceVersion when it is known (the write then fails with a
// conflict if the object changed since it was read).
func AnnotationPatch(resourceVersion, key, value string) ([]byte, error) {
	meta := map[string]any{"annotations": map[string]string{key: value}}
	if resourceVersion != "" {
		meta["resourceVersion"] = resourceVersion
	}
	return json.Marshal(map[string]any{"metadata": meta})
}
