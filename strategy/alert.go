package strategy

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

// maxLabelSummary bounds the labels quoted in a status message, so an alert with
// many labels cannot bloat the status annotation.
const maxLabelSummary = 200

// AlertClockSkew is how far an alert's startsAt may lie before the rollout began
// and still count for it: startsAt comes from Prometheus' clock, the rollout's
// start from the daemon's, and the two may differ. An alert that began earlier
// than that belongs to an earlier release.
const AlertClockSkew = 30 * time.Second

// onAlert decides what a firing alert marked on the Deployment does:
//   - during a rollout: roll back at once, through the same path as a failed gate;
//   - while promoting: roll back at once too (alertWhilePromoting);
//   - after promotion, within the rollback window: restore the previous revision
//     on the stable Deployment, without a canary;
//   - otherwise (no rollout, outside the window, an alert older than the rollout,
//     a selector mismatch, alert rollback disabled): ignored, and the decision is
//     the one Step makes without the alert.
func onAlert(in Input) Decision {
	rest := in
	rest.Alert = nil
	if why := alertIgnored(in); why != "" {
		d := Step(rest)
		d.AlertIgnored = why
		return d
	}
	switch in.Status.Phase {
	case contract.Promoting:
		return alertWhilePromoting(in)
	case contract.Succeeded:
		return restore(in)
	}
	return rollback(in, contract.ReasonAlert, alertMessage(in.Alert))
}

// alertWhilePromoting rolls a promotion in flight back at once: while the stable
// Deployment is still paused on its old pods, as during the steps (traffic off the
// canary, canary removed); once it rolls the revision out, by restoring the
// previous revision's template on it, as after promotion. A batch release
// follows the same rules: while its pods still move to the canary, the batches
// are reversed; once the stable rolls the revision out, its previous template is
// restored and the pods move back onto it (batchRestore).
func alertWhilePromoting(in Input) Decision {
	st := in.Status
	switch {
	case in.Stable.Paused && in.Stable.Running != st.Revision:
		return rollback(in, contract.ReasonAlert, alertMessage(in.Alert)+" while promoting, before the stable pods ran it")
	case in.Stable.Previous == "":
		// The stable pods' ReplicaSet is gone: pause the rollout where it is.
		return rollback(in, contract.ReasonAlert, alertMessage(in.Alert)+" while promoting; no ReplicaSet of revision "+
			st.StableRevision+" is kept to restore")
	}
	msg := fmt.Sprintf("%s while %s rolled out revision %s; restoring revision %s",
		alertMessage(in.Alert), in.Name, st.Revision, in.Stable.Previous)
	st = transition(st, in.Now, contract.RollingBack, contract.ReasonAlert, msg)
	st.Weight = 0
	st.StepStartedAt, st.ScaledAt = nil, nil
	st.FailedRevision = st.Revision
	st.Restore = in.Stable.Previous
	d := Decision{Status: st, Split: traffic.Split{}, Stable: Resume, RequeueAfter: PollInterval,
		Events: []Event{{Warning: true, Reason: contract.ReasonAlert, Message: "rolling back: " + msg}}}
	if st.Batch != nil {
		// The pods stay where they are until the stable runs the restored template.
		d.Status.Batch = rebased(in).Batch
		d.CanaryReplicas, d.StableReplicas = d.Status.Batch.Canary, &d.Status.Batch.Stable
	}
	return d
}

// alertIgnored says why the alert must not roll anything back ("" when it must).
func alertIgnored(in Input) string {
	a, st := in.Alert, in.Status
	switch {
	case !in.Spec.AlertRollback:
		return fmt.Sprintf("alert-driven rollback is disabled (%s: \"false\")", contract.KeyAlertRollback)
	case !selects(in.Spec.AlertSelector, a.Labels):
		return fmt.Sprintf("the alert's labels do not match %s", contract.KeyAlertSelector)
	case st.StartedAt != nil && a.StartsAt.Before(st.StartedAt.Add(-AlertClockSkew)):
		return fmt.Sprintf("it fired at %s, before the rollout of revision %s began at %s",
			stamp(a.StartsAt), st.Revision, stamp(*st.StartedAt))
	case st.Phase == contract.Succeeded:
		return promotedIgnored(in)
	case st.Phase.Active():
		return ""
	}
	phase := st.Phase
	if phase == "" {
		phase = contract.Idle
	}
	return fmt.Sprintf("no rollout in progress (phase %s)", phase)
}

