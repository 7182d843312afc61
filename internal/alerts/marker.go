package alerts

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// FieldManager names rolloutd's webhook as the writer of the mark.
const FieldManager = "rolloutd-webhook"

// Results of marking, the result label of rolloutd_webhook_alerts_total.
const (
	resultMarked   = "marked"
	resultTaken    = "taken"
	resultSkipped  = "skipped"
	resultNotFound = "not_found"
	resultFailed   = "failed"
)

// mark hands one alert to the leader: in process when this replica's
// controller leads and takes it, else by annotating its Deployment.
func (r *Receiver) mark(j job) {
	if r.handOff(j) {
		r.alerts.WithLabelValues(resultTaken).Inc()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.o.MarkTimeout)
	defer cancel()
	r.markNow(ctx, j)
}

// markNow annotates the alert's Deployment within ctx's deadline. A failure
// forgets the alert, so Alertmanager's next notification of it tries again.
func (r *Receiver) markNow(ctx context.Context, j job) {
	log := r.jobLog(j)
	result, why, err := r.markDeployment(ctx, j)
	r.alerts.WithLabelValues(result).Inc()
	switch {
	case err != nil:
		r.seen.forget(j.key)
		log.Error("cannot mark the deployment; the next notification retries", zap.Error(err))
	case result == resultMarked:
		log.Info("deployment marked with the firing alert; the leader decides the rollback",
			zap.Time("startsAt", j.mark.StartsAt))
	default:
		log.Info("alert not marked: "+why, zap.String("result", result))
	}
}

func (r *Receiver) jobLog(j job) *zap.Logger {
	return r.log.With(zap.String("namespace", j.target.Namespace), zap.String("deployment", j.target.Deployment),
		zap.String("alertname", j.mark.Name), zap.String("fingerprint", j.mark.Fingerprint))
}

// handOff offers the alert to the controller of this replica, when it leads,
// for a Deployment the cache shows eligible; true when the controller took it.
// It does not wait for the decision: one that does not use the alert up gives
// it back, and it is marked then. Anything not taken goes on to the mark, which
// decides again from the API and reports why it skips.
func (r *Receiver) handOff(j job) bool {
	if r.o.Handoff == nil || r.o.Lookup == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.o.MarkTimeout)
	defer cancel()
	d, err := r.owning(ctx, j.target.Namespace, j.target.Deployment, false)
	if err != nil || ineligible(d, j.mark) != "" {
		return false
	}
	r.taken.Add(1)
	taken := r.o.Handoff.Take(d.Namespace, d.Name, j.mark, r.o.HandoffTimeout, func(used bool) {
		defer r.taken.Done()
		if used {
			r.jobLog(j).Info("alert acted on by the leader in process; no mark needed", zap.Time("startsAt", j.mark.StartsAt))
			return
		}
		r.markGivenBack(j)
	})
	if !taken {
		r.taken.Done()
	}
	return taken
}

// markDeployment patches the mark onto the Deployment unless it is not opted in
// or already carries that alert (or a later one). The patch carries the
// resourceVersion it was decided on, so a concurrent change — a mark from another
// replica, the leader consuming one — makes it re-read and decide again.
func (r *Receiver) markDeployment(ctx context.Context, j job) (result, why string, err error) {
	ns, name := j.target.Namespace, j.target.Deployment
	fresh := false
	again := func(err error) bool { return ctx.Err() == nil && retriable(err) }
	err = retry.OnError(markBackoff, again, func() error {
		d, gerr := r.owning(ctx, ns, name, fresh)
		fresh = true
		if apierrors.IsNotFound(gerr) {
			result, why = resultNotFound, "no such Deployment"
			return nil
		}
		if gerr != nil {
			return fmt.Errorf("get deployment %s/%s: %w", ns, name, gerr)
		}
		name = d.Name
		if why = ineligible(d, j.mark); why != "" {
			result = resultSkipped
			return nil
		}
		patch, perr := markPatch(d.ResourceVersion, j.mark)
		if perr != nil {
			return perr
		}
		_, perr = r.o.Kube.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, patch,
			metav1.PatchOptions{FieldManager: FieldManager})
		if perr != nil {
			return fmt.Errorf("patch deployment %s/%s: %w", ns, name, perr)
		}
		result = resultMarked
		return nil
	})
	if err == nil && result == "" {
		// retry.OnError reads an error wrapping the context's end as "interrupted"
		// and answers with the last retriable error, nil when the first attempt
		// already ran out of time: that is a failure, not a skip.
		err = fmt.Errorf("mark deployment %s/%s: %w", ns, name, context.Cause(ctx))
	}
	if err != nil {
		return resultFailed, "", err
	}
	return result, why, nil
}

// markBackoff spaces the retries of one mark. They go on until the mark's
// deadline (Options.MarkTimeout), not for a fixed few: a Deployment the leader
// writes many times a second, as during a batch promotion, conflicts with the
// mark's precondition again and again, and a mark given up on waits for
// Alertmanager's next notification of the alert, minutes away. No Cap: a capped
// wait.Backoff stops stepping once it reaches its cap; a gap grows past 1 s only
// after about 3 s of retries.
var markBackoff = wait.Backoff{Duration: 10 * time.Millisecond, Factor: 1.3, Jitter: 0.2, Steps: 40}

// get reads the Deployment from the cache unless fresh is asked for; a cache miss
// (not synced yet, or behind) asks the API server.
func (r *Receiver) get(ctx context.Context, ns, name string, fresh bool) (*appsv1.Deployment, error) {
	if r.o.Lookup != nil && !fresh {
		if d, err := r.o.Lookup(ns, name); err == nil {
			return d, nil
		}
	}
	return r.o.Kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
}

