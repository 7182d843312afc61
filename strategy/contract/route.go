package contract

import "strings"

// RouteKind is the kind of Gateway API route router gateway splits.
type RouteKind string

// Route kinds router gateway serves: the same weighted backendRefs, header
// matches, mirror and response-header filters in both.
const (
	RouteHTTP RouteKind = "HTTPRoute"
	RouteGRPC RouteKind = "GRPCRoute"
)

// routePrefixes are the forms rolloutd.io/route accepts before a route's name;
// a bare name is an HTTPRoute, as the contract has it.
var routePrefixes = map[string]RouteKind{"httproute": RouteHTTP, "grpcroute": RouteGRPC}

// SplitRoute reads a rolloutd.io/route value: "NAME" or "httproute/NAME" (an
// HTTPRoute), "grpcroute/NAME" (a GRPCRoute); the kind is matched without case
// ("GRPCRoute/NAME" too). ok is false for any other prefix.
func SplitRoute(v string) (kind RouteKind, name string, ok bool) {
	prefix, name, found := strings.Cut(v, "/")
	if !found {
		return RouteHTTP, v, true
	}
	kind, ok = routePrefixes[strings.ToLower(prefix)]
	return kind, name, ok
}

// RouteOf returns the route a Deployment named name splits by its annotations
// (the Deployment's own name as an HTTPRoute by default), without validating
// the name; for indexes that must not fail.
func RouteOf(name string, ann map[string]string) (RouteKind, string) {
	v := strings.TrimSpace(ann[KeyRoute])
	if v == "" {
		return RouteHTTP, name
	}
	kind, route, _ := SplitRoute(v)
	return kind, route
}

// route parses rolloutd.io/route.
func (p *parser) route(name string) (RouteKind, string) {
	v, ok := p.get(KeyRoute)
	if !ok {
		return RouteHTTP, name
	}
	kind, route, ok := SplitRoute(v)
	if !ok || len(route) > 63 || !dnsLabel.MatchString(route) {
		p.fail(KeyRoute, v, "a route name (an HTTPRoute), httproute/NAME or grpcroute/NAME", nil)
		return RouteHTTP, name
	}
	return kind, route
}
