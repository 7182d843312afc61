package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// App is an application of the simulator (e2e/sim) as its user deploys it: a
// Deployment whose pods carry app=<Name>, a Service on port 80 the simulator
// sends RPS requests a second to, and, when Ingress is set, an Ingress for host
// <Name>.example.com. The e2e scenarios and the benchmark programs
// (e2e/bench/harness.Apps, e2e/bench/eval) make their apps with it.
type App struct {
	Name     string
	Replicas int32
	// Container and Image name the pod's one container; Port, when set, is the
	// port it declares.
	Container, Image string
	Port             int32
	// Annotations are the Deployment's (e.g. rolloutd.io/enabled);
	// PodAnnotations its pod template's (the simulator's behaviour, e.g.
	// sim.rolloutd.io/error-rate).
	Annotations, PodAnnotations map[string]string
	RPS                         int
	// Ingress makes an Ingress too, of IngressClass when that is set.
	Ingress      bool
	IngressClass string
	// Place, when set, constrains where the pods run.
	Place func(*corev1.PodSpec)
}

// Labels select the app's pods.
func (a App) Labels() map[string]string { return map[string]string{"app": a.Name} }

// Deployment is the app's Deployment in ns, not yet created.
func (a App) Deployment(ns string) *appsv1.Deployment {
	replicas := a.Replicas
	c := corev1.Container{Name: a.Container, Image: a.Image}
	if a.Port != 0 {
		c.Ports = []corev1.ContainerPort{{ContainerPort: a.Port}}
	}
	pod := corev1.PodSpec{Containers: []corev1.Container{c}}
	if a.Place != nil {
		a.Place(&pod)
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: a.Name, Namespace: ns, Annotations: a.Annotations},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: a.Labels()},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: a.Labels(), Annotations: a.PodAnnotations},
				Spec:       pod,
			},
		},
	}
}

// Service is the app's Service in ns, selecting its pods.
func (a App) Service(ns string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: a.Name, Namespace: ns,
			Annotations: map[string]string{"sim.rolloutd.io/rps": strconv.Itoa(a.RPS)}},
		Spec: corev1.ServiceSpec{Selector: a.Labels(),
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
}

// IngressObject is the app's Ingress in ns: every path of its host to its
// Service.
func (a App) IngressObject(ns string) *networkingv1.Ingress { return a.ingress(ns, a.Name) }

// ingress is an Ingress named after the app in ns sending every path of host
// <host>.example.com to the app's Service.
func (a App) ingress(ns, host string) *networkingv1.Ingress {
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: a.Name, Namespace: ns},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
			Host: host + ".example.com",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: a.Name, Port: networkingv1.ServiceBackendPort{Number: 80}},
				}}}}}}}},
	}
	if a.IngressClass != "" {
		class := a.IngressClass
		ing.Spec.IngressClassName = &class
	}
	return ing
}

// Create makes the app's Deployment (changed by edits first), its Service and,
// if Ingress is set, its Ingress in ns.
func (a App) Create(ctx context.Context, kube kubernetes.Interface, ns string, edits ...func(*appsv1.Deployment)) error {
	d := a.Deployment(ns)
	for _, edit := range edits {
		edit(d)
	}
	var ing *networkingv1.Ingress
	if a.Ingress {
		ing = a.IngressObject(ns)
	}
	return create(ctx, kube, d, a.Service(ns), ing)
}

// CreateIngress makes the app's Ingress in ns.
func (a App) CreateIngress(ctx context.Context, kube kubernetes.Interface, ns string) error {
	return create(ctx, kube, nil, nil, a.IngressObject(ns))
}

// CreateCanary makes in ns the canary copy rolloutd would make of the app for
// router nginx at weight percent, without rolloutd: Deployment <name>-canary
// of one pod, its Service labelled as rolloutd's (so the simulator reaches it
// only through the canary Ingress, as in a real rollout) and a canary Ingress
// for the app's host. It gives a program canary series with no daemon running
// (e2e/bench/eval).
func (a App) CreateCanary(ctx context.Context, kube kubernetes.Interface, ns string, weight int) error {
	c := a
	c.Name, c.Replicas = contract.CanaryName(a.Name), 1
	svc := c.Service(ns)
	svc.Annotations = nil
	svc.Labels = map[string]string{contract.ManagedByLabel: contract.ManagedByValue}
	ing := c.ingress(ns, a.Name)
	ing.Annotations = map[string]string{"nginx.ingress.kubernetes.io/canary": "true",
		CanaryWeightAnnotation: strconv.Itoa(weight)}
	return create(ctx, kube, c.Deployment(ns), svc, ing)
}

// create makes each object that is not nil, in the order given.
func create(ctx context.Context, kube kubernetes.Interface, d *appsv1.Deployment, svc *corev1.Service, ing *networkingv1.Ingress) error {
	if d != nil {
		if _, err := kube.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create deployment %s: %w", d.Name, err)
		}
	}
	if svc != nil {
		if _, err := kube.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create service %s: %w", svc.Name, err)
		}
	}
	if ing != nil {
		if _, err := kube.NetworkingV1().Ingresses(ing.Namespace).Create(ctx, ing, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create ingress %s: %w", ing.Name, err)
		}
	}
	return nil
}

// ReleasePatch is the strategic merge patch of a release: a new image for
// container and the pod template annotations podAnnotations (a map; a nil
// value in it removes that annotation).
func ReleasePatch(container, image string, podAnnotations any) ([]byte, error) {
	return json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{
		"metadata": map[string]any{"annotations": podAnnotations},
		"spec":     map[string]any{"containers": []map[string]any{{"name": container, "image": image}}},
	}}})
}
