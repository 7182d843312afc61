package controller

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// observeUndo resolves a pending undo command while no rollout is active: it finds
// the Deployment's ReplicaSet with the named revision number among the newest
// rolloutd.io/revision-history ones and reads its full template from the API (the
// informer cache keeps only its hash). The strategy checks the template's hash
// against the one rolloutctl saw; the undo writes the template back.
func (r *rollout) observeUndo(ctx context.Context, in *strategy.Input, sets []*appsv1.ReplicaSet) error {
	c := in.Command
	if c == nil || c.Verb != contract.Undo || r.prev.Phase.Active() {
		return nil
	}
	rs := keptRevision(r.d, sets, c.Revision, r.spec.RevisionHistory)
	if rs == nil {
		return nil
	}
	full, tmpl, err := r.fullTemplate(ctx, rs)
	if full == nil || err != nil {
		return err
	}
	if !metav1.IsControlledBy(full, r.d) || workload.RevisionNumber(full) != c.Revision {
		return nil // renumbered or adopted since the cache saw it
	}
	r.undo = tmpl
	in.Stable.UndoTarget = workload.Revision(*tmpl)
	return nil
}

// fullTemplate reads rs from the API, as the informer cache keeps only its
// template's hash, and returns it with the pod template a Deployment writes
// back to restore it (without the pod-template-hash label). Nil, nil, nil when
// rs is gone.
func (r *rollout) fullTemplate(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, *corev1.PodTemplateSpec, error) {
	full, err := r.c.Kube.AppsV1().ReplicaSets(rs.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("get replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	tmpl := full.Spec.Template.DeepCopy()
	delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return full, tmpl, nil
}

// keptRevision is the ReplicaSet of d numbered revision when it is among d's
// newest keep ReplicaSets (rolloutd.io/revision-history); nil otherwise.
func keptRevision(d *appsv1.Deployment, sets []*appsv1.ReplicaSet, revision int64, keep int) *appsv1.ReplicaSet {
	for _, rs := range workload.Kept(d, sets, keep) {
		if workload.RevisionNumber(rs) == revision {
			return rs
		}
	}
	return nil
}

// undoTemplate is the kept pod template to write with a status that starts an undo
// (nil otherwise): in the same update, so the undo is recorded exactly when the
// template changes, and a crash leaves either both or neither.
func (r *rollout) undoTemplate(st contract.Status) *corev1.PodTemplateSpec {
	t := r.undo
	if t == nil || st.Undo == nil || r.prev.Phase.Active() || !st.Phase.Active() || st.Revision != workload.Revision(*t) {
		return nil
	}
	return t
}
