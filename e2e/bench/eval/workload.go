package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// workload is the namespace whose series every synthetic gate reads: "web"
// (3 pods) and "web-canary" (1 pod) behind an Ingress and a 20% canary Ingress.
type workload struct{ ns string }

func deploy(ctx context.Context, kube kubernetes.Interface) (*workload, error) {
	w := &workload{ns: fmt.Sprintf("evalbench-%06d", rand.IntN(1_000_000))}
	if err := framework.CreateNamespace(ctx, kube, w.ns, nil); err != nil {
		return w, err
	}
	return w, createApp(ctx, kube, w.ns, app("web", 3, 200, nil))
}

// app is a stable Deployment of replicas pods whose Service gets rps requests
// a second, behind an Ingress; place, when set, says where its pods run.
func app(name string, replicas int32, rps int, place func(*corev1.PodSpec)) framework.App {
	return framework.App{Name: name, Replicas: replicas, Container: "web", Image: "example.com/web:v1",
		RPS: rps, Ingress: true, IngressClass: "nginx", Place: place}
}

// createApp makes the app and its canary of one pod, the canary's Ingress at
// 20%.
func createApp(ctx context.Context, kube kubernetes.Interface, ns string, a framework.App) error {
	if err := a.Create(ctx, kube, ns); err != nil {
		return err
	}
	return a.CreateCanary(ctx, kube, ns, 20)
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
	err := framework.DeleteNamespace(ctx, kube, w.ns)
	fmt.Fprintf(os.Stderr, "evalbench: deleted namespace %s (%v)\n", w.ns, err)
}
