package router

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/rolloutd/rolloutd/traffic"
)

// Names of the HTTPRoute rules rolloutd adds: each is a copy of a user rule
// that sends to the Service, with one more header match, placed right before it.
const (
	GatewayRuleSticky = OwnedRoutePrefix + "sticky-"
	GatewayRuleMatch  = OwnedRoutePrefix + "match-"
)

// maxGatewayWeight is the largest backendRef weight the Gateway API accepts.
const maxGatewayWeight = 1_000_000

// gatewayRules computes the rules of the user's HTTPRoute for split from the
// rules as the user wrote them (defaulted by the API server). Every rule with
// a backendRef to the user's Service gets the canary Service beside it: the
// stable's share of that rule is divided by the canary weight, other backends
// keep their share. An A/B match and a sticky cookie each add a copy of the
// rule, matched more narrowly, that sends to the canary alone; a mirror adds a
// RequestMirror filter. Rules without the Service are kept as written.
func gatewayRules(user []gwv1.HTTPRouteRule, t Target, split traffic.Split) ([]gwv1.HTTPRouteRule, error) {
	var out []gwv1.HTTPRouteRule
	found := false
	sticky := split.Sticky && (split.CanaryWeight > 0 || split.Match != nil)
	for i, rule := range user {
		stable := stableRef(rule, t)
		if stable == nil {
			out = append(out, *rule.DeepCopy())
			continue
		}
		found = true
		canary := canaryRef(*stable, t, sticky)
		if sticky {
			out = append(out, narrowed(rule, GatewayRuleSticky+strconv.Itoa(i),
				cookieHeader(StickyCookie(t.Deployment), "canary"), canary))
		}
		if m := split.Match; m != nil {
			out = append(out, narrowed(rule, GatewayRuleMatch+strconv.Itoa(i), matchHeader(*m), canary))
		}
		out = append(out, weighted(rule, t, canary, split))
	}
	if !found {
		return nil, fmt.Errorf("gateway: %s has no rule with a backendRef to Service %q (set rolloutd.io/service to the Service it sends to)",
			routeName(t), t.Service)
	}
	if len(out) > 16 {
		return nil, fmt.Errorf("gateway: %s would need %d rules with the A/B and sticky copies, the Gateway API allows 16",
			routeName(t), len(out))
	}
	return out, nil
}

// weighted returns the rule with the canary beside the stable backend at the
// split's weight, and the mirror filter; the rule unchanged when the canary
// gets neither.
func weighted(rule gwv1.HTTPRouteRule, t Target, canary gwv1.HTTPBackendRef, split traffic.Split) gwv1.HTTPRouteRule {
	r := *rule.DeepCopy()
	if split.MirrorPercent > 0 {
		mirror := canary.BackendObjectReference
		r.Filters = append(r.Filters, gwv1.HTTPRouteFilter{
			Type:          gwv1.HTTPRouteFilterRequestMirror,
			RequestMirror: &gwv1.HTTPRequestMirrorFilter{BackendRef: mirror, Percent: ptr.To(int32(split.MirrorPercent))},
		})
	}
	w := int64(split.CanaryWeight)
	if w == 0 {
		return r
	}
	single := len(r.BackendRefs) == 1
	refs := make([]gwv1.HTTPBackendRef, 0, len(r.BackendRefs)+1)
	for _, ref := range r.BackendRefs {
		own := int64(ptr.Deref(ref.Weight, 1))
		if !isServiceRef(ref.BackendObjectReference, t.Service) {
			ref.Weight = ptr.To(clampWeight(own * 100))
			refs = append(refs, ref)
			continue
		}
		if single {
			own = 1 // a lone backend's weight is only a proportion: 100 in all
		}
		ref.Weight = ptr.To(clampWeight(own * (100 - w)))
		c := canary
		c.Weight = ptr.To(clampWeight(own * w))
		refs = append(refs, ref, c)
	}
	r.BackendRefs = refs
	return r
}

