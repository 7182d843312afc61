package controller

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/rolloutd/rolloutd/internal/metrics"
	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/router"
	"github.com/rolloutd/rolloutd/strategy"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// apply carries out a decision in the safe order: a decision that takes exposure
// away from the canary is persisted first; traffic leaves the canary before its pods
// shrink or go; pods are Ready before traffic reaches them (the strategy raises a
// weight only after it saw them Ready); the status is written last, with the
// stable's paused flag, in one update. The writes that take traffic away (the
// persisted decision, then the traffic object) go through the urgent client; a
// reconcile from the urgent queue stops after them (urgent.go).
func (r *rollout) apply(ctx context.Context, d strategy.Decision) error {
	r.replicas = d.StableReplicas
	if d.Revert != nil {
		return r.revertStable(ctx, d)
	}
	rt, err := r.router()
	if err != nil {
		return err
	}
	t := r.target()
	written := false
	if d.ReducesExposure(r.prev) || r.restoreTemplate(d.Status) != nil {
		r.cutting = true
		err := r.write(ctx, d.Status, d.Stable != strategy.Resume, true)
		if err != nil {
			err = r.unrecorded(ctx, t, d, err)
		} else if r.urgent {
			err = r.cutTraffic(ctx, t, d)
		}
		r.cutting = false
		if err != nil {
			return err
		}
		written = true
	}
	if !(r.urgent && written) {
		if err := r.converge(ctx, rt, t, d, written); err != nil {
			return err
		}
	}
	r.recorded(d)
	return nil
}

// converge brings the canary and its traffic to the decision and writes the status
// unless it was written first.
func (r *rollout) converge(ctx context.Context, rt router.Router, t router.Target, d strategy.Decision, written bool) error {
	if err := r.removeStale(ctx); err != nil {
		return err
	}
	if d.CanaryReplicas == 0 {
		if d.ReducesExposure(r.prev) {
			rt = r.c.urgentRouter(r.spec.Router)
		}
		if r.mayHaveCanary(d) {
			if err := r.removeCanary(ctx, rt, t); err != nil {
				return err
			}
		}
	} else {
		if d.Split.CanaryWeight < r.prev.Weight {
			if err := r.route(ctx, rt, t, d.Split); err != nil {
				return err
			}
		}
		if err := r.ensureCanary(ctx, d); err != nil {
			return err
		}
		if err := r.route(ctx, rt, t, d.Split); err != nil {
			return err
		}
	}
	if written {
		return nil
	}
	return r.write(ctx, d.Status, d.Stable != strategy.Resume, r.d.Annotations[contract.CommandKey] != "")
}

// cutTraffic takes all traffic off the canary right after the rollback was
// persisted, and only that: the canary's removal follows on the main queue. A
// batch release moves its pods back in chunks, and a restore of the previous
// template was the persisted write itself: nothing more to cut.
func (r *rollout) cutTraffic(ctx context.Context, t router.Target, d strategy.Decision) error {
	if d.CanaryReplicas != 0 || d.Status.Restore != "" || d.Status.Batch != nil {
		return nil
	}
	r.c.applied.Delete(r.d.Namespace + "/" + r.d.Name)
	if err := r.c.urgentRouter(r.spec.Router).Reset(ctx, t); err != nil {
		return err
	}
	if r.spec.Router.SelectsCanary() {
		// Traffic follows the pods: only removing the canary's takes it away.
		if err := r.deleteCanaryDeployment(ctx, false); err != nil {
			return err
		}
	}
	r.trafficOff()
	return nil
}

// recorded sends the decision's Events, metrics and notification, after its writes.
func (r *rollout) recorded(d strategy.Decision) {
	for _, e := range d.Events {
		kind := corev1.EventTypeNormal
		if e.Warning {
			kind = corev1.EventTypeWarning
		}
		r.event(kind, e.Reason, e.Message)
		r.c.Metrics.Transitions.WithLabelValues(e.Reason).Inc()
		if d.Transition.Kind == strategy.RollbackStarted {
			r.c.Metrics.Rollbacks.WithLabelValues(e.Reason).Inc()
		}
	}
	r.c.Metrics.Observe(r.d.Namespace, r.d.Name, d.Status)
	r.c.Metrics.Describe(r.d.Namespace, r.d.Name, metrics.Info{Revision: d.Status.Revision,
		Strategy: string(r.spec.Strategy), Router: string(r.spec.Router)})
	if d.Transition.Ended {
		r.c.Metrics.Finished(d.Status, r.now)
	}
	r.notify(d)
}

// ReasonStatusWriteFailed is the Event reason when a rollback could not be recorded.
const ReasonStatusWriteFailed = "StatusWriteFailed"

