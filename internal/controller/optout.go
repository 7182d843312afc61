package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/internal/alerts"
	"github.com/rolloutd/rolloutd/internal/spec"
	"github.com/rolloutd/rolloutd/internal/status"
)

// ReasonOptedOut is the Event reason when a Deployment is handed back.
const ReasonOptedOut = "OptedOut"

// optOut hands a Deployment back exactly as the user wrote it: traffic back to the
// stable pods, every generated object removed, rolloutd's own annotations dropped,
// and spec.paused as it was before opting in.
func (r *rollout) optOut(ctx context.Context) error {
	st, err := status.Read(r.d.Annotations)
	_, hasStatus := r.d.Annotations[status.Key]
	if !hasStatus {
		return nil
	}
	if err != nil {
		st = status.Status{}
	}
	if err := r.removeGenerated(ctx); err != nil {
		return err
	}
	upd := r.d.DeepCopy()
	delete(upd.Annotations, status.Key)
	delete(upd.Annotations, CommandKey)
	delete(upd.Annotations, alerts.Key)
	upd.Spec.Paused = st.UserPaused
	if st.Batch != nil && st.Phase.Active() {
		// A batch release had moved pods to the canary: hand back the full count.
		upd.Spec.Replicas = &st.Batch.Desired
	}
	if _, err := r.c.Kube.AppsV1().Deployments(upd.Namespace).Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("opt out %s: %w", deploymentKey(r.d), err)
	}
	r.c.Metrics.Forget(r.d.Namespace, r.d.Name)
	r.event(corev1.EventTypeNormal, ReasonOptedOut, "rolloutd released the Deployment: generated objects removed, spec.paused restored")
	return nil
}

// removeGenerated takes traffic off the canary through every router and deletes
// every object rolloutd generated for the Deployment. The spec may be invalid or
// half-removed; it takes what parses for the names (defaults otherwise).
func (r *rollout) removeGenerated(ctx context.Context) error {
	r.spec, _ = spec.Parse(r.d.Name, r.d.Annotations)
	for _, rt := range r.c.Routers {
		if err := rt.Reset(ctx, r.target()); err != nil {
			return err
		}
	}
	r.spec.Router = spec.RouterService // so that nothing counts as current below
	if err := r.removeStale(ctx); err != nil {
		return err
	}
	if err := r.removeCanary(ctx, r.c.Routers[spec.RouterService], r.target()); err != nil {
		return err
	}
	return r.deleteCanaryDeployment(ctx, true)
}
