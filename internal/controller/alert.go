package controller

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/internal/alerts"
	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// alertState is what one reconcile learnt of a pending alert mark (the
// rolloutd.io/alert annotation a webhook replica wrote) and what it decided.
type alertState struct {
	// present: the annotation exists, decodable or not.
	present bool
	mark    *alerts.Mark
	// previous is the full pod template of the revision before the running one,
	// read from the API for an alert after promotion.
	previous *corev1.PodTemplateSpec
	// consumed: the decision used the mark up, so the status write drops it.
	consumed bool
	// handed is the alert the leader's webhook handed over in process for this
	// Deployment (handoff.go), when the reconcile acts on it.
	handed *handed
}

// observeAlert passes a pending alert to the strategy. For an alert after a
// promotion it also reads the previous revision's template from the API (the
// informer cache keeps only its hash), which the rollback would restore.
func (r *rollout) observeAlert(ctx context.Context, in *strategy.Input, sets []*appsv1.ReplicaSet) error {
	m, present, err := alerts.ReadMark(r.d.Annotations)
	r.alert.present = present
	if err != nil {
		r.log.Warn("unreadable alert mark; dropping it", zap.Error(err))
	}
	if h := r.c.handedMark(r.d); h != nil && (m == nil || h.mark.Same(*m)) {
		// Handed over in process; the same alert's mark, if it came too, is
		// used up with it.
		r.alert.handed = h
		m = &h.mark
	}
	if m == nil {
		return nil
	}
	r.alert.mark = m
	r.sawAlert()
	in.Alert = &strategy.Alert{Name: m.Name, StartsAt: m.StartsAt, Labels: m.Labels}
	var rs *appsv1.ReplicaSet
	switch r.prev.Phase {
	case contract.Succeeded:
		rs = previousReplicaSet(r.d, sets)
	case contract.Promoting:
		rs = replicaSetOf(r.d, sets, r.prev.StableRevision)
	}
	if rs == nil {
		return nil
	}
	full, tmpl, err := r.fullTemplate(ctx, rs)
	if full == nil || err != nil {
		return err
	}
	r.alert.previous = tmpl
	in.Stable.Previous = workload.Revision(*tmpl)
	return nil
}

// replicaSetOf is the Deployment's newest ReplicaSet running revision: during a
// promotion, the stable pods' one, which an alert restores. Nil when none is kept.
func replicaSetOf(d *appsv1.Deployment, sets []*appsv1.ReplicaSet, revision string) *appsv1.ReplicaSet {
	var best *appsv1.ReplicaSet
	for _, rs := range sets {
		if !metav1.IsControlledBy(rs, d) || revision == "" || rs.Annotations[contract.TemplateHashAnnotation] != revision {
			continue
		}
		if best == nil || workload.RevisionNumber(rs) > workload.RevisionNumber(best) {
			best = rs
		}
	}
	return best
}

// previousReplicaSet is the Deployment's newest ReplicaSet whose template differs
// from the running one's: the revision a rollback restores. Nil when none is kept.
func previousReplicaSet(d *appsv1.Deployment, sets []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	running := workload.Running(d, sets)
	var best *appsv1.ReplicaSet
	for _, rs := range sets {
		if !metav1.IsControlledBy(rs, d) || rs.Annotations[contract.TemplateHashAnnotation] == running {
			continue
		}
		if best == nil || workload.RevisionNumber(rs) > workload.RevisionNumber(best) {
			best = rs
		}
	}
	return best
}

// decided records whether the decision used the alert up.
func (r *rollout) decided(d strategy.Decision) {
	r.alert.consumed = (r.alert.present || r.alert.handed != nil) && !d.KeepAlert
}

// oneShotKeys lists the one-shot annotations a status write drops: a consumed
// command (when dropCommand) and a consumed alert mark, so each is acted on once.
func (r *rollout) oneShotKeys(dropCommand bool) []string {
	var keys []string
	if _, ok := r.d.Annotations[contract.CommandKey]; ok && dropCommand {
		keys = append(keys, contract.CommandKey)
	}
	if _, ok := r.d.Annotations[alerts.Key]; ok && r.alert.consumed {
		keys = append(keys, alerts.Key)
	}
	return keys
}

// restoreTemplate is the pod template to write with a status that starts an
// alert rollback of a promoted revision (nil otherwise): the previous revision's,
// in the same update, so the rollback is recorded exactly when it begins.
func (r *rollout) restoreTemplate(st contract.Status) *corev1.PodTemplateSpec {
	if t := r.undoTemplate(st); t != nil {
		return t
	}
	p := r.alert.previous
	if st.Restore == "" || r.prev.Restore != "" || p == nil || workload.Revision(*p) != st.Restore {
		return nil
	}
	return p
}

// reportAlert logs and counts what became of a pending alert, and records an
// AlertIgnored Event when it rolled nothing back. (The rollback's own Event comes
// with the decision.)
func (r *rollout) reportAlert(d strategy.Decision) {
	m := r.alert.mark
	if m == nil {
		return
	}
	log := r.log.With(zap.String("alertname", m.Name), zap.String("fingerprint", m.Fingerprint), zap.Time("startsAt", m.StartsAt))
	switch {
	case d.KeepAlert:
		log.Info("alert waits until the promotion in flight finishes")
	case d.Transition.Kind == strategy.RollbackStarted && d.Transition.Cause == strategy.CauseAlert:
		stage := "rollout"
		if d.Status.Restore != "" {
			stage = "promoted"
		}
		r.c.Metrics.AlertRollbacks.WithLabelValues(stage).Inc()
		log.Warn("alert rollback started", zap.String("stage", stage), zap.String("message", d.Status.Message))
	default:
		why := d.AlertIgnored
		if why == "" {
			why = fmt.Sprintf("the rollout is already %s", r.prev.Phase)
		}
		r.event(corev1.EventTypeNormal, contract.ReasonAlertIgnored, fmt.Sprintf("alert %s (fingerprint %s, firing since %s) ignored: %s",
			m.Name, m.Fingerprint, m.StartsAt.UTC().Format(time.RFC3339), why))
		log.Info("alert ignored", zap.String("why", why))
	}
}
