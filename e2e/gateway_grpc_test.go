//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Given an opted-in Deployment with router gateway and rolloutd.io/route
// naming the user's GRPCRoute (a method rule with a header filter, and a
// catch-all rule), when a healthy version is released, then the canary joins
// both rules step by step with stable and canary adding up to 100, the Gateway
// sends it calls, the release is promoted, and the GRPCRoute ends exactly as
// the user wrote it.
func TestGatewayGRPCRouteCanaryIsPromoted(t *testing.T) {
	t.Parallel()
	env, ns, gw := gatewayScenario(t)
	a := app{name: "cart", replicas: 3, rps: 200, annotations: map[string]string{
		"rolloutd.io/route": "grpcroute/cart-rpc", "rolloutd.io/steps": "20,50", "rolloutd.io/interval": "15s"}}
	written := grpcApp(t, env, gw, ns, a, "cart-rpc")
	tl := watchGRPCRoute(t, gw, ns, "cart-rpc", a.name)

	release(t, env.Kube, ns, a.name, "example.com/cart:v2", nil)

	waitGatewayServesCanary(t, env, ns, a.name, "the Gateway sends calls to the canary")
	requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.Succeeded)
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
	requireGRPCRouteAsWritten(t, gw, written)
	weights, bad := tl.weights()
	assert.Empty(t, bad, "every GRPCRoute version has stable and canary adding up to 100")
	assert.Equal(t, []int{-2, 20, 50, 100, -2}, weights, "canary weights in order (-2 = the user's rules)")
}

// Given the same setup, when a version with 10% errors is released, then it is
// rolled back naming error-rate and the GRPCRoute's rules are restored exactly
// as written, with no annotation or field manager of rolloutd's left.
func TestGatewayGRPCRouteBadCanaryIsRolledBackAndRuleRestored(t *testing.T) {
	t.Parallel()
	env, ns, gw := gatewayScenario(t)
	a := app{name: "pay", replicas: 3, rps: 200, annotations: map[string]string{"rolloutd.io/route": "grpcroute/pay-rpc"}}
	written := grpcApp(t, env, gw, ns, a, "pay-rpc")
	tl := watchGRPCRoute(t, gw, ns, "pay-rpc", a.name)

	release(t, env.Kube, ns, a.name, "example.com/pay:bad", map[string]string{"sim.rolloutd.io/error-rate": "0.1"})

	st := requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.RolledBack)
	assert.Contains(t, st.Message, "error-rate")
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
	requireGRPCRouteAsWritten(t, gw, written)
	assertRolledBackFromFirstStep(t, tl, "GRPCRoute")
}

// grpcApp creates Gateway edge, the app (router gateway) and the user's
// GRPCRoute route to its Service, and returns the route as stored once the
// simulator accepted it.
func grpcApp(t *testing.T, env *framework.Env, gw gwclient.Interface, ns string, a app, route string) *gwv1.GRPCRoute {
	t.Helper()
	a.router = "gateway"
	createGateway(t, gw, ns)
	a.create(t, env.Kube, ns)
	y := fmt.Sprintf(`
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: %[3]s, namespace: %[2]s}
spec:
  parentRefs: [{name: edge}]
  hostnames: [%[1]s.example.com]
  rules:
  - matches: [{method: {service: shop.Cart, method: Add}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x-route, value: add}]}
    backendRefs: [{name: %[1]s, port: 80}]
  - backendRefs: [{name: %[1]s, port: 80}]
`, a.name, ns, route)
	return createAcceptedRoute(t, "GRPCRoute", route, y, gw.GatewayV1().GRPCRoutes(ns), func(g *gwv1.GRPCRoute) *gwv1.HTTPRoute {
		return &gwv1.HTTPRoute{ObjectMeta: g.ObjectMeta, Status: gwv1.HTTPRouteStatus{RouteStatus: g.Status.RouteStatus}}
	})
}

// requireGRPCRouteAsWritten waits until the GRPCRoute's spec is the one
// written and no trace of rolloutd is left on it.
func requireGRPCRouteAsWritten(t *testing.T, gw gwclient.Interface, written *gwv1.GRPCRoute) {
	t.Helper()
	requireNoTraceOnRoute(t, "GRPCRoute", written.Spec, func() (any, metav1.ObjectMeta, error) {
		got, err := gw.GatewayV1().GRPCRoutes(written.Namespace).Get(context.Background(), written.Name, metav1.GetOptions{})
		if err != nil {
			return nil, metav1.ObjectMeta{}, err
		}
		return got.Spec, got.ObjectMeta, nil
	})
}

// watchGRPCRoute records every version of a GRPCRoute on a routeTimeline: its
// backendRefs are what the timeline reads.
func watchGRPCRoute(t *testing.T, gw gwclient.Interface, ns, name, svc string) *routeTimeline {
	t.Helper()
	return recordRoutes(t, svc, func(ctx context.Context) (watch.Interface, error) {
		return gw.GatewayV1().GRPCRoutes(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	}, func(o runtime.Object) *gwv1.HTTPRoute {
		g, ok := o.(*gwv1.GRPCRoute)
		if !ok {
			return nil
		}
		view := &gwv1.HTTPRoute{ObjectMeta: g.ObjectMeta}
		for _, rule := range g.Spec.Rules {
			h := gwv1.HTTPRouteRule{Name: rule.Name}
			for _, b := range rule.BackendRefs {
				h.BackendRefs = append(h.BackendRefs, gwv1.HTTPBackendRef{BackendRef: b.BackendRef})
			}
			view.Spec.Rules = append(view.Spec.Rules, h)
		}
		return view
	})
}
