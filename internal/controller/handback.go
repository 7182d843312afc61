package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// FieldManager is the name the API server records for the daemon's writes: the
// client's user agent (see the app's REST config).
const FieldManager = "rolloutd"

// leftPausedKey marks, in the informer cache only, a Deployment without any
// rolloutd.io annotation whose spec.paused was last set by rolloutd: its
// annotations were stripped while rolloutd held it paused, and it is handed back
// un-paused. (Not a rolloutd.io/ key: those mean "opted in or opting out".)
const leftPausedKey = "cache.rolloutd.io/left-paused"

// pausedByRolloutd reports whether rolloutd's field manager owns spec.paused: the
// user did not pause the Deployment themselves (rolloutd's writes of a value that
// did not change leave the field with its owner). A cached copy that already
// carries the mark keeps it (informer transforms run twice on streaming lists).
func pausedByRolloutd(d *appsv1.Deployment) bool {
	if d.Annotations[leftPausedKey] == "true" {
		return true
	}
	for _, mf := range d.ManagedFields {
		if mf.Manager != FieldManager || mf.FieldsV1 == nil {
			continue
		}
		var fields map[string]map[string]any
		if json.Unmarshal(mf.FieldsV1.GetRawBytes(), &fields) != nil {
			continue
		}
		if _, ok := fields["f:spec"]["f:paused"]; ok {
			return true
		}
	}
	return false
}

// leftPaused is the cached form of such a Deployment: identity, the mark, and
// spec.paused, so a reconcile after a restart still finds it.
func leftPaused(d *appsv1.Deployment) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: d.Name, Namespace: d.Namespace, UID: d.UID, ResourceVersion: d.ResourceVersion,
			Annotations: map[string]string{leftPausedKey: "true"}},
		Spec: appsv1.DeploymentSpec{Paused: true},
	}
}

// releaseOrphans hands back a Deployment whose rolloutd.io annotations were all
// removed at once, as an opt-out would: its canary copy and routes are removed,
// and when rolloutd had paused it, it is un-paused. It also cleans up after a
// canary copy that reached the cache only after the opt-out.
func (r *rollout) releaseOrphans(ctx context.Context) (time.Duration, error) {
	c, _ := r.canary()
	key := deploymentKey(r.d)
	hint, hinted := r.c.stripped.Load(key)
	if _, done := hint.(handedBack); done {
		// spec.paused was settled by the hand-back; what is left is a canary
		// copy still being deleted, or one that reached the cache late.
		if c == nil || removing(c) {
			return 0, nil
		}
		return 0, r.removeGenerated(ctx)
	}
	last, known := hint.(strippedStatus)
	left := r.d.Annotations[leftPausedKey] == "true"
	if left && !hinted {
		// The cache is updated before its handlers run: the one that keeps the
		// last status's word may not have run yet. Look again shortly.
		r.c.stripped.Store(key, awaitingHint{})
		return hintWait, nil
	}
	if !known {
		// No status seen since this daemon started (it restarted, or the
		// annotations went while it was down): a batch release's canary copy
		// carries what its last status said.
		last, known = r.plannedByCanary(c)
	}
	unpause := left
	if known {
		unpause = !last.status.UserPaused
	}
	if c == nil && !unpause && !known {
		return 0, nil
	}
	if known && last.handingBack() {
		// As for an opt-out: the canary's pods come back to the stable in the
		// release's chunks before the canary goes.
		if wait, err := r.handBackStripped(ctx, last); err != nil || wait > 0 {
			return wait, err
		}
	}
	if err := r.removeGenerated(ctx); err != nil {
		return 0, err
	}
	if unpause {
		if err := r.unpauseStripped(ctx, known); err != nil {
			return 0, err
		}
	}
	r.c.stripped.Store(key, handedBack{})
	r.event(corev1.EventTypeNormal, ReasonOptedOut,
		"rolloutd released a Deployment that no longer opts in (every rolloutd.io annotation removed): generated objects removed, spec.paused restored")
	return 0, nil
}

// strippedStatus is what the last status of a Deployment stripped of its
// rolloutd.io annotations said, with the spec its annotations gave: the user's
// spec.paused and, for a batch release, the plan its hand-back follows (kept
// here between chunks, and on the canary copy, never written back to the
// Deployment).
type strippedStatus struct {
	status contract.Status
	spec   contract.Spec
	// plan, when set, is the canary copy's hand-back plan, read because no
	// status was seen: the batch counts are then the observed ones (planStatus).
	plan *contract.HandBackPlan
	// derived: this daemon never saw the last status; it went on from the
	// canary copy's plan (a late handler must not replace it: rememberStripped).
	derived bool
}

// handingBack reports whether a batch release's pods are to come back to the
// stable before the canary goes.
func (s strippedStatus) handingBack() bool {
	return s.plan != nil || (s.status.Batch != nil && s.status.Phase.Active())
}

// awaitingHint marks a stripped Deployment whose hand-back waits once for the
// handler that records the user's spec.paused; after a restart none comes and
// spec.paused's field manager decides.
type awaitingHint struct{}

// handedBack marks a stripped Deployment already handed back: its spec.paused
// is the user's again, and no later reconcile (the canary copy's deletion,
// which in the foreground takes a while, sends several) decides it anew from
// the field manager alone. Cleared when the Deployment opts in again, is
// stripped again, or is deleted.
type handedBack struct{}

// hintWait is how long a hand-back waits for that handler.
const hintWait = time.Second

