package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

const appName = "web"

// resetNamespace deletes a namespace left by an earlier demo and creates it anew.
func resetNamespace(ctx context.Context, kube kubernetes.Interface, ns string) error {
	if err := framework.DeleteNamespace(ctx, kube, ns); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		return fmt.Errorf("wait for namespace %s to go: %w", ns, err)
	}
	if err := framework.CreateNamespace(ctx, kube, ns, nil); err != nil {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
}

type daemon struct{ r *framework.Rolloutd }

// startDaemon runs bin/rolloutd (built by `make build`) against the sandbox with
// the given kubeconfig (the chart's ServiceAccount), electing itself leader on the
// chart's Lease as an in-cluster replica would.
func startDaemon(o options, kubeconfig string) (*daemon, error) {
	bin := filepath.Join(o.root, "bin", "rolloutd")
	logPath := filepath.Join(o.root, ".sandbox", "logs", "rolloutd-demo.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	// Each demo starts its log afresh.
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		return nil, err
	}
	vars := framework.RolloutdVars(o.addr, o.promURL, []string{o.namespace})
	vars["ROLLOUTD_LEADER_ELECT"] = "true"
	vars["ROLLOUTD_LEASE_NAMESPACE"] = chartNamespace
	r := &framework.Rolloutd{Addr: o.addr, Log: logPath, Bin: bin,
		Args: []string{"--kubeconfig", kubeconfig}, Env: framework.RolloutdEnv(vars, true)}
	if err := r.Start(context.Background(), "demo"); err != nil {
		return nil, fmt.Errorf("start %s (run `make build`): %w", bin, err)
	}
	return &daemon{r: r}, nil
}

func (d *daemon) stop() {
	if !d.r.Signal(syscall.SIGINT, 10*time.Second) {
		d.r.Signal(syscall.SIGKILL, 10*time.Second)
	}
}

// createApp creates the demo Deployment (opted in, router nginx or gateway), its
// Service and Ingress (or Gateway and HTTPRoute), and waits until rolloutd has
// taken it over.
func createApp(ctx context.Context, kube kubernetes.Interface, o options) error {
	app := demoApp(o)
	if err := app.Create(ctx, kube, o.namespace); err != nil {
		return err
	}
	replicas := app.Replicas
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
	return demoApp(o).CreateIngress(ctx, kube, o.namespace)
}

// demoApp is the demo's opted-in app: 4 replicas, 200 requests a second, an
// Ingress of class nginx when the router is nginx.
func demoApp(o options) framework.App {
	return framework.App{Name: appName, Replicas: 4, Container: "web", Image: "example.com/web:v1", RPS: 200, IngressClass: "nginx",
		Annotations: map[string]string{
			"rolloutd.io/enabled": "true", "rolloutd.io/router": o.router,
			"rolloutd.io/steps": "10,20,30,40,50", "rolloutd.io/interval": o.interval,
		}}
}
