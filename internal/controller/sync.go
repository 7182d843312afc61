package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/router"
	"github.com/rolloutd/rolloutd/strategy"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// ReasonInvalidSpec is the Event reason for rejected annotations.
const ReasonInvalidSpec = contract.ReasonInvalidSpec

// rollout is the per-reconcile context of one Deployment: what was read at the start
// and what the reconcile decided, so each step below takes few parameters.
type rollout struct {
	c    *Controller
	d    *appsv1.Deployment // a private copy of the cached Deployment
	spec contract.Spec
	prev contract.Status
	log  *zap.Logger
	now  time.Time
	// alert is the pending alert mark, if any, and what became of it.
	alert alertState
	// replicas is the stable's spec.replicas the decision sets (batch releases),
	// written with the status; nil leaves it alone.
	replicas *int32
	// undo is the kept pod template a pending undo command returns to, read
	// from the API; nil without one.
	undo *corev1.PodTemplateSpec
	// evidence times a rollback this reconcile starts (rollbacklatency.go).
	evidence evidence
	// keepPlan, when set, is the hand-back plan resizeCanary keeps on the
	// canary copy (a stripped batch release being handed back: handback.go).
	keepPlan string
	// held names the annotations that stopped parsing mid-rollout ("" when they
	// parse); spec is then the last valid one (held.go).
	held string
	// urgent: this reconcile comes from the urgent queue and does only what
	// takes traffic off the canary (urgent.go); cutting: the write under way
	// does that, through the urgent client.
	urgent, cutting bool
}

// Sync reconciles the Deployment namespace/name once and returns when to look
// again (0: only on change). It is safe to call for any key at any time.
func (c *Controller) Sync(ctx context.Context, key string) (time.Duration, error) {
	return c.sync(ctx, key, false)
}

// sync is Sync; urgent, from the urgent queue, acts only on a pending alert or
// command that takes traffic off the canary, and leaves the rest to Sync.
func (c *Controller) sync(ctx context.Context, key string, urgent bool) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	cached, err := c.Informers.Deployment(ns, name)
	if apierrors.IsNotFound(err) {
		c.Metrics.Forget(ns, name)
		c.applied.Delete(key)
		c.stripped.Delete(key)
		return 0, c.resetUserRoutes(ctx, ns, name)
	}
	if err != nil {
		return 0, fmt.Errorf("get deployment %s: %w", key, err)
	}
	if cached.Labels[contract.CanaryOfLabel] != "" {
		return 0, nil
	}
	if urgent && !(c.intervening(cached) && contract.Enabled(cached.Annotations) && cached.DeletionTimestamp == nil) {
		return 0, nil
	}
	if cached.DeletionTimestamp != nil {
		// Being deleted (its generated objects go with it): only the routes in
		// the user's own objects need taking back; nothing new is started.
		return 0, c.resetUserRoutes(ctx, ns, name)
	}
	r := &rollout{c: c, d: cached.DeepCopy(), now: c.Clock.Now(), urgent: urgent,
		log: c.Log.With(zap.String("namespace", ns), zap.String("deployment", name))}
	if !hasRolloutdAnnotations(cached) {
		return r.releaseOrphans(ctx)
	}
	c.stripped.Delete(key) // opted in again: a later strip is handed back afresh
	if !contract.Enabled(cached.Annotations) {
		return r.optOut(ctx)
	}
	if injectFault != nil {
		injectFault(cached)
	}
	return r.reconcile(ctx)
}

func (r *rollout) reconcile(ctx context.Context) (time.Duration, error) {
	prev, err := contract.Read(r.d.Annotations)
	if err != nil {
		r.log.Warn("unreadable status annotation; starting from Idle", zap.Error(err))
	}
	if prev.Phase == "" {
		prev.UserPaused = r.d.Spec.Paused
	}
	r.prev = prev
	r.log = r.log.With(zap.String("revision", prev.Revision), zap.String("phase", string(prev.Phase)))
	sp, err := contract.Parse(r.d.Name, r.d.Annotations)
	if err != nil && !prev.Phase.Active() {
		return r.invalid(ctx, "invalid annotations", err, true)
	}
	if err != nil {
		sp, r.held = r.lastValidSpec(err), invalidMessage(err)
	}
	if err := contract.NameLimits(r.d.Name, sp.Ingress); err != nil {
		// Never manageable: refused, and the Deployment is left running as it is.
		return r.invalid(ctx, "refused", err, r.d.Spec.Paused)
	}
	r.spec = sp
	in, err := r.observe(ctx)
	if err != nil {
		return 0, err
	}
	in.Held = r.held
	if !r.c.intervening(r.d) {
		// The sequential evidence may be rebuilt from Prometheus: an alert or a
		// command is acted on first.
		r.observeSequential(ctx, &in)
	}
	if strategy.GateDue(in) && !r.c.intervening(r.d) {
		res, preempted := r.runGate(ctx, func(gctx context.Context) analysis.Result { return r.evaluate(gctx, in) })
		if preempted {
			// The reconcile the handler queued acts on the alert or command.
			return time.Millisecond, nil
		}
		in.Gate = &res
		r.sawGate(res)
	}
	d := strategy.Step(in)
	if r.urgent && !d.ReducesExposure(r.prev) && r.restoreTemplate(d.Status) == nil {
		// Nothing to take off the canary: the main queue reconciles it.
		return 0, nil
	}
	r.keepSpec(&d)
	d.Status = contract.WithRecord(r.prev, d.Status, r.spec.RevisionHistory)
	r.decided(d)
	r.timeRollback(d)
	if err := r.apply(ctx, d); err != nil {
		return 0, err
	}
	r.settleHanded(d.KeepAlert)
	r.reportAlert(d)
	return r.requeue(d), nil
}

