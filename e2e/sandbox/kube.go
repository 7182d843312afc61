package sandbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// kubeClient builds a client from the sandbox's admin kubeconfig.
func kubeClient(l Layout) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", l.Kubeconfig())
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", l.Kubeconfig(), err)
	}
	cfg.Timeout = 5 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return cs, nil
}

// apiserverReady asks the API server's /readyz.
func apiserverReady(ctx context.Context, cs kubernetes.Interface) error {
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("kube-apiserver /readyz: %w", err)
	}
	if string(body) != "ok" {
		return fmt.Errorf("kube-apiserver /readyz: %s", body)
	}
	return nil
}

// readyNodes counts the nodes whose Ready condition is True.
func readyNodes(ctx context.Context, cs kubernetes.Interface) (int, error) {
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, fmt.Errorf("list nodes: %w", err)
	}
	n := 0
	for _, node := range nodes.Items {
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				n++
			}
		}
	}
	return n, nil
}

// clusterHealthy reports nil when the API server is ready and enough nodes
// are Ready.
func clusterHealthy(ctx context.Context, l Layout) error {
	cs, err := kubeClient(l)
	if err != nil {
		return err
	}
	if err := apiserverReady(ctx, cs); err != nil {
		return err
	}
	n, err := readyNodes(ctx, cs)
	if err != nil {
		return err
	}
	if n < nodeCount {
		return fmt.Errorf("%d of %d nodes Ready", n, nodeCount)
	}
	return nil
}

// waitClusterReady waits until the API server is ready, the nodes are Ready
// and the default ServiceAccount exists (pods are rejected before that).
func waitClusterReady(ctx context.Context, l Layout, timeout time.Duration) error {
	cs, err := kubeClient(l)
	if err != nil {
		return err
	}
	return poll(ctx, timeout, "the cluster to become ready", func(ctx context.Context) error {
		if err := clusterHealthy(ctx, l); err != nil {
			return err
		}
		_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("default ServiceAccount: %w", err)
		}
		return nil
	})
}

// permanent marks an error that no amount of waiting will fix.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// poll calls check every 200 ms until it returns nil or timeout passes, then
// returns the last error. A permanent error ends the wait at once.
func poll(ctx context.Context, timeout time.Duration, what string, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		var p permanent
		if errors.As(err, &p) {
			return fmt.Errorf("waiting for %s: %w", what, p.error)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waited %s for %s: %w", timeout, what, err)
		case <-tick.C:
		}
	}
}
