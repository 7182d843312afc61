package controller

import (
	"context"
	"errors"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/internal/alerts"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// DefaultGateTimeout bounds one gate's analysis when Options.GateTimeout is zero:
// three attempts of a 5 s query with their backoff fit in it.
const DefaultGateTimeout = 20 * time.Second

// errPreempted cancels a gate in flight when an alert mark or an operator command
// arrives: what takes traffic off the canary never waits behind Prometheus.
var errPreempted = errors.New("an alert or a command arrived; acted on before the gate")

// gateRun is the cancel function of the gate one Deployment is evaluating.
type gateRun struct{ cancel context.CancelCauseFunc }

// pendingIntervention reports whether the Deployment carries an alert mark or an
// operator command, decodable or not: either is acted on before any query, so no
// gate starts while one waits (the write that consumes it drops a malformed one).
func pendingIntervention(d *appsv1.Deployment) bool {
	_, alert := d.Annotations[alerts.Key]
	_, cmd := d.Annotations[contract.CommandKey]
	return alert || cmd
}

// preempt cancels the gate in flight for d, if d now carries an alert mark or a
// command; the informer's handler calls it before it enqueues d, so the reconcile
// that acts on them comes right after the cancelled one.
func (c *Controller) preempt(d *appsv1.Deployment) {
	if !pendingIntervention(d) {
		return
	}
	c.preemptKey(deploymentKey(d))
}

// preemptKey cancels the gate in flight for the Deployment key, if any.
func (c *Controller) preemptKey(key string) {
	if v, ok := c.gates.Load(key); ok {
		v.(*gateRun).cancel(errPreempted)
	}
}

// runGate evaluates the gate due within the gate deadline (which also bounds the
// wait for a shared query slot) and registers it for preemption. preempted is
// true when an alert or a command cancelled it: its result must not be judged.
func (r *rollout) runGate(ctx context.Context, eval func(context.Context) analysis.Result) (res analysis.Result, preempted bool) {
	timeout := r.c.GateTimeout
	if timeout <= 0 {
		timeout = DefaultGateTimeout
	}
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	gctx, stop := context.WithTimeout(cctx, timeout)
	defer stop()
	key := deploymentKey(r.d)
	run := &gateRun{cancel: cancel}
	r.c.gates.Store(key, run)
	defer r.c.gates.CompareAndDelete(key, run)
	// The alert or command may have landed between the cache read and the
	// registration above.
	if fresh, err := r.c.Informers.Deployment(r.d.Namespace, r.d.Name); err == nil && r.c.intervening(fresh) {
		return analysis.Result{}, true
	}
	res = eval(gctx)
	return res, errors.Is(context.Cause(cctx), errPreempted)
}
