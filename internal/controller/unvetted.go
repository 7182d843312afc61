package controller

import (
	"context"
	"fmt"
	"slices"

	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy"
)

// revertStable carries out a strategy.Revert: the Deployment is paused again
// (with the status, first: its controller stops rolling the unvetted template
// out), then its pods return to the newest kept ReplicaSet of a vetted revision.
// A paused Deployment's controller keeps one active ReplicaSet at spec.replicas,
// so once the vetted one is the only one with replicas it stays so. Canary and
// traffic are left as they are.
func (r *rollout) revertStable(ctx context.Context, d strategy.Decision) error {
	if err := r.write(ctx, d.Status, true, false); err != nil {
		return err
	}
	sets, err := r.c.Informers.ReplicaSetsOf(r.d)
	if err != nil {
		return fmt.Errorf("list replicasets: %w", err)
	}
	var target *appsv1.ReplicaSet
	for _, rev := range d.Revert.To {
		if target = replicaSetOf(r.d, sets, rev); target != nil {
			break
		}
	}
	if target == nil {
		r.log.Warn("no ReplicaSet of a vetted revision kept; the unvetted one stays paused", zap.Strings("vetted", d.Revert.To))
		r.recorded(d)
		return nil
	}
	if err := r.scaleBack(ctx, target, sets, d.Revert.To); err != nil {
		return err
	}
	r.log.Warn("unvetted template rolled out by the Deployment controller; paused and returning to a vetted revision",
		zap.String("unvetted", d.Revert.From), zap.String("to", workload.TemplateHash(target)), zap.String("replicaset", target.Name))
	r.recorded(d)
	return nil
}

// scaleBack gives target the Deployment's replicas and every other ReplicaSet
// with replicas none. Target grows first, so the pods serving now go only once
// their replacements are asked for, unless an unvetted ReplicaSet holds every
// replica: the controller of a paused Deployment scales the old ones of a
// saturated new ReplicaSet to zero, so that one shrinks first.
func (r *rollout) scaleBack(ctx context.Context, target *appsv1.ReplicaSet, sets []*appsv1.ReplicaSet, vetted []string) error {
	want := workload.Replicas(r.d)
	var others []*appsv1.ReplicaSet
	saturated := false
	for _, rs := range sets {
		if rs.UID == target.UID || !metav1.IsControlledBy(rs, r.d) || replicas(rs) == 0 {
			continue
		}
		others = append(others, rs)
		unvetted := !slices.Contains(vetted, workload.TemplateHash(rs))
		saturated = saturated || (unvetted && replicas(rs) >= want && rs.Status.AvailableReplicas >= want)
	}
	grow := func() error { return r.scaleReplicaSet(ctx, target, want) }
	shrink := func() error {
		for _, rs := range others {
			if err := r.scaleReplicaSet(ctx, rs, 0); err != nil {
				return err
			}
		}
		return nil
	}
	steps := []func() error{grow, shrink}
	if saturated && replicas(target) == 0 {
		steps = []func() error{shrink, grow}
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (r *rollout) scaleReplicaSet(ctx context.Context, rs *appsv1.ReplicaSet, n int32) error {
	if replicas(rs) == n {
		return nil
	}
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, n)
	if _, err := r.c.Kube.AppsV1().ReplicaSets(rs.Namespace).Patch(ctx, rs.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("scale replicaset %s/%s to %d: %w", rs.Namespace, rs.Name, n, err)
	}
	return nil
}

func replicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}
