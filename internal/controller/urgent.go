package controller

import (
	"context"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/workqueue"

	"github.com/rolloutd/rolloutd/router"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Urgent carries the writes that take traffic off a canary — the decision that
// persists the rollback, then the traffic object — ahead of every other write, on
// a client budget of their own: a burst of alerts must not wait behind the
// canary removals, history and Events of the rollbacks before it, nor behind the
// steps of healthy rollouts.
type Urgent struct {
	// Kube and Routers use a client (rate limiter) of their own; nil Kube means
	// the main client and routers carry these writes too.
	Kube    kubernetes.Interface
	Routers map[contract.Router]router.Router
	// Workers reconcile the Deployments that carry an alert mark or a command,
	// from a queue of their own, ahead of the main workers; 0 means no such queue.
	Workers int
}

// urgentKube is the client for a write that takes traffic off a canary.
func (c *Controller) urgentKube() kubernetes.Interface {
	if c.Urgent.Kube != nil {
		return c.Urgent.Kube
	}
	return c.Kube
}

// urgentRouter is the router for the write that takes traffic off a canary.
func (c *Controller) urgentRouter(name contract.Router) router.Router {
	if rt, ok := c.Urgent.Routers[name]; ok {
		return rt
	}
	return c.Routers[name]
}

// writer is the client of the reconcile's next write: the urgent one while it
// takes traffic off the canary.
func (r *rollout) writer() kubernetes.Interface {
	if r.cutting {
		return r.c.urgentKube()
	}
	return r.c.Kube
}

// enqueueUrgent queues a Deployment carrying an alert mark or a command on the
// urgent queue (when there is one); false sends it to the main queue.
func (c *Controller) enqueueUrgent(key string) bool {
	if c.urgent == nil {
		return false
	}
	c.urgent.Add(key)
	return true
}

// runUrgent serves the urgent queue. Each reconcile from it stops once traffic
// is off the canary (or at once when the intervention takes none away) and hands
// the Deployment to the main queue, which finishes the rollback: canary removal,
// history, Events, notifications.
func (c *Controller) runUrgent(ctx context.Context) {
	for {
		key, quit := c.urgent.Get()
		if quit {
			return
		}
		if _, err := c.reconcile(ctx, key, true); err != nil {
			c.urgent.AddRateLimited(key)
		} else {
			c.urgent.Forget(key)
		}
		c.queue.Add(key)
		c.urgent.Done(key)
	}
}

func newUrgentQueue() workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "rolloutd-urgent"})
}

// syncLocked runs one reconcile of key while no other worker reconciles it: the
// main and the urgent queue each hand a key to one worker at a time, but the two
// queues may hold the same key.
func (c *Controller) syncLocked(ctx context.Context, key string, urgent bool) (time.Duration, error) {
	unlock := c.keys.lock(key)
	defer unlock()
	return c.syncRecovered(ctx, key, urgent)
}

// keyLocks is a mutex per key, held only while a reconcile of that key runs; an
// entry lives as long as someone holds or waits for it.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	sync.Mutex
	refs int
}

func (k *keyLocks) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
