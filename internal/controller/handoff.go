package controller

import (
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/rolloutd/rolloutd/internal/alerts"
)

// An alert the leader's own webhook received is handed to its controller in
// process (Take), so the rollback's writes need not wait for the mark's: in a
// burst of alerts the marks queue at the API server beside the rollbacks and
// add one write to each. The mark is written only when the decision did not
// use the alert up (it waits for the promotion in flight) or no reconcile
// decided in time. Nothing is lost that the mark would have kept: until a
// decision is written, the alert lives in this process's memory as it lived in
// the webhook's queue before its mark; a crash loses both alike, and
// Alertmanager's next notification brings it again.

// handed is an alert handed over in process, waiting for a reconcile.
type handed struct {
	mark alerts.Mark
	once sync.Once
	done func(used bool)
}

// settle reports what became of the alert, once: used up at once; given back
// (to be marked) in a goroutine of its own, so no reconcile or worker waits for
// the mark's write. Whoever settles it has removed it from Controller.handed
// first, so only one of them does.
func (h *handed) settle(used bool) {
	h.once.Do(func() {
		if used {
			h.done(true)
			return
		}
		go h.done(false)
	})
}

// Take hands an alert about Deployment namespace/name to this controller without
// waiting: false when the controller does not lead (this replica only serves the
// webhook), and the caller marks the alert itself. When it returns true, done
// is called once, later: true when a decision used the alert up (the rollback it
// starts is written, or the alert was ignored for good), false when it must be
// marked after all — the decision keeps it for later, another alert for the same
// Deployment replaced it, no decision came within the given time, or the
// controller stopped leading.
func (c *Controller) Take(namespace, name string, m alerts.Mark, within time.Duration, done func(used bool)) bool {
	if !c.leading.Load() || c.urgent == nil {
		return false
	}
	key := namespace + "/" + name
	h := &handed{mark: m, done: done}
	if old, loaded := c.handed.Swap(key, h); loaded {
		old.(*handed).settle(false)
	}
	// Fires as a no-op once a decision settled it.
	time.AfterFunc(within, func() { c.settleIfHanded(key, h, false) })
	c.preemptKey(key)
	c.urgent.Add(key)
	return true
}

// handedMark is the alert handed over in process for d, if any.
func (c *Controller) handedMark(d *appsv1.Deployment) *handed {
	if v, ok := c.handed.Load(deploymentKey(d)); ok {
		return v.(*handed)
	}
	return nil
}

// intervening reports whether d carries an alert mark or a command, or an alert
// was handed over for it: a reconcile acts on it before any query.
func (c *Controller) intervening(d *appsv1.Deployment) bool {
	return pendingIntervention(d) || c.handedMark(d) != nil
}

// settleHanded tells the webhook what became of the alert handed over for this
// reconcile's Deployment once its decision is applied: used up (kept means the
// decision waits on it: it must be marked). An alert that arrived while the
// reconcile ran waits for the next one.
func (r *rollout) settleHanded(kept bool) {
	if h := r.alert.handed; h != nil {
		r.c.settleIfHanded(deploymentKey(r.d), h, !kept)
	}
}

// settleAllHanded gives every alert still handed over back to be marked: the
// controller stops leading.
func (c *Controller) settleAllHanded() {
	c.handed.Range(func(k, v any) bool {
		c.settleIfHanded(k.(string), v.(*handed), false)
		return true
	})
}

// settleIfHanded settles h if it is still the alert handed over for key,
// removing it first, so that of a decision, the deadline and the end of
// leadership only one settles it, and an alert that replaced it stays.
func (c *Controller) settleIfHanded(key string, h *handed, used bool) {
	if c.handed.CompareAndDelete(key, h) {
		h.settle(used)
	}
}