// unrecorded handles a rollback whose status write failed (an admission policy, an
// annotation grown too large, an API error): traffic leaves the canary anyway,
// since a rollback never depends on the status write. The canary itself stays
// until the rollback is recorded (unless traffic follows its pods), and the failure is an Event, a metric and the
// reconcile's error (so the write is retried). A later reconcile decides the
// rollback again from the same evidence: the alert mark and the command stay,
// a failed gate is due again.
func (r *rollout) unrecorded(ctx context.Context, t router.Target, d strategy.Decision, werr error) error {
	r.c.Metrics.StatusWriteFailures.WithLabelValues(errorKind(werr)).Inc()
	r.event(corev1.EventTypeWarning, ReasonStatusWriteFailed, fmt.Sprintf("rollback (%s) could not be recorded: %v; "+
		"traffic taken off the canary anyway, the canary stays until the status is written", d.Status.Reason, werr))
	if d.Status.Phase != contract.RollingBack || d.Status.Restore != "" || d.Status.Batch != nil {
		return werr
	}
	r.c.applied.Delete(r.d.Namespace + "/" + r.d.Name)
	if err := r.c.urgentRouter(r.spec.Router).Reset(ctx, t); err != nil {
		return errors.Join(werr, err)
	}
	if r.spec.Router.SelectsCanary() {
		// Traffic follows the pods: only removing the canary's takes it away.
		if err := r.deleteCanaryDeployment(ctx, false); err != nil {
			return errors.Join(werr, err)
		}
	}
	r.trafficOff()
	r.log.Warn("rollback not recorded; traffic taken off the canary anyway", zap.Error(werr))
	return werr
}

func (r *rollout) router() (router.Router, error) {
	rt, ok := r.c.Routers[r.spec.Router]
	if !ok {
		return nil, fmt.Errorf("router %q is not available in this daemon", r.spec.Router)
	}
	return rt, nil
}

// mayHaveCanary reports whether generated objects can exist: a rollout was or is
// active, or the canary Deployment is still cached. A settled Deployment then costs
// no API call per reconcile.
func (r *rollout) mayHaveCanary(d strategy.Decision) bool {
	if r.prev.Phase.Active() || d.Status.Phase.Active() || r.hasStaleRoutes() {
		return true
	}
	c, _ := r.canary()
	return c != nil
}

// removeCanary takes all traffic off the canary, then deletes its Deployment, then
// the routing objects and the canary Service.
func (r *rollout) removeCanary(ctx context.Context, rt router.Router, t router.Target) error {
	if err := rt.Reset(ctx, t); err != nil {
		return err
	}
	if !r.spec.Router.SelectsCanary() {
		r.trafficOff()
	}
	r.c.applied.Delete(r.d.Namespace + "/" + r.d.Name)
	name := contract.CanaryName(r.d.Name)
	if err := r.deleteCanaryDeployment(ctx, false); err != nil {
		return err
	}
	// Router service: no canary pods, no canary traffic.
	r.trafficOff()
	err := r.c.Kube.CoreV1().Services(r.d.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete canary service %s/%s: %w", r.d.Namespace, name, err)
	}
	return nil
}

// ensureCanary creates the canary Deployment and Service, or resizes the canary,
// or moves it to the revision under release.
func (r *rollout) ensureCanary(ctx context.Context, d strategy.Decision) error {
	ns := r.d.Namespace
	user, err := r.c.Informers.Service(ns, r.spec.Service)
	if err != nil {
		return fmt.Errorf("get service %s/%s: %w", ns, r.spec.Service, err)
	}
	if workload.Revision(r.d.Spec.Template) != d.Status.Revision {
		if have, _ := r.canary(); have != nil && d.Status.Phase == contract.RollingBack &&
			have.Annotations[contract.RevisionAnnotation] == d.Status.Revision {
			// The stable restores its previous template while the canary's pods
			// move back to it: the canary keeps its own template, only shrinks.
			return r.resizeCanary(ctx, d.CanaryReplicas)
		}
		return fmt.Errorf("template of %s/%s changed since this reconcile began", ns, r.d.Name)
	}
	want := workload.Canary(r.d, workload.CanaryOptions{
		Revision: d.Status.Revision, Replicas: d.CanaryReplicas,
		ServiceSelector: user.Spec.Selector, SelectedByService: r.spec.Router.SelectsCanary(),
	})
	if plan, ok := contract.PlanOf(d.Status); ok {
		// Kept on the copy, so that a Deployment stripped of its annotations is
		// handed back in chunks even after a restart (handback.go).
		want.Annotations[contract.HandBackAnnotation] = plan.Encode()
	}
	have, foreign := r.canary()
	switch {
	case foreign != nil:
		return foreign
	case have != nil && removing(have):
		// The previous copy's pods are still going: the new one follows once
		// it is gone (its deletion enqueues this Deployment).
		return nil
	case have == nil:
		if err := r.ensureCanaryService(ctx, user, false); err != nil {
			return err
		}
		if _, err := r.c.Kube.AppsV1().Deployments(ns).Create(ctx, want, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create canary deployment %s/%s: %w", ns, want.Name, err)
		}
		return nil
	}
	if err := r.ensureCanaryService(ctx, user, true); err != nil {
		return err
	}
	return r.updateCanary(ctx, d, have, want)
}

