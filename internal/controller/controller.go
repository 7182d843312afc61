// Package controller is rolloutd's reconcile loop: shared informers feed a
// rate-limited workqueue keyed by namespace/name; workers reconcile one Deployment at
// a time — read its annotations and status, observe the cluster, run a gate when one
// is due, ask the strategy for the next state, then apply it in a safe order and
// requeue at the next deadline. Handlers only enqueue keys.
package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/internal/metrics"
	"github.com/rolloutd/rolloutd/router"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Options are the controller's dependencies.
type Options struct {
	Kube      kubernetes.Interface
	Informers *Informers
	Analyzer  analysis.Evaluator
	Routers   map[contract.Router]router.Router
	Recorder  record.EventRecorder
	Metrics   *metrics.Metrics
	Clock     clock.PassiveClock
	Log       *zap.Logger
	// ReadyTimeout bounds canary readiness when the Deployment sets no
	// progressDeadlineSeconds.
	ReadyTimeout time.Duration
	// UnreadyLimit bounds how long a canary carrying traffic may lack Ready pods
	// before it is rolled back; zero means strategy.DefaultUnreadyLimit.
	UnreadyLimit time.Duration
	// Standing is how often at most the status shows a newer standing of the
	// continuous judge (strategy.Input.StandingRefresh); zero never shows it.
	Standing time.Duration
	// GateTimeout bounds one gate's analysis, the wait for a shared query slot
	// included; zero means DefaultGateTimeout.
	GateTimeout time.Duration
	// Notifier, if not nil, is told when a rollout starts, waits for approval, is
	// promoted or rolled back.
	Notifier Notifier
	// Sequential, if not nil, judges canary rollouts continuously between gates.
	Sequential SequentialJudge
	// Urgent carries the writes that take traffic off a canary ahead of the rest.
	Urgent Urgent
}

// Controller reconciles opted-in Deployments.
type Controller struct {
	Options
	queue workqueue.TypedRateLimitingInterface[string]
	// urgent holds the Deployments carrying an alert mark or a command (nil
	// without urgent workers); keys lets one worker at a time reconcile a key
	// found in both queues.
	urgent workqueue.TypedRateLimitingInterface[string]
	keys   keyLocks
	// applied remembers the split last applied per Deployment, only to skip
	// redundant router reads; losing it (a restart) just re-applies once.
	applied sync.Map
	// stripped holds, per Deployment whose rolloutd.io annotations were all removed
	// at once, the spec.paused its last status recorded for the user (a hint: the
	// status itself went with the annotations), and a batch release's plan
	// between chunks. After a restart the hand-back takes a batch release's plan
	// from its canary copy, and otherwise falls back to spec.paused's field
	// manager (handback.go).
	stripped sync.Map
	// gates holds the gate each Deployment is evaluating (*gateRun), so an alert
	// or a command arriving meanwhile cancels it (preempt.go).
	gates sync.Map
	// handed holds, per Deployment, the alert the leader's webhook handed over
	// in process (*handed), until a decision settles it (handoff.go); leading
	// is true while Run runs.
	handed  sync.Map
	leading atomic.Bool
}

// New builds a controller and registers its event handlers on the informers.
func New(o Options) (*Controller, error) {
	c := &Controller{
		Options: o,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "rolloutd"}),
	}
	if o.Urgent.Workers > 0 {
		c.urgent = newUrgentQueue()
	}
	o.Informers.onStripped = c.rememberStripped
	if err := o.Informers.AddHandlers(c.enqueueDeployment, c.enqueueOwner); err != nil {
		return nil, fmt.Errorf("controller: register handlers: %w", err)
	}
	if err := o.Informers.addGeneratedHandler(c.enqueueGenerator); err != nil {
		return nil, fmt.Errorf("controller: register handlers: %w", err)
	}
	if err := o.Informers.addRouteHandler(c.Enqueue); err != nil {
		return nil, fmt.Errorf("controller: register handlers: %w", err)
	}
	return c, nil
}

// QueueLen is the number of keys waiting in both queues, for the queue depth metric.
func (c *Controller) QueueLen() int {
	if c == nil || c.queue == nil {
		return 0
	}
	if c.urgent != nil {
		return c.queue.Len() + c.urgent.Len()
	}
	return c.queue.Len()
}

