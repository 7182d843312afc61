package sim

import (
	"math"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func gwRef(name string, weight int32) gwv1.HTTPBackendRef {
	return gwv1.HTTPBackendRef{BackendRef: gwv1.BackendRef{
		BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(name), Port: ptr.To(gwv1.PortNumber(80))},
		Weight:                 ptr.To(weight),
	}}
}

func gwPrefix(p string, headers ...gwv1.HTTPHeaderMatch) []gwv1.HTTPRouteMatch {
	return []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: ptr.To(gwv1.PathMatchPathPrefix), Value: ptr.To(p)}, Headers: headers}}
}

// shopRoute has the shapes rolloutd writes: an A/B copy of the catch-all rule
// listed after it (precedence, not order, must pick it), a weighted split with
// a cookie on the canary, and a mirror.
func shopRoute() *gwv1.HTTPRoute {
	canary := gwRef("web-canary", 10)
	canary.Filters = []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterResponseHeaderModifier,
		ResponseHeaderModifier: &gwv1.HTTPHeaderFilter{Add: []gwv1.HTTPHeader{{Name: "Set-Cookie", Value: "rolloutd-web=canary; Path=/"}}}}}
	return &gwv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", Generation: 2},
		Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "edge"}}},
			Rules: []gwv1.HTTPRouteRule{
				{Matches: gwPrefix("/admin"), BackendRefs: []gwv1.HTTPBackendRef{gwRef("admin", 1)}},
				{Matches: gwPrefix("/"), BackendRefs: []gwv1.HTTPBackendRef{gwRef("web", 90), canary},
					Filters: []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterRequestMirror, RequestMirror: &gwv1.HTTPRequestMirrorFilter{
						BackendRef: gwv1.BackendObjectReference{Name: "web-canary", Port: ptr.To(gwv1.PortNumber(80))}, Percent: ptr.To(int32(25))}}}},
				{Name: ptr.To(gwv1.SectionName("rolloutd-match-1")),
					Matches:     gwPrefix("/", gwv1.HTTPHeaderMatch{Name: "X-Canary", Value: "always"}),
					BackendRefs: []gwv1.HTTPBackendRef{gwRef("web-canary", 1)}},
				{Name: ptr.To(gwv1.SectionName("rolloutd-sticky-1")),
					Matches: gwPrefix("/", gwv1.HTTPHeaderMatch{Name: "Cookie", Type: ptr.To(gwv1.HeaderMatchRegularExpression),
						Value: `^(.*?;\s*)?(rolloutd-web=canary)(;.*)?$`}),
					BackendRefs: []gwv1.HTTPBackendRef{gwRef("web-canary", 1)}},
			},
		},
	}
}

func gatewayCluster(r *gwv1.HTTPRoute) *fakeCluster {
	c := istioCluster(nil)
	c.vss = nil
	c.routes = []*gwv1.HTTPRoute{r}
	c.gateways = []*gwv1.Gateway{{ObjectMeta: objMeta("shop", "edge", nil), Spec: gwv1.GatewaySpec{GatewayClassName: GatewayClassName,
		Listeners: []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}}}}}
	return c
}

func TestGatewayPicksTheRuleByPrecedenceNotOrder(t *testing.T) {
	rules := shopRoute().Spec.Rules
	tests := []struct {
		name string
		req  Request
		want int
	}{
		{"no header: the catch-all split", Request{}, 1},
		{"the A/B header (case-insensitive name) beats the catch-all listed first", Request{Header: "x-canary", HeaderValue: "always"}, 2},
		{"another header value is not the A/B match", Request{Header: "x-canary", HeaderValue: "never"}, 1},
		{"the sticky cookie", Request{Cookie: "rolloutd-web", CookieValue: "canary"}, 3},
		{"a cookie of another value", Request{Cookie: "rolloutd-web", CookieValue: "stable"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ruleFor(rules, tt.req); got != &rules[tt.want] {
				t.Errorf("ruleFor(%+v) = %+v, want rule %d", tt.req, got, tt.want)
			}
		})
	}
	if ruleFor(rules[:1], Request{}) != nil {
		t.Error("a path no rule matches must find no rule (404)")
	}
}

