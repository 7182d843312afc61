package router

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Route kinds of Target.RouteKind ("" is an HTTPRoute).
const (
	RouteKindHTTP = "HTTPRoute"
	RouteKindGRPC = "GRPCRoute"
)

// routeView is the user's route of either kind, its rules seen as HTTPRoute
// rules: a GRPCRoute's convert both ways without loss (gateway_grpc.go), so
// one code path splits, restores and checks both kinds.
type routeView struct {
	metav1.ObjectMeta
	Kind    string
	Rules   []gwv1.HTTPRouteRule
	Parents []gwv1.RouteParentStatus
	http    *gwv1.HTTPRoute
	grpc    *gwv1.GRPCRoute
}

// routeKind is the target's route kind, HTTPRoute when not given.
func routeKind(t Target) string {
	if t.RouteKind == RouteKindGRPC {
		return RouteKindGRPC
	}
	return RouteKindHTTP
}

// routeName names the target's route in messages: "httproute shop/web".
func routeName(t Target) string {
	return strings.ToLower(routeKind(t)) + " " + t.Namespace + "/" + t.Route
}

// getRoute reads the target's route; the API's error is returned unwrapped,
// for the caller to tell NotFound and Forbidden.
func (g Gateway) getRoute(ctx context.Context, t Target) (*routeView, error) {
	api := g.Client.GatewayV1()
	if routeKind(t) == RouteKindGRPC {
		r, err := api.GRPCRoutes(t.Namespace).Get(ctx, t.Route, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return &routeView{ObjectMeta: r.ObjectMeta, Kind: RouteKindGRPC, Rules: grpcToHTTPRules(r.Spec.Rules),
			Parents: r.Status.Parents, grpc: r}, nil
	}
	r, err := api.HTTPRoutes(t.Namespace).Get(ctx, t.Route, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return &routeView{ObjectMeta: r.ObjectMeta, Kind: RouteKindHTTP, Rules: r.Spec.Rules, Parents: r.Status.Parents, http: r}, nil
}

// updateRoute writes the route's annotations and rules under rolloutd's field
// manager, guarded by the resourceVersion read.
func (g Gateway) updateRoute(ctx context.Context, r *routeView) (*routeView, error) {
	api, opts := g.Client.GatewayV1(), metav1.UpdateOptions{FieldManager: GatewayFieldManager}
	name := strings.ToLower(r.Kind) + " " + r.Namespace + "/" + r.Name
	if r.grpc != nil {
		upd := r.grpc.DeepCopy()
		upd.ObjectMeta = *r.ObjectMeta.DeepCopy()
		upd.Spec.Rules = httpToGRPCRules(r.Rules)
		out, err := api.GRPCRoutes(r.Namespace).Update(ctx, upd, opts)
		if err != nil {
			return nil, fmt.Errorf("gateway: update %s: %w", name, err)
		}
		return &routeView{ObjectMeta: out.ObjectMeta, Kind: RouteKindGRPC, Rules: grpcToHTTPRules(out.Spec.Rules),
			Parents: out.Status.Parents, grpc: out}, nil
	}
	upd := r.http.DeepCopy()
	upd.ObjectMeta = *r.ObjectMeta.DeepCopy()
	upd.Spec.Rules = r.Rules
	out, err := api.HTTPRoutes(r.Namespace).Update(ctx, upd, opts)
	if err != nil {
		return nil, fmt.Errorf("gateway: update %s: %w", name, err)
	}
	return &routeView{ObjectMeta: out.ObjectMeta, Kind: RouteKindHTTP, Rules: out.Spec.Rules, Parents: out.Status.Parents, http: out}, nil
}

// patchRoute sends a JSON patch to the route.
func (g Gateway) patchRoute(ctx context.Context, r *routeView, patch []byte) error {
	api, opts := g.Client.GatewayV1(), metav1.PatchOptions{FieldManager: GatewayFieldManager}
	var err error
	if r.grpc != nil {
		_, err = api.GRPCRoutes(r.Namespace).Patch(ctx, r.Name, types.JSONPatchType, patch, opts)
	} else {
		_, err = api.HTTPRoutes(r.Namespace).Patch(ctx, r.Name, types.JSONPatchType, patch, opts)
	}
	return err
}