// routeRecheck bounds the time between two reconciles of an active rollout
// through router gateway when the daemon may not watch HTTPRoutes (no Gateway
// API, or no list/watch right): the route is the user's own object, which no
// owner reference ties to the Deployment, so a hand edit, a GitOps sync or a
// Gateway turning it down is then only seen by looking again. With the route
// informers, their events enqueue the Deployment instead.
const routeRecheck = 5 * time.Second

// requeue is when to reconcile again after decision d.
func (r *rollout) requeue(d strategy.Decision) time.Duration {
	if r.spec.Router != contract.RouterGateway || !d.Status.Phase.Active() || r.c.Informers.routes.watches(r.spec.RouteKind) {
		return d.RequeueAfter
	}
	if d.RequeueAfter == 0 || d.RequeueAfter > routeRecheck {
		return routeRecheck
	}
	return d.RequeueAfter
}

// observe gathers what the strategy decides on: the stable's template and running
// revision, the canary's readiness, a pending operator command, and whether the
// routing prerequisites exist.
func (r *rollout) observe(ctx context.Context) (strategy.Input, error) {
	d := r.d
	sets, err := r.c.Informers.ReplicaSetsOf(d)
	if err != nil {
		return strategy.Input{}, fmt.Errorf("list replicasets: %w", err)
	}
	desired := int32(1)
	if d.Spec.Replicas != nil {
		desired = *d.Spec.Replicas
	}
	in := strategy.Input{
		Name:   d.Name,
		Now:    r.now,
		Spec:   r.spec,
		Status: r.prev,
		Stable: strategy.Stable{
			Template:  workload.Revision(d.Spec.Template),
			Running:   workload.Running(d, sets),
			Desired:   desired,
			RolledOut: workload.RolledOut(d),
			Paused:    d.Spec.Paused,
			Ready:     workload.ReadyReplicas(d),
			Pods:      d.Status.Replicas,
		},
		ReadyTimeout:    r.c.ReadyTimeout,
		UnreadyLimit:    r.c.UnreadyLimit,
		StandingRefresh: r.c.Standing,
		Command:         readCommand(d.Annotations),
	}
	in.Stable.Newest, in.Stable.NewestPods = workload.Newest(d, sets)
	if d.Spec.ProgressDeadlineSeconds != nil {
		in.ReadyTimeout = time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second
	}
	if err := r.observeAlert(ctx, &in, sets); err != nil {
		return strategy.Input{}, err
	}
	if err := r.observeUndo(ctx, &in, sets); err != nil {
		return strategy.Input{}, err
	}
	c, foreign := r.canary()
	switch {
	case c != nil && removing(c):
		// Being deleted: of no revision, nothing Ready, until it is gone.
		in.Canary = strategy.Canary{Exists: true, Replicas: workload.Replicas(c), Pods: c.Status.Replicas}
	case c != nil:
		in.Canary = strategy.Canary{Exists: true, Revision: c.Annotations[contract.RevisionAnnotation], Ready: workload.CanaryReady(c),
			Replicas: workload.Replicas(c), Pods: c.Status.Replicas}
	}
	if (in.Stable.Template != in.Stable.Running || r.prev.Phase.Active()) && !leaving(in) {
		if in.Broken, err = r.checkRouting(ctx); err != nil {
			return strategy.Input{}, err
		}
		if in.Broken == "" && foreign != nil {
			in.Broken = foreign.Error()
		}
	}
	return in, nil
}

// leaving reports whether this reconcile takes traffic off the canary anyway (an
// alert, an abort, a rollback under way): routing checks would only delay it.
func leaving(in strategy.Input) bool {
	return in.Alert != nil || in.Status.Phase == contract.RollingBack ||
		(in.Command != nil && in.Command.Verb == contract.Abort)
}

// routeChecker is a router that can tell whether its routing object is fit to
// carry a canary (router gateway: the HTTPRoute exists and its Gateways accept it).
type routeChecker interface {
	Problem(ctx context.Context, t router.Target) (string, error)
}