// promotedIgnored says why an alert after promotion restores nothing.
func promotedIgnored(in Input) string {
	st := in.Status
	since := in.Now.Sub(st.LastTransitionTime)
	switch {
	case since > in.Spec.RollbackWindow:
		return fmt.Sprintf("revision %s was promoted %s ago, outside the rollback window of %s (%s)",
			st.Revision, since.Round(time.Second), in.Spec.RollbackWindow, contract.KeyRollbackWindow)
	case st.Reason == contract.ReasonUndone:
		return fmt.Sprintf("revision %s was restored by an operator's undo, not promoted; the revision before it was left on purpose", st.Revision)
	case in.Stable.Template != st.Revision:
		return fmt.Sprintf("the pod template changed since revision %s was promoted; the new template gets a canary", st.Revision)
	case in.Stable.Previous == "" || in.Stable.Previous == in.Stable.Running:
		return fmt.Sprintf("no revision before %s is kept to roll back to", st.Revision)
	}
	return ""
}

// restore rolls a promoted revision back on the stable Deployment: the controller
// writes the previous revision's template in the same update as this status and
// lets the Deployment roll it out. No canary: the previous revision already ran.
func restore(in Input) Decision {
	st := in.Status
	msg := fmt.Sprintf("%s, %s after revision %s was promoted; restoring revision %s",
		alertMessage(in.Alert), in.Now.Sub(st.LastTransitionTime).Round(time.Second), st.Revision, in.Stable.Previous)
	st = transition(st, in.Now, contract.RollingBack, contract.ReasonAlert, msg)
	st.Weight = 0
	st.StepStartedAt, st.ScaledAt = nil, nil
	st.FailedRevision = st.Revision
	st.Restore = in.Stable.Previous
	return Decision{
		Status:       st,
		Split:        traffic.Split{},
		Stable:       Resume,
		RequeueAfter: PollInterval,
		Events:       []Event{{Warning: true, Reason: contract.ReasonAlert, Message: "rolling back: " + msg}},
	}
}

// finishRestore ends an alert-driven restore of the previous revision with
// RolledBack, once the stable pods run it (or at once when someone else's template
// interrupts it).
func finishRestore(in Input) Decision {
	return restoreStable(in, restoreEnd{interrupted: contract.RolledBack, reason: contract.ReasonAlert, event: contract.ReasonRolledBack,
		done: func(st contract.Status) (contract.Status, Event) {
			restored := st.Restore
			st = transition(st, in.Now, contract.RolledBack, contract.ReasonAlert, st.Message)
			return st, Event{Warning: true, Reason: contract.ReasonRolledBack,
				Message: fmt.Sprintf("revision %s rolled back to %s: %s", st.Revision, restored, st.Message)}
		}})
}

// alertMessage names the alert, summarises its labels and says since when it fires.
func alertMessage(a *Alert) string {
	return fmt.Sprintf("alert %s%s firing since %s", a.Name, labelSummary(a.Labels), stamp(a.StartsAt))
}

// labelSummary renders the labels other than alertname, sorted, bounded in length.
func labelSummary(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if k != "alertname" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%s", k, labels[k])
		if b.Len() > maxLabelSummary {
			return " {" + b.String()[:maxLabelSummary] + "...}"
		}
	}
	return " {" + b.String() + "}"
}

// selects reports whether every selector matcher equals the alert's label.
func selects(selector, labels map[string]string) bool {
	_, unmatched := UnmatchedLabel(selector, labels)
	return !unmatched
}

// UnmatchedLabel is the first key, in key order, of an alert selector
// (rolloutd.io/alert-selector) that the alert's labels lack or set to another
// value; unmatched is false when the alert matches. The webhook marks only the
// Deployments whose selector the alert matches, and the strategy checks again.
func UnmatchedLabel(selector, labels map[string]string) (key string, unmatched bool) {
	keys := make([]string, 0, len(selector))
	for k := range selector {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got, ok := labels[k]; !ok || got != selector[k] {
			return k, true
		}
	}
	return "", false
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