// owning reads the Deployment an alert is about. An alert labelled with a canary
// copy (deployment="<name>-canary") is about the Deployment under release, so it
// resolves to the canary's owner; a canary already removed resolves by name to the
// Deployment it was cut from, when that one exists.
func (r *Receiver) owning(ctx context.Context, ns, name string, fresh bool) (*appsv1.Deployment, error) {
	d, err := r.get(ctx, ns, name, fresh)
	switch {
	case err == nil && d.Labels[contract.CanaryOfLabel] != "":
		return r.get(ctx, ns, d.Labels[contract.CanaryOfLabel], fresh)
	case apierrors.IsNotFound(err) && strings.HasSuffix(name, contract.CanarySuffix):
		owner, oerr := r.get(ctx, ns, strings.TrimSuffix(name, contract.CanarySuffix), fresh)
		if oerr == nil {
			return owner, nil
		}
	}
	return d, err
}

func retriable(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsTooManyRequests(err) || apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) ||
		errors.Is(err, context.DeadlineExceeded)
}

// ineligible says why the Deployment must not be marked with m ("" when it must):
// it is not opted in, opted out of alert rollback, its alert selector does not
// match (both read through alertSpec), or it already carries this alert or a
// later one.
func ineligible(d *appsv1.Deployment, m Mark) string {
	ann := d.Annotations
	if !contract.Enabled(ann) {
		return fmt.Sprintf("the deployment is not opted in (%s is not \"true\")", contract.KeyEnabled)
	}
	sp, why := alertSpec(d)
	if why != "" {
		return why
	}
	if !sp.AlertRollback {
		return fmt.Sprintf("alert rollback is disabled (%s: \"false\")", contract.KeyAlertRollback)
	}
	if k, unmatched := strategy.UnmatchedLabel(sp.AlertSelector, m.Labels); unmatched {
		return fmt.Sprintf("the alert does not match %s (%s=%q, alert has %q)", contract.KeyAlertSelector, k, sp.AlertSelector[k], m.Labels[k])
	}
	if have, _, _ := ReadMark(ann); have != nil {
		if have.Same(m) {
			return "the deployment already carries this alert"
		}
		if !m.StartsAt.After(have.StartsAt) {
			return fmt.Sprintf("the deployment already carries alert %s, firing since %s; the leader acts on it",
				have.Name, have.StartsAt.UTC().Format("2006-01-02T15:04:05Z"))
		}
	}
	return ""
}

// alertKeys are the annotations that decide whether an alert marks a Deployment.
var alertKeys = []string{contract.KeyAlertRollback, contract.KeyAlertSelector}

// alertSpec is the spec an alert is matched against. When an alert annotation
// stopped parsing while a rollout is under way, it takes the value it had when
// the annotations last parsed (kept in the status), or its default when none was
// kept — what the controller goes on with, so a typo never disables the alert
// rollback of a live canary. With no rollout under way there is nothing to roll
// back: the typo is the reason the alert is skipped.
func alertSpec(d *appsv1.Deployment) (contract.Spec, string) {
	sp, perr := contract.Parse(d.Name, d.Annotations)
	bad := invalidAlertKeys(perr)
	if len(bad) == 0 {
		return sp, ""
	}
	st, err := contract.Read(d.Annotations)
	if err != nil || !st.Phase.Active() {
		return sp, "invalid alert annotations: " + bad[0].Error()
	}
	ann := maps.Clone(d.Annotations)
	for _, inv := range bad {
		if v, ok := st.Spec[inv.Key]; ok {
			ann[inv.Key] = v
		} else {
			delete(ann, inv.Key)
		}
	}
	if sp, perr = contract.Parse(d.Name, ann); len(invalidAlertKeys(perr)) > 0 {
		for _, k := range alertKeys {
			delete(ann, k)
		}
		sp, _ = contract.Parse(d.Name, ann)
	}
	return sp, ""
}

// invalidAlertKeys are the parse errors naming an alert annotation.
func invalidAlertKeys(perr error) []*contract.InvalidError {
	var out []*contract.InvalidError
	for _, e := range contract.Problems(perr) {
		var inv *contract.InvalidError
		if errors.As(e, &inv) && slices.Contains(alertKeys, inv.Key) {
			out = append(out, inv)
		}
	}
	return out
}

// markPatch is the JSON merge patch adding the mark, conditional on resourceVersion.
func markPatch(resourceVersion string, m Mark) ([]byte, error) {
	raw, err := m.Encode()
	if err != nil {
		return nil, err
	}
	b, err := workload.AnnotationPatch(resourceVersion, Key, raw)
	if err != nil {
		return nil, fmt.Errorf("alerts: encode patch: %w", err)
	}
	return b, nil
}

// markGivenBack marks an alert the controller gave back, once one of the
// give-backs' turns is free; the wait for the turn and the mark share one
// MarkTimeout. One that finds no turn within it counts as failed and is
// forgotten, so Alertmanager's next notification brings it again.
func (r *Receiver) markGivenBack(j job) {
	ctx, cancel := context.WithTimeout(context.Background(), r.o.MarkTimeout)
	defer cancel()
	select {
	case r.giveBacks <- struct{}{}:
	case <-ctx.Done():
		r.alerts.WithLabelValues(resultFailed).Inc()
		r.seen.forget(j.key)
		r.jobLog(j).Error("alert given back by the controller found no turn to be marked; the next notification retries")
		return
	}
	defer func() { <-r.giveBacks }()
	r.markNow(ctx, j)
}
