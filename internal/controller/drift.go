package controller

import (
	"context"
	"fmt"
	"strings"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"

	"github.com/rolloutd/rolloutd/router"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

// ReasonDrift is the Warning Event reason when a generated object was found
// changed or deleted by someone else and rolloutd restored it.
const ReasonDrift = "Drift"

// route applies a split. It skips the router only when the same split was applied
// by this process and the informer caches show every object the router compares
// unchanged since: the memo caches a comparison, it never replaces one. Router
// gateway without route informers applies at every reconcile (its Apply only
// reads when the user's HTTPRoute already matches). A rewrite
// of an object that should already have matched (the split is the one last
// applied, or the one the status records) is drift: recorded as a Warning Event.
func (r *rollout) route(ctx context.Context, rt router.Router, t router.Target, s traffic.Split) error {
	key := deploymentKey(r.d)
	want := fmt.Sprintf("%s/%d/%v/%d/%t", r.prev.Revision, s.CanaryWeight, s.Match, s.MirrorPercent, s.Sticky)
	seen, cached := r.routingVersion()
	last, hadMemo := r.c.applied.Load(key)
	if cached && last == want+"@"+seen {
		return nil
	}
	var drift []string
	t.Drifted = func(object, field string) { drift = append(drift, object+" "+field) }
	if err := rt.Apply(ctx, t, s); err != nil {
		return err
	}
	r.c.applied.Store(key, want+"@"+seen)
	lastSplit, _, _ := strings.Cut(fmt.Sprint(last), "@")
	if (hadMemo && lastSplit == want) || (!hadMemo && r.prev.Phase.Active() && s.CanaryWeight == r.prev.Weight) {
		r.drifted(drift...)
	}
	r.log.Debug("traffic applied", zap.Int("weight", s.CanaryWeight))
	return nil
}

// routingVersion fingerprints, from the informer caches, every object the router
// of this rollout compares; false when they are not cached (no memo then).
func (r *rollout) routingVersion() (string, bool) {
	inf, ns := r.c.Informers, r.d.Namespace
	switch r.spec.Router {
	case contract.RouterService:
		return "", true
	case contract.RouterNginx:
		return inf.ingressVersion(ns, r.spec.Ingress) + "/" + inf.ingressVersion(ns, router.CanaryIngressName(r.spec.Ingress)), true
	case contract.RouterIstio:
		if m := inf.mesh; m.group().synced() {
			return m.version(m.vs, ns, r.spec.Service) + "/" + m.version(m.dr, ns, r.spec.Service), true
		}
	case contract.RouterGateway:
		if g := inf.routes; g.watches(r.spec.RouteKind) {
			return g.version(r.spec.RouteKind, ns, r.spec.Route), true
		}
	}
	return "", false
}

// drifted records repaired drift: one Warning Event per object, naming its fields.
func (r *rollout) drifted(changes ...string) {
	byObject := map[string][]string{}
	var order []string
	for _, ch := range changes {
		// "Kind ns/name field"
		parts := strings.SplitN(ch, " ", 3)
		if len(parts) != 3 {
			continue
		}
		obj := parts[0] + " " + parts[1]
		if _, ok := byObject[obj]; !ok {
			order = append(order, obj)
		}
		byObject[obj] = append(byObject[obj], parts[2])
	}
	for _, obj := range order {
		fields := strings.Join(byObject[obj], ", ")
		r.log.Warn("generated object drifted; restored", zap.String("object", obj), zap.String("fields", fields))
		r.c.Metrics.DriftRepairs.WithLabelValues(strings.Fields(obj)[0]).Inc()
		r.event(corev1.EventTypeWarning, ReasonDrift, fmt.Sprintf("%s: %s changed outside rolloutd; restored", obj, fields))
	}
}

// removeStale takes traffic off routing objects generated under names the spec no
// longer gives (rolloutd.io/ingress or rolloutd.io/service changed mid-rollout, or
// another router chosen), as the caches show them, and removes them.
func (r *rollout) removeStale(ctx context.Context) error {
	ns := r.d.Namespace
	if rt, ok := r.c.Routers[contract.RouterNginx]; ok {
		for _, name := range r.c.Informers.generatedIngresses(ns, r.d.Name) {
			if r.spec.Router == contract.RouterNginx && name == router.CanaryIngressName(r.spec.Ingress) {
				continue
			}
			t := r.target()
			t.Ingress = strings.TrimSuffix(name, router.CanaryIngressName(""))
			if err := rt.Reset(ctx, t); err != nil {
				return err
			}
			r.log.Info("removed routing generated for a former name", zap.String("ingress", name))
		}
	}
	m := r.c.Informers.mesh
	rt, ok := r.c.Routers[contract.RouterIstio]
	if !ok || !m.group().synced() {
		return nil
	}
	seen := map[string]bool{}
	for _, name := range append(m.carrying(m.vs, ns, r.d.Name), m.carrying(m.dr, ns, r.d.Name)...) {
		if seen[name] || (r.spec.Router == contract.RouterIstio && name == r.spec.Service) {
			continue
		}
		seen[name] = true
		t := r.target()
		t.Service = name
		if err := rt.Reset(ctx, t); err != nil {
			return err
		}
		r.log.Info("removed routing generated for a former name", zap.String("virtualservice", name))
	}
	return nil
}

// resetUserRoutes removes the routes rolloutd wrote for Deployment ns/name into
// objects the user owns (a VirtualService; generated objects go with the
// Deployment by their owner reference): after the Deployment was deleted, or
// before a Deployment recreated under its name starts, they would send a share of
// traffic to a canary that no longer exists.
func (c *Controller) resetUserRoutes(ctx context.Context, ns, name string) error {
	if err := c.resetUserVirtualServices(ctx, ns, name); err != nil {
		return err
	}
	return c.resetUserGatewayRoutes(ctx, ns, name)
}

// resetUserVirtualServices removes the Deployment's rolloutd- routes from the
// user's VirtualServices that carry them (router istio).
func (c *Controller) resetUserVirtualServices(ctx context.Context, ns, name string) error {
	m := c.Informers.mesh
	rt, ok := c.Routers[contract.RouterIstio]
	if !ok || !m.group().synced() {
		return nil
	}
	for _, vs := range m.carrying(m.vs, ns, name) {
		t := router.Target{Namespace: ns, Deployment: name, Service: vs, CanaryService: contract.CanaryName(name)}
		if err := rt.Reset(ctx, t); err != nil {
			return err
		}
		c.Log.Info("removed routes of a deleted rollout", zap.String("namespace", ns), zap.String("deployment", name),
			zap.String("virtualservice", vs))
	}
	return nil
}

// resetUserGatewayRoutes gives the user's HTTPRoutes and GRPCRoutes that send to
// the Deployment's canary their rules back (router gateway).
func (c *Controller) resetUserGatewayRoutes(ctx context.Context, ns, name string) error {
	rt, ok := c.Routers[contract.RouterGateway]
	if !ok || c.Informers.routes == nil {
		return nil
	}
	for kind, routes := range c.Informers.routes.carrying(ns, name) {
		for _, route := range routes {
			t := router.Target{Namespace: ns, Deployment: name, CanaryService: contract.CanaryName(name),
				Route: route, RouteKind: string(kind)}
			if err := rt.Reset(ctx, t); err != nil {
				return err
			}
			c.Log.Info("restored the route of a deleted rollout", zap.String("namespace", ns), zap.String("deployment", name),
				zap.String("route", string(kind)+"/"+route))
		}
	}
	return nil
}

// hasStaleRoutes reports whether the caches show routing rolloutd generated for
// this Deployment: a rollout left it behind (the Deployment was recreated).
func (r *rollout) hasStaleRoutes() bool {
	ns, name := r.d.Namespace, r.d.Name
	if len(r.c.Informers.generatedIngresses(ns, name)) > 0 {
		return true
	}
	if r.c.Informers.routes != nil && len(r.c.Informers.routes.carrying(ns, name)) > 0 {
		return true
	}
	m := r.c.Informers.mesh
	return m.group().synced() && len(m.carrying(m.vs, ns, name)) > 0
}
