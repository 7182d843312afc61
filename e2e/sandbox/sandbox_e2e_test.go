//go:build e2e

// These scenarios prove the sandbox itself works (issue "Sandbox" done-when):
// they run against the sandbox started by `make sandbox`.
package sandbox_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/rolloutd/rolloutd/e2e/framework"
)

// Given the sandbox, the cluster has at least three Ready kwok nodes.
func TestSandboxHasThreeReadyNodes(t *testing.T) {
	t.Parallel()
	env := framework.Get(t)
	framework.Eventually(t, 30*time.Second, "3 Ready nodes", func() (bool, error) {
		nodes, err := env.Kube.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		ready := 0
		for _, n := range nodes.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return ready >= 3, fmt.Errorf("%d of %d nodes Ready", ready, len(nodes.Items))
	})
}

// Given a 3-replica Deployment, when it is created, then all 3 pods become
// Ready on the fake nodes.
func TestSandboxDeploymentBecomesReady(t *testing.T) {
	t.Parallel()
	env := framework.Get(t)
	ns := env.Namespace(t)
	createDeployment(t, env, ns, "web", 3, nil)
	waitReady(t, env, ns, "web", 3)
}

// Given a Deployment behind a Service (50 rps) and an Ingress, the simulator
// sends that traffic through ingress-nginx's metric; when the pod template
// gets a 20 % error rate, the 5xx share follows within 30 s.
func TestSandboxSimulatedTrafficAndErrorRate(t *testing.T) {
	t.Parallel()
	env := framework.Get(t)
	if env.SimulatorURL == "" {
		t.Fatal("the data-plane simulator is not running: `make sandbox` prints why (does ./e2e/sim/cmd/rolloutd-sim build?)")
	}
	ns := env.Namespace(t)
	const rps = 50
	createDeployment(t, env, ns, "shop", 3, nil)
	createServiceAndIngress(t, env, ns, "shop", rps)
	waitReady(t, env, ns, "shop", 3)

	total := fmt.Sprintf(`sum(rate(nginx_ingress_controller_requests{namespace=%q}[30s]))`, ns)
	framework.Eventually(t, 60*time.Second, fmt.Sprintf("%s within 20%% of %d", total, rps), func() (bool, error) {
		v, err := env.PromValue(t.Context(), total)
		if err != nil {
			return false, err
		}
		return math.Abs(v-rps) <= 0.2*rps, fmt.Errorf("%.1f rps", v)
	})

	setTemplateAnnotation(t, env, ns, "shop", "sim.rolloutd.io/error-rate", "0.2")
	changed := time.Now()
	// A 10 s window holds about 500 requests: the binomial noise of the share
	// is about 2 points, so 14-26 % leaves room for it and the simulator's own.
	share := fmt.Sprintf(`sum(rate(nginx_ingress_controller_requests{namespace=%q,status=~"5.."}[10s]))
		/ sum(rate(nginx_ingress_controller_requests{namespace=%q}[10s]))`, ns, ns)
	framework.Eventually(t, 30*time.Second, "a 5xx share of about 20%", func() (bool, error) {
		v, err := env.PromValue(t.Context(), share)
		if err != nil {
			return false, err
		}
		return v >= 0.14 && v <= 0.26, fmt.Errorf("5xx share %.3f", v)
	})
	t.Logf("5xx share reached about 20%% %.1fs after the template change", time.Since(changed).Seconds())
}

func labels(name string) map[string]string { return map[string]string{"app": name} }

func createDeployment(t *testing.T, env *framework.Env, ns, name string, replicas int32, annotations map[string]string) {
	t.Helper()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels(name)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels(name), Annotations: annotations},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.example/" + name + ":1",
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
		},
	}
	if _, err := env.Kube.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment %s/%s: %v", ns, name, err)
	}
}

func createServiceAndIngress(t *testing.T, env *framework.Env, ns, name string, rps int) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
			Annotations: map[string]string{"sim.rolloutd.io/rps": fmt.Sprint(rps)}},
		Spec: corev1.ServiceSpec{
			Selector: labels(name),
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if _, err := env.Kube.CoreV1().Services(ns).Create(t.Context(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create service %s/%s: %v", ns, name, err)
	}
	pathType := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("nginx"),
			Rules: []networkingv1.IngressRule{{
				Host: name + ".example",
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path: "/", PathType: &pathType,
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: name, Port: networkingv1.ServiceBackendPort{Number: 80},
						}},
					}},
				}},
			}},
		},
	}
	if _, err := env.Kube.NetworkingV1().Ingresses(ns).Create(t.Context(), ing, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ingress %s/%s: %v", ns, name, err)
	}
}

func waitReady(t *testing.T, env *framework.Env, ns, name string, replicas int32) {
	t.Helper()
	framework.Eventually(t, 60*time.Second, fmt.Sprintf("deployment %s %d/%d Ready", name, replicas, replicas), func() (bool, error) {
		d, err := env.Kube.AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		s := d.Status
		done := s.ObservedGeneration == d.Generation && s.UpdatedReplicas == replicas &&
			s.ReadyReplicas == replicas && s.Replicas == replicas
		return done, fmt.Errorf("%d ready, %d updated, %d total", s.ReadyReplicas, s.UpdatedReplicas, s.Replicas)
	})
}

func setTemplateAnnotation(t *testing.T, env *framework.Env, ns, name, key, value string) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, key, value)
	_, err := env.Kube.AppsV1().Deployments(ns).Patch(context.Background(), name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("annotate the pod template of %s/%s: %v", ns, name, err)
	}
}
