// Package capacity lends a benchmark temporary kwok nodes, so that thousands of
// benchmark pods neither crowd the sandbox's shared nodes nor fail to schedule.
// The nodes are fake (annotated kwok.x-k8s.io/node=fake: the sandbox's kwok
// controller manages every node, sets it Ready and runs its pods), labelled and
// tainted with a per-call pool id, so only pods placed with Pool.Place land on
// them and those pods land nowhere else.
package capacity

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// PodsPerNode is the pod capacity of each node added.
const PodsPerNode = 250

// Key is the label and taint key of the nodes added; its value is the pool id.
const Key = "bench.rolloutd.io/pool"

// Pool is a set of temporary nodes.
type Pool struct {
	// ID is the value of the Key label and taint on the pool's nodes.
	ID string
	// Nodes are the names of the nodes added.
	Nodes []string
	kube  kubernetes.Interface
}

// Add creates enough nodes for pods pods and waits until kwok reports them Ready.
// On error the nodes created so far are deleted. Call Remove when done, also on
// interruption.
func Add(ctx context.Context, kube kubernetes.Interface, pods int) (*Pool, error) {
	if pods < 1 {
		return nil, fmt.Errorf("capacity: want a positive pod count, got %d", pods)
	}
	p := &Pool{ID: fmt.Sprintf("b%06d", rand.IntN(1e6)), kube: kube}
	cidrs, err := freeCIDRs(ctx, kube, (pods+PodsPerNode-1)/PodsPerNode)
	if err != nil {
		return nil, err
	}
	for i, cidr := range cidrs {
		name := fmt.Sprintf("bench-%s-%d", p.ID, i)
		if _, err := kube.CoreV1().Nodes().Create(ctx, p.node(name, cidr), metav1.CreateOptions{}); err != nil {
			return nil, errors.Join(fmt.Errorf("capacity: create node %s: %w", name, err), p.Remove(context.Background()))
		}
		p.Nodes = append(p.Nodes, name)
	}
	if err := p.waitReady(ctx); err != nil {
		return nil, errors.Join(err, p.Remove(context.Background()))
	}
	return p, nil
}

// Place makes a pod spec schedule on the pool's nodes only.
func (p *Pool) Place(spec *corev1.PodSpec) {
	if spec.NodeSelector == nil {
		spec.NodeSelector = map[string]string{}
	}
	spec.NodeSelector[Key] = p.ID
	spec.Tolerations = append(spec.Tolerations, corev1.Toleration{
		Key: Key, Operator: corev1.TolerationOpEqual, Value: p.ID, Effect: corev1.TaintEffectNoSchedule})
}

// Remove deletes the pool's nodes. Pods still bound to them are deleted by the
// controller manager's pod garbage collector; delete them first to free the
// API server from that work.
func (p *Pool) Remove(ctx context.Context) error {
	var errs []error
	for _, name := range p.Nodes {
		err := p.kube.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("capacity: delete node %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func (p *Pool) node(name, cidr string) *corev1.Node {
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("64"),
		corev1.ResourceMemory: resource.MustParse("512Gi"),
		corev1.ResourcePods:   *resource.NewQuantity(PodsPerNode, resource.DecimalSI),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
			Labels: map[string]string{Key: p.ID, "type": "kwok", "kubernetes.io/hostname": name,
				"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"},
		},
		Spec: corev1.NodeSpec{
			PodCIDR: cidr, PodCIDRs: []string{cidr},
			Taints: []corev1.Taint{{Key: Key, Value: p.ID, Effect: corev1.TaintEffectNoSchedule}},
		},
		// A Node's status is accepted on create: kwok keeps the capacity.
		Status: corev1.NodeStatus{Capacity: res, Allocatable: res},
	}
}

func (p *Pool) waitReady(ctx context.Context) error {
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, name := range p.Nodes {
			n, err := p.kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil || !ready(n) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("capacity: nodes %v not Ready (is kwok managing every node?): %w", p.Nodes, err)
	}
	return nil
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