// checkRouting returns why traffic cannot be routed ("" when it can): the user's
// Service, and for router nginx the Ingress, must exist and be the Deployment's
// own (the Service selects its pods, the Ingress sends to that Service:
// ownership.go); a router that checks its
// own objects must find no problem (an error reading them is retried, not a
// problem: a slow API server must not roll a canary back).
func (r *rollout) checkRouting(ctx context.Context) (string, error) {
	ns := r.d.Namespace
	svc, err := cachedOrLive(ctx, ns, r.spec.Service, r.c.Informers.Service, r.c.Kube.CoreV1().Services(ns).Get)
	if apierrors.IsNotFound(err) {
		return fmt.Sprintf("service %s/%s: %v (set %s to the Service selecting the stable pods)", ns, r.spec.Service, err, contract.KeyService), nil
	}
	if err != nil {
		return "", fmt.Errorf("get service %s/%s: %w", ns, r.spec.Service, err)
	}
	if msg := foreignService(r.d, svc); msg != "" {
		return msg, nil
	}
	if r.spec.Router == contract.RouterNginx {
		ing, err := cachedOrLive(ctx, ns, r.spec.Ingress, r.c.Informers.Ingress, r.c.Kube.NetworkingV1().Ingresses(ns).Get)
		if apierrors.IsNotFound(err) {
			return fmt.Sprintf("ingress %s/%s: %v (set %s to the Ingress to split)", ns, r.spec.Ingress, err, contract.KeyIngress), nil
		}
		if err != nil {
			return "", fmt.Errorf("get ingress %s/%s: %w", ns, r.spec.Ingress, err)
		}
		if msg := foreignIngress(ing, r.spec.Service); msg != "" {
			return msg, nil
		}
	}
	if rc, ok := r.c.Routers[r.spec.Router].(routeChecker); ok {
		return rc.Problem(ctx, r.target())
	}
	return "", nil
}

// cachedOrLive reads an object from the cache and, when the cache has none, from
// the API: an object created a moment ago may not be cached yet, and a routing
// check that trusted the miss would roll a healthy canary back.
func cachedOrLive[T any](ctx context.Context, ns, name string, cached func(ns, name string) (T, error),
	live func(ctx context.Context, name string, opts metav1.GetOptions) (T, error)) (T, error) {
	obj, err := cached(ns, name)
	if apierrors.IsNotFound(err) {
		return live(ctx, name, metav1.GetOptions{})
	}
	return obj, err
}

// evaluate runs the gate due now and records its figures.
func (r *rollout) evaluate(ctx context.Context, in strategy.Input) analysis.Result {
	t := r.analysisTarget(in)
	custom, bad := r.customChecks(ctx)
	checks := append(append([]contract.Check(nil), r.spec.Checks...), custom...)
	start := time.Now()
	queried, seq := gateChecks(checks, in.Sequential)
	if in.Sequential == nil {
		queried, seq = r.growthChecks(checks)
	}
	res := r.c.Analyzer.Evaluate(ctx, t, queried)
	if seq != nil {
		res = analysis.Combine(mergeChecks(checks, res.Checks, seq))
	}
	if bad != nil {
		res = analysis.Combine(append(res.Checks, *bad))
	}
	r.c.Metrics.GateDuration.WithLabelValues(string(res.Verdict)).Observe(time.Since(start).Seconds())
	r.c.Metrics.Gates.WithLabelValues(string(res.Verdict)).Inc()
	for _, ch := range res.Checks {
		r.c.Metrics.Checks.WithLabelValues(ch.Name, string(ch.Verdict)).Inc()
	}
	r.log.Info("gate evaluated", zap.String("verdict", string(res.Verdict)), zap.Strings("failed", res.FailedNames()),
		zap.Duration("window", t.Window))
	return res
}

// invalid records rejected annotations: a Warning Event and a status message naming
// the annotation and the accepted form. Nothing starts; traffic stays as it is;
// the stable is held paused as given.
func (r *rollout) invalid(ctx context.Context, what string, perr error, paused bool) (time.Duration, error) {
	next := r.prev
	if next.Phase == "" {
		next.Phase = contract.Idle
		next.LastTransitionTime = r.now
	}
	next.Reason = ReasonInvalidSpec
	next.Message = what + ": " + invalidList(perr)
	if next.Message == r.prev.Message {
		return 0, nil
	}
	if err := r.write(ctx, next, paused, false); err != nil {
		return 0, err
	}
	r.event(corev1.EventTypeWarning, ReasonInvalidSpec, next.Message)
	return 0, nil
}

func (r *rollout) target() router.Target {
	return router.Target{
		Namespace:     r.d.Namespace,
		Deployment:    r.d.Name,
		Service:       r.spec.Service,
		CanaryService: contract.CanaryName(r.d.Name),
		Ingress:       r.spec.Ingress,
		Route:         r.spec.Route,
		RouteKind:     string(r.spec.RouteKind),
		Owner:         workload.OwnerRef(r.d),
	}
}

func (r *rollout) event(kind, reason, msg string) {
	r.c.Recorder.Event(r.d, kind, reason, msg)
}

// errorKind classifies a reconcile error for the error counter.
func errorKind(err error) string {
	switch {
	case apierrors.IsConflict(err):
		return "conflict"
	case apierrors.IsForbidden(err):
		return "forbidden"
	case apierrors.IsNotFound(err):
		return "not_found"
	case errors.Is(err, errPanic):
		return "panic"
	default:
		return "other"
	}
}
