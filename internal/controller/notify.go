package controller

import (
	"github.com/rolloutd/rolloutd/internal/notify"
	"github.com/rolloutd/rolloutd/strategy"
)

// Notifier tells people about a rollout (chat, webhooks). Notify must not block:
// it is called from the reconcile loop after the status write.
type Notifier interface {
	Notify(notify.Event)
}

// notifyKinds maps the transitions people are told about onto their kinds: a
// rollout started, waits for approval, was promoted, or was rolled back (at the
// moment traffic left the canary, naming the check or alert that caused it).
var notifyKinds = map[strategy.TransitionKind]notify.Kind{
	strategy.Started:          notify.Started,
	strategy.AwaitingApproval: notify.AwaitingApproval,
	strategy.Promoted:         notify.Promoted,
	strategy.RollbackStarted:  notify.RolledBack,
}

// notification is the notification of a decision's transition, if it has one (a
// rollback is told with its Warning Event's message).
func notification(d strategy.Decision) (notify.Kind, string, bool) {
	kind, ok := notifyKinds[d.Transition.Kind]
	if !ok || (d.Transition.Kind == strategy.RollbackStarted && d.Transition.Message == "") {
		return "", "", false
	}
	return kind, d.Transition.Message, true
}

// notify sends the decision's notification, if it has one.
func (r *rollout) notify(d strategy.Decision) {
	if r.c.Notifier == nil {
		return
	}
	kind, msg, ok := notification(d)
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
