//go:build e2e

package capacity

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/e2e/framework"
)

// Given a pool of one added node, pods placed on it run there with an IP of the
// node's pod CIDR, a pod that only selects the node without tolerating its taint
// stays Pending, and removing the pool deletes the node.
func TestCapacityNodesRunOnlyThePodsPlacedOnThem(t *testing.T) {
	env := framework.Get(t)
	ns := env.Namespace(t)
	ctx := t.Context()
	pool, err := Add(ctx, env.Kube, 3)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pool.Remove(context.Background()) })
	require.Len(t, pool.Nodes, 1)
	node, err := env.Kube.CoreV1().Nodes().Get(ctx, pool.Nodes[0], metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int64(PodsPerNode), node.Status.Allocatable.Pods().Value(), "kwok kept the capacity")
	_, cidr, err := net.ParseCIDR(node.Spec.PodCIDR)
	require.NoError(t, err)

	for i := range 3 {
		createPod(t, env, ns, fmt.Sprintf("placed-%d", i), pool.Place)
	}
	createPod(t, env, ns, "intruder", func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{Key: pool.ID} })
	framework.Eventually(t, time.Minute, "placed pods Running on the pool's node", func() (bool, error) {
		for i := range 3 {
			p, err := env.Kube.CoreV1().Pods(ns).Get(ctx, fmt.Sprintf("placed-%d", i), metav1.GetOptions{})
			if err != nil || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
				return false, fmt.Errorf("placed-%d not Running with an IP yet", i)
			}
			if p.Spec.NodeName != node.Name || !cidr.Contains(net.ParseIP(p.Status.PodIP)) {
				return false, fmt.Errorf("placed-%d on %s with IP %s", i, p.Spec.NodeName, p.Status.PodIP)
			}
		}
		return true, nil
	})
	framework.Eventually(t, time.Minute, "the taint keeps a pod without the toleration off", func() (bool, error) {
		p, err := env.Kube.CoreV1().Pods(ns).Get(ctx, "intruder", metav1.GetOptions{})
		if err != nil || p.Spec.NodeName != "" {
			return false, fmt.Errorf("intruder on %q: %v", p.Spec.NodeName, err)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				return true, nil
			}
		}
		return false, fmt.Errorf("intruder not found unschedulable yet")
	})

	require.NoError(t, pool.Remove(ctx))
	_, err = env.Kube.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "node deleted: %v", err)
}

func createPod(t *testing.T, env *framework.Env, ns, name string, place func(*corev1.PodSpec)) {
	t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.com/app:v1"}}}}
	place(&p.Spec)
	_, err := env.Kube.CoreV1().Pods(ns).Create(t.Context(), p, metav1.CreateOptions{})
	require.NoError(t, err)
}

// A pool added after another was removed gets another pod CIDR: kwok's IP pool
// for the first may hold IPs of pods deleted with their node, and would hand the
// new pool's pods IPs past its /24.
func TestCapacityNeverReusesAPodCIDR(t *testing.T) {
	env := framework.Get(t)
	ctx := t.Context()
	cidrOf := func(p *Pool) string {
		n, err := env.Kube.CoreV1().Nodes().Get(ctx, p.Nodes[0], metav1.GetOptions{})
		require.NoError(t, err)
		return n.Spec.PodCIDR
	}
	first, err := Add(ctx, env.Kube, 1)
	require.NoError(t, err)
	t.Cleanup(func() { _ = first.Remove(context.Background()) })
	was := cidrOf(first)
	require.NoError(t, first.Remove(ctx))
	framework.Eventually(t, time.Minute, "the first pool's node gone", func() (bool, error) {
		if _, err := env.Kube.CoreV1().Nodes().Get(ctx, first.Nodes[0], metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return false, fmt.Errorf("node %s still there (%v)", first.Nodes[0], err)
		}
		return true, nil
	})

	second, err := Add(ctx, env.Kube, 1)
	require.NoError(t, err)
	t.Cleanup(func() { _ = second.Remove(context.Background()) })
	assert.NotEqual(t, was, cidrOf(second))
}