func clampWeight(w int64) int32 { return int32(min(w, maxGatewayWeight)) }

// narrowed is a copy of rule named name whose matches all also require h, and
// that sends to canary alone.
func narrowed(rule gwv1.HTTPRouteRule, name string, h gwv1.HTTPHeaderMatch, canary gwv1.HTTPBackendRef) gwv1.HTTPRouteRule {
	r := *rule.DeepCopy()
	r.Name = ptr.To(gwv1.SectionName(name))
	if len(r.Matches) == 0 {
		r.Matches = []gwv1.HTTPRouteMatch{{}}
	}
	for i := range r.Matches {
		r.Matches[i].Headers = append(r.Matches[i].Headers, h)
	}
	c := canary
	c.Weight = nil
	r.BackendRefs = []gwv1.HTTPBackendRef{c}
	return defaulted(r)
}

// stableRef returns the rule's backendRef to the user's Service, or nil.
func stableRef(rule gwv1.HTTPRouteRule, t Target) *gwv1.HTTPBackendRef {
	for i := range rule.BackendRefs {
		if isServiceRef(rule.BackendRefs[i].BackendObjectReference, t.Service) {
			return &rule.BackendRefs[i]
		}
	}
	return nil
}

// canaryRef is the stable backendRef pointed at the canary Service (same port
// and backend filters), with the sticky cookie set on its responses.
func canaryRef(stable gwv1.HTTPBackendRef, t Target, sticky bool) gwv1.HTTPBackendRef {
	c := *stable.DeepCopy()
	c.Name = gwv1.ObjectName(t.CanaryService)
	c.Namespace = nil
	if !sticky {
		return c
	}
	cookie := gwv1.HTTPHeader{Name: "Set-Cookie", Value: StickyCookie(t.Deployment) + "=canary; Path=/"}
	for i := range c.Filters {
		if f := c.Filters[i].ResponseHeaderModifier; f != nil && c.Filters[i].Type == gwv1.HTTPRouteFilterResponseHeaderModifier {
			f.Add = append(f.Add, cookie)
			return c
		}
	}
	c.Filters = append(c.Filters, gwv1.HTTPRouteFilter{
		Type:                   gwv1.HTTPRouteFilterResponseHeaderModifier,
		ResponseHeaderModifier: &gwv1.HTTPHeaderFilter{Add: []gwv1.HTTPHeader{cookie}},
	})
	return c
}

// matchHeader is the header match of an A/B rule. A cookie rule follows
// ingress-nginx's canary-by-cookie: the cookie's value "always" selects the canary.
func matchHeader(m traffic.Match) gwv1.HTTPHeaderMatch {
	switch {
	case m.Kind == traffic.MatchCookie:
		return cookieHeader(m.Name, "always")
	case m.Regex:
		return gwv1.HTTPHeaderMatch{Type: ptr.To(gwv1.HeaderMatchRegularExpression), Name: gwv1.HTTPHeaderName(m.Name), Value: m.Value}
	default:
		return gwv1.HTTPHeaderMatch{Type: ptr.To(gwv1.HeaderMatchExact), Name: gwv1.HTTPHeaderName(m.Name), Value: m.Value}
	}
}

// cookieHeader matches a Cookie header carrying name=value among other cookies
// (a regular expression match: Extended support in the Gateway API).
func cookieHeader(name, value string) gwv1.HTTPHeaderMatch {
	return gwv1.HTTPHeaderMatch{Type: ptr.To(gwv1.HeaderMatchRegularExpression), Name: "Cookie", Value: cookieRegex(name, value)}
}

// isServiceRef reports whether ref names the Service svc of the route's namespace.
func isServiceRef(ref gwv1.BackendObjectReference, svc string) bool {
	return string(ref.Name) == svc && ref.Namespace == nil &&
		ptr.Deref(ref.Group, "") == "" && ptr.Deref(ref.Kind, "Service") == "Service"
}

