package controller

import (
	"github.com/rolloutd/rolloutd/internal/notify"
	"github.com/rolloutd/rolloutd/strategy"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Notifier tells people about a rollout (chat, webhooks). Notify must not block:
// it is called from the reconcile loop after the status write.
type Notifier interface {
	Notify(notify.Event)
}

// notification maps a decision onto the moments people are told about: a rollout
// started, waits for approval, was promoted, or was rolled back (at the moment
// traffic left the canary, naming the check or alert that caused it).
func notification(prev contract.Status, d strategy.Decision) (notify.Kind, string, bool) {
	next := d.Status
	for _, e := range d.Events {
		switch {
		case next.Phase == contract.Progressing && (e.Reason == contract.ReasonProgressing || e.Reason == contract.ReasonRestarted) &&
			prev.Revision != next.Revision:
			return notify.Started, e.Message, true
		case e.Reason == contract.ReasonAwaitingApproval, next.Phase == contract.PendingConfirmation && prev.Phase != contract.PendingConfirmation:
			return notify.AwaitingApproval, e.Message, true
		case e.Reason == contract.ReasonPromoted:
			return notify.Promoted, e.Message, true
		case next.Phase == contract.RollingBack && prev.Phase != contract.RollingBack && e.Warning:
			return notify.RolledBack, e.Message, true
		}
	}
	return "", "", false
}

// notify sends the decision's notification, if it has one.
func (r *rollout) notify(d strategy.Decision) {
	if r.c.Notifier == nil {
		return
	}
	kind, msg, ok := notification(r.prev, d)
	if !ok {
		return
	}
	st := d.Status
	r.c.Notifier.Notify(notify.Event{
		Kind: kind, Namespace: r.d.Namespace, Deployment: r.d.Name, Revision: st.Revision,
		Phase: string(st.Phase), Reason: st.Reason, Message: msg, Checks: st.Checks,
		Time: r.now, Channels: r.spec.Notify,
	})
}