// Enqueue asks for a reconcile of namespace/name now (the sampler and route
// events use it).
func (c *Controller) Enqueue(key string) { c.queue.Add(key) }

func (c *Controller) enqueueDeployment(obj any) {
	d, ok := untombed(obj).(*appsv1.Deployment)
	if !ok {
		c.enqueueHandingBack(obj)
		return
	}
	if owner := d.Labels[contract.CanaryOfLabel]; owner != "" {
		c.queue.Add(d.Namespace + "/" + owner)
		return
	}
	if !hasRolloutdAnnotations(d) && d.Annotations[leftPausedKey] == "" {
		c.enqueueHandingBack(d)
		return
	}
	c.preempt(d)
	if pendingIntervention(d) && contract.Enabled(d.Annotations) && c.enqueueUrgent(deploymentKey(d)) {
		return
	}
	c.queue.Add(d.Namespace + "/" + d.Name)
}

// enqueueOwner enqueues the Deployment owning a ReplicaSet.
func (c *Controller) enqueueOwner(obj any) {
	rs, ok := untombed(obj).(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	for _, ref := range rs.OwnerReferences {
		if ref.Kind == "Deployment" && ref.Controller != nil && *ref.Controller {
			if d, err := c.Informers.Deployment(rs.Namespace, ref.Name); err == nil && hasRolloutdAnnotations(d) {
				c.queue.Add(rs.Namespace + "/" + ref.Name)
			}
		}
	}
}

// Run starts workers and blocks until ctx is done, then drains the queue.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer c.queue.ShutDown()
	c.leading.Store(true)
	defer c.settleAllHanded()
	defer c.leading.Store(false)
	c.Log.Info("starting workers", zap.Int("workers", workers), zap.Int("urgentWorkers", c.Urgent.Workers))
	var wg sync.WaitGroup
	if c.urgent != nil {
		defer c.urgent.ShutDown()
		for i := 0; i < c.Urgent.Workers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.runUrgent(ctx)
			}()
		}
	}
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait.UntilWithContext(ctx, c.runWorker, time.Second)
		}()
	}
	<-ctx.Done()
	c.queue.ShutDown()
	if c.urgent != nil {
		c.urgent.ShutDown()
	}
	wg.Wait()
	c.Log.Info("workers stopped")
}

func (c *Controller) runWorker(ctx context.Context) {
	for c.processNextWorkItem(ctx) {
	}
}

func (c *Controller) processNextWorkItem(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	requeue, err := c.reconcile(ctx, key, false)
	if err != nil {
		c.reportError(key, err)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	if requeue > 0 {
		c.queue.AddAfter(key, requeue)
	}
	return true
}

// reconcile runs one reconcile of key (from the urgent queue or the main one),
// counts and times it, and logs its error; the caller settles the key in its
// queue.
func (c *Controller) reconcile(ctx context.Context, key string, urgent bool) (time.Duration, error) {
	start := time.Now()
	requeue, err := c.syncLocked(ctx, key, urgent)
	result := "ok"
	if err != nil {
		result = "error"
		c.Metrics.ReconcileErrors.WithLabelValues(errorKind(err)).Inc()
		msg := "reconcile failed; retrying"
		if urgent {
			msg = "urgent " + msg
		}
		c.Log.Warn(msg, zap.String("key", key), zap.Error(err))
	}
	c.Metrics.Reconcile.WithLabelValues(result).Observe(time.Since(start).Seconds())
	return requeue, err
}

// injectFault, set only in a daemon built with the faultinject tag, runs at the
// start of every reconcile of an opted-in Deployment.
var injectFault func(*appsv1.Deployment)

// errPanic marks a reconcile that panicked.
var errPanic = errors.New("reconcile panicked")

// syncRecovered runs Sync and turns a panic into an error: one Deployment's bad
// state must not crash-loop the daemon (and its webhook) for every other one. The
// panic is logged with its stack and counted; the key is retried with backoff.
func (c *Controller) syncRecovered(ctx context.Context, key string, urgent bool) (requeue time.Duration, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.Metrics.Panics.Inc()
			c.Log.Error("reconcile panicked; retrying with backoff", zap.String("key", key),
				zap.Any("panic", p), zap.StackSkip("stack", 1))
			requeue, err = 0, fmt.Errorf("%w: %v", errPanic, p)
		}
	}()
	return c.sync(ctx, key, urgent)
}
