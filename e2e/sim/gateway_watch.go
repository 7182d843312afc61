package sim

import (
	"context"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"
)

// gatewayStatusEvery is how often the simulator, as the controller of
// GatewayClass sim, brings the status of its Gateways and routes up to date.
const gatewayStatusEvery = 200 * time.Millisecond

// startGateway starts the Gateway and HTTPRoute informers when the API server
// serves the Gateway API, and the status loop; it reports whether it did.
func (w *Watcher) startGateway(ctx context.Context) bool {
	if w.clients.Gateway == nil || w.clients.Discovery == nil {
		return true // nothing to retry
	}
	res, err := w.clients.Discovery.ServerResourcesForGroupVersion(gwv1.GroupVersion.String())
	if err != nil || !hasResources(res.APIResources, "httproutes", "gateways", "gatewayclasses") {
		w.log.Debug("gateway api CRDs not served yet; routing without them", zap.Error(err))
		return false
	}
	f := gwinformers.NewSharedInformerFactory(w.clients.Gateway, resyncNever)
	routes, gateways := f.Gateway().V1().HTTPRoutes().Informer(), f.Gateway().V1().Gateways().Informer()
	all := []cache.SharedIndexInformer{routes, gateways}
	var grpc cache.SharedIndexInformer
	if hasResources(res.APIResources, "grpcroutes") {
		grpc = f.Gateway().V1().GRPCRoutes().Informer()
		all = append(all, grpc)
	}
	synced := make([]cache.InformerSynced, 0, len(all))
	for _, inf := range all {
		if err := setup(inf, stripManagedFields, nil, w.warned); err != nil {
			w.log.Error("gateway api informers", zap.Error(err))
			return false
		}
		synced = append(synced, inf.HasSynced)
	}
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return false
	}
	w.mu.Lock()
	w.routes, w.gateways, w.grpcRoutes = routes, gateways, grpc
	w.mu.Unlock()
	w.log.Info("watching Gateway API Gateways, HTTPRoutes and GRPCRoutes", zap.String("gatewayClass", GatewayClassName),
		zap.Bool("grpcRoutes", grpc != nil))
	go w.gatewayStatusLoop(ctx)
	return true
}

func stripManagedFields(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// HTTPRoutes implements World: the namespace's HTTPRoutes, then its
// GRPCRoutes as the HTTPRoutes a Gateway would route their calls by (grpc.go);
// empty while the Gateway API is not served.
func (w *Watcher) HTTPRoutes(namespace string) []*gwv1.HTTPRoute {
	w.mu.RLock()
	inf, grpc := w.routes, w.grpcRoutes
	w.mu.RUnlock()
	out := listAs[*gwv1.HTTPRoute](inf, namespace)
	for _, g := range listAs[*gwv1.GRPCRoute](grpc, namespace) {
		out = append(out, grpcAsHTTPRoute(g))
	}
	return out
}

// Gateway implements World.
func (w *Watcher) Gateway(namespace, name string) *gwv1.Gateway {
	w.mu.RLock()
	inf := w.gateways
	w.mu.RUnlock()
	if inf == nil {
		return nil
	}
	return getAs[*gwv1.Gateway](inf, namespace, name)
}

// gatewayStatusLoop marks GatewayClass sim, its Gateways and the routes
// attached to them the way a Gateway controller does, until ctx is done.
func (w *Watcher) gatewayStatusLoop(ctx context.Context) {
	everyTick(ctx, gatewayStatusEvery, func() bool {
		w.syncGatewayStatus(ctx)
		return false
	})
}

func (w *Watcher) syncGatewayStatus(ctx context.Context) {
	api := w.clients.Gateway.GatewayV1()
	if gc, err := api.GatewayClasses().Get(ctx, GatewayClassName, metav1.GetOptions{}); err == nil {
		next := gc.DeepCopy()
		setCondition(&next.Status.Conditions, string(gwv1.GatewayClassConditionStatusAccepted), true, "Accepted", "the simulator implements it", gc.Generation)
		if !equality.Semantic.DeepEqual(gc.Status, next.Status) {
			if _, err := api.GatewayClasses().UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
				w.log.Debug("gatewayclass status", zap.Error(err))
			}
		}
	}
	w.mu.RLock()
	gateways := w.gateways
	w.mu.RUnlock()
	for _, g := range listAs[*gwv1.Gateway](gateways, "") {
		if g.Spec.GatewayClassName != GatewayClassName {
			continue
		}
		next := g.DeepCopy()
		setCondition(&next.Status.Conditions, string(gwv1.GatewayConditionAccepted), true, "Accepted", "accepted by the simulator", g.Generation)
		setCondition(&next.Status.Conditions, string(gwv1.GatewayConditionProgrammed), true, "Programmed", "routed by the simulator", g.Generation)
		if !equality.Semantic.DeepEqual(g.Status, next.Status) {
			if _, err := api.Gateways(g.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
				w.log.Debug("gateway status", zap.String("gateway", g.Namespace+"/"+g.Name), zap.Error(err))
			}
		}
	}
	for _, r := range w.HTTPRoutes("") {
		next := routeStatus(w, r)
		if equality.Semantic.DeepEqual(r.Status, next.Status) {
			continue
		}
		if isGRPC(r) {
			w.updateGRPCStatus(ctx, r.Namespace, r.Name, next.Status.RouteStatus)
			continue
		}
		if _, err := api.HTTPRoutes(r.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
			w.log.Debug("httproute status", zap.String("route", r.Namespace+"/"+r.Name), zap.Error(err))
		}
	}
}

