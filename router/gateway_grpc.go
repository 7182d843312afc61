package router

import (
	"encoding/json"

	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// grpcMethodPath is the path match type that carries a GRPCRoute's method
// match inside the HTTPRoute form of its rules. It never reaches the API: the
// rules convert back before every write, and the HTTP-only code never looks
// into a path match it did not write.
const grpcMethodPath gwv1.PathMatchType = "rolloutd.io/grpc-method"

// grpcToHTTPRules converts a GRPCRoute's rules to the HTTPRoute form the
// splitting code works on. Everything it reads or adds (names, header matches,
// filters, weighted backendRefs with their filters, session persistence) has
// the same type or the same values in both kinds; a method match travels in
// the path match as JSON, so httpToGRPCRules restores it exactly.
func grpcToHTTPRules(rules []gwv1.GRPCRouteRule) []gwv1.HTTPRouteRule {
	return convertAll(rules, func(r gwv1.GRPCRouteRule) gwv1.HTTPRouteRule {
		h := gwv1.HTTPRouteRule{Name: r.Name, Filters: grpcToHTTPFilters(r.Filters), SessionPersistence: r.SessionPersistence,
			Matches: appendConverted(r.Matches, grpcToHTTPMatch), BackendRefs: appendConverted(r.BackendRefs, grpcToHTTPBackend)}
		return *h.DeepCopy()
	})
}

// httpToGRPCRules converts rules back to a GRPCRoute's.
func httpToGRPCRules(rules []gwv1.HTTPRouteRule) []gwv1.GRPCRouteRule {
	return convertAll(rules, func(h gwv1.HTTPRouteRule) gwv1.GRPCRouteRule {
		r := gwv1.GRPCRouteRule{Name: h.Name, Filters: httpToGRPCFilters(h.Filters), SessionPersistence: h.SessionPersistence,
			Matches: appendConverted(h.Matches, httpToGRPCMatch), BackendRefs: appendConverted(h.BackendRefs, httpToGRPCBackend)}
		return *r.DeepCopy()
	})
}

func grpcToHTTPBackend(b gwv1.GRPCBackendRef) gwv1.HTTPBackendRef {
	return gwv1.HTTPBackendRef{BackendRef: b.BackendRef, Filters: grpcToHTTPFilters(b.Filters)}
}

func httpToGRPCBackend(b gwv1.HTTPBackendRef) gwv1.GRPCBackendRef {
	return gwv1.GRPCBackendRef{BackendRef: b.BackendRef, Filters: httpToGRPCFilters(b.Filters)}
}

func grpcToHTTPMatch(m gwv1.GRPCRouteMatch) gwv1.HTTPRouteMatch {
	hm := gwv1.HTTPRouteMatch{Headers: appendConverted(m.Headers, func(hd gwv1.GRPCHeaderMatch) gwv1.HTTPHeaderMatch {
		return gwv1.HTTPHeaderMatch{Type: (*gwv1.HeaderMatchType)(hd.Type), Name: gwv1.HTTPHeaderName(hd.Name), Value: hd.Value}
	})}
	if m.Method != nil {
		raw, _ := json.Marshal(m.Method) // a struct of strings: cannot fail
		hm.Path = &gwv1.HTTPPathMatch{Type: ptr.To(grpcMethodPath), Value: ptr.To(string(raw))}
	}
	return hm
}

// httpToGRPCMatch restores a match. A path match other than a carried method
// (the catch-all "/" a narrowed copy of a rule without matches gets) is no
// method match.
func httpToGRPCMatch(hm gwv1.HTTPRouteMatch) gwv1.GRPCRouteMatch {
	m := gwv1.GRPCRouteMatch{Headers: appendConverted(hm.Headers, func(hd gwv1.HTTPHeaderMatch) gwv1.GRPCHeaderMatch {
		return gwv1.GRPCHeaderMatch{Type: (*gwv1.GRPCHeaderMatchType)(hd.Type), Name: gwv1.GRPCHeaderName(hd.Name), Value: hd.Value}
	})}
	if p := hm.Path; p != nil && ptr.Deref(p.Type, "") == grpcMethodPath && p.Value != nil {
		m.Method = &gwv1.GRPCMethodMatch{}
		_ = json.Unmarshal([]byte(*p.Value), m.Method) // written by grpcToHTTPRules
	}
	return m
}

// The filter types rolloutd reads or adds have the same names and fields in
// both kinds (RequestHeaderModifier, ResponseHeaderModifier, RequestMirror,
// ExtensionRef are all a GRPCRoute has).
func grpcToHTTPFilters(fs []gwv1.GRPCRouteFilter) []gwv1.HTTPRouteFilter {
	return convertAll(fs, func(f gwv1.GRPCRouteFilter) gwv1.HTTPRouteFilter {
		return gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterType(f.Type), RequestHeaderModifier: f.RequestHeaderModifier,
			ResponseHeaderModifier: f.ResponseHeaderModifier, RequestMirror: f.RequestMirror, ExtensionRef: f.ExtensionRef}
	})
}

func httpToGRPCFilters(fs []gwv1.HTTPRouteFilter) []gwv1.GRPCRouteFilter {
	return convertAll(fs, func(f gwv1.HTTPRouteFilter) gwv1.GRPCRouteFilter {
		return gwv1.GRPCRouteFilter{Type: gwv1.GRPCRouteFilterType(f.Type), RequestHeaderModifier: f.RequestHeaderModifier,
			ResponseHeaderModifier: f.ResponseHeaderModifier, RequestMirror: f.RequestMirror, ExtensionRef: f.ExtensionRef}
	})
}

// convertAll converts every element of in, keeping a nil list nil and an empty
// one empty (the round trip gives back the rules it was given).
func convertAll[A, B any](in []A, convert func(A) B) []B {
	if in == nil {
		return nil
	}
	out := make([]B, 0, len(in))
	for _, a := range in {
		out = append(out, convert(a))
	}
	return out
}

// appendConverted converts every element of in into a list that is nil when in
// is empty: a rule's matches, backendRefs and headers are left out rather than
// written as empty lists.
func appendConverted[A, B any](in []A, convert func(A) B) []B {
	var out []B
	for _, a := range in {
		out = append(out, convert(a))
	}
	return out
}
