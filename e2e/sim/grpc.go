package sim

import (
	"regexp"

	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// grpcKindAnnotation marks, in the simulator's memory only, an HTTPRoute that
// stands for a GRPCRoute: a Gateway routes a gRPC call (an HTTP/2 POST to
// /<service>/<method>) by the GRPCRoute's rules the way it routes a request by
// an HTTPRoute's, so the simulator routes and marks both kinds with one code
// path, and writes a GRPCRoute's status back to the GRPCRoute.
const grpcKindAnnotation = "sim.rolloutd.io/route-kind"

// grpcAsHTTPRoute is the GRPCRoute seen as the HTTPRoute a Gateway would
// route the same calls by: a method match becomes the path of the call, header
// matches, filters and weighted backendRefs are the same fields.
func grpcAsHTTPRoute(g *gwv1.GRPCRoute) *gwv1.HTTPRoute {
	r := &gwv1.HTTPRoute{ObjectMeta: *g.ObjectMeta.DeepCopy()}
	if r.Annotations == nil {
		r.Annotations = map[string]string{}
	}
	r.Annotations[grpcKindAnnotation] = "GRPCRoute"
	r.Spec.CommonRouteSpec = *g.Spec.CommonRouteSpec.DeepCopy()
	r.Spec.Hostnames = g.Spec.Hostnames
	r.Status.RouteStatus = *g.Status.RouteStatus.DeepCopy()
	for _, rule := range g.Spec.Rules {
		h := gwv1.HTTPRouteRule{Name: rule.Name, Filters: grpcFilters(rule.Filters)}
		for _, m := range rule.Matches {
			hm := gwv1.HTTPRouteMatch{Path: grpcPath(m.Method)}
			for _, hd := range m.Headers {
				hm.Headers = append(hm.Headers, gwv1.HTTPHeaderMatch{Type: (*gwv1.HeaderMatchType)(hd.Type), Name: gwv1.HTTPHeaderName(hd.Name), Value: hd.Value})
			}
			h.Matches = append(h.Matches, hm)
		}
		for _, b := range rule.BackendRefs {
			h.BackendRefs = append(h.BackendRefs, gwv1.HTTPBackendRef{BackendRef: b.BackendRef, Filters: grpcFilters(b.Filters)})
		}
		r.Spec.Rules = append(r.Spec.Rules, h)
	}
	return r
}

func isGRPC(r *gwv1.HTTPRoute) bool { return r.Annotations[grpcKindAnnotation] == "GRPCRoute" }

// grpcPath is the path match of a gRPC method match: /<service>/<method>,
// either part any when not given (nil: every call).
func grpcPath(m *gwv1.GRPCMethodMatch) *gwv1.HTTPPathMatch {
	if m == nil || (m.Service == nil && m.Method == nil) {
		return nil
	}
	part := func(v *string) string {
		switch {
		case v == nil:
			return "[^/]+"
		case m.Type != nil && *m.Type == gwv1.GRPCMethodMatchRegularExpression:
			return "(?:" + *v + ")"
		default:
			return regexp.QuoteMeta(*v)
		}
	}
	return &gwv1.HTTPPathMatch{Type: ptr.To(gwv1.PathMatchRegularExpression), Value: ptr.To("/" + part(m.Service) + "/" + part(m.Method))}
}

func grpcFilters(fs []gwv1.GRPCRouteFilter) []gwv1.HTTPRouteFilter {
	var out []gwv1.HTTPRouteFilter
	for _, f := range fs {
		out = append(out, gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterType(f.Type), RequestHeaderModifier: f.RequestHeaderModifier,
			ResponseHeaderModifier: f.ResponseHeaderModifier, RequestMirror: f.RequestMirror, ExtensionRef: f.ExtensionRef})
	}
	return out
}
