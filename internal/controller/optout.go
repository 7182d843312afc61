package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/internal/alerts"
	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// ReasonOptedOut is the Event reason when a Deployment is handed back.
const ReasonOptedOut = "OptedOut"

// optOut hands a Deployment back exactly as the user wrote it: traffic back to the
// stable pods, every generated object removed, rolloutd's own annotations dropped,
// and spec.paused as it was before opting in.
func (r *rollout) optOut(ctx context.Context) (time.Duration, error) {
	st, err := contract.Read(r.d.Annotations)
	_, hasStatus := r.d.Annotations[contract.StatusKey]
	if !hasStatus {
		return 0, nil
	}
	if err != nil {
		st = contract.Status{}
	}
	if st.Batch != nil && st.Phase.Active() {
		// A batch release had moved pods to the canary: they come back to the
		// stable in the release's chunks before the canary goes.
		sp, _ := contract.Parse(r.d.Name, r.d.Annotations)
		keep := func(ctx context.Context, next contract.Status) error {
			return r.write(ctx, next, r.d.Spec.Paused, false)
		}
		if wait, err := r.handBackBatch(ctx, sp, st, keep); err != nil || wait > 0 {
			return wait, err
		}
	}
	if err := r.removeGenerated(ctx); err != nil {
		return 0, err
	}
	upd := r.d.DeepCopy()
	delete(upd.Annotations, contract.StatusKey)
	delete(upd.Annotations, contract.CommandKey)
	delete(upd.Annotations, alerts.Key)
	upd.Spec.Paused = st.UserPaused
	if _, err := r.c.Kube.AppsV1().Deployments(upd.Namespace).Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return 0, fmt.Errorf("opt out %s: %w", deploymentKey(r.d), err)
	}
	r.c.Metrics.Forget(r.d.Namespace, r.d.Name)
	r.event(corev1.EventTypeNormal, ReasonOptedOut, "rolloutd released the Deployment: generated objects removed, spec.paused restored")
	return 0, nil
}

// handBackBatch moves one chunk of a batch release's pods from the canary back
// to the stable (strategy.HandBack) and returns when to look again, 0 once every
// pod is back. keep persists the stable's size (r.replicas) and the plan between
// chunks; the Deployment stays paused until the hand-back ends.
func (r *rollout) handBackBatch(ctx context.Context, sp contract.Spec, st contract.Status,
	keep func(context.Context, contract.Status) error) (time.Duration, error) {
	r.spec, r.prev = sp, st
	in, err := r.observe(ctx)
	if err != nil {
		return 0, err
	}
	d, done := strategy.HandBack(in)
	if done {
		return 0, nil
	}
	if err := r.resizeCanary(ctx, d.CanaryReplicas); err != nil {
		return 0, err
	}
	r.replicas = d.StableReplicas
	if err := keep(ctx, d.Status); err != nil {
		return 0, err
	}
	return d.RequeueAfter, nil
}

// resizeCanary sets the canary Deployment's replicas, if it exists, and the
// hand-back plan r.keepPlan when one is set.
func (r *rollout) resizeCanary(ctx context.Context, n int32) error {
	c, foreign := r.canary()
	if c == nil || foreign != nil || removing(c) {
		return nil
	}
	planned := r.keepPlan == "" || c.Annotations[contract.HandBackAnnotation] == r.keepPlan
	if workload.Replicas(c) == n && planned {
		return nil
	}
	upd := c.DeepCopy()
	upd.Spec.Replicas = &n
	if !planned {
		if upd.Annotations == nil {
			upd.Annotations = map[string]string{}
		}
		upd.Annotations[contract.HandBackAnnotation] = r.keepPlan
	}
	if _, err := r.c.Kube.AppsV1().Deployments(c.Namespace).Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("resize canary deployment %s/%s: %w", c.Namespace, c.Name, err)
	}
	return nil
}

// removeGenerated takes traffic off the canary through every router and deletes
// every object rolloutd generated for the Deployment. The spec may be invalid or
// half-removed; it takes what parses for the names (defaults otherwise).
func (r *rollout) removeGenerated(ctx context.Context) error {
	r.spec, _ = contract.Parse(r.d.Name, r.d.Annotations)
	for _, rt := range r.c.Routers {
		if err := rt.Reset(ctx, r.target()); err != nil {
			return err
		}
	}
	r.spec.Router = contract.RouterService // so that nothing counts as current below
	if err := r.removeStale(ctx); err != nil {
		return err
	}
	if err := r.removeCanary(ctx, r.c.Routers[contract.RouterService], r.target()); err != nil {
		return err
	}
	return r.deleteCanaryDeployment(ctx, true)
}
