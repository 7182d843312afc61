package sim

import (
	"fmt"
	"regexp"
	"strings"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// RouterGateway is the router name of traffic routed by a Gateway API HTTPRoute.
const RouterGateway = "gateway"

// GatewayClassName is the GatewayClass the simulator implements, and
// GatewayController its controllerName.
const (
	GatewayClassName  = "sim"
	GatewayController = "sim.rolloutd.io/gateway-controller"
)

// gatewayRouteFor returns the first HTTPRoute (by name) of the Service's
// namespace that a sim Gateway accepted and that has a rule sending to the
// Service, or nil.
func gatewayRouteFor(w World, svc *Service) *gwv1.HTTPRoute {
	for _, r := range w.HTTPRoutes(svc.Namespace) {
		if r.DeletionTimestamp != nil || !acceptedBySim(w, r) {
			continue
		}
		for _, rule := range r.Spec.Rules {
			for _, b := range rule.BackendRefs {
				if ns, name, ok := serviceRef(b.BackendObjectReference, r.Namespace); ok && ns == svc.Namespace && name == svc.Name {
					return r
				}
			}
		}
	}
	return nil
}

func acceptedBySim(w World, r *gwv1.HTTPRoute) bool {
	for _, p := range r.Spec.ParentRefs {
		if a, ours := parentAcceptance(w, r, p); ours && a.ok {
			return true
		}
	}
	return false
}

// gatewayClasses routes each request class by the rule a Gateway would pick.
func gatewayClasses(w World, r *gwv1.HTTPRoute, classes []Class) []ClassRoute {
	out := make([]ClassRoute, 0, len(classes))
	for _, c := range classes {
		cr := ClassRoute{Class: c}
		if rule := ruleFor(r.Spec.Rules, c.Request); rule != nil {
			cr.Backends = gatewayBackends(w, r.Namespace, rule.BackendRefs)
			cr.Mirror = gatewayMirror(w, r.Namespace, rule.Filters)
		}
		out = append(out, cr)
	}
	return out
}

// gatewayBackends resolves weighted backendRefs; weights all 0 leave none
// (the Gateway answers 500, counted as unrouted here).
func gatewayBackends(w World, namespace string, refs []gwv1.HTTPBackendRef) []Backend {
	total := 0
	for _, b := range refs {
		total += int(weightOf(b.Weight))
	}
	var out []Backend
	for _, b := range refs {
		wt := weightOf(b.Weight)
		if total == 0 || wt == 0 {
			continue
		}
		be := gatewayBackend(w, namespace, b.BackendObjectReference)
		be.Share = float64(wt) / float64(total)
		be.ResponseHeaders = responseHeaders(b.Filters)
		out = append(out, be)
	}
	return out
}

func weightOf(w *int32) int32 {
	if w == nil {
		return 1
	}
	return max(0, *w)
}

// gatewayMirror is the backend of the rule's first RequestMirror filter, its
// share the filter's percent or fraction (all requests when neither is set).
func gatewayMirror(w World, namespace string, filters []gwv1.HTTPRouteFilter) *Backend {
	for _, f := range filters {
		if f.Type != gwv1.HTTPRouteFilterRequestMirror || f.RequestMirror == nil {
			continue
		}
		b := gatewayBackend(w, namespace, f.RequestMirror.BackendRef)
		b.Share = 1
		switch m := f.RequestMirror; {
		case m.Percent != nil:
			b.Share = float64(min(100, max(0, *m.Percent))) / 100
		case m.Fraction != nil && m.Fraction.Denominator != nil && *m.Fraction.Denominator > 0:
			b.Share = min(1, float64(m.Fraction.Numerator)/float64(*m.Fraction.Denominator))
		}
		return &b
	}
	return nil
}

func gatewayBackend(w World, namespace string, ref gwv1.BackendObjectReference) Backend {
	ns, name, ok := serviceRef(ref, namespace)
	if !ok {
		return Backend{Host: string(ref.Name), Flags: "NC"}
	}
	return serviceBackend(w, w.Service(ns, name), name, "")
}

// responseHeaders lists the headers a backend-level ResponseHeaderModifier
// sets or adds, as "Name: value".
func responseHeaders(filters []gwv1.HTTPRouteFilter) []string {
	var out []string
	for _, f := range filters {
		if f.Type != gwv1.HTTPRouteFilterResponseHeaderModifier || f.ResponseHeaderModifier == nil {
			continue
		}
		for _, h := range append(append([]gwv1.HTTPHeader{}, f.ResponseHeaderModifier.Set...), f.ResponseHeaderModifier.Add...) {
			out = append(out, string(h.Name)+": "+h.Value)
		}
	}
	return out
}

// serviceRef returns the Service a backendRef names; false for other kinds.
func serviceRef(ref gwv1.BackendObjectReference, namespace string) (string, string, bool) {
	if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Service") {
		return "", "", false
	}
	if ref.Namespace != nil {
		namespace = string(*ref.Namespace)
	}
	return namespace, string(ref.Name), true
}

// ruleFor returns the rule whose match a Gateway picks for the request, by
// the Gateway API's precedence: an exact path, then the longest prefix, then a
// method match, then the most header matches, then the most query matches,
// then the rule listed first. nil when no rule matches (404).
func ruleFor(rules []gwv1.HTTPRouteRule, req Request) *gwv1.HTTPRouteRule {
	var best *gwv1.HTTPRouteRule
	var bestScore [5]int
	for i := range rules {
		matches := rules[i].Matches
		if len(matches) == 0 {
			matches = []gwv1.HTTPRouteMatch{{}}
		}
		for _, m := range matches {
			score, ok := matchScore(m, req)
			if ok && (best == nil || better(score, bestScore)) {
				best, bestScore = &rules[i], score
			}
		}
	}
	return best
}