func TestGatewayPlanSplitsByWeightAndMirrors(t *testing.T) {
	c := gatewayCluster(shopRoute())
	p := BuildPlan(c, c.services[0])
	if p.Router != RouterGateway || p.Route == nil || len(p.Classes) != 1 {
		t.Fatalf("plan = %+v", p)
	}
	b := p.Classes[0].Backends
	if len(b) != 2 || math.Abs(b[0].Share-0.9) > 1e-9 || math.Abs(b[1].Share-0.1) > 1e-9 {
		t.Fatalf("backends = %+v, want web 0.9 and web-canary 0.1", b)
	}
	if len(b[1].ResponseHeaders) != 1 || b[1].ResponseHeaders[0] != "Set-Cookie: rolloutd-web=canary; Path=/" || len(b[0].ResponseHeaders) != 0 {
		t.Errorf("response headers = %q / %q, want the cookie on the canary only", b[0].ResponseHeaders, b[1].ResponseHeaders)
	}
	m := p.Classes[0].Mirror
	if m == nil || m.Service == nil || m.Service.Name != "web-canary" || m.Share != 0.25 {
		t.Errorf("mirror = %+v, want 25%% to web-canary", m)
	}
}

func TestGatewayRoutesOnlyWhatASimGatewayAccepted(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*fakeCluster)
		router string
		reason string
	}{
		{"accepted", func(*fakeCluster) {}, RouterGateway, "Accepted"},
		{"no such listener", func(c *fakeCluster) { c.routes[0].Spec.ParentRefs[0].SectionName = ptr.To(gwv1.SectionName("https")) },
			RouterService, string(gwv1.RouteReasonNoMatchingParent)},
		{"listener for its own namespace", func(c *fakeCluster) { c.gateways[0].Namespace = "edge" }, RouterService, ""},
		{"gateway of another class", func(c *fakeCluster) { c.gateways[0].Spec.GatewayClassName = "istio" }, RouterService, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := gatewayCluster(shopRoute())
			tt.edit(c)
			if got := BuildPlan(c, c.services[0]).Router; got != tt.router {
				t.Errorf("router = %s, want %s", got, tt.router)
			}
			st := routeStatus(c, c.routes[0]).Status.Parents
			if tt.reason == "" {
				if len(st) != 0 {
					t.Errorf("status.parents = %+v, want none (not a sim parent)", st)
				}
				return
			}
			if len(st) != 1 || st[0].ControllerName != GatewayController || st[0].Conditions[0].Reason != tt.reason ||
				st[0].Conditions[0].ObservedGeneration != 2 {
				t.Errorf("status.parents = %+v, want Accepted reason %s at generation 2", st, tt.reason)
			}
		})
	}
}

func TestGatewayStatusResolvedRefsFalseForAMissingService(t *testing.T) {
	r := shopRoute()
	r.Spec.Rules[0].BackendRefs[0].Name = "gone"
	c := gatewayCluster(r)
	first := routeStatus(c, r)
	st := first.Status.Parents
	if len(st) != 1 || len(st[0].Conditions) != 2 {
		t.Fatalf("status.parents = %+v", st)
	}
	refs := st[0].Conditions[1]
	if refs.Type != "ResolvedRefs" || refs.Status != metav1.ConditionFalse || refs.Reason != "BackendNotFound" || refs.Message != "service shop/gone not found" {
		t.Errorf("ResolvedRefs = %+v", refs)
	}
	again := routeStatus(c, first)
	if again.Status.Parents[0].Conditions[1].LastTransitionTime != st[0].Conditions[1].LastTransitionTime {
		t.Error("an unchanged condition keeps its transition time")
	}
}