// updateGRPCStatus writes the status the simulator computed for a GRPCRoute
// (as an HTTPRoute) back to the GRPCRoute it caches.
func (w *Watcher) updateGRPCStatus(ctx context.Context, ns, name string, st gwv1.RouteStatus) {
	w.mu.RLock()
	inf := w.grpcRoutes
	w.mu.RUnlock()
	g := getAs[*gwv1.GRPCRoute](inf, ns, name)
	if g == nil {
		return
	}
	next := g.DeepCopy()
	next.Status.RouteStatus = st
	if _, err := w.clients.Gateway.GatewayV1().GRPCRoutes(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
		w.log.Debug("grpcroute status", zap.String("route", ns+"/"+name), zap.Error(err))
	}
}

// routeStatus returns the route with status.parents set for each parentRef to
// a sim Gateway: Accepted, and ResolvedRefs (a missing Service is False);
// other controllers' entries are kept.
func routeStatus(w World, r *gwv1.HTTPRoute) *gwv1.HTTPRoute {
	next := r.DeepCopy()
	var parents []gwv1.RouteParentStatus
	for _, p := range r.Status.Parents {
		if p.ControllerName != GatewayController {
			parents = append(parents, p)
		}
	}
	refs := resolveRefs(w, r)
	for _, p := range r.Spec.ParentRefs {
		a, ours := parentAcceptance(w, r, p)
		if !ours {
			continue
		}
		st := gwv1.RouteParentStatus{ParentRef: p, ControllerName: GatewayController}
		for _, old := range r.Status.Parents {
			if old.ControllerName == GatewayController && equality.Semantic.DeepEqual(old.ParentRef, p) {
				st.Conditions = append(st.Conditions, old.Conditions...)
			}
		}
		setCondition(&st.Conditions, string(gwv1.RouteConditionAccepted), a.ok, a.reason, a.message, r.Generation)
		setCondition(&st.Conditions, string(gwv1.RouteConditionResolvedRefs), refs.ok, refs.reason, refs.message, r.Generation)
		parents = append(parents, st)
	}
	next.Status.Parents = parents
	return next
}

// setCondition sets a condition, keeping its transition time while its status
// holds.
func setCondition(conds *[]metav1.Condition, typ string, ok bool, reason, msg string, gen int64) {
	st := metav1.ConditionFalse
	if ok {
		st = metav1.ConditionTrue
	}
	meta.SetStatusCondition(conds, metav1.Condition{Type: typ, Status: st, Reason: reason, Message: msg, ObservedGeneration: gen})
}