func better(a, b [5]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return false
}

// matchScore reports whether the match accepts the request, and how specific
// it is in precedence order.
func matchScore(m gwv1.HTTPRouteMatch, req Request) ([5]int, bool) {
	var s [5]int
	if p := m.Path; p != nil && p.Value != nil {
		v, kind := *p.Value, gwv1.PathMatchPathPrefix
		if p.Type != nil {
			kind = *p.Type
		}
		switch kind {
		case gwv1.PathMatchExact:
			if requestPath != v {
				return s, false
			}
			s[0] = 1
		case gwv1.PathMatchPathPrefix:
			if !pathHasPrefix(requestPath, v) {
				return s, false
			}
			s[1] = len(v)
		default:
			if !fullMatch(v, requestPath) {
				return s, false
			}
		}
	}
	if m.Method != nil {
		if string(*m.Method) != requestMethod {
			return s, false
		}
		s[2] = 1
	}
	for _, h := range m.Headers {
		v, ok := req.Get(strings.ToLower(string(h.Name)))
		if !ok || !headerMatches(h, v) {
			return s, false
		}
	}
	s[3] = len(m.Headers)
	if len(m.QueryParams) > 0 {
		return s, false // the simulated requests carry no query string
	}
	return s, true
}

// pathHasPrefix is the Gateway API's PathPrefix: element-wise, "/" matches all.
func pathHasPrefix(path, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
}

func headerMatches(h gwv1.HTTPHeaderMatch, v string) bool {
	if h.Type != nil && *h.Type == gwv1.HeaderMatchRegularExpression {
		return fullMatch(h.Value, v)
	}
	return v == h.Value
}

// fullMatch matches an RE2 expression against the whole value, as Envoy does;
// an invalid expression matches nothing.
func fullMatch(expr, v string) bool {
	re, err := regexp.Compile("^(?:" + expr + ")$")
	return err == nil && re.MatchString(v)
}

// acceptance is a sim Gateway's verdict on one parentRef of a route.
type acceptance struct {
	ok              bool
	reason, message string
}

// parentAcceptance says whether the parentRef names a Gateway of class sim
// (ours) and whether that Gateway accepts the route: the listener named by
// sectionName must exist, and a listener must allow routes from the route's
// namespace (Same by default, or All; selectors are taken as allowing).
func parentAcceptance(w World, r *gwv1.HTTPRoute, p gwv1.ParentReference) (acceptance, bool) {
	if (p.Group != nil && *p.Group != gwv1.GroupName) || (p.Kind != nil && *p.Kind != "Gateway") {
		return acceptance{}, false
	}
	ns := r.Namespace
	if p.Namespace != nil {
		ns = string(*p.Namespace)
	}
	g := w.Gateway(ns, string(p.Name))
	if g == nil || g.Spec.GatewayClassName != GatewayClassName {
		return acceptance{}, false
	}
	for _, l := range g.Spec.Listeners {
		if p.SectionName != nil && *p.SectionName != l.Name {
			continue
		}
		if allowsNamespace(l, g.Namespace, r.Namespace) {
			return acceptance{ok: true, reason: string(gwv1.RouteReasonAccepted), message: "accepted by the simulator"}, true
		}
	}
	if p.SectionName != nil {
		return acceptance{reason: string(gwv1.RouteReasonNoMatchingParent),
			message: fmt.Sprintf("gateway %s/%s has no listener %q that allows this route", g.Namespace, g.Name, *p.SectionName)}, true
	}
	return acceptance{reason: string(gwv1.RouteReasonNotAllowedByListeners),
		message: fmt.Sprintf("no listener of gateway %s/%s allows routes from namespace %s", g.Namespace, g.Name, r.Namespace)}, true
}

func allowsNamespace(l gwv1.Listener, gatewayNS, routeNS string) bool {
	from := gwv1.NamespacesFromSame
	if l.AllowedRoutes != nil && l.AllowedRoutes.Namespaces != nil && l.AllowedRoutes.Namespaces.From != nil {
		from = *l.AllowedRoutes.Namespaces.From
	}
	return from != gwv1.NamespacesFromSame || gatewayNS == routeNS
}

// resolveRefs checks every backendRef and mirror of the route: Services of the
// route's own namespace (no ReferenceGrants) that exist.
func resolveRefs(w World, r *gwv1.HTTPRoute) acceptance {
	check := func(ref gwv1.BackendObjectReference) *acceptance {
		ns, name, ok := serviceRef(ref, r.Namespace)
		switch {
		case !ok:
			return &acceptance{reason: string(gwv1.RouteReasonInvalidKind), message: fmt.Sprintf("backendRef %s: only core Services are supported", ref.Name)}
		case ns != r.Namespace:
			return &acceptance{reason: string(gwv1.RouteReasonRefNotPermitted), message: fmt.Sprintf("backendRef %s/%s: no ReferenceGrant support", ns, name)}
		case w.Service(ns, name) == nil:
			return &acceptance{reason: string(gwv1.RouteReasonBackendNotFound), message: fmt.Sprintf("service %s/%s not found", ns, name)}
		}
		return nil
	}
	for _, rule := range r.Spec.Rules {
		for _, b := range rule.BackendRefs {
			if a := check(b.BackendObjectReference); a != nil {
				return *a
			}
		}
		for _, f := range rule.Filters {
			if f.RequestMirror != nil {
				if a := check(f.RequestMirror.BackendRef); a != nil {
					return *a
				}
			}
		}
	}
	return acceptance{ok: true, reason: string(gwv1.RouteReasonResolvedRefs), message: "all references resolved"}
}
