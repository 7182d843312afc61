package capacity

import (
	"context"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// freeCIDRs returns n pod CIDRs no node uses yet, so kwok hands every pod a
// distinct IP (the simulator and Prometheus tell pods apart by it).
func freeCIDRs(ctx context.Context, kube kubernetes.Interface, n int) ([]string, error) {
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("capacity: list nodes: %w", err)
	}
	var used []string
	for _, node := range nodes.Items {
		used = append(used, node.Spec.PodCIDR)
		used = append(used, node.Spec.PodCIDRs...)
	}
	return pickCIDRs(used, n)
}

// pickCIDRs picks n /24s of 10.200.0.0/16 (clear of the sandbox's nodes at
// 10.0.x.0/24 and its Services at 10.96.0.0/16) that are not in used.
func pickCIDRs(used []string, n int) ([]string, error) {
	var out []string
	for i := 0; i < 256 && len(out) < n; i++ {
		c := fmt.Sprintf("10.200.%d.0/24", i)
		if !slices.Contains(used, c) {
			out = append(out, c)
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("capacity: only %d free pod CIDRs in 10.200.0.0/16, want %d", len(out), n)
	}
	return out, nil
}
