package sim

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestGRPCMethodMatchesBecomeTheCallsPath(t *testing.T) {
	exact, re := ptr.To(gwv1.GRPCMethodMatchExact), ptr.To(gwv1.GRPCMethodMatchRegularExpression)
	cases := []struct {
		name  string
		match *gwv1.GRPCMethodMatch
		path  string
		want  bool
	}{
		{"service and method", &gwv1.GRPCMethodMatch{Type: exact, Service: ptr.To("shop.Cart"), Method: ptr.To("Add")}, "/shop.Cart/Add", true},
		{"another method", &gwv1.GRPCMethodMatch{Type: exact, Service: ptr.To("shop.Cart"), Method: ptr.To("Add")}, "/shop.Cart/Remove", false},
		{"the dot is literal", &gwv1.GRPCMethodMatch{Type: exact, Service: ptr.To("shop.Cart")}, "/shopXCart/Add", false},
		{"service only", &gwv1.GRPCMethodMatch{Type: exact, Service: ptr.To("shop.Cart")}, "/shop.Cart/Add", true},
		{"method only", &gwv1.GRPCMethodMatch{Type: exact, Method: ptr.To("Add")}, "/any.Service/Add", true},
		{"regular expression", &gwv1.GRPCMethodMatch{Type: re, Service: ptr.To(`shop\..*`), Method: ptr.To("Add|Remove")}, "/shop.Cart/Remove", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := grpcPath(tc.match)
			if got := fullMatch(*p.Value, tc.path); got != tc.want {
				t.Errorf("path match %q on %s = %t, want %t", *p.Value, tc.path, got, tc.want)
			}
		})
	}
	if grpcPath(nil) != nil || grpcPath(&gwv1.GRPCMethodMatch{Type: exact}) != nil {
		t.Error("no method match matches every call")
	}
}

func TestGRPCRouteIsRoutedAsTheHTTPRouteOfItsCalls(t *testing.T) {
	g := &gwv1.GRPCRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart-rpc", Generation: 3},
		Spec: gwv1.GRPCRouteSpec{Rules: []gwv1.GRPCRouteRule{
			{Matches: []gwv1.GRPCRouteMatch{{Method: &gwv1.GRPCMethodMatch{Service: ptr.To("shop.Cart"), Method: ptr.To("Add")}}},
				BackendRefs: []gwv1.GRPCBackendRef{{BackendRef: gwRef("admin", 1).BackendRef}}},
			{Matches: []gwv1.GRPCRouteMatch{{Headers: []gwv1.GRPCHeaderMatch{{Name: "x-canary", Value: "always"}}}},
				BackendRefs: []gwv1.GRPCBackendRef{{BackendRef: gwRef("web-canary", 1).BackendRef}}},
			{BackendRefs: []gwv1.GRPCBackendRef{{BackendRef: gwRef("web", 90).BackendRef}, {BackendRef: gwRef("web-canary", 10).BackendRef}}},
		}},
	}
	r := grpcAsHTTPRoute(g)
	if !isGRPC(r) || r.Name != "cart-rpc" || r.Generation != 3 {
		t.Fatalf("the HTTPRoute form keeps the GRPCRoute's identity and kind: %+v", r.ObjectMeta)
	}
	rule := ruleFor(r.Spec.Rules, Request{})
	if rule == nil || len(rule.BackendRefs) != 2 || *rule.BackendRefs[0].Weight != 90 {
		t.Fatalf("a call of another method takes the weighted catch-all rule, got %+v", rule)
	}
	rule = ruleFor(r.Spec.Rules, Request{Header: "x-canary", HeaderValue: "always"})
	if rule == nil || string(rule.BackendRefs[0].Name) != "web-canary" {
		t.Fatalf("a call with the header takes the header rule, got %+v", rule)
	}
}