// userRulesOf drops from rules what rolloutd added: its rules, the canary
// backendRefs and the mirror filters to the canary. Weights stay as they are.
func userRulesOf(rules []gwv1.HTTPRouteRule, t Target) []gwv1.HTTPRouteRule {
	out := []gwv1.HTTPRouteRule{}
	for _, rule := range rules {
		if rule.Name != nil && strings.HasPrefix(string(*rule.Name), OwnedRoutePrefix) {
			continue
		}
		r := *rule.DeepCopy()
		r.BackendRefs = nil
		for _, ref := range rule.BackendRefs {
			if !isServiceRef(ref.BackendObjectReference, t.CanaryService) {
				r.BackendRefs = append(r.BackendRefs, *ref.DeepCopy())
			}
		}
		r.Filters = nil
		for _, f := range rule.Filters {
			if f.Type != gwv1.HTTPRouteFilterRequestMirror || f.RequestMirror == nil ||
				!isServiceRef(f.RequestMirror.BackendRef, t.CanaryService) {
				r.Filters = append(r.Filters, *f.DeepCopy())
			}
		}
		out = append(out, r)
	}
	return out
}

// adoptUserEdits returns the rules as the user now wants them: the stripped
// live rules (without rolloutd's additions), each rule that only differs from a
// kept one in its weights taken as kept. So weights reset by hand (or by a
// GitOps sync) are repaired rather than adopted, and a rule the user added or
// changed mid-rollout is theirs.
func adoptUserEdits(stripped, kept []gwv1.HTTPRouteRule) []gwv1.HTTPRouteRule {
	used := make([]bool, len(kept))
	out := make([]gwv1.HTTPRouteRule, len(stripped))
	for i, r := range stripped {
		out[i] = r
		for j := range kept {
			if !used[j] && sameRules(withoutWeights(r), withoutWeights(kept[j])) {
				out[i], used[j] = kept[j], true
				break
			}
		}
	}
	return out
}

func withoutWeights(r gwv1.HTTPRouteRule) []gwv1.HTTPRouteRule {
	c := *r.DeepCopy()
	for i := range c.BackendRefs {
		c.BackendRefs[i].Weight = nil
	}
	return []gwv1.HTTPRouteRule{c}
}

// sameRules compares rules after the API server's defaults, so that a rule
// read back equals the one written.
func sameRules(a, b []gwv1.HTTPRouteRule) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equality.Semantic.DeepEqual(defaulted(a[i]), defaulted(b[i])) {
			return false
		}
	}
	return true
}

// defaulted fills in what the HTTPRoute CRD defaults: a match on every path,
// PathPrefix and Exact match types, core Service backends of weight 1.
func defaulted(rule gwv1.HTTPRouteRule) gwv1.HTTPRouteRule {
	r := *rule.DeepCopy()
	if len(r.Matches) == 0 {
		r.Matches = []gwv1.HTTPRouteMatch{{}}
	}
	for i := range r.Matches {
		m := &r.Matches[i]
		if m.Path == nil {
			m.Path = &gwv1.HTTPPathMatch{Value: ptr.To("/")}
		}
		if m.Path.Type == nil {
			m.Path.Type = ptr.To(gwv1.PathMatchPathPrefix)
		}
		for j := range m.Headers {
			if m.Headers[j].Type == nil {
				m.Headers[j].Type = ptr.To(gwv1.HeaderMatchExact)
			}
		}
	}
	for i := range r.BackendRefs {
		defaultRef(&r.BackendRefs[i].BackendObjectReference)
		if r.BackendRefs[i].Weight == nil {
			r.BackendRefs[i].Weight = ptr.To(int32(1))
		}
	}
	for i := range r.Filters {
		if m := r.Filters[i].RequestMirror; m != nil {
			defaultRef(&m.BackendRef)
		}
	}
	return r
}

func defaultRef(ref *gwv1.BackendObjectReference) {
	if ref.Group == nil {
		ref.Group = ptr.To(gwv1.Group(""))
	}
	if ref.Kind == nil {
		ref.Kind = ptr.To(gwv1.Kind("Service"))
	}
}
