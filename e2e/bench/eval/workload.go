package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// workload is the namespace whose series every synthetic gate reads: "web"
// (3 pods) and "web-canary" (1 pod) behind an Ingress and a 20% canary Ingress.
type workload struct{ ns string }

func deploy(ctx context.Context, kube kubernetes.Interface) (*workload, error) {
	w := &workload{ns: fmt.Sprintf("evalbench-%06d", rand.IntN(1_000_000))}
	if err := createNamespace(ctx, kube, w.ns); err != nil {
		return w, err
	}
	return w, createApp(ctx, kube, app{ns: w.ns, name: "web", replicas: 3, rps: 200})
}

func createNamespace(ctx context.Context, kube kubernetes.Interface, ns string) error {
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	return nil
}

// app is one stable Deployment of replicas pods and its canary of one pod, each
// with its Service and Ingress, the canary's at 20%.
type app struct {
	ns, name string
	replicas int32
	rps      int
	place    func(*corev1.PodSpec) // where the pods run; nil: anywhere
}

func createApp(ctx context.Context, kube kubernetes.Interface, a app) error {
	if err := a.create(ctx, kube, a.name, a.replicas); err != nil {
		return err
	}
	return a.create(ctx, kube, contract.CanaryName(a.name), 1)
}

// create makes one Deployment with its Service and Ingress; the canary's Service
// carries rolloutd's managed-by label, so the simulator reaches it only through
// the canary Ingress, as in a real rollout.
func (a app) create(ctx context.Context, kube kubernetes.Interface, name string, replicas int32) error {
	labels := map[string]string{"app": name}
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example.com/web:v1"}}}
	if a.place != nil {
		a.place(&spec)
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: a.ns},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}},
	}
	if _, err := kube.AppsV1().Deployments(a.ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create deployment %s/%s: %w", a.ns, name, err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: a.ns},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: a.ns}}
	if name == a.name {
		svc.Annotations = map[string]string{"sim.rolloutd.io/rps": strconv.Itoa(a.rps)}
	} else {
		svc.Labels = map[string]string{"app.kubernetes.io/managed-by": "rolloutd"}
		ing.Annotations = map[string]string{"nginx.ingress.kubernetes.io/canary": "true",
			"nginx.ingress.kubernetes.io/canary-weight": "20"}
	}
	prefix := networkingv1.PathTypePrefix
	ing.Spec = networkingv1.IngressSpec{IngressClassName: ptr.To("nginx"), Rules: []networkingv1.IngressRule{{
		Host: a.name + ".example.com",
		IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: name, Port: networkingv1.ServiceBackendPort{Number: 80}},
			}}}}}}}}
	if _, err := kube.CoreV1().Services(a.ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create service %s/%s: %w", a.ns, name, err)
	}
	if _, err := kube.NetworkingV1().Ingresses(a.ns).Create(ctx, ing, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create ingress %s/%s: %w", a.ns, name, err)
	}
	return nil
}

func (w *workload) target(window time.Duration) analysis.Target {
	return analysis.Target{Namespace: w.ns, Deployment: "web", Canary: "web-canary", Service: "web", Ingress: "web",
		Source: contract.SourceNginx, Window: window}
}

// waitForSeries waits until Prometheus has a full window of canary traffic and
// canary CPU, so that the gates read real data.
func (w *workload) waitForSeries(ctx context.Context, prom promv1.API, window time.Duration) error {
	deadline := time.Now().Add(3*time.Minute + window)
	var first time.Time
	q := fmt.Sprintf(`sum(increase(nginx_ingress_controller_requests{namespace=%q,canary!=""}[10s])) > 0 and on() count(container_cpu_usage_seconds_total{namespace=%q,pod=~"web-canary-.*"}) > 0`, w.ns, w.ns)
	for time.Now().Before(deadline) {
		v, _, err := prom.Query(ctx, q, time.Now())
		if vec, ok := v.(model.Vector); err == nil && ok && len(vec) > 0 {
			if first.IsZero() {
				first = time.Now()
				fmt.Fprintf(os.Stderr, "evalbench: series in %s; waiting one window (%s)\n", w.ns, window)
			}
			if time.Since(first) > window+2*time.Second {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("no canary series in namespace %s after 3 minutes: is the sandbox (simulator, kwok) up?", w.ns)
}

// cleanup deletes the namespace, even after an interrupt.
func (w *workload) cleanup(kube kubernetes.Interface) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := kube.CoreV1().Namespaces().Delete(ctx, w.ns, metav1.DeleteOptions{})
	fmt.Fprintf(os.Stderr, "evalbench: deleted namespace %s (%v)\n", w.ns, err)
}