// unpauseStripped reads the Deployment from the API (the cache holds a stub) and
// un-pauses it unless something opted it in again; without the status's word
// (hinted) only when rolloutd's field manager owns its spec.paused.
func (r *rollout) unpauseStripped(ctx context.Context, hinted bool) error {
	api := r.c.Kube.AppsV1().Deployments(r.d.Namespace)
	d, err := api.Get(ctx, r.d.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get deployment %s: %w", deploymentKey(r.d), err)
	}
	if hasRolloutdAnnotations(d) || !d.Spec.Paused || (!hinted && !pausedByRolloutd(d)) {
		return nil
	}
	d.Spec.Paused = false
	if _, err := api.Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("un-pause %s: %w", deploymentKey(r.d), err)
	}
	return nil
}

// rememberStripped keeps what the last status of a Deployment stripped of its
// rolloutd.io annotations said of the user's spec.paused. A hand-back that
// already went on from the canary copy's plan keeps its own progress: the last
// status records the stable's size before the chunks it moved since.
func (c *Controller) rememberStripped(old *appsv1.Deployment) {
	key := deploymentKey(old)
	if prev, ok := c.stripped.Load(key); ok {
		if s, ok := prev.(strippedStatus); ok && s.derived {
			return
		}
	}
	if st, err := contract.Read(old.Annotations); err == nil && st.Phase != "" {
		sp, _ := contract.Parse(old.Name, old.Annotations)
		c.stripped.Store(key, strippedStatus{status: st, spec: sp})
	}
}

// plannedByCanary is the strippedStatus the canary copy's hand-back plan gives;
// false when there is no copy (or one being deleted) or it carries no plan.
func (r *rollout) plannedByCanary(c *appsv1.Deployment) (strippedStatus, bool) {
	if c == nil || removing(c) {
		return strippedStatus{}, false
	}
	plan, ok, err := contract.ReadHandBackPlan(c.Annotations)
	if err != nil {
		r.log.Warn("canary copy's hand-back plan unreadable; removing the canary without handing its pods back", zap.Error(err))
	}
	if !ok {
		return strippedStatus{}, false
	}
	return strippedStatus{status: contract.Status{UserPaused: plan.UserPaused}, plan: &plan, derived: true}, true
}

// planStatus is the hand-back a canary copy's plan gives for the observed
// spec.replicas of the stable and of the canary: the batch moves on from the
// counts as they are toward the plan's total, in its chunks.
func planStatus(name string, plan contract.HandBackPlan, stable, canary int32) strippedStatus {
	return strippedStatus{
		status: contract.Status{Phase: contract.Progressing, UserPaused: plan.UserPaused, Spec: plan.Spec,
			Batch: &contract.BatchStatus{Desired: plan.Desired, Stable: stable, Canary: canary}},
		spec:    plan.ParseSpec(name),
		derived: true,
	}
}

// handBackStripped moves one chunk of a stripped batch release's pods back to
// the stable, as handBackBatch does for an opt-out, and returns when to look
// again (0 once every pod is back). The cache holds a stub of the Deployment:
// it is read from the API. Only spec.replicas is written to it; the plan stays
// in memory and on the canary copy, so no rolloutd.io annotation comes back.
func (r *rollout) handBackStripped(ctx context.Context, last strippedStatus) (time.Duration, error) {
	d, err := r.c.Kube.AppsV1().Deployments(r.d.Namespace).Get(ctx, r.d.Name, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("get deployment %s: %w", deploymentKey(r.d), err)
	}
	if hasRolloutdAnnotations(d) {
		// Opted in again: the cache shows it shortly, and the rollout takes over.
		return hintWait, nil
	}
	r.d = d
	key := deploymentKey(d)
	if last.plan != nil {
		var canary int32
		if c, _ := r.canary(); c != nil {
			canary = workload.Replicas(c)
		}
		last = planStatus(d.Name, *last.plan, workload.Replicas(d), canary)
	}
	if plan, ok := contract.PlanOf(last.status); ok {
		// The copy keeps the plan as it shrinks (one written by an older
		// daemon gets it now), for a daemon that takes over meanwhile.
		r.keepPlan = plan.Encode()
	}
	return r.handBackBatch(ctx, last.spec, last.status, func(ctx context.Context, st contract.Status) error {
		r.log.Debug("handing a stripped batch release back", zap.Bool("derived", last.derived),
			zap.Int32("desired", st.Batch.Desired), zap.Int32("stable", st.Batch.Stable), zap.Int32("canary", st.Batch.Canary))
		if r.resizes() {
			upd := r.d.DeepCopy()
			upd.Spec.Replicas = ptr.To(*r.replicas)
			out, err := r.c.Kube.AppsV1().Deployments(upd.Namespace).Update(ctx, upd, metav1.UpdateOptions{})
			if err != nil {
				return fmt.Errorf("resize %s: %w", key, err)
			}
			r.d = out
		}
		r.c.stripped.Store(key, strippedStatus{status: st, spec: last.spec, derived: last.derived})
		return nil
	})
}

// enqueueHandingBack enqueues a Deployment cached as a bare stub (every
// rolloutd.io annotation gone) while its batch pods are being handed back: each
// change of its Ready pods is a chance to move the next chunk.
func (c *Controller) enqueueHandingBack(obj any) {
	key, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	hint, _ := c.stripped.Load(key)
	if last, ok := hint.(strippedStatus); ok && last.status.Batch != nil && last.status.Phase.Active() {
		c.queue.Add(key)
	}
}
