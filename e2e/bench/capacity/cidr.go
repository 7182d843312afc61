package capacity

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// The pod CIDRs handed out are recorded in a ConfigMap and never handed out
// again while the cluster lives. kwok keeps an IP pool per CIDR for as long as
// it runs, and an IP goes back to its pool only if kwok still knows the pod's
// node when the pod is deleted: the pods of a pool removed with its node are
// never given back, and a later pool on the same CIDR then gets IPs past its
// /24 (10.200.1.145 for a node of 10.200.0.0/24), which collide with another
// pool's pods.
const (
	recordNamespace = "kube-system"
	recordName      = "rolloutd-bench-pod-cidrs"
	recordKey       = "handed-out"
)

// freeCIDRs reserves n pod CIDRs that no node uses and none was handed out
// before, so kwok hands every pod a distinct IP within its node's CIDR (the
// simulator and Prometheus tell pods apart by it).
func freeCIDRs(ctx context.Context, kube kubernetes.Interface, n int) ([]string, error) {
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("capacity: list nodes: %w", err)
	}
	var inUse []string
	for _, node := range nodes.Items {
		inUse = append(inUse, node.Spec.PodCIDR)
		inUse = append(inUse, node.Spec.PodCIDRs...)
	}
	var out []string
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := record(ctx, kube)
		if err != nil {
			return err
		}
		handed := splitList(cm.Data[recordKey])
		if out, err = pickCIDRs(slices.Concat(handed, inUse), n); err != nil {
			return err
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[recordKey] = strings.Join(slices.Concat(handed, out), ",")
		_, err = kube.CoreV1().ConfigMaps(recordNamespace).Update(ctx, cm, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("capacity: reserve %d pod CIDRs in %s/%s: %w", n, recordNamespace, recordName, err)
	}
	return out, nil
}

// record reads the ConfigMap of the CIDRs handed out, creating it if missing.
func record(ctx context.Context, kube kubernetes.Interface) (*corev1.ConfigMap, error) {
	cms := kube.CoreV1().ConfigMaps(recordNamespace)
	cm, err := cms.Get(ctx, recordName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		cm, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: recordName}}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			cm, err = cms.Get(ctx, recordName, metav1.GetOptions{})
		}
	}
	return cm, err
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
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
		return nil, fmt.Errorf("capacity: only %d pod CIDRs of 10.200.0.0/16 were never handed out, want %d "+
			"(a new sandbox starts afresh: make sandbox-down && make sandbox)", len(out), n)
	}
	return out, nil
}
