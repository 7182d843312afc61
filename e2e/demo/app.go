package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

const appName = "web"

// resetNamespace deletes a namespace left by an earlier demo and creates it anew.
func resetNamespace(ctx context.Context, kube kubernetes.Interface, ns string) error {
	err := kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete namespace %s: %w", ns, err)
	}
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		return fmt.Errorf("wait for namespace %s to go: %w", ns, err)
	}
	_, err = kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	return wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
}

type daemon struct{ cmd *exec.Cmd }

// startDaemon runs bin/rolloutd (built by `make build`) against the sandbox with
// the given kubeconfig (the chart's ServiceAccount), electing itself leader on the
// chart's Lease as an in-cluster replica would.
func startDaemon(o options, kubeconfig string) (*daemon, error) {
	bin := filepath.Join(o.root, "bin", "rolloutd")
	logPath := filepath.Join(o.root, ".sandbox", "logs", "rolloutd-demo.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--kubeconfig", kubeconfig)
	cmd.Env = append(os.Environ(),
		"ROLLOUTD_NAMESPACES="+o.namespace,
		"ROLLOUTD_HTTP_ADDR="+o.addr,
		"ROLLOUTD_PROMETHEUS_URL="+o.promURL,
		"ROLLOUTD_LEADER_ELECT=true",
		"ROLLOUTD_LEASE_NAMESPACE="+chartNamespace,
		"ROLLOUTD_LOG_FORMAT=console",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (run `make build`): %w", bin, err)
	}
	return &daemon{cmd: cmd}, nil
}

func (d *daemon) stop() {
	_ = d.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
	}
}

// createApp creates the demo Deployment (opted in, router nginx or gateway), its
// Service and Ingress (or Gateway and HTTPRoute), and waits until rolloutd has
// taken it over.
func createApp(ctx context.Context, kube kubernetes.Interface, o options) error {
	replicas := int32(4)
	labels := map[string]string{"app": appName}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: appName, Annotations: map[string]string{
			"rolloutd.io/enabled": "true", "rolloutd.io/router": o.router,
			"rolloutd.io/steps": "10,20,30,40,50", "rolloutd.io/interval": o.interval,
		}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example.com/web:v1"}}},
			},
		},
	}
	if _, err := kube.AppsV1().Deployments(o.namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create deployment: %w", err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: appName, Annotations: map[string]string{"sim.rolloutd.io/rps": "200"}},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	if _, err := kube.CoreV1().Services(o.namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create service: %w", err)
	}
	if err := createEntry(ctx, kube, o); err != nil {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := kube.AppsV1().Deployments(o.namespace).Get(ctx, appName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		st, _ := contract.Read(d.Annotations)
		return d.Status.ReadyReplicas == replicas && st.Phase == contract.Idle, nil
	})
}

type result struct {
	image   string
	phase   contract.Phase
	message string
	took    time.Duration
	err     error
}

// watchRelease changes the template and prints every change of the rollout status
// until the release ends.
func watchRelease(ctx context.Context, kube kubernetes.Interface, o options, image string, podAnn map[string]string) result {
	start := time.Now()
	res := result{image: image}
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{
		"metadata": map[string]any{"annotations": podAnn},
		"spec":     map[string]any{"containers": []map[string]any{{"name": "web", "image": image}}},
	}}})
	if _, err := kube.AppsV1().Deployments(o.namespace).Patch(ctx, appName, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		res.err = err
		return res
	}
	last := ""
	started := false
	res.err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, o.timeout, true, func(ctx context.Context) (bool, error) {
		d, err := kube.AppsV1().Deployments(o.namespace).Get(ctx, appName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		st, _ := contract.Read(d.Annotations)
		line := progressLine(st)
		if line != last {
			fmt.Printf("    %6.1fs  %s\n", time.Since(start).Seconds(), line)
			last = line
		}
		started = started || st.Phase.Active()
		res.phase, res.message = st.Phase, st.Message
		return started && !st.Phase.Active(), nil
	})
	res.took = time.Since(start)
	return res
}

func progressLine(st contract.Status) string {
	bar := strings.Repeat("#", st.Weight/5) + strings.Repeat(".", 20-st.Weight/5)
	var checks []string
	for _, c := range st.Checks {
		checks = append(checks, fmt.Sprintf("%s=%s", c.Name, c.Verdict))
	}
	return fmt.Sprintf("%-12s [%s] %3d%%  step %d/%d  %s  %s", st.Phase, bar, st.Weight, st.Step, st.Steps,
		strings.Join(checks, ","), st.Message)
}

func summary(results []result) error {
	fmt.Println("\nSummary")
	want := []contract.Phase{contract.Succeeded, contract.RolledBack}
	var failed bool
	for i, r := range results {
		ok := r.err == nil && r.phase == want[i]
		mark := "ok"
		if !ok {
			mark, failed = "UNEXPECTED", true
		}
		fmt.Printf("  %-22s %-11s in %5.1fs  %s  (%s)\n", r.image, r.phase, r.took.Seconds(), mark, r.message)
		if r.err != nil {
			fmt.Printf("    error: %v\n", r.err)
		}
	}
	if failed {
		return fmt.Errorf("a release did not end as expected; see .sandbox/logs/rolloutd-demo.log")
	}
	fmt.Println("\nThe demo app stays in namespace rolloutd-demo; `make sandbox-down` stops everything.")
	return nil
}

// createEntry creates the way in: an Ingress of class nginx, or Gateway edge of
// class sim with the user's HTTPRoute.
func createEntry(ctx context.Context, kube kubernetes.Interface, o options) error {
	if o.router == "gateway" {
		return createGatewayRoute(ctx, o)
	}
	class, prefix := "nginx", networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: appName},
		Spec: networkingv1.IngressSpec{IngressClassName: &class, Rules: []networkingv1.IngressRule{{
			Host: "web.example.com",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: appName, Port: networkingv1.ServiceBackendPort{Number: 80}},
				}}}}}}}},
	}
	if _, err := kube.NetworkingV1().Ingresses(o.namespace).Create(ctx, ing, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create ingress: %w", err)
	}
	return nil
}
