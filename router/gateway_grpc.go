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
	if rules == nil {
		return nil
	}
	out := make([]gwv1.HTTPRouteRule, 0, len(rules))
	for _, r := range rules {
		h := gwv1.HTTPRouteRule{Name: r.Name, Filters: grpcToHTTPFilters(r.Filters), SessionPersistence: r.SessionPersistence}
		for _, m := range r.Matches {
			hm := gwv1.HTTPRouteMatch{}
			if m.Method != nil {
				raw, _ := json.Marshal(m.Method) // a struct of strings: cannot fail
				hm.Path = &gwv1.HTTPPathMatch{Type: ptr.To(grpcMethodPath), Value: ptr.To(string(raw))}
			}
			for _, hd := range m.Headers {
				hm.Headers = append(hm.Headers, gwv1.HTTPHeaderMatch{Type: (*gwv1.HeaderMatchType)(hd.Type),
					Name: gwv1.HTTPHeaderName(hd.Name), Value: hd.Value})
			}
			h.Matches = append(h.Matches, hm)
		}
		for _, b := range r.BackendRefs {
			h.BackendRefs = append(h.BackendRefs, gwv1.HTTPBackendRef{BackendRef: b.BackendRef, Filters: grpcToHTTPFilters(b.Filters)})
		}
		out = append(out, *h.DeepCopy())
	}
	return out
}

// httpToGRPCRules converts rules back to a GRPCRoute's. A path match other
// than a carried method (the catch-all "/" a narrowed copy of a rule without
// matches gets) is no method match.
func httpToGRPCRules(rules []gwv1.HTTPRouteRule) []gwv1.GRPCRouteRule {
	if rules == nil {
		return nil
	}
	out := make([]gwv1.GRPCRouteRule, 0, len(rules))
	for _, h := range rules {
		r := gwv1.GRPCRouteRule{Name: h.Name, Filters: httpToGRPCFilters(h.Filters), SessionPersistence: h.SessionPersistence}
		for _, hm := range h.Matches {
			m := gwv1.GRPCRouteMatch{}
			if p := hm.Path; p != nil && ptr.Deref(p.Type, "") == grpcMethodPath && p.Value != nil {
				m.Method = &gwv1.GRPCMethodMatch{}
				_ = json.Unmarshal([]byte(*p.Value), m.Method) // written by grpcToHTTPRules
			}
			for _, hd := range hm.Headers {
				m.Headers = append(m.Headers, gwv1.GRPCHeaderMatch{Type: (*gwv1.GRPCHeaderMatchType)(hd.Type),
					Name: gwv1.GRPCHeaderName(hd.Name), Value: hd.Value})
			}
			r.Matches = append(r.Matches, m)
		}
		for _, b := range h.BackendRefs {
			r.BackendRefs = append(r.BackendRefs, gwv1.GRPCBackendRef{BackendRef: b.BackendRef, Filters: httpToGRPCFilters(b.Filters)})
		}
		out = append(out, *r.DeepCopy())
	}
	return out
}

// The filter types rolloutd reads or adds have the same names and fields in
// both kinds (RequestHeaderModifier, ResponseHeaderModifier, RequestMirror,
// ExtensionRef are all a GRPCRoute has).
func grpcToHTTPFilters(fs []gwv1.GRPCRouteFilter) []gwv1.HTTPRouteFilter {
	if fs == nil {
		return nil
	}
	out := make([]gwv1.HTTPRouteFilter, 0, len(fs))
	for _, f := range fs {
		out = append(out, gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterType(f.Type), RequestHeaderModifier: f.RequestHeaderModifier,
			ResponseHeaderModifier: f.ResponseHeaderModifier, RequestMirror: f.RequestMirror, ExtensionRef: f.ExtensionRef})
	}
	return out
}

func httpToGRPCFilters(fs []gwv1.HTTPRouteFilter) []gwv1.GRPCRouteFilter {
	if fs == nil {
		return nil
	}
	out := make([]gwv1.GRPCRouteFilter, 0, len(fs))
	for _, f := range fs {
		out = append(out, gwv1.GRPCRouteFilter{Type: gwv1.GRPCRouteFilterType(f.Type), RequestHeaderModifier: f.RequestHeaderModifier,
			ResponseHeaderModifier: f.ResponseHeaderModifier, RequestMirror: f.RequestMirror, ExtensionRef: f.ExtensionRef})
	}
	return out
}