// updateCanary makes the existing canary copy have match want: its revision,
// template (a hand edit is drift), hand-back plan and size.
func (r *rollout) updateCanary(ctx context.Context, d strategy.Decision, have, want *appsv1.Deployment) error {
	ns := r.d.Namespace
	sameRevision := have.Annotations[contract.RevisionAnnotation] == d.Status.Revision
	sameTemplate := equality.Semantic.DeepEqual(have.Spec.Template, want.Spec.Template)
	samePlan := have.Annotations[contract.HandBackAnnotation] == want.Annotations[contract.HandBackAnnotation]
	if sameRevision && sameTemplate && samePlan && have.Spec.Replicas != nil && *have.Spec.Replicas == d.CanaryReplicas {
		return nil
	}
	if sameRevision && !sameTemplate {
		// The pods analysed must be the revision that is promoted.
		r.drifted(fmt.Sprintf("Deployment %s/%s spec.template", ns, want.Name))
	}
	upd := have.DeepCopy()
	upd.Annotations = want.Annotations
	upd.Spec.Replicas = want.Spec.Replicas
	upd.Spec.Template = want.Spec.Template
	if _, err := r.c.Kube.AppsV1().Deployments(ns).Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update canary deployment %s/%s: %w", ns, want.Name, err)
	}
	return nil
}

// ensureCanaryService makes the canary Service match its desired form, read from
// the cache: created when missing (drift when the canary already existed),
// selector and ports restored when changed. A same-named Service rolloutd did not
// generate is left alone.
func (r *rollout) ensureCanaryService(ctx context.Context, user *corev1.Service, canaryExists bool) error {
	want := workload.CanaryService(r.d, user)
	api := r.c.Kube.CoreV1().Services(want.Namespace)
	obj := fmt.Sprintf("Service %s/%s", want.Namespace, want.Name)
	have, err := r.c.Informers.Service(want.Namespace, want.Name)
	switch {
	case apierrors.IsNotFound(err):
		if canaryExists {
			r.drifted(obj + " " + router.FieldMissing)
		}
		if _, err := api.Create(ctx, want, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create canary service %s/%s: %w", want.Namespace, want.Name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("get canary service %s/%s: %w", want.Namespace, want.Name, err)
	case !isGenerated(have.Labels):
		return nil
	}
	fields := workload.ServiceChanges(have, want)
	if len(fields) == 0 {
		return nil
	}
	for _, f := range fields {
		r.drifted(obj + " " + f)
	}
	fresh, err := api.Get(ctx, want.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get canary service %s/%s: %w", want.Namespace, want.Name, err)
	}
	fresh.Spec.Selector, fresh.Spec.Ports = want.Spec.Selector, want.Spec.Ports
	if _, err := api.Update(ctx, fresh, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update canary service %s/%s: %w", want.Namespace, want.Name, err)
	}
	return nil
}

// write persists the status and the stable's paused flag in one update of the user's
// Deployment, dropping a consumed command or alert mark and, when an alert rolls a
// promoted revision back, restoring the previous pod template; it writes nothing
// when nothing changed.
func (r *rollout) write(ctx context.Context, st contract.Status, paused, dropCommand bool) error {
	d := r.d
	st = r.conditions(st)
	raw, err := st.Encode()
	if err != nil {
		return err
	}
	drop := r.oneShotKeys(dropCommand)
	tmpl := r.restoreTemplate(st)
	if d.Annotations[contract.StatusKey] == raw && d.Spec.Paused == paused && len(drop) == 0 && tmpl == nil && !r.resizes() {
		return nil
	}
	upd := d.DeepCopy()
	if upd.Annotations == nil {
		upd.Annotations = map[string]string{}
	}
	upd.Annotations[contract.StatusKey] = raw
	for _, k := range drop {
		delete(upd.Annotations, k)
	}
	if tmpl != nil {
		upd.Spec.Template = *tmpl.DeepCopy()
	}
	upd.Spec.Paused = paused
	if r.resizes() {
		upd.Spec.Replicas = ptr.To(*r.replicas)
	}
	out, err := updateOnUnrelatedConflict(ctx, r.writer().AppsV1().Deployments(d.Namespace), d, upd)
	if err != nil {
		return fmt.Errorf("update deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	r.d = out
	return nil
}

// resizes reports whether the decision changes the stable's spec.replicas.
func (r *rollout) resizes() bool {
	return r.replicas != nil && (r.d.Spec.Replicas == nil || *r.d.Spec.Replicas != *r.replicas)
}

// deploymentKey is the workqueue key of a Deployment.
func deploymentKey(d *appsv1.Deployment) string { return d.Namespace + "/" + d.Name }
