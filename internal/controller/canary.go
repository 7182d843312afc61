package controller

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// canary returns the cached canary copy of the Deployment, nil when there is none.
// A Deployment that holds the canary's name without rolloutd's canary-of label is
// somebody else's: it is returned as foreign, and never updated or deleted.
func (r *rollout) canary() (c *appsv1.Deployment, foreign error) {
	name := contract.CanaryName(r.d.Name)
	c, err := r.c.Informers.Deployment(r.d.Namespace, name)
	if err != nil {
		return nil, nil
	}
	if c.Labels[contract.CanaryOfLabel] != r.d.Name {
		return nil, fmt.Errorf("deployment %s/%s exists and is not rolloutd's canary of %s (no %s=%s label): "+
			"rename it, rolloutd needs that name for the canary", r.d.Namespace, name, r.d.Name, contract.CanaryOfLabel, r.d.Name)
	}
	return c, nil
}

// deleteCanaryDeployment deletes the canary copy the cache holds, or, with
// fromAPI, the one the API holds: a copy created just before an opt-out may not
// have reached the cache yet, and nobody would delete it afterwards.
func (r *rollout) deleteCanaryDeployment(ctx context.Context, fromAPI bool) error {
	c, foreign := r.canary()
	name := contract.CanaryName(r.d.Name)
	if foreign != nil {
		return nil
	}
	if c == nil && fromAPI {
		got, err := r.c.Kube.AppsV1().Deployments(r.d.Namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("get canary deployment %s/%s: %w", r.d.Namespace, name, err)
		case got.Labels[contract.CanaryOfLabel] == r.d.Name:
			c = got
		}
	}
	if c == nil || removing(c) {
		return nil
	}
	// In the foreground: the copy stays, marked as being deleted, until its
	// ReplicaSets and their pods are gone, so no new copy (which would select the
	// same pods through the canary Service) can be created while a pod of this
	// one still serves. Preconditioned on the UID: only this copy, not a
	// same-named object created since.
	policy := metav1.DeletePropagationForeground
	opts := metav1.DeleteOptions{PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: &c.UID}}
	err := r.writer().AppsV1().Deployments(r.d.Namespace).Delete(ctx, name, opts)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete canary deployment %s/%s: %w", r.d.Namespace, name, err)
	}
	return nil
}

// removing reports whether the canary copy is being deleted: its pods may still
// serve behind the canary Service, so it is neither updated, resized nor ready,
// and no new copy is created before it is gone.
func removing(c *appsv1.Deployment) bool { return c.DeletionTimestamp != nil }
